"""Book 2, chapter 5's first language model: SimpleRnnlm on the start of Penn Treebank.

As book 2's ``ch05/train_custom_loop.py``: the first 1,000 words of PTB's
training text (the vocabulary is the words they hold: ids are given in order
of first appearance, so it is ids 0..max), read as ``batch_size`` streams at
offsets ``i * (len // batch_size)``, ``time_size`` words each per update
(:class:`~zerokara.train.lm.LMTrainer`'s batches, whose ``"continue"``
streams are this loop's ``time_idx``), plain SGD, and the perplexity of each
epoch as ``exp(mean loss over its updates)``. Like the book's loop, the RNN's
state is never reset: it carries on from one epoch into the next (the
checkpoint holds it, so a resume is bit for bit). There is no validation
text: the figure is how well the model has learnt its 1,000 words.

    from zerokara.train.simple_rnnlm import SimpleRnnlmConfig, train_simple_rnnlm
    run = train_simple_rnnlm(SimpleRnnlmConfig(), out_dir="runs/simple-rnnlm")
    run.metrics["perplexity"]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.models.rnnlm import SimpleRnnlm
from zerokara.optim import make_optimizer
from zerokara.options import clip_norm
from zerokara.train.lm import LMTrainer
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir

#: book 2's settings (ch05/train_custom_loop.py), used when a setting is None
DEFAULTS: dict[str, Any] = {
    "words": 1000,
    "wordvec": 100,
    "hidden": 100,
    "batch_size": 10,
    "time_size": 5,
    "optimizer": "sgd",
    "lr": 0.1,
    "epochs": 100,
    "max_grad": None,
}
#: settings a resumed run must share with the checkpoint
MODEL_KEYS = ("words", "wordvec", "hidden", "batch_size", "time_size", "optimizer")


@dataclass
class SimpleRnnlmConfig:
    """One run; None settings take book 2's values (:data:`DEFAULTS`).
    ``words``: train on the first this many words of PTB's training text.
    ``max_grad`` "none" (the default): no clipping, as the book."""

    words: int | None = None
    wordvec: int | None = None
    hidden: int | None = None
    batch_size: int | None = None
    time_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    epochs: int | None = None
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    seed: int = 0

    def record(self) -> dict[str, Any]:
        """The complete, checked settings, as the checkpoint stores them."""
        mine = asdict(self)
        s = {k: mine[k] if mine[k] is not None else v for k, v in DEFAULTS.items()}
        for key in ("wordvec", "hidden", "batch_size", "time_size", "epochs"):
            if s[key] < 1:
                raise InputError(f"--{key.replace('_', '-')}: expected a positive integer, got {s[key]}")
        if s["words"] < 2:
            raise InputError(f"--words: expected at least 2 words, got {s['words']}")
        if not s["lr"] > 0:
            raise InputError(f"--lr: expected > 0, got {s['lr']}")
        clip_norm(s["max_grad"], "SimpleRnnlmConfig")  # a norm > 0, or "none" (recorded as given)
        return {"task": "simple-rnnlm", "data": "ptb", "seed": self.seed, **s}


class SimpleRnnlmTrainer(LMTrainer):
    """:class:`~zerokara.train.lm.LMTrainer`'s streams, as book 2's chapter 5 loop
    runs them: the state is carried across epochs (never reset), each epoch's
    row holds ``perplexity`` = exp(its mean loss), the learning rate is constant,
    and there is no validation text and no best-model file."""

    name = "simple-rnnlm"

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("save_every", None)  # seconds-long runs: a checkpoint per epoch is enough
        super().__init__(*args, **kw)

    def fit(self, *args: Any, **kw: Any) -> dict[str, Any]:
        """:meth:`LMTrainer.fit`, with BLAS on one thread: products of 50 rows by 100
        columns are too small to split, and two threads on a busy machine made the
        book's run (1,900 updates) take 55 s instead of 1 s."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return super().fit(*args, **kw)

    def begin_epoch(self) -> int:  # no reset_state(): the book's loop has none
        return len(self.xs) // (self.batch_size * self.time_size)

    def end_epoch(self) -> dict[str, Any]:
        return {"perplexity": math.exp(self.epoch_loss()), "lr": self.optimizer.lr}

    def after_epoch(self, row: dict[str, Any]) -> None:
        """A constant learning rate, as the book's loop."""

    def epoch_line(self, row: dict[str, Any], epochs: int | None) -> str:
        return f"epoch {row['epoch']}/{epochs}  perplexity {row['perplexity']:.2f}  {row['seconds']:.1f} s"

    def metrics(self) -> dict[str, Any]:
        rows = self.history["epochs"]
        return {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "perplexity": rows[-1]["perplexity"] if rows else None,
            "first_perplexity": rows[0]["perplexity"] if rows else None,
            "train_seconds": round(self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 1) if self.seconds else None,
        }

    def plot(self) -> None:
        assert self.out_dir is not None  # finish() plots only into an out_dir
        plot_epoch_perplexity(self.history["epochs"], self.out_dir / "perplexity.png")

    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, tensors = super().task_state()
        if not self.pos:  # at an epoch's end too: the state goes on into the next epoch
            tensors = {f"state/{k}": v for k, v in self.model.get_state().items()}
        return meta, tensors


def plot_epoch_perplexity(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Perplexity against the epoch on a linear scale, as book 2's figure 5-17."""
    from zerokara.train.plots import plt, save_figure

    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["epoch"] for r in rows], [r["perplexity"] for r in rows], label="train")
    ax.set(xlabel="epochs", ylabel="perplexity", title="SimpleRnnlm: perplexity per epoch")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save_figure(fig, Path(path))


def load_words(n: int) -> tuple[np.ndarray, list[str]]:
    """The first ``n`` words of PTB's training text and the vocabulary they use
    (ids 0..max: book 2's ``vocab_size = int(max(corpus) + 1)``)."""
    from zerokara.data import load_ptb

    train, vocab = load_ptb("train")
    if n > len(train):
        raise InputError(f"--words: expected at most {len(train):,} (PTB's training text), got {n:,}")
    corpus = train[:n]
    return corpus, vocab.id_to_word[: int(corpus.max()) + 1]


def train_simple_rnnlm(
    config: SimpleRnnlmConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """Train SimpleRnnlm on the first ``words`` words of PTB. Bad input leaves
    no run folder (it is made once the data and settings are known fine)."""
    cfg = config.record()
    corpus, words = load_words(cfg["words"])
    need = cfg["batch_size"] * cfg["time_size"] + 1
    if len(corpus) < need:
        raise InputError(
            f"simple-rnnlm: {len(corpus):,} words are fewer than one batch needs (batch_size "
            f"{cfg['batch_size']} x time_size {cfg['time_size']} + 1 = {need}); use more "
            "--words or a smaller --batch-size or --time-size"
        )
    cfg["vocab_size"] = len(words)
    model = SimpleRnnlm(len(words), cfg["wordvec"], cfg["hidden"], rng=np.random.default_rng(cfg["seed"]))
    optimizer = make_optimizer(cfg["optimizer"], cfg["lr"])
    out = open_run_dir(out_dir, resume)
    trainer = SimpleRnnlmTrainer(
        model,
        optimizer,
        out_dir=out,
        max_grad=cfg["max_grad"],
        reporter=reporter,
        config=cfg,
        vocab=words,
        streams="continue",
    )
    rep = trainer.reporter
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.resume(check_keys=MODEL_KEYS)
        rep.info(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}")
    n_params = sum(p.size for p in model.parameters().values())
    rep.info(
        f"simple-rnnlm: {len(corpus):,} words, V={len(words)} D={cfg['wordvec']} H={cfg['hidden']}, "
        f"{n_params:,} parameters; {cfg['optimizer']} lr {cfg['lr']:g}"
        + (f", clip {trainer.max_grad:g}" if trainer.max_grad is not None else "")
        + f", batch {cfg['batch_size']} x time {cfg['time_size']}, {cfg['epochs']} epochs -> {out}"
    )
    metrics = trainer.fit(
        corpus, epochs=cfg["epochs"], batch_size=cfg["batch_size"], time_size=cfg["time_size"]
    )
    return Run(metrics, trainer, out, cfg)
