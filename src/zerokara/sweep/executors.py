"""Where trials run: a local process pool, or Ray.

Both take the configs, the trial function and ``on_done(record)``, called in
this process as each trial finishes (the sweep saves the record there). A
trial that raises, or whose worker dies, still gives a record: "crashed", with
the reason in ``error``; the other trials go on.

``local`` is a ``concurrent.futures.ProcessPoolExecutor`` with the "spawn"
start method and single-threaded BLAS in the workers (two workers on two cores
would otherwise fight over four BLAS threads); its workers end when the sweep
process ends, even killed with ``kill -9`` (:func:`_die_with_parent`).
``ray`` runs each trial as a Ray task with one CPU (``ray`` is an optional
dependency, imported only here).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from zerokara.errors import InputError
from zerokara.train.report import Reporter

EXECUTORS = ("local", "ray")
RAY_MISSING = "--executor ray: ray is not installed; pip install 'zerokara[ray]' (or pip install ray)"
DIED = (
    "the worker process died while this trial ran (killed, out of memory, or a crash in "
    "native code; if two trials ran at once, either may be the cause)"
)

Trial = Callable[[dict[str, Any]], dict[str, Any]]
OnDone = Callable[[dict[str, Any]], None]


def crashed(config: dict[str, Any], error: BaseException | str) -> dict[str, Any]:
    """The record of a trial that gave none (it raised, or its worker died)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return {"config": config, "status": "crashed", "error": text.splitlines()[0][:500] if text else ""}


#: how often a worker checks that the sweep that started it is still alive (seconds)
PARENT_POLL = 0.5


def _ignore_sigint() -> None:
    """Ctrl-C stops the sweep in the parent, which lets the running trials
    finish and saves them, instead of killing them half-way."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _die_with_parent(parent: int) -> None:
    """End this worker when the sweep process ``parent`` ends, however it ends.

    A sweep killed with ``kill -9`` cannot shut its pool down, and a worker in
    the middle of a trial never reads the pool's queue again: without this it
    would train on, an orphan, for as long as the trial lasts, and keep the
    sweep's output pipe (and multiprocessing's resource tracker, which ends
    when no process holds its pipe) alive. Two guards:

    * a daemon thread that polls ``os.getppid()``: an orphan is adopted by
      another process, so its parent pid changes; the thread then ends the
      worker with ``os._exit`` (a trial half-way is lost either way);
    * on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the
      worker at once. It fires when the *thread* that started the worker
      ends; :func:`run_local` starts workers from the thread that runs the
      sweep and waits there for all of them, so that thread outlives them.
    """
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):  # no libc, no prctl: the poll still guards
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the sweep died before this worker got here
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="zerokara-parent-watch", daemon=True).start()


def _worker_init(parent: int) -> None:
    """Pool initializer: see :func:`_ignore_sigint` and :func:`_die_with_parent`."""
    _ignore_sigint()
    _die_with_parent(parent)


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


def run_local(
    configs: list[dict[str, Any]],
    trial: Trial,
    workers: int,
    on_done: OnDone,
    reporter: Reporter | None = None,
) -> None:
    """Run ``trial`` on each config in a process pool, at most ``workers`` at once.

    A pool whose worker died is replaced; the trials it was running are
    recorded as crashed, and the sweep goes on with a new pool.
    """
    reporter = reporter or Reporter()
    ctx = multiprocessing.get_context("spawn")  # fork + BLAS threads can deadlock
    pending = deque(configs)
    with _single_thread_blas():
        while pending:
            running: dict[Any, dict[str, Any]] = {}
            pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
            )
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
                reporter.info(
                    f"interrupted: finishing the {len(running)} running trial(s) to save "
                    "them (Ctrl-C again to abandon them)"
                )
                pool.shutdown(wait=False, cancel_futures=True)
                for fut in running:
                    with contextlib.suppress(Exception):
                        on_done(fut.result())
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def run_ray(
    configs: list[dict[str, Any]], trial: Trial, workers: int, on_done: OnDone, address: str | None = None
) -> None:
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

                ray.init(address=address, runtime_env={"py_modules": [zerokara]}, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except Exception as e:  # noqa: BLE001 -- ray raises ConnectionError, RuntimeError, ...
            where = f"connect to Ray at {address}" if address else "start a local Ray"
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InputError(f"--executor ray: cannot {where}: {why}") from None
        started = True

    # Ray sets OMP_NUM_THREADS to a task's num_cpus (1), and OpenBLAS reads it: one BLAS
    # thread per trial, as in the local pool (a runtime_env for it would cost ~1 s of set-up)
    def run_trial(config: dict[str, Any]) -> dict[str, Any]:  # Ray takes functions, not partials
        return trial(config)

    remote = ray.remote(num_cpus=1, max_retries=0)(run_trial)
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
                    # a RayTaskError wraps the trial's own exception: report that one, as locally
                    cause = getattr(e, "cause", None)
                    rec = crashed(
                        cfg,
                        DIED
                        if "WorkerCrashed" in type(e).__name__
                        else cause
                        if isinstance(cause, BaseException)
                        else e,
                    )
                on_done(rec)
    except KeyboardInterrupt:
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def run_trials(
    executor: str,
    configs: list[dict[str, Any]],
    trial: Trial,
    workers: int,
    on_done: OnDone,
    address: str | None = None,
    reporter: Reporter | None = None,
) -> None:
    """Run the configs on ``executor`` ("local" or "ray")."""
    if executor == "ray":
        run_ray(configs, trial, workers, on_done, address)
    else:
        run_local(configs, trial, workers, on_done, reporter)


__all__ = ["EXECUTORS", "RAY_MISSING", "DIED", "crashed", "run_local", "run_ray", "run_trials"]
