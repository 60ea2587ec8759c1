"""Shuffled mini-batches of (x, t) rows: the batch source of the MLP, the spiral
and seq2seq (book 1's and book 2's trainers).

Every epoch draws a permutation of the N rows from the run's generator and
takes them ``batch_size`` at a time; a last partial batch is dropped, as book
2's trainer does, so an epoch is N // batch_size updates. After each epoch:
accuracy on (the first ``eval_train`` rows of) the training set and on the
test set (and on a validation split held out of the training rows, if asked:
:func:`pick_rows`).
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
        x_valid: np.ndarray | None = None,
        t_valid: np.ndarray | None = None,
        eval_train: int = 10_000,
    ) -> dict[str, Any]:
        """Train until ``epochs`` epochs (or ``max_iters`` updates) are complete.

        Shapes: x (N, ...), t (N, ...); x_test (M, ...), t_test (M, ...); x_valid, t_valid
        likewise (a split held out of the training rows, evaluated each epoch).
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
        self.x_valid, self.t_valid = x_valid, t_valid
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
        if getattr(self, "x_valid", None) is not None:
            out["valid_accuracy"] = self.model.accuracy(self.x_valid, self.t_valid)
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
        if "valid_accuracy" in row:
            parts.append(f"valid acc {row['valid_accuracy']:.4f}")
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
        for key in ("valid_accuracy", "test_accuracy"):
            if key in acc:
                metrics[key] = acc[key]
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
    task's filled config (its ``optimizer``, ``lr``, ``max_grad``, ``weight_decay`` and
    ``decay`` if it has them, and ``record()``)."""
    from zerokara.optim import make_optimizer
    from zerokara.regularize import WeightDecay
    from zerokara.train.state import CHECKPOINT, open_run_dir

    out = open_run_dir(out_dir, resume)
    lam = getattr(config, "weight_decay", None)
    trainer = cls(
        model,
        make_optimizer(config.optimizer, config.lr),
        rng=rng,
        out_dir=out,
        max_grad=config.max_grad,
        reporter=reporter,
        config=config.record(),
        weight_decay=WeightDecay(lam, config.decay) if lam else None,
    )
    if resume:
        trainer.resume(check_keys=check_keys)
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.reporter.info(
            f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}, iteration {trainer.iteration}"
        )
    return trainer, out


def subset(
    x: np.ndarray, t: np.ndarray, size: int | None, stream: tuple[int, int], option: str, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` of the rows of (x, t), drawn from the generator ``stream`` and kept in their
    order (all of them for None); more rows than there are is an error naming ``option``."""
    n = len(x)
    if size is None:
        return x, t
    if not 0 < size <= n:
        raise InputError(f"{option}: expected 1 to {n} (the {what} rows there are), got {size}")
    if size == n:
        return x, t
    keep = np.sort(np.random.default_rng(stream).choice(n, size, replace=False))
    return x[keep], t[keep]


def pick_rows(
    x: np.ndarray,
    t: np.ndarray,
    *,
    train_size: int | None = None,
    valid_fraction: float | None = None,
    seed: int = 0,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """The rows a run trains on, and the validation split held out of them.

    ``train_size``: a seeded subset of that many rows (book 1's overfitting experiment
    trains on 300 images); ``valid_fraction``: that fraction of those rows is held out
    (book 1's hyper-parameter search validates on 20%). Each draw has its own stream,
    ``(seed, 7)`` and ``(seed, 9)``, so the model's weights do not depend on them.
    Returns ((x, t), (x_valid, t_valid) or None).
    """
    x, t = subset(x, t, train_size, (seed, 7), "--train-size", "training")
    if valid_fraction is None:
        return (x, t), None
    if not 0 < valid_fraction < 1:
        raise InputError(
            f"--valid-fraction: expected a number between 0 and 1 (exclusive), got {valid_fraction}"
        )
    n_valid = round(len(x) * valid_fraction)
    if not 0 < n_valid < len(x):
        raise InputError(
            f"--valid-fraction: {valid_fraction} of {len(x)} rows leaves no rows for "
            f"{'validation' if n_valid == 0 else 'training'}"
        )
    order = np.random.default_rng((seed, 9)).permutation(len(x))
    valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    return (x[train], t[train]), (x[valid], t[valid])


def check_decay(weight_decay: float | None, decay: str) -> None:
    """--weight-decay must be a number >= 0 and --decay l2 or l1 (one line each)."""
    from zerokara.regularize import KINDS

    if weight_decay is not None and not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise InputError(f"--weight-decay: expected a number >= 0 (lambda), got {weight_decay}")
    if decay not in KINDS:
        raise InputError(f"--decay: expected one of {', '.join(KINDS)}, got {decay!r}")


def run_extras(c: Any, n_train: int, valid: tuple | None) -> str:
    """ ", weight decay 0.1 (l2), 300 training rows, 60 held out" as far as they apply."""
    text = f", weight decay {c.weight_decay:g} ({c.decay})" if c.weight_decay else ""
    if c.train_size is not None or valid is not None:
        text += f", {n_train} training rows"
    if valid is not None:
        text += f", {len(valid[0])} held out for validation"
    return text
