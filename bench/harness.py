"""The timing harness shared by every workload.

A workload is one small module that builds a :class:`Workload`: a name, a
description, the peer library it is compared against, and ``setup(scale)``
returning two zero-argument callables that each do the same whole unit of
work, one in zerokara and one in the peer. ``setup`` does everything that
should not be timed (loading data, building models, fixing the batch order).

Timing rules (:func:`measure`):

* both callables run in this one process, on the same data, with the same
  number of threads (:func:`configure_threads`);
* one untimed warm-up of each first, then ``repeats`` timed runs alternating
  zerokara, peer, zerokara, peer, ... so slow drift on a shared machine hits
  both sides alike;
* each run is timed with ``time.perf_counter``; the reported time is the
  median of the repeats, and ``ratio = zerokara_s / peer_s``.

Nothing here asserts on absolute times: the machines are noisy and shared.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

Run = Callable[[], object]


@dataclass
class Pair:
    """What ``setup`` returns: the two runs, plus notes for the report
    (e.g. ``{"data": "mnist"}``). A plain ``(zerokara_run, peer_run)`` tuple
    is accepted too."""

    zerokara: Run
    peer: Run
    notes: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        return iter((self.zerokara, self.peer))


@dataclass(frozen=True)
class Workload:
    """One benchmark.

    Attributes:
        name: the command-line name (``python -m bench NAME``).
        description: one line for the table.
        peer: the library compared against ("torch", "gensim").
        setup: ``setup(scale)`` -> :class:`Pair` or ``(zerokara_run, peer_run)``;
            ``scale`` 1.0 is the full workload, smaller values shrink the
            data (for tests) while keeping the same code path.
    """

    name: str
    description: str
    peer: str
    setup: Callable[[float], Pair | tuple[Run, Run]]


@dataclass
class Result:
    workload: str
    peer: str
    zerokara_runs: list[float]
    peer_runs: list[float]
    threads: int
    scale: float = 1.0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def zerokara_s(self) -> float:
        return statistics.median(self.zerokara_runs)

    @property
    def peer_s(self) -> float:
        return statistics.median(self.peer_runs)

    @property
    def ratio(self) -> float | None:
        z, p = self.zerokara_s, self.peer_s
        return z / p if p > 0 else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "workload": self.workload,
            "zerokara_s": self.zerokara_s,
            "peer": self.peer,
            "peer_s": self.peer_s,
            "ratio": self.ratio,
            "repeats": len(self.zerokara_runs),
            "threads": self.threads,
        }
        if self.scale != 1.0:
            out["scale"] = self.scale
        out.update(self.notes)
        out["zerokara_runs"] = self.zerokara_runs
        out["peer_runs"] = self.peer_runs
        return out


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadInfo:
    threads: int
    source: str            # how the count was found, for the report
    blas: str              # numpy's BLAS and its kernel, when threadpoolctl can tell
    openblas_env: dict[str, str]


_THREADS: ThreadInfo | None = None
_LIMITER: Any = None  # keeps a threadpoolctl limit alive for the process
PAUSE = 0.5  # seconds between runs, so the other side's threads are idle (see _timed)


def _numpy_blas() -> list[dict[str, Any]]:
    try:
        import numpy  # noqa: F401  (load its BLAS before asking threadpoolctl)
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [i for i in threadpool_info() if i.get("user_api") == "blas"
            and "torch" not in i.get("filepath", "")]


def configure_threads(threads: int | None = None) -> ThreadInfo:
    """Give torch the same thread count numpy's BLAS uses, and return it.

    ``threads`` None: numpy's own count, read with threadpoolctl if installed,
    else ``$OPENBLAS_NUM_THREADS`` / ``$OMP_NUM_THREADS`` / ``os.cpu_count()``.
    A number: limit numpy's BLAS (needs threadpoolctl) and torch to it.
    """
    global _THREADS, _LIMITER
    blas = _numpy_blas()
    if threads is not None:
        if not blas:
            raise SystemExit("bench: --threads needs threadpoolctl (pip install threadpoolctl) "
                             "to limit numpy's BLAS; or set OPENBLAS_NUM_THREADS instead")
        from threadpoolctl import threadpool_limits

        _LIMITER = threadpool_limits(limits=threads, user_api="blas")
        blas = _numpy_blas()
        n, source = threads, "--threads"
    elif blas:
        n, source = int(blas[0]["num_threads"]), "threadpoolctl"
    else:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(var, "").isdigit() and int(os.environ[var]) > 0:
                n, source = int(os.environ[var]), f"${var}"
                break
        else:
            n, source = os.cpu_count() or 1, "os.cpu_count() (threadpoolctl not installed)"
    desc = ", ".join(f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')}"
                     for b in blas) or "unknown (threadpoolctl not installed)"
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(n)
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    _THREADS = ThreadInfo(n, source, desc, env)
    return _THREADS


def thread_count() -> int:
    """The thread count both sides use (configured on first call)."""
    return (_THREADS or configure_threads()).threads


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------


def _load() -> float | None:
    """The 1-minute load average (other processes' demand for the cores), if known."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _timed(run: Run) -> float:
    gc.collect()  # garbage from setup or the other side is not this run's cost
    # Both sides' thread pools (OpenBLAS, torch's OpenMP) keep spinning for a while
    # after a call; a run that starts while the other side's threads still spin
    # shares the cores with them. Let them go idle first.
    time.sleep(PAUSE)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(workload: Workload, *, repeats: int = 5, scale: float = 1.0,
            log: Callable[[str], None] | None = None) -> Result:
    """Warm up each side once, then time ``repeats`` alternating runs."""
    if repeats < 1:
        raise ValueError(f"repeats expected >= 1, got {repeats}")
    threads = thread_count()
    info = _THREADS
    pair = workload.setup(scale)
    notes = dict(pair.notes) if isinstance(pair, Pair) else {}
    z_run, p_run = pair
    if info is not None:
        notes.setdefault("blas", info.blas)
        if info.openblas_env:
            notes.setdefault("openblas_env", info.openblas_env)
    load = _load()
    if load is not None:
        notes["load_avg"] = round(load, 2)
    if log:
        extra = "".join(f", {k} {v}" for k, v in notes.items())
        log(f"{workload.name}: warm-up, then {repeats} alternating runs "
            f"(threads {threads}{extra})")
        # the 1-minute average lags and counts this process's own recent work too,
        # so warn only when it is clearly above what one benchmark makes
        if load is not None and threads > 1 and load >= (os.cpu_count() or 1):
            log(f"WARNING: the machine is busy (1-minute load {load:.1f} on {os.cpu_count()} "
                f"cores): {threads}-thread BLAS/OpenMP runs wait on descheduled threads and can "
                f"be 10-50x slower and erratic; compare with --threads 1")
    z_run()
    p_run()
    z_times: list[float] = []
    p_times: list[float] = []
    for _ in range(repeats):
        z_times.append(_timed(z_run))
        p_times.append(_timed(p_run))
    return Result(workload.name, workload.peer, z_times, p_times, threads, scale, notes)


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------


def torch_steps(net: Any, opt: Any, batches: Iterable[tuple[Any, Any]]) -> float:
    """Train torch's ``net`` with ``opt`` one step per (x, t) batch, cross-entropy on
    class ids (the peer side of a classifier workload); return the mean loss."""
    import torch.nn.functional as F

    losses = []
    for xb, tb in batches:
        loss_t = F.cross_entropy(net(xb), tb)
        loss = loss_t.item()
        if not math.isfinite(loss):
            raise FloatingPointError(f"torch loss became {loss}")
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        opt.step()
        losses.append(loss)
    return sum(losses) / len(losses)


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def print_table(results: Sequence[Result], workloads: dict[str, Workload],
                info: ThreadInfo, out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    env = " ".join(f"{k}={v}" for k, v in info.openblas_env.items()) or "no OPENBLAS_* set"
    caption = f"threads: {info.threads} (from {info.source}); numpy BLAS: {info.blas}; {env}"
    headers = ["workload", "peer", "zerokara s", "peer s", "ratio", "z min..max", "peer min..max",
               "n", "what"]
    rows = [[r.workload, r.peer, _fmt(r.zerokara_s), _fmt(r.peer_s), _fmt(r.ratio, 2),
             f"{_fmt(min(r.zerokara_runs))}..{_fmt(max(r.zerokara_runs))}",
             f"{_fmt(min(r.peer_runs))}..{_fmt(max(r.peer_runs))}",
             str(len(r.zerokara_runs)),
             workloads[r.workload].description if r.workload in workloads else ""]
            for r in results]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        for line in (headers, *rows):
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip(), file=out)
        print(caption, file=out)
        return
    table = Table(title="zerokara vs peer (median seconds per run; ratio = zerokara / peer)",
                  caption=caption)
    for h in headers:
        table.add_column(h, justify="right" if h not in ("workload", "peer", "what") else "left")
    for row in rows:
        table.add_row(*row)
    Console(file=out, width=max(140, Console(file=out).width), soft_wrap=False).print(table)


def json_line(result: Result) -> str:
    return json.dumps(result.to_json(), allow_nan=False)


def run_all(names: Iterable[str], workloads: dict[str, Workload], *, repeats: int = 5,
            scale: float = 1.0, json_only: bool = False, out: TextIO | None = None,
            err: TextIO | None = None) -> list[Result]:
    """Measure each named workload, then print the table and one JSON line each.

    A workload that fails (e.g. its peer library is not installed) is reported
    on ``err`` and the others still run; the caller sees it missing from the
    returned list.
    """
    out = out if out is not None else sys.stdout  # looked up now, so redirection works
    err = err if err is not None else sys.stderr
    info = _THREADS or configure_threads()

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=err, flush=True)

    log(f"threads {info.threads} (from {info.source}); numpy BLAS {info.blas}; "
        f"OPENBLAS env: {info.openblas_env or 'none'}")
    results = []
    for name in names:
        try:
            results.append(measure(workloads[name], repeats=repeats, scale=scale, log=log))
        except Exception as exc:  # noqa: BLE001  (report and go on with the next workload)
            log(f"{name}: FAILED: {type(exc).__name__}: {exc}")
    if not json_only and results:
        print_table(results, workloads, info, out)
    for r in results:
        print(json_line(r), file=out, flush=True)
    return results
