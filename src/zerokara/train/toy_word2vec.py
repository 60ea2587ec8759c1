"""Book 2's chapter 3 from the command line (``zerokara train word2vec --data toy``):
SimpleCBOW or SimpleSkipGram, a softmax over the whole vocabulary and no negative
sampling, on the book's one sentence "You say goodbye and I say hello.", with
ch03/train.py's settings (:data:`~zerokara.train.word2vec.TOY_DEFAULTS`), through
:class:`~zerokara.train.word2vec_trainer.Word2VecTrainer` and its checkpoints, so that
``zerokara similar`` reads the run as any word2vec run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.models.word2vec import SimpleCBOW, SimpleSkipGram, create_contexts_target
from zerokara.optim import make_optimizer
from zerokara.text import BOOK2_SENTENCE, preprocess
from zerokara.train.loop import Trainer
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir
from zerokara.train.word2vec_trainer import Word2VecTrainer
from zerokara.word_vectors import WordVectors

#: the toy run's history point: the mean loss of this many steps (book 2's
#: Trainer.fit eval_interval, the x-axis unit of its loss plot), or of the
#: epoch's steps if it ends sooner (the loop closes a point with each epoch):
#: the book's 6 pairs in batches of 3 make a point per epoch of 2 steps
TOY_LOG_EVERY = 20
#: the toy run prints its epoch line every this many epochs (and the last)
TOY_LINE_EVERY = 10
#: and checkpoints every this many epochs (and the last): its epochs take
#: microseconds, a checkpoint (written and synced to disk) milliseconds
TOY_SAVE_EVERY = 100
SIMPLE_MODELS: dict[str, type[SimpleCBOW] | type[SimpleSkipGram]] = {
    "cbow": SimpleCBOW,
    "skipgram": SimpleSkipGram,
}


def toy_corpus(text: str = BOOK2_SENTENCE) -> tuple[np.ndarray, list[str]]:
    """(corpus ids (T,), words) of book 2's ``preprocess`` (:func:`zerokara.text.preprocess`):
    the book's sentence gives [0 1 2 3 4 1 5 6] over you, say, goodbye, and, i, hello, "."."""
    corpus, _, words = preprocess(text)
    return corpus, words


class _EveryNthEpoch(Reporter):
    """Passes everything to ``inner`` but only every ``every``-th epoch's line (and
    the last epoch's): a thousand one-sentence epochs would be a thousand lines."""

    def __init__(self, inner: Reporter, trainer: Trainer, every: int) -> None:
        self.inner, self.trainer, self.every = inner, trainer, every
        self.shows_progress = inner.shows_progress

    def start(self, what: str, total: int, done: int = 0) -> None:
        self.inner.start(what, total, done)

    def update(self, done: int, **values: float) -> None:
        self.inner.update(done, **values)

    def line(self, text: str) -> None:
        epoch, last = self.trainer.epoch, getattr(self.trainer, "epochs", None)
        if epoch % self.every == 0 or epoch == last or epoch == 1:
            self.inner.line(text)

    def finish(self) -> None:
        self.inner.finish()

    def info(self, text: str) -> None:
        self.inner.info(text)


class ToyWord2VecTrainer(Word2VecTrainer):
    """Book 2's chapter 3 run: :class:`Word2VecTrainer`'s shuffled batches for
    SimpleCBOW / SimpleSkipGram, a history point per ``TOY_LOG_EVERY`` steps
    (the book's eval_interval) or per epoch if shorter, an epoch line every
    ``TOY_LINE_EVERY`` epochs, a checkpoint every ``TOY_SAVE_EVERY``."""

    name = "word2vec (toy)"

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("log_every", TOY_LOG_EVERY)
        super().__init__(*args, **kw)
        self.reporter = _EveryNthEpoch(self.reporter, self, TOY_LINE_EVERY)

    def fit(self, *args: Any, **kw: Any) -> dict[str, Any]:
        """:meth:`Word2VecTrainer.fit`, with BLAS on one thread (3-row products: a
        second thread only waits, and on a busy machine it waits long)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return super().fit(*args, **kw)

    def save(self, final: bool = False) -> None:
        """A checkpoint at every ``TOY_SAVE_EVERY``-th epoch's end and the last one's;
        inside an epoch (Ctrl-C, a stop after some updates) always."""
        if (
            not (final or self.pos or self._stop)
            and self.epoch % TOY_SAVE_EVERY
            and self.epoch != self.epochs
        ):
            return
        super().save(final)

    def metrics(self) -> dict[str, Any]:
        metrics = super().metrics()
        metrics["first_loss"] = self.history["loss"][0] if self.history["loss"] else None
        return metrics

    def plot(self) -> None:
        from zerokara.train.plots import plt, save_figure

        assert self.out_dir is not None  # finish() plots only into an out_dir
        if not self.history["loss"]:
            return
        it = self.history["iteration"]
        steps = it[1] - it[0] if len(it) > 1 else it[0]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(it, self.history["loss"], label=f"mean of each {steps} steps")
        ax.set(xlabel="iteration", ylabel="loss", title=f"{type(self.model).__name__}: training loss")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
        save_figure(fig, self.out_dir / "loss.png")


def train_toy_word2vec(
    c: dict[str, Any],
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """SimpleCBOW / SimpleSkipGram on book 2's sentence, for a config recorded
    with ``data="toy"`` (:meth:`Word2VecConfig.record`)."""
    corpus, words = toy_corpus()
    contexts, target = create_contexts_target(corpus, c["window"])
    if not 0 < c["batch_size"] <= len(target):
        raise InputError(
            f"word2vec: --batch-size expected in [1, {len(target)}] (the number of "
            f"(contexts, target) pairs), got {c['batch_size']}"
        )
    rng = np.random.default_rng(c["seed"])
    model = SIMPLE_MODELS[c["model"]](len(words), c["hidden"], rng=rng)
    out = open_run_dir(out_dir, resume)
    trainer = ToyWord2VecTrainer(
        model,
        make_optimizer(c["optimizer"], c["lr"]),
        rng=rng,
        words=words,
        out_dir=out,
        reporter=reporter,
        config=c,
        max_grad=c.get("max_grad"),
        lr_schedule=c["lr_schedule"],
    )
    rep = trainer.reporter
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.resume()
        rep.info(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}")
    rep.info(
        f"word2vec (toy): {type(model).__name__} on {BOOK2_SENTENCE!r}: {len(words)} words, "
        f"{len(target)} (contexts, target) pairs, window {c['window']}, hidden {c['hidden']}, "
        f"{c['optimizer']} lr {c['lr']}"
        + (f" ({c['lr_schedule']})" if c["lr_schedule"] != "constant" else "")
        + f", batch {c['batch_size']}, {c['epochs']} epochs -> {out}"
    )
    metrics = trainer.fit(contexts, target, epochs=c["epochs"], batch_size=c["batch_size"])
    return Run(metrics, trainer, out, c)


def vector_lines(wv: WordVectors, digits: int = 3) -> list[str]:
    """One line per word, its vector (W_in's row) after it, as book 2's
    ch03/train.py prints them."""
    width = max(len(w) for w in wv.words)
    return [
        f"{w:<{width}}  [" + " ".join(f"{x:+.{digits}f}" for x in v) + "]"
        for w, v in zip(wv.words, wv.vectors, strict=True)
    ]
