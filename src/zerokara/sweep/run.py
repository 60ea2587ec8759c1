"""Running a sweep: its trials, their ids, resume by re-running, the loop.

A trial is one training run with one complete config: the task's defaults,
overridden by the fixed settings, by one setting of the sweep (a combination
of the grid, or a draw of a random search) and a seed. Its id is a hash of
the task's name and that config, so the same trial has the same id in every
sweep that contains it.

Nothing finished is lost: this process saves each trial's record the moment it
arrives, atomically, as ``OUT/trials/<id>.json``, and rewrites the tables
``results.csv`` and ``results.json`` after every trial. Running the same sweep
again skips the trials already finished ("ok" or "diverged") and runs the
rest, crashed ones included.

One sweep at a time per folder: :meth:`Sweep.run` holds the folder's lock
(:mod:`zerokara.runlock`) from start to end, so a second sweep into the same
folder is refused with the pid that holds it, and it removes, under the lock,
the temporaries a sweep killed half-way through a write left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zerokara.errors import InputError
from zerokara.io import atomic_write_text
from zerokara.runlock import FolderLock, clean_temporaries
from zerokara.sweep import results
from zerokara.sweep.executors import EXECUTORS, Trial, run_trials
from zerokara.sweep.grid import Grid, grid_json, grid_settings, parse_grid, sample_settings
from zerokara.sweep.task import SweepTask, get_task
from zerokara.train.report import Reporter

FINISHED = ("ok", "diverged")  # statuses a re-run skips; "crashed" trials are run again


def trial_id(task: SweepTask, config: dict[str, Any]) -> str:
    """A short stable hash of the task's name and the complete config."""
    text = json.dumps({"task": task.name, **config}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _positive(name: str, n: Any) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"{name}: expected a positive integer, got {n}")


class Sweep:
    """The trials of a grid or a random search, with its output folder.

    Args:
        task: what to train: a :class:`SweepTask` or a registered name.
        grid: values per setting, ``{"lr": [0.1, 1.0]}`` (ranges: :class:`~zerokara.sweep.grid.Range`),
            or ``--grid`` texts, ``["lr=0.1,1", "hidden=8..64"]``.
        seeds: each setting runs with seeds 0..seeds-1.
        out_dir: where trials/, results.csv, results.json and the plots go.
        fixed: settings for every trial that are not grid keys (e.g. iters).
        sample: draw this many settings from the grid (a random search)
            instead of taking every combination; ``sample_seed`` seeds the draw.
        settings: the settings to run, given one by one (instead of a grid).
    """

    def __init__(
        self,
        task: SweepTask | str,
        grid: Grid | Sequence[str] | None = None,
        seeds: int = 1,
        out_dir: Path | str = "runs/sweep",
        fixed: Mapping[str, Any] | None = None,
        *,
        sample: int | None = None,
        sample_seed: int = 0,
        settings: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        _positive("--seeds", seeds)
        self.task = task = get_task(task)
        grid = grid if grid is not None else {}
        self.grid: Grid = parse_grid(list(grid), task) if not isinstance(grid, Mapping) else dict(grid)
        self.seeds, self.sample, self.sample_seed = seeds, sample, sample_seed
        self.fixed = dict(fixed or {})
        self.out = Path(out_dir)
        known = [k for k in task.defaults if k != "seed"]
        for k in self.fixed:
            if k not in known:
                raise InputError(f"sweep {task.name}: unknown setting {k!r}; known: {', '.join(known)}")
            if k in self.grid:
                raise InputError(f"sweep {task.name}: {k} is both fixed and a grid key; use one")
        if settings is not None:
            if self.grid or sample is not None:
                raise InputError("sweep: give settings or a grid, not both")
            self.settings = [dict(s) for s in settings]
        elif sample is not None:
            self.settings = sample_settings(self.grid, sample, sample_seed)
        else:
            self.settings = grid_settings(self.grid)
        self.keys = list(dict.fromkeys(k for s in self.settings for k in s))
        base = {**task.defaults, **self.fixed}
        self.configs = [
            task.check({**base, **s, "seed": seed}) for s in self.settings for seed in range(seeds)
        ]
        self.ids = [trial_id(task, c) for c in self.configs]
        self.records: dict[str, dict[str, Any]] = {}
        self.skipped = 0
        self.plots: list[Path] = []
        self._lock: FolderLock | None = None

    @property
    def sampled(self) -> bool:
        return self.sample is not None

    @property
    def varied(self) -> list[str]:
        """The keys whose value differs between settings."""
        return [k for k in self.keys if len({json.dumps(s.get(k)) for s in self.settings}) > 1]

    # -- records --------------------------------------------------------------------
    def load(self) -> None:
        """Records already saved for this sweep's trials (a re-run skips the finished ones)."""
        for tid, cfg in zip(self.ids, self.configs, strict=True):
            path = self.out / "trials" / f"{tid}.json"
            if not path.is_file():
                continue
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # unreadable: run the trial again, and the new record replaces it
            if isinstance(rec, dict) and rec.get("config") == cfg:
                self.records[tid] = rec

    def _save(self, rec: dict[str, Any]) -> None:
        tid = trial_id(self.task, rec["config"])
        rec = {"id": tid, "task": self.task.name, **rec}
        self.records[tid] = rec
        atomic_write_text(self.out / "trials" / f"{tid}.json", json.dumps(rec) + "\n")
        self.write_tables()

    def _describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "task": self.task.name,
            "grid": grid_json(self.grid),
            "seeds": self.seeds,
            "fixed": self.fixed,
            "trials": len(self.configs),
        }
        if self.sampled:
            d.update(sample=self.sample, sample_seed=self.sample_seed, settings=self.settings)
        elif not self.grid:
            d["settings"] = self.settings
        return d

    # -- running --------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the sweep folder's lock (see :mod:`zerokara.runlock`); raises
        :class:`~zerokara.runlock.FolderBusyError`, naming the holder's pid, when
        another process holds it. On taking it, removes the temporaries a killed
        sweep left. Re-entrant: :meth:`run` inside it keeps the same lock."""
        if self._lock is not None:
            yield
            return
        lock = FolderLock(self.out, "sweep")
        lock.acquire()
        self._lock = lock
        try:
            for folder in (self.out, self.out / "trials"):
                if folder.is_dir():
                    clean_temporaries(folder)
            yield
        finally:
            self._lock = None
            lock.release()

    def run(
        self,
        *,
        executor: str = "local",
        workers: int = 2,
        address: str | None = None,
        reporter: Reporter | None = None,
        trial: Trial | None = None,
    ) -> list[dict[str, Any]]:
        """Run the unfinished trials; return every trial's row of the table, in sweep order.

        ``reporter`` hears the progress (default: nothing). ``trial`` replaces the
        task's trial function (it must be importable by the workers: a
        module-level function).
        """
        _positive("--workers", workers)
        if executor not in EXECUTORS:
            raise InputError(f"--executor: expected local or ray, got {executor!r}")
        with self.locked():
            return self._run(executor, workers, address, reporter or Reporter(), trial)

    def _run(
        self, executor: str, workers: int, address: str | None, reporter: Reporter, trial: Trial | None
    ) -> list[dict[str, Any]]:
        (self.out / "trials").mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "sweep.json", json.dumps(self._describe(), indent=2) + "\n")
        self.load()
        todo = [
            c
            for tid, c in zip(self.ids, self.configs, strict=True)
            if self.records.get(tid, {}).get("status") not in FINISHED
        ]
        self.skipped = len(self.configs) - len(todo)
        counts = {s: sum(1 for r in self.records.values() if r.get("status") == s) for s in FINISHED}
        counts["crashed"] = 0

        def done(rec: dict[str, Any]) -> None:
            self._save(rec)
            counts[rec["status"]] = counts.get(rec["status"], 0) + 1
            finished = sum(
                1
                for tid in self.ids
                if tid in self.records and self.records[tid].get("status") in (*FINISHED, "crashed")
            )
            reporter.update(min(finished, len(self.configs)), **counts)
            if rec["status"] != "ok":
                reporter.line(
                    f"{rec['status']}: {self.task.describe(rec['config'])}, seed "
                    f"{rec['config']['seed']}: {rec.get('error')}"
                )

        reporter.start("sweep", total=len(self.configs), done=self.skipped)
        try:
            if todo:
                run_trials(executor, todo, trial or self.task.trial, workers, done, address, reporter)
        finally:
            reporter.finish()
        self.write_tables()
        self.plots = self.plot()
        return self.table()

    # -- results (see zerokara.sweep.results) ---------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        return results.table(self)

    def write_tables(self) -> None:
        results.write_tables(self)

    def summary(self) -> list[dict[str, Any]]:
        return results.summary(self)

    def summary_text(self) -> str:
        return results.summary_text(self)

    def plot(self) -> list[Path]:
        return results.plot(self)


def run_sweep(
    task: SweepTask | str,
    grid: Grid | Sequence[str] | None = None,
    *,
    seeds: int = 1,
    out_dir: Path | str = "runs/sweep",
    fixed: Mapping[str, Any] | None = None,
    sample: int | None = None,
    sample_seed: int = 0,
    settings: Sequence[Mapping[str, Any]] | None = None,
    executor: str = "local",
    workers: int = 2,
    address: str | None = None,
    reporter: Reporter | None = None,
    trial: Trial | None = None,
) -> Sweep:
    """Build the sweep (see :class:`Sweep`), run its unfinished trials, and return it
    (``.table()``, ``.summary_text()``, ``.plots``, ``.skipped``)."""
    sweep = Sweep(
        task, grid, seeds, out_dir, fixed, sample=sample, sample_seed=sample_seed, settings=settings
    )
    sweep.run(executor=executor, workers=workers, address=address, reporter=reporter, trial=trial)
    return sweep


__all__ = ["FINISHED", "Sweep", "run_sweep", "trial_id"]
