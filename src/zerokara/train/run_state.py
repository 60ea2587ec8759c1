"""A training run's committed state: the one checkpoint file, and the files drawn from it.

:class:`RunState` is the half of :class:`~zerokara.train.loop.Trainer` that saves
and restores: :meth:`~RunState.save` commits everything the next step depends on
(parameters, buffers, optimizer state, generators, position, partial sums, history,
settings, and at the end the final metrics) in one checkpoint by one rename, then
writes its views (history.json, checkpoint.json; metrics.json and the plots at the
end, by :meth:`~RunState.finish`). :meth:`~RunState.resume` reads it back, bit for
bit; a finished run resumed only redraws the views a kill kept out. The loop itself,
the step and the epochs, is in :mod:`zerokara.train.loop`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zerokara.errors import CheckpointError, InputError
from zerokara.io import atomic_write_text
from zerokara.train.state import CHECKPOINT, MAY_CHANGE, load_run, meta_view, save_run

#: the layout of the loop's checkpoint meta; 1 = zerokara 0.1.0's trainers
FORMAT = 2
HISTORY = "history.json"


class RunState:
    """Saving, resuming and the run's files, for :class:`~zerokara.train.loop.Trainer`
    (whose attributes -- model, optimizer, rng, out_dir, config, counters, history --
    these methods read and set)."""

    # the Trainer's attributes these methods use (set in Trainer.__init__)
    model: Any
    optimizer: Any
    rng: Any
    out_dir: Path | None
    config: dict[str, Any]
    reporter: Any
    history: dict[str, list]
    series: str
    epoch: int
    iteration: int
    pos: int
    epoch_steps: int
    seconds: float
    epoch_length_may_change: bool
    final_metrics: dict[str, Any] | None
    resumed: bool
    _meta: dict[str, Any]
    _window: list
    _epoch_loss: list
    _epoch_rng: Any
    _resumed: tuple[dict, dict] | None
    _stop: bool

    def metrics(self) -> dict[str, Any]:
        raise NotImplementedError

    def plot(self) -> None: ...

    def begin_epoch(self) -> int:
        raise NotImplementedError

    def task_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        raise NotImplementedError

    def load_task_state(self, meta: dict[str, Any], tensors: dict[str, Any]) -> None: ...

    def _finished(self) -> dict[str, Any]:
        """A finished run resumed: nothing to train and its files stay as they are,
        except the views a kill kept from being written, which are drawn again."""
        assert self.final_metrics is not None and self.out_dir is not None  # resume() set them
        missing = self._views_missing()
        if missing:
            self.finish()
        self.reporter.info(
            f"{self.out_dir}: the run is finished (epoch {self.epoch}, iteration {self.iteration}); "
            "nothing to train"
            + (
                f"; wrote {', '.join(missing)} again from its checkpoint"
                if missing
                else ", its files are unchanged"
            )
            + " (give more --epochs to go on)"
        )
        return dict(self.final_metrics)

    def _views_missing(self) -> list[str]:
        """The views that differ from what the checkpoint says (metrics.json is written
        after the plots, so a present and equal one means the plots were drawn)."""
        assert self.out_dir is not None
        missing = []
        for name, text in self._views().items():
            f = self.out_dir / name
            if not f.is_file() or f.read_text() != text:
                missing.append(name)
        return missing

    def _views(self) -> dict[str, str]:
        """The text files derived from the committed checkpoint, by name."""
        views = {HISTORY: json.dumps(self.history) + "\n", "checkpoint.json": meta_view(self._meta)}
        if self.final_metrics is not None:
            views["metrics.json"] = json.dumps(self.final_metrics, indent=2) + "\n"
        return views

    def finish(self) -> dict[str, Any]:
        """The final metrics (those the last checkpoint holds); metrics.json and the
        plots, views of that checkpoint, go into out_dir."""
        metrics = self.final_metrics if self.final_metrics is not None else self.metrics()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            views = self._views()
            done = views.pop("metrics.json")
            for name, text in views.items():
                atomic_write_text(self.out_dir / name, text)
            self.plot()
            # last: a metrics.json equal to the checkpoint's says every view was drawn
            atomic_write_text(self.out_dir / "metrics.json", done)
        return dict(metrics)

    # -- checkpoints --------------------------------------------------------------------------
    def save(self, final: bool = False) -> None:
        """Commit the run: one checkpoint file, one rename, then its views
        (history.json, checkpoint.json). ``final``: the run's last checkpoint, which
        also holds the final metrics (so they, metrics.json and the plots, can be
        drawn again from it)."""
        # the task's state first: an evaluation may move it (an LSTM's carried state)
        meta, tensors = self.task_state() if self.out_dir is not None else ({}, {})
        if final:
            self.final_metrics = self.metrics()
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            "run_format": FORMAT,
            "config": self.config,
            "epoch": self.epoch,
            "iteration": self.iteration,
            "pos": self.pos,
            "seconds": self.seconds,
            "epoch_steps": self.epoch_steps if self.pos else 0,
            "epoch_rng": self._epoch_rng if self.pos else None,
            "window": self._window,
            "epoch_loss": self._epoch_loss,
            "history": self.history,
            "metrics": self.final_metrics,
            **meta,
        }
        path = self.out_dir / CHECKPOINT
        self._meta = save_run(path, self.model, self.optimizer, rng=self.rng, meta=meta, tensors=tensors)
        # the views: a kill before them loses nothing, the checkpoint holds what they show
        for name, text in self._views().items():
            if name != "metrics.json":  # finish() writes it, after the plots
                atomic_write_text(self.out_dir / name, text)

    def checkpoint_path(self, path: Path | str | None = None) -> Path:
        """``path``, or by default out_dir's checkpoint."""
        if path is not None:
            return Path(path)
        if self.out_dir is None:
            raise InputError(f"{type(self).__name__}.resume: no checkpoint path and no out_dir")
        return self.out_dir / CHECKPOINT

    def resume(
        self,
        path: Path | str | None = None,
        *,
        check_keys: tuple[str, ...] = (),
        key_defaults: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Restore everything from a checkpoint (default: out_dir's); returns its meta.
        Inside an epoch, the task's own state follows when :meth:`run` starts.

        ``check_keys``: config entries that must equal the checkpoint's;
        ``key_defaults``: their values in checkpoints written before they existed.
        """
        self.resumed = True
        path = self.checkpoint_path(path)
        meta, tensors = load_run(
            path,
            self.model,
            self.optimizer,
            rng=self.rng,
            config=self.config,
            check_keys=check_keys,
            key_defaults=key_defaults,
        )
        self._meta = meta
        fmt = meta.get("run_format", 1)
        if fmt > FORMAT:
            raise CheckpointError(
                f"{path}: checkpoint format {fmt} is newer than this zerokara "
                f"reads ({FORMAT}); upgrade zerokara"
            )
        self.epoch, self.iteration = meta.get("epoch", 0), meta["iteration"]
        self.pos, self.seconds = meta.get("pos", 0), meta.get("seconds", 0.0)
        self.epoch_steps = meta.get("epoch_steps", 0)
        self._window = list(meta.get("window", [0.0, 0]))
        self._epoch_loss = list(meta.get("epoch_loss", [0.0, 0]))
        self.final_metrics = meta.get("metrics")
        if "history" in meta:
            self.history = meta["history"]
        else:  # a checkpoint from before the history was in it: history.json, cut back to it
            self.history = self._read_history(path.parent / HISTORY)
        # the settings a resume may change (the length): a change is kept in the history
        old = meta.get("config", {})
        changed = {
            k: [old[k], self.config[k]]
            for k in MAY_CHANGE
            if k in old and old[k] != self.config.get(k, old[k])
        }
        if changed:
            self.history.setdefault("resumes", []).append({"iteration": self.iteration, **changed})
        if self.pos:
            # the epoch's order is drawn again, and the task's state restored, when run()
            # starts: both need the data, which fit() brings
            self._resumed = (meta, tensors)
            self._epoch_rng = meta.get("epoch_rng")
        else:
            self.load_task_state(meta, tensors)
        return meta

    def _continue_epoch(self) -> None:
        """After a resume inside an epoch: draw that epoch again from the generator's
        state when it began, then put the generator back and restore the task's state."""
        if self._resumed is None:
            return
        meta, tensors = self._resumed
        self._resumed = None
        now = self.rng.bit_generator.state if self.rng is not None else None
        if self.rng is not None and meta.get("epoch_rng") is not None:
            self.rng.bit_generator.state = meta["epoch_rng"]
        steps = self.begin_epoch()
        if self.rng is not None and now is not None:
            self.rng.bit_generator.state = now
        saved = meta.get("epoch_steps") or steps
        if saved != steps and not self.epoch_length_may_change:
            raise CheckpointError(
                f"{type(self).__name__}: the run stopped inside an epoch of {saved} steps, but with "
                f"these settings an epoch has {steps} (was --batch-size changed?); resume with the "
                "run's own settings"
            )
        self.epoch_steps = saved
        self.load_task_state(meta, tensors)

    def _read_history(self, path: Path) -> dict[str, list]:
        """The history up to the checkpoint's iteration (a kill may have left it longer)."""
        empty: dict[str, list] = {"iteration": [], self.series: [], "epochs": []}
        if not path.is_file():
            return empty
        try:
            h = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{path}: cannot read the run's history: {e}") from None
        if "evals" in h:  # binary addition before the one loop: evals were its rows
            h["epochs"] = h.pop("evals")
        values = h.get(self.series, [])
        its = h.get("iteration") or list(range(1, len(values) + 1))
        keep = sum(1 for i in its if i <= self.iteration)
        return {
            "iteration": its[:keep],
            self.series: values[:keep],
            "epochs": [r for r in h.get("epochs", []) if r["iteration"] <= self.iteration],
        }
