"""Hyper-parameter sweeps: every combination of a grid of settings, once per
seed, run in parallel on local processes or on Ray.

A trial is one training run with one complete config (the task's defaults,
overridden by one value of each grid key, and a seed). Its id is a hash of that
config, so the same trial has the same id in every sweep that contains it.

Nothing finished is lost: the parent process saves each trial's record the
moment it arrives, atomically, as ``OUT/trials/<id>.json``, and rewrites the
tables ``results.csv`` and ``results.json`` after every trial. Running the same
command again skips the trials already finished ("ok" or "diverged") and runs
the rest, crashed ones included.

A trial's ``status`` is "ok", "diverged" (its loss became NaN or infinite) or
"crashed" (any other exception, or its worker process died; ``error`` says
which). Neither stops the sweep.

Executors: ``local`` is a ``concurrent.futures.ProcessPoolExecutor`` with the
"spawn" start method and single-threaded BLAS in the workers (two workers on two
cores would otherwise fight over four BLAS threads); ``ray`` runs each trial as a
Ray task (``ray`` is an optional dependency, imported only here).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import itertools
import json
import math
import multiprocessing
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from zerokara.errors import InputError
from zerokara.io import atomic_write_text
from zerokara.train.progress import Progress, console

FINISHED = ("ok", "diverged")  # statuses a re-run skips; "crashed" trials are run again
#: table column -> key in a trial's record (the record's "loss" is over all pairs; the
#: config also has a "loss", the loss function's name)
METRICS = {"iterations": "iterations", "final_train_loss": "final_train_loss",
           "all_pairs_loss": "loss", "bit_accuracy": "bit_accuracy",
           "exact_accuracy": "exact_accuracy", "heldout_pairs": "heldout_pairs",
           "heldout_bit_accuracy": "heldout_bit_accuracy",
           "heldout_exact_accuracy": "heldout_exact_accuracy", "seconds": "seconds"}
RAY_MISSING = "--executor ray: ray is not installed; pip install 'zerokara[ray]' (or pip install ray)"
DIED = ("the worker process died while this trial ran (killed, out of memory, or a crash in "
        "native code; if two trials ran at once, either may be the cause)")


# -- tasks ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepTask:
    """What a sweep needs to know about one kind of training run."""

    name: str
    defaults: dict[str, Any]  # every setting and its default ("seed" included)
    parse: Callable[[str, str], Any]  # (key, text) -> value; raises InputError
    check: Callable[[dict[str, Any]], dict[str, Any]]  # a full config, checked
    trial: Callable[[dict[str, Any]], dict[str, Any]]  # config -> record; never raises
    describe: Callable[[dict[str, Any]], str]


def _binary_addition() -> SweepTask:
    from zerokara.train import binary_addition as ba

    def parse(key: str, text: str) -> Any:
        t = text.strip()
        if key in ba.CHOICES:
            if t not in ba.CHOICES[key]:
                raise InputError(f"--grid: {key} value {t!r} is not one of {', '.join(ba.CHOICES[key])}")
            return t
        if key in ba.POSITIVE_INT:
            if not t.isdigit() or int(t) < 1:
                raise InputError(f"--grid: cannot parse {key} value {t!r} (expected a positive integer)")
            return int(t)
        if key == "max_grad" and t.lower() == "none":
            return None
        try:
            v = float(t)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and v > 0):
            hint = " or none" if key == "max_grad" else ""
            raise InputError(f"--grid: cannot parse {key} value {t!r} (expected a positive number{hint})")
        return v

    return SweepTask("binary-addition", ba.DEFAULTS, parse,
                     lambda c: ba.check_config(c, "sweep binary-addition"), ba.run_trial, ba.describe)


TASKS: dict[str, Callable[[], SweepTask]] = {"binary-addition": _binary_addition}


def get_task(name: str) -> SweepTask:
    if name not in TASKS:
        raise InputError(f"sweep: unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]()


# -- the grid -------------------------------------------------------------------------
def parse_grid(specs: list[str], task: SweepTask) -> dict[str, list[Any]]:
    """``["lr=0.1,1", "hidden=16"]`` -> ``{"lr": [0.1, 1.0], "hidden": [16]}``.

    Raises a one-line InputError for a malformed entry, an unknown key (listing
    the known ones), a value that does not parse (naming it) or a repeated key.
    """
    known = [k for k in task.defaults if k != "seed"]
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not text.strip():
            raise InputError(f"--grid: expected KEY=V1,V2,... got {spec!r}")
        if key == "seed":
            raise InputError("--grid: seeds are not a grid key; use --seeds N (seeds 0..N-1)")
        if key not in known:
            raise InputError(f"--grid: unknown key {key!r}; known: {', '.join(known)}")
        if key in grid:
            raise InputError(f"--grid: {key} given twice; put all its values in one --grid {key}=...")
        values: list[Any] = []
        for part in text.split(","):
            v = task.parse(key, part)
            if v not in values:
                values.append(v)
        grid[key] = values
    return grid


def expand(task: SweepTask, grid: dict[str, list[Any]], seeds: int,
           fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every config: the cross product of the grid's values, each with seeds 0..seeds-1."""
    base = {**task.defaults, **(fixed or {})}
    keys = list(grid)
    configs = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        for seed in range(seeds):
            configs.append(task.check({**base, **dict(zip(keys, combo)), "seed": seed}))
    return configs


def trial_id(task: SweepTask, config: dict[str, Any]) -> str:
    """A short stable hash of the task and the complete config."""
    text = json.dumps({"task": task.name, **config}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


# -- running --------------------------------------------------------------------------
def crashed(config: dict[str, Any], error: BaseException | str) -> dict[str, Any]:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return {"config": config, "status": "crashed", "error": text.splitlines()[0][:500] if text else ""}


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C stops the sweep in the parent, which lets the
    running trials finish and saves them, instead of killing them half-way."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _single_thread_blas() -> Iterator[None]:
    """Spawned workers inherit the environment: one BLAS thread each, unless the user chose."""
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    old = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ.setdefault(n, "1")
    try:
        yield
    finally:
        for n, v in old.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def run_local(configs: list[dict[str, Any]], trial: Callable[[dict], dict], workers: int,
              on_done: Callable[[dict[str, Any]], None]) -> None:
    """Run ``trial`` on each config in a process pool, at most ``workers`` at once.

    A pool whose worker died is replaced; the trials it was running are
    recorded as crashed, and the sweep goes on with a new pool.
    """
    ctx = multiprocessing.get_context("spawn")  # fork + BLAS threads can deadlock
    pending = deque(configs)
    with _single_thread_blas():
        while pending:
            running: dict[Any, dict[str, Any]] = {}
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)
            broken = False
            try:
                while (pending and not broken) or running:
                    while pending and not broken and len(running) < workers:
                        cfg = pending.popleft()
                        running[pool.submit(trial, cfg)] = cfg
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        cfg = running.pop(fut)
                        try:
                            rec = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            rec = crashed(cfg, DIED)
                        except Exception as e:  # noqa: BLE001 -- e.g. a result that cannot be unpickled
                            rec = crashed(cfg, e)
                        on_done(rec)
            except KeyboardInterrupt:
                console.print(f"interrupted: finishing the {len(running)} running trial(s) to save "
                              "them (Ctrl-C again to abandon them)", highlight=False)
                pool.shutdown(wait=False, cancel_futures=True)
                for fut in running:
                    with contextlib.suppress(Exception):
                        on_done(fut.result())
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def run_ray(configs: list[dict[str, Any]], trial: Callable[[dict], dict], workers: int,
            on_done: Callable[[dict[str, Any]], None], address: str | None = None) -> None:
    """Run ``trial`` on each config as a Ray task (one CPU each).

    Uses the Ray instance already initialised in this process if there is one;
    else connects to ``address`` (shipping the zerokara package to the cluster),
    or starts a local Ray with ``workers`` CPUs, and shuts it down at the end.
    """
    try:
        import ray
    except ImportError:
        raise InputError(RAY_MISSING) from None
    started = False
    if not ray.is_initialized():
        try:
            if address:
                import zerokara

                ray.init(address=address, runtime_env={"py_modules": [zerokara]},
                         log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except Exception as e:  # noqa: BLE001 -- ray raises ConnectionError, RuntimeError, ...
            where = f"connect to Ray at {address}" if address else "start a local Ray"
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InputError(f"--executor ray: cannot {where}: {why}") from None
        started = True
    # Ray sets OMP_NUM_THREADS to a task's num_cpus (1), and OpenBLAS reads it: one BLAS
    # thread per trial, as in the local pool (a runtime_env for it would cost ~1 s of set-up)
    remote = ray.remote(num_cpus=1, max_retries=0)(trial)
    refs: dict[Any, dict[str, Any]] = {}
    try:
        refs = {remote.remote(cfg): cfg for cfg in configs}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                cfg = refs.pop(ref)
                try:
                    rec = ray.get(ref)
                except Exception as e:  # noqa: BLE001 -- WorkerCrashedError, RayTaskError, ...
                    rec = crashed(cfg, DIED if "WorkerCrashed" in type(e).__name__ else e)
                on_done(rec)
    except KeyboardInterrupt:
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


# -- the sweep ------------------------------------------------------------------------
class Sweep:
    """A grid of trials with its output folder.

    Args:
        task: what to train (see :data:`TASKS`).
        grid: values per setting, e.g. ``{"lr": [0.1, 1.0]}``.
        seeds: each setting runs with seeds 0..seeds-1.
        out_dir: where trials/, results.csv, results.json and the plots go.
        fixed: settings for every trial that are not grid keys (e.g. iters).
    """

    def __init__(self, task: SweepTask, grid: dict[str, list[Any]], seeds: int, out_dir: Path | str,
                 fixed: dict[str, Any] | None = None) -> None:
        if seeds < 1:
            raise InputError(f"--seeds: expected a positive integer, got {seeds}")
        self.task, self.grid, self.seeds = task, grid, seeds
        self.fixed = dict(fixed or {})
        self.out = Path(out_dir)
        self.configs = expand(task, grid, seeds, self.fixed)
        self.ids = [trial_id(task, c) for c in self.configs]
        self.records: dict[str, dict[str, Any]] = {}

    @property
    def varied(self) -> list[str]:
        return [k for k, v in self.grid.items() if len(v) > 1]

    def _load_finished(self) -> None:
        """Records already saved for this sweep's trials (a re-run skips the finished ones)."""
        for tid, cfg in zip(self.ids, self.configs):
            path = self.out / "trials" / f"{tid}.json"
            if not path.is_file():
                continue
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # unreadable: run the trial again, and the new record replaces it
            if rec.get("config") == cfg:
                self.records[tid] = rec

    def _save(self, rec: dict[str, Any]) -> None:
        tid = trial_id(self.task, rec["config"])
        rec = {"id": tid, "task": self.task.name, **rec}
        self.records[tid] = rec
        atomic_write_text(self.out / "trials" / f"{tid}.json", json.dumps(rec) + "\n")
        self.write_tables()

    def run(self, *, executor: str = "local", workers: int = 2, address: str | None = None,
            progress: bool = True, trial: Callable[[dict], dict] | None = None) -> list[dict[str, Any]]:
        """Run the unfinished trials; return every trial's record in grid order.

        ``trial`` replaces the task's trial function (it must be importable by the
        workers: a module-level function).
        """
        if workers < 1:
            raise InputError(f"--workers: expected a positive integer, got {workers}")
        if executor not in ("local", "ray"):
            raise InputError(f"--executor: expected local or ray, got {executor!r}")
        (self.out / "trials").mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "sweep.json", json.dumps(
            {"task": self.task.name, "grid": self.grid, "seeds": self.seeds, "fixed": self.fixed,
             "trials": len(self.configs)}, indent=2) + "\n")
        self._load_finished()
        todo = [c for tid, c in zip(self.ids, self.configs)
                if self.records.get(tid, {}).get("status") not in FINISHED]
        self.skipped = len(self.configs) - len(todo)
        counts = {s: sum(1 for r in self.records.values() if r.get("status") == s) for s in FINISHED}
        counts["crashed"] = 0
        bar = Progress("sweep", total=len(self.configs), done=self.skipped, enabled=progress)

        def done(rec: dict[str, Any]) -> None:
            self._save(rec)
            counts[rec["status"]] = counts.get(rec["status"], 0) + 1
            finished = sum(1 for tid in self.ids if tid in self.records
                           and self.records[tid].get("status") in (*FINISHED, "crashed"))
            bar.update(min(finished, len(self.configs)), **counts)
            if rec["status"] != "ok":
                bar.log(escape(f"{rec['status']}: {self.task.describe(rec['config'])}, seed "
                               f"{rec['config']['seed']}: {rec.get('error')}"))

        fn = trial or self.task.trial
        with bar:
            if todo:
                if executor == "ray":
                    run_ray(todo, fn, workers, done, address)
                else:
                    run_local(todo, fn, workers, done)
        self.write_tables()
        self.plots = self.plot()
        return self.table()

    # -- results ----------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        """One row per trial of this sweep, in grid order (unrun trials: status "pending")."""
        rows = []
        for tid, cfg in zip(self.ids, self.configs):
            rec = self.records.get(tid, {"status": "pending", "error": None})
            row: dict[str, Any] = {"id": tid, **cfg, "status": rec.get("status")}
            for column, key in METRICS.items():
                row[column] = rec.get(key)
            row["error"] = rec.get("error")
            rows.append(row)
        return rows

    def write_tables(self) -> None:
        rows = self.table()
        atomic_write_text(self.out / "results.json", json.dumps(rows, indent=1) + "\n")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(self.out / "results.csv", buf.getvalue())

    def summary(self) -> list[dict[str, Any]]:
        """Rows grouped by setting (over seeds): counts and mean/min/max accuracy."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in self.table():
            key = json.dumps({k: row[k] for k in self.grid}, sort_keys=True)
            groups.setdefault(key, []).append(row)
        out = []
        for key, rows in groups.items():
            ok = [r for r in rows if r["status"] == "ok"]
            g: dict[str, Any] = {**json.loads(key), "seeds": len(rows),
                                 **{s: sum(r["status"] == s for r in rows)
                                    for s in ("ok", "diverged", "crashed")}}
            for m in ("exact_accuracy", "bit_accuracy", "final_train_loss", "seconds"):
                vals = [r[m] for r in ok if r[m] is not None]
                g[m] = sum(vals) / len(vals) if vals else None
                g[m + "_min"] = min(vals) if vals else None
                g[m + "_max"] = max(vals) if vals else None
            out.append(g)
        return out

    def summary_text(self) -> str:
        keys = list(self.grid)
        head = [*keys, "ok/seeds", "diverged", "crashed", "exact acc mean [min, max]",
                "bit acc", "final loss", "s/trial"]
        lines = []

        def fmt(v: float | None, spec: str) -> str:
            return "-" if v is None else format(v, spec)

        for g in self.summary():
            ex = ("-" if g["exact_accuracy"] is None else
                  f"{g['exact_accuracy']:.3f} [{g['exact_accuracy_min']:.3f}, {g['exact_accuracy_max']:.3f}]")
            lines.append([*(_fmt_value(g[k]) for k in keys), f"{g['ok']}/{g['seeds']}",
                          str(g["diverged"]), str(g["crashed"]), ex, fmt(g["bit_accuracy"], ".3f"),
                          fmt(g["final_train_loss"], ".4f"), fmt(g["seconds"], ".1f")])
        widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                         for r in [head, *lines])

    def plot(self) -> list[Path]:
        """loss_<key>.png for each varied key (for a grid with none: loss.png):
        the loss curve and the exact accuracy of every trial (thin) and their
        mean per value of the key (thick), averaged over seeds and the other keys."""
        keys = self.varied or [None]
        return [p for k in keys if (p := self._plot_key(k)) is not None]

    def _plot_key(self, key: str | None) -> Path | None:
        from zerokara.train.plots import _save, plt

        rows = {tid: self.records.get(tid) for tid in self.ids}
        values = self.grid[key] if key else [None]
        fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 4))
        drawn = False
        for i, v in enumerate(values):
            color = f"C{i}"
            recs = [r for tid, r in rows.items() if r and "curve" in r
                    and (key is None or r["config"][key] == v)]
            if not recs:
                continue
            ok = [r for r in recs if r["status"] == "ok"]
            for r in recs:
                style = "-" if r["status"] == "ok" else ":"
                ax_l.plot(r["curve"]["iteration"], r["curve"]["loss"], style, color=color, lw=0.6, alpha=0.35)
                ev = r.get("evals") or []
                ax_a.plot([e["iteration"] for e in ev], [e["exact_accuracy"] for e in ev], style,
                          color=color, lw=0.6, alpha=0.35)
            bad = len(recs) - len(ok)
            label = (f"{key}={_fmt_value(v)}" if key else self.task.describe(recs[0]["config"]))
            label += f" ({len(ok)} ok" + (f", {bad} diverged/crashed)" if bad else ")")
            if ok:
                it, mean = _mean_curve([r["curve"]["iteration"] for r in ok],
                                       [r["curve"]["loss"] for r in ok])
                ax_l.plot(it, mean, color=color, lw=2, label=label)
                it, mean = _mean_curve([[e["iteration"] for e in r["evals"]] for r in ok],
                                       [[e["exact_accuracy"] for e in r["evals"]] for r in ok])
                ax_a.plot(it, mean, color=color, lw=2, marker="o", ms=3, label=label)
            else:
                ax_l.plot([], [], ":", color=color, label=label)
            drawn = True
        if not drawn:
            plt.close(fig)
            return None
        fixed = {**self.fixed, **{k: v[0] for k, v in self.grid.items() if len(v) == 1}}
        note = ", ".join(f"{k}={_fmt_value(v)}" for k, v in fixed.items())
        if len(self.varied) > 1:
            note = (note + "; " if note else "") + "averaged over " + ", ".join(
                k for k in self.varied if k != key)
        fig.suptitle(f"{self.task.name}" + (f" by {key}" if key else "")
                     + f"  ({note + '; ' if note else ''}other settings: defaults)", fontsize=10)
        ax_l.set(xlabel="iteration", ylabel="training loss (window mean)")
        ax_a.set(xlabel="iteration", ylabel="exact-sum accuracy, all pairs", ylim=(-0.02, 1.02))
        ax_l.set_title(f"seeds 0..{self.seeds - 1}; thin: each trial, thick: mean", fontsize=9)
        ax_a.set_title("dotted: diverged or crashed trials", fontsize=9)
        ax_l.legend(fontsize=8)
        return _save(fig, self.out / (f"loss_{key}.png" if key else "loss.png"))


def _mean_curve(xs: list[list[float]], ys: list[list[float]]) -> tuple[Any, Any]:
    """Mean of curves that may differ in length: at each x, over the curves that reach it."""
    import numpy as np

    longest = max(xs, key=len)
    arr = np.full((len(ys), len(longest)), np.nan)
    for i, y in enumerate(ys):
        arr[i, :len(y)] = y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(longest), np.nanmean(arr, axis=0)


def _fmt_value(v: Any) -> str:
    return "none" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


# -- the command ----------------------------------------------------------------------
def run_cli(args: Any) -> int:
    """``zerokara sweep TASK --grid ... --seeds N``."""
    task = get_task(args.task)
    grid = parse_grid(args.grid, task)
    fixed: dict[str, Any] = {}
    if args.iters is not None:
        if "iters" in grid:
            raise InputError("--iters and --grid iters=... both given; use one")
        if args.iters < 1:
            raise InputError(f"--iters: expected a positive integer, got {args.iters}")
        fixed["iters"] = args.iters
    if args.address and args.executor != "ray":
        raise InputError("--address applies to --executor ray")
    if args.workers < 1:
        raise InputError(f"--workers: expected a positive integer, got {args.workers}")
    if args.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise InputError(RAY_MISSING)
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{task.name}"
    sweep = Sweep(task, grid, args.seeds, out, fixed)
    n = len(sweep.configs)
    console.print(f"[bold]sweep {task.name}[/bold]: {n // args.seeds} setting(s) x {args.seeds} "
                  f"seed(s) = {n} trials on {args.executor} ({args.workers} worker(s)) -> {out}",
                  highlight=False)
    start = time.perf_counter()
    sweep.run(executor=args.executor, workers=args.workers, address=args.address,
              progress=not args.no_progress)
    if sweep.skipped:
        console.print(f"skipped {sweep.skipped} trial(s) finished by an earlier run", highlight=False)
    console.print(sweep.summary_text(), highlight=False, markup=False)
    rows = sweep.table()
    bad = {s: sum(r["status"] == s for r in rows) for s in ("diverged", "crashed")}
    if any(bad.values()):
        console.print(f"{bad['diverged']} diverged, {bad['crashed']} crashed (see the error column "
                      "of results.csv); run the same command again to retry the crashed ones",
                      highlight=False)
    plots = [p.name for p in sweep.plots]
    console.print(f"{time.perf_counter() - start:.1f} s; wrote {out}/: results.csv, results.json, "
                  f"sweep.json, trials/, {', '.join(plots)}", highlight=False)
    return 0


__all__ = ["Sweep", "SweepTask", "TASKS", "get_task", "parse_grid", "expand", "trial_id",
           "run_local", "run_ray", "crashed", "run_cli"]
