"""The word2vec trainer every word2vec run shares (chapter 4's negative-sampling models on
PTB or a corpus, and chapter 3's toy run of :mod:`zerokara.train.toy_word2vec`): shuffled
(contexts, target) batches, optionally resampled each epoch, gensim-style shrinking
windows and a linear learning-rate schedule, and checkpoints that are at once a resumable
run and the word vectors ``zerokara similar`` reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, InputError
from zerokara.io import load_checkpoint
from zerokara.optim import Optimizer
from zerokara.train.loop import Trainer
from zerokara.word_vectors import WordVectors

VECTORS_KEY = "model/embed_in.W"  # the word vectors inside a checkpoint
#: book 2's settings (chapter 4, train.py): used when an option is not given
DEFAULTS = {
    "model": "cbow",
    "window": 5,
    "hidden": 100,
    "batch_size": 100,
    "epochs": 10,
    "optimizer": "adam",
    "lr": 0.001,
    "negatives": 5,
    "subsample": 0.0,
    "shrink_window": False,
    "lr_schedule": "constant",
    "init": "book",
    "data": "ptb",
}
#: settings a resumed run must share with the checkpoint
MODEL_KEYS = ("model", "window", "hidden", "negatives", "optimizer", "corpus", "batch_size", "subsample")
#: more such settings, absent from older checkpoints (which used book 2's values)
OPTION_KEYS = ("shrink_window", "lr_schedule", "init", "data")
#: learning-rate schedules: "constant" (book 2) or "linear" (gensim's alpha: from
#: lr down to 0 over the whole run, step by step)
LR_SCHEDULES = ("constant", "linear")


def scheduled_lr(lr0: float, schedule: str, done: float) -> float:
    """The learning rate of a step taken when the fraction ``done`` (in [0, 1))
    of the run's steps is behind: ``lr0`` (constant) or ``lr0 * (1 - done)``
    (linear, as gensim decays alpha; the last step's rate is just above 0)."""
    if schedule == "constant":
        return lr0
    if schedule == "linear":
        return lr0 * (1.0 - done)
    raise InputError(f"word2vec: lr_schedule expected one of {list(LR_SCHEDULES)}, got {schedule!r}")


def draw_reach(rng: np.random.Generator, n: int, window: int) -> np.ndarray:
    """gensim's reduced windows: each of ``n`` targets gets an effective window
    drawn uniformly from 1..window, so a context word d positions away is used
    with probability (window - d + 1) / window -- near words weigh more."""
    return rng.integers(1, window + 1, size=n)


class Word2VecTrainer(Trainer):
    """Epochs of shuffled mini-batches of (contexts, target) pairs.

    Args (besides :class:`~zerokara.train.loop.Trainer`'s):
        model: CBOW / SkipGram (forward(contexts, target) -> loss, backward()).
        optimizer: updates ``model.parameters()`` (sparse rows).
        rng: shuffles the pairs each epoch (its state is checkpointed).
        words: the vocabulary, row i of the word vectors is words[i].
        log_every: a history point every this many steps (default: about 10 an epoch).
        shrink_window: draw each target's effective window from 1..w every
            epoch (gensim's reduced windows; the model's ``reach``).
        lr_schedule: "constant" (book 2) or "linear" (the optimizer's lr at
            construction decays to 0 over the ``epochs`` passed to ``fit``).
    """

    name = "word2vec"
    model: Any  # CBOW / SkipGram or their Simple* forms: forward(contexts, target), word_vecs
    rng: np.random.Generator  # required: it draws each epoch's pairs, order and windows

    def __init__(
        self,
        model: Any,
        optimizer: Optimizer,
        *,
        rng: np.random.Generator,
        words: list[str],
        log_every: int | None = None,
        shrink_window: bool = False,
        lr_schedule: str = "constant",
        **kw: Any,
    ) -> None:
        super().__init__(model, optimizer, rng=rng, **kw)
        self.words = list(words)
        scheduled_lr(optimizer.lr, lr_schedule, 0.0)  # an unknown schedule fails here, not mid-run
        self.shrink_window, self.lr_schedule, self.lr0 = shrink_window, lr_schedule, optimizer.lr
        self._log_every = log_every

    def fit(
        self,
        contexts: np.ndarray,
        target: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        resample: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> dict[str, Any]:
        """Shapes: contexts (P, 2w), target (P,) ids. ``resample(rng)``, if given,
        makes each epoch's pairs afresh (frequent-word subsampling); the pairs
        passed in then only size the progress bar."""
        n = len(target)
        if not 0 < batch_size <= n:
            raise InputError(
                f"word2vec: batch_size expected in [1, {n}] (the number of "
                f"(contexts, target) pairs), got {batch_size}"
            )
        per_epoch = n // batch_size  # a last partial batch is dropped, as book 2's trainer does
        # ~10 points per epoch, at most one per 100 steps
        self.log_every = self._log_every or max(1, min(100, per_epoch // 10))
        self.contexts, self.target, self.resample = contexts, target, resample
        self.batch_size, self.epochs = batch_size, epochs
        return self.run(epochs=epochs)

    def begin_epoch(self) -> int:
        if self.resample is not None:
            self.contexts, self.target = self.resample(self.rng)
        n = len(self.target)
        if n // self.batch_size == 0:
            raise InputError(
                f"word2vec: after subsampling only {n} pairs remain, "
                f"fewer than one batch of {self.batch_size}"
            )
        self.perm = self.rng.permutation(n)
        # one effective window per pair of the epoch, in the shuffled order
        self.reach = draw_reach(self.rng, n, self.contexts.shape[1] // 2) if self.shrink_window else None
        return n // self.batch_size

    def planned_steps(self, epochs: int | None) -> int:
        return (epochs or 0) * (len(self.target) // self.batch_size)

    def batch(self) -> tuple:
        rows = slice(self.pos * self.batch_size, (self.pos + 1) * self.batch_size)
        idx = self.perm[rows]
        return self.contexts[idx], self.target[idx], None if self.reach is None else self.reach[rows]

    def forward(self, batch: tuple) -> float:
        contexts, target, reach = batch
        if reach is None:
            return self.model.forward(contexts, target)
        return self.model.forward(contexts, target, reach=reach)

    def before_step(self) -> None:
        if self.lr_schedule != "constant":
            self.optimizer.lr = scheduled_lr(
                self.lr0, self.lr_schedule, (self.epoch + self.pos / self.epoch_steps) / self.epochs
            )

    def metrics(self) -> dict[str, Any]:
        return {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "final_loss": self.history["epochs"][-1]["loss"] if self.history["epochs"] else None,
            "train_seconds": round(self.seconds, 3),
        }

    def plot(self) -> None:
        from zerokara.train.plots import plot_history

        assert self.out_dir is not None  # finish() plots only into an out_dir
        plot_history({"iteration": self.history["iteration"], "loss": self.history["loss"]}, self.out_dir)

    def word_vectors(self) -> WordVectors:
        return WordVectors(self.model.word_vecs, self.words)

    # -- checkpoints -------------------------------------------------------------
    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The vocabulary and where the word vectors are: the checkpoint is also
        what ``zerokara similar`` and ``analogy`` read."""
        return {"kind": "word2vec", "vectors": VECTORS_KEY, "vocab": self.words}, {}

    # narrower than Trainer.resume on purpose: word2vec fixes its own check_keys and key_defaults
    def resume(self, path: Path | str | None = None) -> dict[str, Any]:  # type: ignore[override]
        path = self.checkpoint_path(path)
        _, meta = load_checkpoint(path)  # check the vocabulary before touching anything
        if meta.get("vocab") != self.words:
            raise CheckpointError(f"{path}: the checkpoint's vocabulary differs from the corpus's")
        meta = super().resume(path, check_keys=MODEL_KEYS + OPTION_KEYS, key_defaults=DEFAULTS)
        old = meta.get("config", {}).get("epochs")
        if self.lr_schedule == "linear" and old != self.config.get("epochs"):
            raise CheckpointError(
                f"{path}: the linear lr schedule spans the run's {old} epochs; "
                f"resume with --epochs {old}, not {self.config.get('epochs')}"
            )
        return meta
