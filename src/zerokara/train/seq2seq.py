"""Seq2seq models on book 2's addition and date data: training.

Training goes through the one loop with shuffled rows
(:class:`~zerokara.train.classifier.ClassifierTrainer`): a seq2seq model has
a classifier's interface, with ``accuracy`` = exact match of the greedy answer
on held-out questions (book 2's measure).

Defaults are book 2's scripts: ``ch07/train_seq2seq.py`` (addition: wordvec
16, hidden 128, batch 128, 25 epochs, Adam lr 0.001, clip 5.0) and
``ch08/train.py`` (date: hidden 256, 10 epochs; the book also reverses the
input there, pass ``--reverse`` to do the same). The split is book 2's:
shuffled with seed 1984, the last 10% held out.

``model="transformer"`` (:class:`~zerokara.models.transformer.TransformerSeq2seq`)
takes :data:`TRANSFORMER` instead (``hidden`` is its d_model; the epochs are
the book's for the data set) and a learning-rate warm-up: the paper's schedule,
``lr * min(t / warmup, sqrt(warmup / t))`` at update t, set before each step
from the update count, so a resumed run sets the same rates (:func:`warmup_lr`).

The checkpoint's config holds the vocabulary and the widths, so a checkpoint
alone is enough to translate
(:class:`~zerokara.train.seq2seq_translate.Translator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.data.sequence import CharVocab, SequenceData, load_sequence
from zerokara.errors import InputError
from zerokara.models.attention_seq2seq import build_seq2seq
from zerokara.models.seq2seq import Seq2seq
from zerokara.models.transformer import TransformerSeq2seq
from zerokara.optim import make_optimizer
from zerokara.options import PROBABILITY, accepts
from zerokara.parallel import DataParallel
from zerokara.train.classifier import ClassifierTrainer
from zerokara.train.report import Reporter
from zerokara.train.seq2seq_plots import plot_attention, plot_attention_heads
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
#: the transformer's settings on both data sets (the epochs are :data:`DEFAULTS`'). Measured
#: on book 2's files, held-out exact match: date 99.92% after 10 epochs (reversed; 99.90% not
#: reversed), addition reversed 99.9% from epoch 8 and 100% at 25 (AttentionSeq2seq: 33.6%)
TRANSFORMER: dict[str, Any] = {
    "hidden": 64,  # d_model
    "heads": 4,
    "layers": 2,
    "d_ff": 256,
    "dropout": 0.1,
    "activation": "relu",
    "learned_positions": False,
    "warmup": 400,
    "batch_size": 128,
    "optimizer": "adam",
    "lr": 0.001,
    "max_grad": 5.0,
}
#: the settings only the transformer has
TRANSFORMER_ONLY = ("heads", "layers", "d_ff", "dropout", "activation", "learned_positions", "warmup")
#: settings that shape the model (or its run): a resumed run must keep them
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
    *TRANSFORMER_ONLY,
)


def defaults(data: str, model: str) -> dict[str, Any]:
    """The settings a run takes where none is given: book 2's for the data set (an
    unknown file: the date ones for attention and transformer, else the addition
    ones), and :data:`TRANSFORMER` for ``model="transformer"``."""
    base = DEFAULTS.get(
        data, DEFAULTS["date"] if model in ("attention", "transformer") else DEFAULTS["addition"]
    )
    if model != "transformer":
        return dict(base)
    return {"epochs": base["epochs"], **TRANSFORMER}


def warmup_lr(lr: float, warmup: int, step: int) -> float:
    """The learning rate of update ``step`` (1, 2, ...): rising linearly to ``lr`` over
    ``warmup`` updates, then falling as 1/sqrt(step) (Vaswani et al.'s schedule, with its
    peak set to ``lr``); ``warmup=0``: ``lr`` throughout. Adam's early steps are large
    and noisy while its second-moment estimates are young; the warm-up keeps the
    attention and LayerNorm weights from being thrown far at the start."""
    if warmup <= 0:
        return lr
    return lr * min(step / warmup, (warmup / step) ** 0.5)


def model_from_config(config: dict[str, Any], rng: np.random.Generator | None = None) -> Seq2seq:
    rng = rng if rng is not None else np.random.default_rng(config.get("seed", 0))
    if config["model"] == "transformer":
        return TransformerSeq2seq(
            len(config["vocab"]),
            d_model=config["hidden"],
            heads=config["heads"],
            layers=config["layers"],
            d_ff=config["d_ff"],
            dropout=config["dropout"],
            # the data's widths: a learned table has exactly the positions the data has
            max_len=max(config["question_width"], config["answer_width"] - 1),
            activation=config["activation"],
            learned_positions=config["learned_positions"],
            reverse=config["reverse"],
            rng=rng,
        )
    return build_seq2seq(
        config["model"],
        len(config["vocab"]),
        config["wordvec"],
        config["hidden"],
        reverse=config["reverse"],
        bidirectional=config["bidirectional"],
        rng=rng,
    )


@dataclass
class Seq2seqConfig:
    """One seq2seq run. ``data``: "addition", "date" or a path to a file of
    fixed-width ``question_answer`` lines; a setting left None takes book 2's
    value for the data (:func:`defaults`; an unknown file takes the date
    settings with ``model="attention"``, else the addition ones). ``workers``
    splits each batch over threads (:class:`~zerokara.parallel.DataParallel`).
    ``heads`` ... ``warmup`` are the transformer's (``hidden`` is its d_model;
    it has no ``wordvec``: its embeddings are d_model wide)."""

    data: str = "addition"
    model: str = "plain"  # "plain", "peeky", "attention" or "transformer"
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
    heads: int | None = None
    layers: int | None = None
    d_ff: int | None = None
    dropout: float | None = None
    activation: str | None = None
    learned_positions: bool = False
    warmup: int | None = None

    def record(self, data: SequenceData) -> dict[str, Any]:
        """The complete settings as the checkpoint stores them (with the vocabulary
        and the widths, so that a checkpoint alone is enough to translate)."""
        name = str(self.data)
        self._check_model_options()
        base = defaults(name, self.model)
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
        if self.model == "transformer":
            c["wordvec"] = c["hidden"]  # the embeddings are d_model wide
            self._check_transformer(c)
        for k in ("wordvec", "hidden", "batch_size", "epochs"):
            if not isinstance(c[k], int) or c[k] < 1:
                raise InputError(f"--{k.replace('_', '-')}: expected a positive integer, got {c[k]!r}")
        c["vocab"] = "".join(data.vocab.chars)
        c["question_width"], c["answer_width"] = int(data.x.shape[1]), int(data.t.shape[1])
        return c

    def _check_model_options(self) -> None:
        """A transformer option given to an LSTM model, or --wordvec to the transformer,
        would be ignored: one line saying so."""
        if self.model == "transformer":
            if self.wordvec is not None:
                raise InputError(
                    "--wordvec: the transformer's embeddings are d_model wide (--hidden); "
                    "leave --wordvec out with --model transformer"
                )
            return
        # (not "in (None, False)": --dropout 0 or --warmup 0 equals False)
        given = [
            k for k in TRANSFORMER_ONLY if getattr(self, k) is not None and getattr(self, k) is not False
        ]
        if given:
            opt = "--" + given[0].replace("_", "-")
            raise InputError(f"{opt}: an option of --model transformer, not of {self.model!r}")

    @staticmethod
    def _check_transformer(c: dict[str, Any]) -> None:
        for k in ("heads", "layers", "d_ff"):
            if isinstance(c[k], bool) or not isinstance(c[k], int) or c[k] < 1:
                raise InputError(f"--{k.replace('_', '-')}: expected a positive integer, got {c[k]!r}")
        if isinstance(c["warmup"], bool) or not isinstance(c["warmup"], int) or c["warmup"] < 0:
            raise InputError(f"--warmup: expected an integer >= 0 (updates), got {c['warmup']!r}")
        if not accepts(PROBABILITY, c["dropout"]):
            raise InputError(f"--dropout: expected {PROBABILITY.what}, got {c['dropout']!r}")
        if c["activation"] not in ("relu", "gelu"):
            raise InputError(f"--activation: expected relu or gelu, got {c['activation']!r}")
        if c["hidden"] % c["heads"]:
            raise InputError(
                f"--hidden: the transformer's d_model expected a multiple of --heads {c['heads']} "
                f"(each head reads d_model // heads features), got {c['hidden']}"
            )
        c["learned_positions"] = bool(c["learned_positions"])


class Seq2seqTrainer(ClassifierTrainer):
    """Shuffled (question, answer) rows; accuracy is the exact match of the greedy answer.
    With a ``warmup`` in the config, each update's learning rate is :func:`warmup_lr`."""

    def before_step(self) -> None:
        warmup = self.config.get("warmup")
        if warmup:
            self.optimizer.lr = warmup_lr(self.config["lr"], warmup, self.iteration + 1)

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
    if c["model"] == "transformer":
        sizes = (
            f"d_model {c['hidden']}, {c['heads']} heads, {c['layers']} layers, d_ff {c['d_ff']}, "
            f"dropout {c['dropout']}, {c['activation']}, "
            f"{'learned' if c['learned_positions'] else 'sinusoidal'} positions, warm-up {c['warmup']}"
        )
    else:
        sizes = f"wordvec {c['wordvec']}, hidden {c['hidden']}"
    rep.info(
        f"seq2seq {c['model']}{' reversed' if c['reverse'] else ''}"
        f"{' bidirectional' if c['bidirectional'] else ''} on {data.source}: "
        f"{len(x)} train / {len(x_test)} held-out pairs, vocab {len(data.vocab)}, {sizes}, "
        f"{c['optimizer']} lr {c['lr']}, batch {c['batch_size']}, clip {c['max_grad']}, "
        f"{c['epochs']} epochs -> {out}"
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


__all__ = [
    "DEFAULTS",
    "MODEL_KEYS",
    "Seq2seqConfig",
    "Seq2seqTrainer",
    "train_seq2seq",
    "plot_attention",
    "plot_attention_heads",
    "defaults",
    "warmup_lr",
    "TRANSFORMER",
    "model_from_config",
    "show_answers",
]
