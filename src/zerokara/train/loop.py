"""The one training loop. Every task (MLP, spiral, binary addition, language
models, word2vec, seq2seq) trains through :class:`Trainer`; a task is a
subclass that supplies only what differs:

* its batch source: :meth:`Trainer.begin_epoch` (draw the epoch's order,
  resample, reset a carried state; returns the epoch's number of steps) and
  :meth:`Trainer.batch` (the inputs of step ``pos`` of the epoch);
* its evaluation: :meth:`Trainer.end_epoch` (the epoch's figures) and
  :meth:`Trainer.metrics` (the final ones);
* its epoch-end hooks: :meth:`Trainer.after_epoch` (learning-rate schedule,
  keeping the best-on-valid model), and :meth:`Trainer.plot`.

The loop owns the rest, once: the step (forward, a divergence check naming
the step, backward, weight decay, clipping, update), epochs or a number of updates, the
history (a per-step series and a row per epoch), progress through a
:class:`~zerokara.train.report.Reporter`, checkpoints and resume, the run
folder's lock, and metrics.json, written once at the end.

A run is one file (:class:`~zerokara.train.run_state.RunState`, the base of
:class:`Trainer`, writes and reads it): the checkpoint holds the parameters, the buffers, the
optimizer's state, every random generator, the counters, the partial sums of
the current epoch, the generator's state when the epoch began, the history,
the settings and, once the run is finished, its final metrics. It is committed
by one rename, so a kill at any instant leaves the previous checkpoint or the
next, never a mix. history.json, checkpoint.json, metrics.json and the plots
are views of it, written after the commit and redrawn from it when a kill
came first. A run resumed inside an epoch draws that epoch's order again from
the saved state (so nothing epoch-sized needs saving) and then continues from
the saved generators: bit for bit.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from zerokara.errors import InputError, NaNLossError
from zerokara.layers.base import Module
from zerokara.optim import Optimizer, clip_grads
from zerokara.options import clip_norm
from zerokara.regularize import WeightDecay
from zerokara.runlock import clean_temporaries, locked
from zerokara.train.report import Reporter
from zerokara.train.run_state import RunState
from zerokara.train.state import CHECKPOINT

#: a loss above this has diverged: its perplexity exp(loss) is beyond float32 (a diverging
#: language model reaches it long before the loss itself overflows)
DIVERGED = float(np.log(np.finfo(np.float32).max))


class Trainer(RunState):
    """Train ``model`` with ``optimizer``; subclasses say where batches come from.

    Args:
        model: forward(*batch) -> loss, backward(), parameters(), gradients().
        optimizer: updates the parameters from the gradients.
        rng: the run's generator (batch order; its state is checkpointed).
        out_dir: where checkpoint, history, metrics and plots go (None: nowhere).
        max_grad: clip the gradients' global L2 norm to this (None or "none": no clipping).
        weight_decay: a :class:`~zerokara.regularize.WeightDecay` whose penalty joins the
            loss (and the reported loss, as book 1 reports it) and whose gradient joins
            the weights' before clipping (None: none).
        reporter: progress and per-epoch lines (default: quiet).
        config: JSON-able settings stored in the checkpoint.
        save_every: also checkpoint inside an epoch every this many seconds.
    """

    #: what the progress bar says
    name = "train"
    #: the per-step series in the history, beside "iteration"
    series = "loss"
    #: a history point (and a progress update) every this many steps
    log_every = 1
    #: whether an epoch stopped inside may have another length when resumed (a task
    #: whose epochs are stretches between evaluations, not passes over data)
    epoch_length_may_change = False
    #: what a diverging loss tells the user to change
    nan_hint = "lower the learning rate (now {lr:g}) or clip gradients (--max-grad)"

    def __init__(
        self,
        model: Module,
        optimizer: Optimizer,
        *,
        rng: np.random.Generator | None = None,
        out_dir: Path | str | None = None,
        max_grad: float | str | None = None,
        reporter: Reporter | None = None,
        config: dict[str, Any] | None = None,
        save_every: float | None = None,
        weight_decay: WeightDecay | None = None,
    ) -> None:
        self.model, self.optimizer, self.rng = model, optimizer, rng
        self.weight_decay = weight_decay
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.max_grad = clip_norm(max_grad, type(self).__name__)
        self.reporter = reporter if reporter is not None else Reporter()
        self.config = dict(config or {})
        self.save_every = save_every
        self.epoch = 0  # completed epochs
        self.iteration = 0  # completed updates
        self.pos = 0  # steps of the current epoch already done
        self.epoch_steps = 0  # steps in the current epoch
        self.seconds = 0.0  # training time (no evaluation, no checkpoints), summed across resumes
        self.segment_start = 0.0  # when the stretch of training now running (not in seconds yet) began
        self.history: dict[str, list] = {"iteration": [], self.series: [], "epochs": []}
        self._window = [0.0, 0]  # loss sum and count since the last history point
        self._epoch_loss = [0.0, 0]  # loss sum and count of the current epoch
        self._epoch_rng: Mapping[str, Any] | None = None  # the generator's state when the epoch began
        self._resumed: tuple[dict, dict] | None = None  # (meta, tensors) of a resume inside an epoch
        self._stop = False
        self.resumed = False  # set by resume(): a finished run resumed trains nothing
        self.final_metrics: dict[str, Any] | None = None  # set when the run's last checkpoint is written
        self._meta: dict[str, Any] = {}  # the meta of the checkpoint last written or read
        self._target: tuple[int | None, int | None] = (None, None)  # run()'s epochs and iters

    # -- what a task supplies -------------------------------------------------------------
    def begin_epoch(self) -> int:
        """Prepare the epoch that starts now; return its number of steps."""
        raise NotImplementedError

    def batch(self) -> tuple:
        """The inputs of step ``self.pos`` of the current epoch."""
        raise NotImplementedError

    def forward(self, batch: tuple) -> float:
        return self.model.forward(*batch)

    def before_step(self) -> None:
        """Called before each step (e.g. a learning rate that changes every step)."""

    def series_value(self, mean_loss: float) -> float:
        """The history's value for a window of steps whose mean loss is ``mean_loss``."""
        return mean_loss

    def progress_values(self) -> dict[str, float]:
        return {self.series: self.history[self.series][-1]} if self.history[self.series] else {}

    def planned_steps(self, epochs: int | None) -> int:
        """Steps in ``epochs`` epochs, for the progress bar (an estimate is fine)."""
        return 0

    def end_epoch(self) -> dict[str, Any]:
        """The epoch's figures (evaluation); ``epoch``, ``iteration`` and ``seconds`` are added."""
        return {"loss": self.epoch_loss()}

    def after_epoch(self, row: dict[str, Any]) -> None:
        """Epoch-end hooks after the row is recorded (learning-rate schedule...)."""

    def epoch_line(self, row: dict[str, Any], epochs: int | None) -> str:
        return f"epoch {row['epoch']}/{epochs}  loss {row['loss']:.4f}  {row['seconds']:.1f} s"

    def metrics(self) -> dict[str, Any]:
        """The final figures, as metrics.json holds them."""
        return {"epochs": self.epoch, "iterations": self.iteration, "train_seconds": round(self.seconds, 3)}

    def plot(self) -> None:
        """Draw the run's PNGs into out_dir (called only when there is one)."""

    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What else a resume needs: (JSON-able meta, tensors)."""
        return {}, {}

    def load_task_state(self, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`task_state` saved (after the epoch's order is drawn again)."""

    def start_run(self) -> None:
        """Called when :meth:`run` starts, after any resume."""

    # -- the loop ---------------------------------------------------------------------------
    def epoch_loss(self) -> float:
        total, n = self._epoch_loss
        return total / n if n else math.nan

    def _done(self, epochs: int | None, iters: int | None) -> bool:
        return (epochs is not None and self.epoch >= epochs) or (
            iters is not None and self.iteration >= iters
        )

    def run(self, *, epochs: int | None = None, iters: int | None = None) -> dict[str, Any]:
        """Train until ``epochs`` epochs are complete or ``iters`` updates are done
        in total (whichever comes first); return the final metrics. The run folder
        is locked meanwhile: a second process writing into it is refused."""
        if epochs is None and iters is None:
            raise InputError(f"{type(self).__name__}: give epochs or iters")
        with locked(self.out_dir, "run"):
            if self.out_dir is not None:
                clean_temporaries(self.out_dir)  # a killed writer's, never a live one's: we hold the lock
            return self._run(epochs, iters)

    def _run(self, epochs: int | None, iters: int | None) -> dict[str, Any]:
        self._target = (epochs, iters)
        if self.resumed and self._done(epochs, iters) and self.final_metrics is not None:
            return self._finished()
        self.final_metrics = None  # training goes on: the old final figures no longer hold
        total = self.planned_steps(epochs) if epochs is not None else 0
        if iters is not None:
            total = min(total, iters) if total else iters
        self._continue_epoch()
        self.start_run()
        self._params = self.model.parameters()
        rep = self.reporter
        rep.start(self.name, total=total or 0, done=self.iteration)
        start = self.segment_start = time.perf_counter()
        last_save = time.monotonic()
        try:
            # overflow on the way to a NaN loss is reported once, by the check, not as warnings
            with self._stop_on_interrupt(), np.errstate(over="ignore", invalid="ignore"):
                while not self._done(epochs, iters):
                    if self.pos == 0:
                        self._epoch_rng = self.rng.bit_generator.state if self.rng is not None else None
                        self.epoch_steps = self.begin_epoch()
                        self._epoch_loss = [0.0, 0]
                    loss = self.step(self.batch())
                    self.pos += 1
                    self._log(loss)
                    if self.pos == self.epoch_steps:
                        self.seconds += time.perf_counter() - start
                        self._end_epoch(epochs)
                        start, last_save = time.perf_counter(), time.monotonic()
                        self.segment_start = start
                    elif self._stop or (
                        self.save_every is not None and time.monotonic() - last_save > self.save_every
                    ):
                        self.seconds += time.perf_counter() - start
                        self.save()
                        start, last_save = time.perf_counter(), time.monotonic()
                        self.segment_start = start
                    if self._stop:  # Ctrl-C: the checkpoint now holds this very step
                        raise KeyboardInterrupt
        finally:
            rep.finish()
        if self.final_metrics is None:  # stopped inside an epoch (iters), or nothing to train
            self.seconds += time.perf_counter() - start
            self.save(final=True)
        return self.finish()

    def step(self, batch: tuple) -> float:
        """One update: forward, finite-loss check, backward, clipping, update."""
        self.before_step()
        loss = self.forward(batch)
        if self.weight_decay is not None:
            loss += self.weight_decay.penalty(self._params)
        self.check_loss(loss)
        self.model.backward()
        grads = self.model.gradients()
        if self.weight_decay is not None:
            self.weight_decay.add_gradient(self._params, grads)
        if self.max_grad is not None:
            clip_grads(grads, self.max_grad)
        self.optimizer.update(self._params, grads)
        self.iteration += 1
        return loss

    def check_loss(self, loss: float) -> None:
        """A NaN, infinite or exploding loss (one whose perplexity, exp(loss), overflows
        float32) stops training with one line saying what to change and which checkpoint
        is the last good one (only if there is one)."""
        if math.isfinite(loss) and loss <= DIVERGED:
            return
        what = (
            f"became {loss}"
            if not math.isfinite(loss)
            else f"exploded to {loss:.4g} (exp(loss) overflows float32)"
        )
        self.diverged(f"loss {what} at {self.step_name()}")

    def diverged(self, what: str) -> NoReturn:
        """Stop the run: one line saying what diverged, what to change, and the last
        good checkpoint (named only when there is one)."""
        ckpt = self.out_dir / CHECKPOINT if self.out_dir is not None else None
        where = f" The last good checkpoint is {ckpt}." if ckpt is not None and ckpt.is_file() else ""
        raise NaNLossError(f"{what}: the run diverged; {self.nan_hint.format(lr=self.optimizer.lr)}.{where}")

    def step_name(self) -> str:
        """The step about to be taken, as an error message names it."""
        return f"iteration {self.iteration + 1} (epoch {self.epoch + 1})"

    def _log(self, loss: float) -> None:
        self._epoch_loss[0] += loss
        self._epoch_loss[1] += 1
        self._window[0] += loss
        self._window[1] += 1
        if self._window[1] >= self.log_every or self.pos == self.epoch_steps:
            self.history["iteration"].append(self.iteration)
            self.history[self.series].append(self.series_value(self._window[0] / self._window[1]))
            self._window = [0.0, 0]
            if self.reporter.shows_progress:
                self.reporter.update(self.iteration, **self.progress_values())

    def _end_epoch(self, epochs: int | None) -> None:
        self.epoch += 1
        self.pos = 0
        row: dict[str, Any] = {"epoch": self.epoch, "iteration": self.iteration, **self.end_epoch()}
        row["seconds"] = round(self.seconds, 3)
        self.history["epochs"].append(row)
        self.after_epoch(row)
        self.save(final=self._done(*self._target))
        self.reporter.line(self.epoch_line(row, epochs))

    @contextlib.contextmanager
    def _stop_on_interrupt(self) -> Iterator[None]:
        """With a run folder, a first Ctrl-C (SIGINT) lets the current step finish,
        saves a checkpoint and stops; a second one stops at once (the previous
        checkpoint is intact)."""
        self._stop = False
        if self.out_dir is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: object) -> None:
            if self._stop:
                raise KeyboardInterrupt
            self._stop = True

        old = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, old)
