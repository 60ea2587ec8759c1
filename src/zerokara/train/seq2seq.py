"""Seq2seq models on book 2's addition and date data: training, translating, attention maps.

Training goes through the one loop with shuffled rows
(:class:`~zerokara.train.classifier.ClassifierTrainer`): a seq2seq model has
a classifier's interface, with ``accuracy`` = exact match of the greedy answer
on held-out questions (book 2's measure).

Defaults are book 2's scripts: ``ch07/train_seq2seq.py`` (addition: wordvec
16, hidden 128, batch 128, 25 epochs, Adam lr 0.001, clip 5.0) and
``ch08/train.py`` (date: hidden 256, 10 epochs; the book also reverses the
input there, pass ``--reverse`` to do the same). The split is book 2's:
shuffled with seed 1984, the last 10% held out.

The checkpoint's config holds the vocabulary and the widths, so a checkpoint
alone is enough to translate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.data.sequence import START, CharVocab, SequenceData, load_sequence
from zerokara.errors import CheckpointError, InputError
from zerokara.io import load_checkpoint, split_prefix
from zerokara.models.seq2seq import AttentionSeq2seq, Seq2seq, build_seq2seq
from zerokara.optim import make_optimizer
from zerokara.parallel import DataParallel
from zerokara.train.classifier import ClassifierTrainer
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir

#: book 2's settings by data set (ch07/train_seq2seq.py, ch08/train.py)
DEFAULTS: dict[str, dict[str, Any]] = {
    "addition": {
        "wordvec": 16,
        "hidden": 128,
        "batch_size": 128,
        "epochs": 25,
        "optimizer": "adam",
        "lr": 0.001,
        "max_grad": 5.0,
    },
    "date": {
        "wordvec": 16,
        "hidden": 256,
        "batch_size": 128,
        "epochs": 10,
        "optimizer": "adam",
        "lr": 0.001,
        "max_grad": 5.0,
    },
}
#: settings that shape the model: a resumed run must keep them
MODEL_KEYS = (
    "data",
    "model",
    "reverse",
    "bidirectional",
    "wordvec",
    "hidden",
    "vocab",
    "question_width",
    "answer_width",
    "optimizer",
)


def model_from_config(config: dict[str, Any], rng: np.random.Generator | None = None) -> Seq2seq:
    return build_seq2seq(
        config["model"],
        len(config["vocab"]),
        config["wordvec"],
        config["hidden"],
        reverse=config["reverse"],
        bidirectional=config["bidirectional"],
        rng=rng if rng is not None else np.random.default_rng(config.get("seed", 0)),
    )


@dataclass
class Seq2seqConfig:
    """One seq2seq run. ``data``: "addition", "date" or a path to a file of
    fixed-width ``question_answer`` lines; a setting left None takes book 2's
    value for the data (:data:`DEFAULTS`; an unknown file takes the date
    settings with ``model="attention"``, else the addition ones). ``workers``
    splits each batch over threads (:class:`~zerokara.parallel.DataParallel`)."""

    data: str = "addition"
    model: str = "plain"  # "plain", "peeky" or "attention"
    reverse: bool = False
    bidirectional: bool = False
    wordvec: int | None = None
    hidden: int | None = None
    batch_size: int | None = None
    epochs: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    seed: int = 0
    workers: int = 1

    def record(self, data: SequenceData) -> dict[str, Any]:
        """The complete settings as the checkpoint stores them (with the vocabulary
        and the widths, so that a checkpoint alone is enough to translate)."""
        name = str(self.data)
        base = DEFAULTS.get(name, DEFAULTS["date"] if self.model == "attention" else DEFAULTS["addition"])
        c: dict[str, Any] = {
            "task": "seq2seq",
            "data": name,
            "model": self.model,
            "reverse": bool(self.reverse),
            "bidirectional": bool(self.bidirectional),
            "seed": self.seed,
        }
        for k, v in base.items():
            mine = getattr(self, k)
            c[k] = v if mine is None else mine
        for k in ("wordvec", "hidden", "batch_size", "epochs"):
            if not isinstance(c[k], int) or c[k] < 1:
                raise InputError(f"--{k.replace('_', '-')}: expected a positive integer, got {c[k]!r}")
        c["vocab"] = "".join(data.vocab.chars)
        c["question_width"], c["answer_width"] = int(data.x.shape[1]), int(data.t.shape[1])
        return c


class Seq2seqTrainer(ClassifierTrainer):
    """Shuffled (question, answer) rows; accuracy is the exact match of the greedy answer."""

    def metrics(self) -> dict[str, Any]:
        metrics = super().metrics()
        metrics["seconds_per_epoch"] = round(metrics["train_seconds"] / max(1, self.epoch), 3)
        metrics["test_accuracy_by_epoch"] = [r.get("test_accuracy") for r in self.history["epochs"]]
        return metrics


def train_seq2seq(
    config: Seq2seqConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """Train, evaluating the held-out exact match after each epoch; see :class:`Seq2seqConfig`."""
    data = load_sequence(config.data)
    c = config.record(data)
    (x, t), (x_test, t_test) = data.split()
    if c["batch_size"] > len(x):
        raise InputError(f"--batch-size: {c['batch_size']} is more than the {len(x)} training pairs")
    workers = config.workers
    if not isinstance(workers, int) or not 1 <= workers <= c["batch_size"]:
        raise InputError(
            f"--workers: expected an integer in [1, {c['batch_size']}] (the batch size), got {workers!r}"
        )
    out = open_run_dir(out_dir, resume)
    rng = np.random.default_rng(c["seed"])
    model = model_from_config(c, rng)
    trainer = Seq2seqTrainer(
        model if workers == 1 else DataParallel(model, workers),
        make_optimizer(c["optimizer"], c["lr"]),
        rng=rng,
        out_dir=out,
        max_grad=c["max_grad"],
        reporter=reporter,
        config=c,
    )
    rep = trainer.reporter
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.resume(check_keys=MODEL_KEYS)
        rep.info(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}")
    rep.info(
        f"seq2seq {c['model']}{' reversed' if c['reverse'] else ''}"
        f"{' bidirectional' if c['bidirectional'] else ''} on {data.source}: "
        f"{len(x)} train / {len(x_test)} held-out pairs, vocab {len(data.vocab)}, wordvec "
        f"{c['wordvec']}, hidden {c['hidden']}, {c['optimizer']} lr {c['lr']}, "
        f"batch {c['batch_size']}, clip {c['max_grad']}, {c['epochs']} epochs -> {out}"
    )
    metrics = trainer.fit(
        x,
        t,
        epochs=c["epochs"],
        batch_size=c["batch_size"],
        x_test=x_test,
        t_test=t_test,
        eval_train=min(len(x), 2000),
    )
    return Run(metrics, trainer, out, c)


def show_answers(
    model: Seq2seq, vocab: CharVocab, x_test: np.ndarray, t_test: np.ndarray, k: int = 5
) -> list[str]:
    """Lines ``Q '...'  T '...'  ok '...'`` for the first k held-out questions."""
    lines = []
    for i in range(min(k, len(x_test))):
        q = x_test[i : i + 1]
        pred = model.generate(q, t_test[i : i + 1, 0], t_test.shape[1] - 1)[0]
        ok = np.array_equal(pred, t_test[i, 1:])
        lines.append(
            f"  Q {vocab.decode(q[0])!r}  T {vocab.decode(t_test[i, 1:])!r}  "
            f"{'ok ' if ok else 'WRONG'} {vocab.decode(pred)!r}"
        )
    return lines


# -- using a trained model -----------------------------------------------------------
class Translator:
    """A trained model with its vocabulary: text in, text out."""

    def __init__(self, model: Seq2seq, vocab: CharVocab, question_width: int, answer_width: int) -> None:
        self.model, self.vocab = model, vocab
        self.question_width, self.answer_width = question_width, answer_width

    @classmethod
    def load(cls, path: str | Path) -> Translator:
        """From a checkpoint file or a run folder holding one."""
        path = Path(path)
        if path.is_dir():
            path = path / CHECKPOINT
        tensors, meta = load_checkpoint(path)
        config = meta.get("config", {})
        if config.get("task") != "seq2seq":
            raise CheckpointError(
                f"{path}: not a seq2seq checkpoint (task {config.get('task')!r}); "
                "train one with zerokara train seq2seq"
            )
        model = model_from_config(config)
        model.load_state_dict(split_prefix(tensors, "model"), source=str(path))
        return cls(model, CharVocab(list(config["vocab"])), config["question_width"], config["answer_width"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """The questions as ids (N, question_width); an empty (or all-space) question
        is refused: the model would answer padding with a guess."""
        for s in texts:
            if not s.strip():
                raise InputError(
                    f"translate: question {s!r} is empty; give the question as the model was "
                    f"trained on it (at most {self.question_width} characters)"
                )
        return np.stack([self.vocab.encode(s, self.question_width, what="question") for s in texts])

    def _start(self, n: int) -> np.ndarray:
        return np.full(n, self.vocab.char_to_id[START], dtype=np.int64)

    def translate(self, texts: list[str]) -> list[str]:
        xs = self.encode(texts)
        ids = self.model.generate(xs, self._start(len(xs)), self.answer_width - 1)
        return [self.vocab.decode(r).rstrip() for r in ids]

    def attention(self, text: str) -> tuple[str, np.ndarray]:
        """(answer as generated, padding kept; weights (answer_width-1, question_width))."""
        if not isinstance(self.model, AttentionSeq2seq):
            raise InputError(
                f"attention-map: the checkpoint holds a {self.model.kind!r} model; "
                "only --model attention has attention weights"
            )
        xs = self.encode([text])
        ids, w = self.model.attention_map(xs, self._start(1), self.answer_width - 1)
        return self.vocab.decode(ids[0]), w[0]


def plot_attention(
    question: str, answer: str, weights: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """Heatmap: rows = output characters, columns = input characters (padding shown as ·)."""
    from zerokara.train.plots import plt, save_figure

    rows, cols = weights.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * cols + 1.5), max(3.0, 0.32 * rows + 1.2)))
    im = ax.imshow(weights, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto")
    show = lambda c: "·" if c == " " else c  # noqa: E731
    ax.set_xticks(range(cols), [show(c) for c in question.ljust(cols)], fontsize=9)
    ax.set_yticks(range(rows), [show(c) for c in answer.ljust(rows)], fontsize=9)
    ax.set_xlabel("input (question)")
    ax.set_ylabel("output (answer)")
    ax.set_title(title or f"attention: {question.strip()!r} -> {answer.strip()!r}", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    return save_figure(fig, Path(path))


__all__ = [
    "DEFAULTS",
    "MODEL_KEYS",
    "Seq2seqConfig",
    "Seq2seqTrainer",
    "Translator",
    "train_seq2seq",
    "plot_attention",
    "model_from_config",
    "show_answers",
]
