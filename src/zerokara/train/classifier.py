"""Shuffled mini-batches of (x, t) rows: the batch source of the MLP, the spiral
and seq2seq (book 1's and book 2's trainers).

Every epoch draws a permutation of the N rows from the run's generator and
takes them ``batch_size`` at a time; a last partial batch is dropped, as book
2's trainer does, so an epoch is N // batch_size updates. After each epoch:
accuracy on (the first ``eval_train`` rows of) the training set and on the
test set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.train.loop import Trainer
from zerokara.train.report import Reporter


class ClassifierTrainer(Trainer):
    """Train a model with ``forward(x, t) -> loss`` and ``accuracy(x, t)`` on rows.

    Args: as :class:`~zerokara.train.loop.Trainer`; ``rng`` is required (it
    shuffles the rows). Call :meth:`fit`.
    """

    model: Any  # forward(x, t) -> loss, accuracy(x, t); or a DataParallel of such a model
    rng: np.random.Generator  # required: it shuffles the rows

    def __init__(self, model: Any, optimizer: Any, *, rng: np.random.Generator, **kw: Any) -> None:
        super().__init__(model, optimizer, rng=rng, **kw)
        inner = getattr(model, "module", model)  # a DataParallel wrapper's model
        if hasattr(inner, "input_grad"):
            inner.input_grad = False  # nobody needs the gradient of the input rows
        self.perm: np.ndarray | None = None  # this epoch's order of rows

    def fit(
        self,
        x: np.ndarray,
        t: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        max_iters: int | None = None,
        x_test: np.ndarray | None = None,
        t_test: np.ndarray | None = None,
        eval_train: int = 10_000,
    ) -> dict[str, Any]:
        """Train until ``epochs`` epochs (or ``max_iters`` updates) are complete.

        Shapes: x (N, ...), t (N, ...); x_test (M, ...), t_test (M, ...).
        Returns the final metrics.
        """
        n = len(x)
        if len(t) != n:
            raise InputError(f"{type(self).__name__}: x has {n} examples but t has {len(t)}")
        if not 0 < batch_size <= n:
            raise InputError(
                f"{type(self).__name__}: batch_size expected in [1, {n}] (the data size), got {batch_size}"
            )
        self.x, self.t, self.x_test, self.t_test = x, t, x_test, t_test
        self.batch_size, self.eval_train = batch_size, eval_train
        self.model.train()
        return self.run(epochs=epochs, iters=max_iters)

    def begin_epoch(self) -> int:
        self.perm = self.rng.permutation(len(self.x))
        return len(self.x) // self.batch_size

    def batch(self) -> tuple:
        assert self.perm is not None  # begin_epoch drew it
        idx = self.perm[self.pos * self.batch_size : (self.pos + 1) * self.batch_size]
        return self.x[idx], self.t[idx]

    def planned_steps(self, epochs: int | None) -> int:
        return (epochs or 0) * (len(self.x) // self.batch_size)

    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        # an epoch begun under checkpoint format 1 has no generator state to draw it
        # again from: its order travels on until the epoch ends
        if self.pos and self._epoch_rng is None and self.perm is not None:
            return {}, {"trainer/perm": self.perm}
        return {}, {}

    def load_task_state(self, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        if "trainer/perm" in tensors:  # checkpoint format 1 saved the epoch's order itself
            self.perm = tensors["trainer/perm"]

    # -- evaluation --------------------------------------------------------------------------
    def accuracies(self) -> dict[str, float]:
        out = {"train_accuracy": self.model.accuracy(self.x[: self.eval_train], self.t[: self.eval_train])}
        if self.x_test is not None:
            out["test_accuracy"] = self.model.accuracy(self.x_test, self.t_test)
        return out

    def end_epoch(self) -> dict[str, Any]:
        return {"loss": self.epoch_loss(), **self.accuracies()}

    def epoch_line(self, row: dict[str, Any], epochs: int | None) -> str:
        parts = [
            f"epoch {row['epoch']}/{epochs}",
            f"loss {row['loss']:.4f}",
            f"train acc {row['train_accuracy']:.4f}",
        ]
        if "test_accuracy" in row:
            parts.append(f"test acc {row['test_accuracy']:.4f}")
        parts.append(f"{row['seconds']:.1f} s")
        return "  ".join(parts)

    def metrics(self) -> dict[str, Any]:
        losses = self.history["loss"][-100:]
        acc = self.accuracies()
        metrics: dict[str, Any] = {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "final_loss": float(np.mean(losses)) if losses else None,
            "train_accuracy": acc["train_accuracy"],
            "train_seconds": round(self.seconds, 3),
        }
        if "test_accuracy" in acc:
            metrics["test_accuracy"] = acc["test_accuracy"]
        return metrics

    def plot(self) -> None:
        from zerokara.train.plots import plot_history

        assert self.out_dir is not None  # finish() plots only into an out_dir
        plot_history(self.history, self.out_dir)


def start_run(
    cls: type[ClassifierTrainer],
    model: Any,
    config: Any,
    rng: np.random.Generator,
    *,
    out_dir: Path | str | None,
    reporter: Reporter | None,
    resume: bool,
    check_keys: tuple[str, ...],
) -> tuple[ClassifierTrainer, Path | None]:
    """A classifier task's trainer on its run folder, resumed from it if asked: what every
    ``train_*`` of a classifier (MLP, spiral, CNN) does before it fits. ``config`` is the
    task's filled config (its ``optimizer``, ``lr``, ``max_grad`` and ``record()``)."""
    from zerokara.optim import make_optimizer
    from zerokara.train.state import CHECKPOINT, open_run_dir

    out = open_run_dir(out_dir, resume)
    trainer = cls(
        model,
        make_optimizer(config.optimizer, config.lr),
        rng=rng,
        out_dir=out,
        max_grad=config.max_grad,
        reporter=reporter,
        config=config.record(),
    )
    if resume:
        trainer.resume(check_keys=check_keys)
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.reporter.info(
            f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}, iteration {trainer.iteration}"
        )
    return trainer, out
