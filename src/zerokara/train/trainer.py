"""The mini-batch trainer: shuffled batches from an explicit generator, a
progress bar, evaluation each epoch, a metrics log, plots and checkpoints.

Everything the next step depends on is in the checkpoint -- parameters,
optimizer state, every random generator's state, the current epoch's
permutation and position in it -- so a resumed run continues bit for bit as
if it had never stopped.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError, NaNLossError
from zerokara.io import atomic_write_text
from zerokara.models.mlp import Classifier
from zerokara.optim import Optimizer, clip_grads
from zerokara.train.progress import Progress
from zerokara.train.state import CHECKPOINT, load_run, save_run


class Trainer:
    """Train a :class:`~zerokara.models.mlp.Classifier` on (x, t) arrays.

    Args:
        model: forward(x, t) -> loss, backward(), gradients(), accuracy().
        optimizer: updates ``model.parameters()`` from ``model.gradients()``.
        rng: shuffles the batches (its state is checkpointed).
        out_dir: where checkpoint, history, metrics and plots go (None: nowhere).
        max_grad: clip gradients to this global norm (None: no clipping).
        config: JSON-able settings stored in the checkpoint; resuming checks
            that the model-shaping ones match.
    """

    def __init__(self, model: Classifier, optimizer: Optimizer, *, rng: np.random.Generator,
                 out_dir: Path | str | None = None, max_grad: float | None = None,
                 progress: bool = True, config: dict[str, Any] | None = None) -> None:
        self.model, self.optimizer, self.rng = model, optimizer, rng
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.max_grad = max_grad
        self.show_progress = progress
        self.config = dict(config or {})
        self.epoch = 0  # completed epochs
        self.iteration = 0  # completed updates
        self.perm: np.ndarray | None = None  # this epoch's order of examples
        self.pos = 0  # batches of perm already used
        self.seconds = 0.0  # training time, summed across resumes
        self.history: dict[str, list] = {"iteration": [], "loss": [], "epochs": []}

    # -- the loop ----------------------------------------------------------------
    def fit(self, x: np.ndarray, t: np.ndarray, *, epochs: int, batch_size: int,
            max_iters: int | None = None, x_test: np.ndarray | None = None,
            t_test: np.ndarray | None = None, eval_train: int = 10_000) -> dict[str, Any]:
        """Train until ``epochs`` epochs (or ``max_iters`` updates) are complete.

        Shapes: x (N, D), t (N,) class ids; x_test (M, D), t_test (M,).
        An epoch is N // batch_size updates (a last partial batch is dropped,
        as book 2's trainer does). Returns the final metrics.
        """
        n = len(x)
        if len(t) != n:
            raise InputError(f"Trainer: x has {n} examples but t has {len(t)}")
        if not 0 < batch_size <= n:
            raise InputError(f"Trainer: batch_size expected in [1, {n}] (the data size), got {batch_size}")
        per_epoch = n // batch_size
        total = epochs * per_epoch if max_iters is None else min(max_iters, epochs * per_epoch)
        self.model.train()
        bar = Progress("train", total=total, done=self.iteration, enabled=self.show_progress)
        epoch_losses: list[float] = []
        start = time.perf_counter()
        with bar:
            while self.iteration < total:
                if self.pos == 0:
                    self.perm = self.rng.permutation(n)
                idx = self.perm[self.pos * batch_size:(self.pos + 1) * batch_size]
                loss = self.step(x[idx], t[idx])
                epoch_losses.append(loss)
                self.pos += 1
                bar.update(self.iteration, loss=loss)
                if self.pos == per_epoch:
                    self.pos, self.perm = 0, None
                    self.epoch += 1
                    self.seconds += time.perf_counter() - start
                    row = self._end_epoch(epoch_losses, x, t, x_test, t_test, eval_train)
                    bar.log(_epoch_line(row, epochs))
                    epoch_losses = []
                    start = time.perf_counter()  # evaluation and checkpoint are not training time
        self.seconds += time.perf_counter() - start
        if self.pos:  # stopped inside an epoch (max_iters): checkpoint there too
            self.save()
        return self.finish(x, t, x_test, t_test, eval_train)

    def step(self, x: np.ndarray, t: np.ndarray) -> float:
        """One update: forward, backward, optional clipping, optimizer step."""
        loss = self.model.forward(x, t)
        check_loss(loss, self.iteration, self.epoch, self.optimizer.lr, self.out_dir)
        self.model.backward(input_grad=False)
        grads = self.model.gradients()
        if self.max_grad is not None:
            clip_grads(grads, self.max_grad)
        self.optimizer.update(self.model.parameters(), grads)
        self.iteration += 1
        self.history["iteration"].append(self.iteration)
        self.history["loss"].append(loss)
        return loss

    def _end_epoch(self, losses: list[float], x: np.ndarray, t: np.ndarray,
                   x_test: np.ndarray | None, t_test: np.ndarray | None, eval_train: int) -> dict:
        row: dict[str, Any] = {"epoch": self.epoch, "iteration": self.iteration,
                               "loss": float(np.mean(losses)),
                               "train_accuracy": self.model.accuracy(x[:eval_train], t[:eval_train])}
        if x_test is not None:
            row["test_accuracy"] = self.model.accuracy(x_test, t_test)
        row["seconds"] = round(self.seconds, 3)
        self.history["epochs"].append(row)
        self.save()
        return row

    def finish(self, x: np.ndarray, t: np.ndarray, x_test: np.ndarray | None,
               t_test: np.ndarray | None, eval_train: int) -> dict[str, Any]:
        """Final metrics; writes metrics.json and the plots into out_dir."""
        metrics: dict[str, Any] = {
            "epochs": self.epoch, "iterations": self.iteration,
            "final_loss": float(np.mean(self.history["loss"][-100:])) if self.history["loss"] else None,
            "train_accuracy": self.model.accuracy(x[:eval_train], t[:eval_train]),
            "train_seconds": round(self.seconds, 3),
        }
        if x_test is not None:
            metrics["test_accuracy"] = self.model.accuracy(x_test, t_test)
        if self.out_dir is not None:
            from zerokara.train.plots import plot_history

            atomic_write_text(self.out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
            plot_history(self.history, self.out_dir)
        return metrics

    # -- checkpoints ---------------------------------------------------------------
    def save(self) -> None:
        if self.out_dir is None:
            return
        meta = {"config": self.config, "epoch": self.epoch, "iteration": self.iteration,
                "pos": self.pos, "seconds": self.seconds}
        extra = {"trainer/perm": self.perm} if self.perm is not None else {}
        save_run(self.out_dir / CHECKPOINT, self.model, self.optimizer, rng=self.rng, meta=meta,
                 tensors=extra, history=self.history)

    def resume(self, path: Path | str | None = None, *, check_keys: tuple[str, ...] = ()) -> None:
        """Restore everything from a checkpoint (default: out_dir's)."""
        path = Path(path) if path is not None else self.out_dir / CHECKPOINT
        meta, tensors = load_run(path, self.model, self.optimizer, rng=self.rng,
                                 config=self.config, check_keys=check_keys)
        self.epoch, self.iteration, self.pos = meta["epoch"], meta["iteration"], meta["pos"]
        self.seconds = meta["seconds"]
        self.perm = tensors.get("trainer/perm")
        hist = path.parent / "history.json"
        if hist.is_file():
            h = json.loads(hist.read_text())
            keep = sum(1 for i in h["iteration"] if i <= self.iteration)
            self.history = {"iteration": h["iteration"][:keep], "loss": h["loss"][:keep],
                            "epochs": [r for r in h["epochs"] if r["epoch"] <= self.epoch]}


def check_loss(loss: float, iteration: int, epoch: int, lr: float, out_dir: Path | None) -> None:
    """A NaN or infinite loss stops training with one line saying what to change."""
    if math.isfinite(loss):
        return
    where = f" the last good checkpoint is {out_dir / CHECKPOINT}." if out_dir else ""
    raise NaNLossError(
        f"loss became {loss} at iteration {iteration + 1} (epoch {epoch + 1}); lower the learning "
        f"rate (now {lr:g}) or clip gradients (--max-grad).{where}")


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['loss']:.4f}",
             f"train acc {row['train_accuracy']:.4f}"]
    if "test_accuracy" in row:
        parts.append(f"test acc {row['test_accuracy']:.4f}")
    parts.append(f"{row['seconds']:.1f} s")
    return "  ".join(parts)
