"""Fault injection for whole ``zerokara train`` runs: forked children killed with
SIGKILL (after a delay, or by themselves at the k-th ``os.replace``/``os.fsync``
into the run folder), tiny synthetic MNIST and PTB, and the comparison of two run
folders that must hold the same run.

Children are made by ``os.fork()``: they keep the test's monkeypatches (the tiny
data) and the imported numpy, and end by ``os._exit`` so that nothing of pytest
runs in them. Their stdout and stderr go to a log file.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.data.ptb import Vocab
from zerokara.io import load_checkpoint

CHECKPOINT = "checkpoint.safetensors"

#: Entries that measure time, not the run: they differ between two uninterrupted
#: runs of the same command (found by diffing two such runs of every task; the
#: count-vectors steps' times are rounded to ms and differ only now and then) and
#: are dropped, at any depth (checkpoint meta, its history rows and final metrics,
#: history.json, metrics.json, checkpoint.json), before comparing.
TIME_KEYS = frozenset(
    {
        "seconds",  # training time: checkpoint meta, checkpoint.json, each history row; count-vectors' total
        "train_seconds",  # metrics: the sum of the training segments
        "seconds_per_epoch",  # seq2seq's metrics: train_seconds / epochs
        "tokens_per_second",  # the language models' metrics: tokens / train_seconds
        "count_seconds",  # count-vectors' metrics: the time of each of its steps
        "ppmi_seconds",
        "svd_seconds",
        "analogy_seconds",
    }
)
#: a child that runs longer than this is stuck (the runs here take well under a second)
CHILD_TIMEOUT = 300.0


# -- tiny data ------------------------------------------------------------------------------
def tiny_mnist(*, flatten: bool = True, **_: Any):
    """MNIST's shapes with 500 + 100 random images (as tests/test_cli.py's tiny_mnist)."""
    rng = np.random.default_rng(0)
    x = rng.random((600, 784), dtype=np.float32)
    t = rng.integers(0, 10, 600)
    if not flatten:
        x = x.reshape(-1, 1, 28, 28)
    return (x[:500], t[:500]), (x[500:], t[500:])


PTB_WORDS = 30


def tiny_ptb(split: str = "train"):
    """A learnable cycle of words with noise, PTB's (corpus, vocab) shape."""
    rng = np.random.default_rng({"train": 0, "valid": 1, "test": 2}[split])
    n = {"train": 3000, "valid": 300, "test": 300}[split]
    cycle = np.array([1, 5, 2, 9, 3, 0, 11, 17, 23])
    c = cycle[np.arange(n) % len(cycle)]
    noise = rng.random(n) < 0.15
    c[noise] = rng.integers(0, PTB_WORDS, int(noise.sum()))
    words = [f"w{i}" for i in range(PTB_WORDS)]
    words[0] = "<eos>"
    return c.astype(np.int64), Vocab({w: i for i, w in enumerate(words)}, words)


def patch_data(monkeypatch) -> None:
    monkeypatch.setattr("zerokara.data.load_mnist", tiny_mnist)
    monkeypatch.setattr("zerokara.data.load_fashion_mnist", tiny_mnist)
    monkeypatch.setattr("zerokara.data.load_ptb", tiny_ptb)


# -- children -----------------------------------------------------------------------------------
#: the children forked and not yet waited for (killed at the end of each test: reap())
CHILDREN: set[int] = set()


def spawn(
    argv: list[str], log: Path, inject: Callable[[], None] | None = None, *, err: Path | None = None
) -> int:
    """Fork a child that runs ``zerokara.cli.main(argv)`` (after ``inject()``, which
    may patch the child) and exits with its status; its stdout (and stderr, unless
    ``err`` is given) appended to ``log``."""
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    err_fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if err is not None else log_fd
    pid = os.fork()
    if pid:
        os.close(log_fd)
        if err is not None:
            os.close(err_fd)
        CHILDREN.add(pid)
        return pid
    status = 99
    try:  # the child: never return into pytest
        os.dup2(log_fd, 1)
        os.dup2(err_fd, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
        sys.stdout.write(f"--- pid {os.getpid()}: zerokara {' '.join(argv)}\n")
        from zerokara.cli import main

        if inject is not None:
            inject()
        status = main(argv)
    except BaseException:  # noqa: BLE001 - anything, reported in the log
        traceback.print_exc()
        status = 98
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def reap() -> None:
    """Kill (by pid) and wait for the children a failed test left running."""
    for pid in list(CHILDREN):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        CHILDREN.discard(pid)


def wait(pid: int, timeout: float = CHILD_TIMEOUT) -> tuple[str, int]:
    """``("exit", status)`` or ``("signal", number)`` once the child ends."""
    deadline = time.monotonic() + timeout
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            CHILDREN.discard(pid)
            break
        if time.monotonic() > deadline:
            reap()
            raise AssertionError(f"child {pid} still running after {timeout} s")
        time.sleep(0.002)
    if os.WIFSIGNALED(st):
        return "signal", os.WTERMSIG(st)
    return "exit", os.WEXITSTATUS(st)


def kill_after(pid: int, delay: float) -> tuple[str, int]:
    """SIGKILL the child ``delay`` seconds after now (if it still runs); its end."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:  # ended first
            CHILDREN.discard(pid)
            return ("signal", os.WTERMSIG(st)) if os.WIFSIGNALED(st) else ("exit", os.WEXITSTATUS(st))
        time.sleep(min(0.001, max(0.0, deadline - time.monotonic())))
    os.kill(pid, signal.SIGKILL)  # a child that just exited is a zombie: the kill is harmless
    return wait(pid)


def _suicide() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)  # never reached


def _inside(folder: Path, path: str | os.PathLike) -> bool:
    p = os.path.realpath(path)
    return p == str(folder) or os.path.dirname(p) == str(folder)


def _final_commit(src: str | os.PathLike, dst: str | os.PathLike) -> bool:
    """Whether this rename commits a run's last checkpoint (its meta holds the final metrics)."""
    if Path(dst).name != CHECKPOINT:
        return False
    try:
        _, meta = load_checkpoint(Path(src))
    except Exception:  # noqa: BLE001 - not ours to judge here
        return False
    return meta.get("metrics") is not None


class Kill:
    """What a child does to itself (installed by :meth:`install` inside the child).

    ``replace=k``: SIGKILL at the k-th ``os.replace`` into the run folder (``when``:
    "before" the rename, the temporary written but not committed, or "after" it);
    ``fsync=k``: the same at the k-th ``os.fsync`` of a file in the run folder or of
    the folder; ``name=NAME``: at the first rename onto NAME ("*.png": any plot);
    ``final_commit``: right after the rename that commits the run's last checkpoint
    (a guard: a child meant to be killed never finishes on its own).
    ``finished_only``: ``name`` counts only once the run's last checkpoint is committed
    (the views of the finished run, not those of an earlier checkpoint)."""

    def __init__(
        self,
        folder: Path,
        *,
        replace: int | None = None,
        fsync: int | None = None,
        name: str | None = None,
        when: str = "before",
        final_commit: bool = False,
        finished_only: bool = False,
    ) -> None:
        assert when in ("before", "after")
        self.folder = Path(os.path.realpath(folder))
        self.replace, self.fsync, self.name, self.when = replace, fsync, name, when
        self.final_commit, self.finished_only = final_commit, finished_only

    def __repr__(self) -> str:
        what = {"replace": self.replace, "fsync": self.fsync, "name": self.name}
        parts = [f"{k}={v!r}" for k, v in what.items() if v is not None]
        if parts:
            parts.append(self.when)
        if self.final_commit:
            parts.append("final_commit")
        if self.finished_only:
            parts.append("finished_only")
        return f"Kill({', '.join(parts)})"

    def install(self) -> None:
        real_replace, real_fsync = os.replace, os.fsync
        counts = {"replace": 0, "fsync": 0}

        def replace(src, dst, *a, **kw):
            if not _inside(self.folder, dst):
                return real_replace(src, dst, *a, **kw)
            counts["replace"] += 1
            name = Path(dst).name
            hit = self.replace == counts["replace"] or (
                self.name is not None
                and (name == self.name or (self.name == "*.png" and name.endswith(".png")))
            )
            if hit and self.finished_only and not is_final(self.folder):
                hit = False
            final = self.final_commit and _final_commit(src, dst)
            if hit and self.when == "before":
                _suicide()
            result = real_replace(src, dst, *a, **kw)
            if final or (hit and self.when == "after"):
                _suicide()
            return result

        def fsync(fd):
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                path = ""
            if not _inside(self.folder, path):
                return real_fsync(fd)
            counts["fsync"] += 1
            hit = self.fsync == counts["fsync"]
            if hit and self.when == "before":
                _suicide()
            result = real_fsync(fd)
            if hit:
                _suicide()
            return result

        os.replace = replace  # zerokara.io.os is this os: the child's own copy of it
        os.fsync = fsync


# -- folders -----------------------------------------------------------------------------------
def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp*"))


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file but the lock: (mtime in ns, bytes)."""
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != ".lock"
    }


def untimed(obj: Any) -> Any:
    """``obj`` without the :data:`TIME_KEYS`, at any depth."""
    if isinstance(obj, dict):
        return {k: untimed(v) for k, v in obj.items() if k not in TIME_KEYS}
    if isinstance(obj, list):
        return [untimed(v) for v in obj]
    return obj


def checkpoint_iteration(folder: Path) -> int | None:
    """The committed checkpoint's iteration (None: none yet); "final" once finished."""
    path = folder / CHECKPOINT
    if not path.is_file():
        return None
    _, meta = load_checkpoint(path)
    return meta.get("iteration", -1)


def is_final(folder: Path) -> bool:
    path = folder / CHECKPOINT
    return path.is_file() and load_checkpoint(path)[1].get("metrics") is not None


def _json_diff(a: Any, b: Any, where: str = "") -> str | None:
    """The first place where two JSON values differ (None: equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where or '.'}: keys {sorted(a.keys() ^ b.keys())} in only one"
        for k in a:
            d = _json_diff(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _json_diff(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def compare_runs(a: Path, b: Path, *, pngs: bool = True) -> list[str]:
    """Everything that differs between run folders ``a`` (uninterrupted) and ``b``:
    the set of files, every safetensors file's tensors (bitwise) and meta, every JSON
    file (both without :data:`TIME_KEYS`), other files' bytes (the PNGs: ``pngs``),
    and any temporary left in ``b``. An empty list: the same run."""
    problems = []
    fa = {p.name for p in a.iterdir()}
    fb = {p.name for p in b.iterdir()}
    tmp = temporaries(b)
    if tmp:
        problems.append(f"temporaries left in B: {tmp}")
    fb -= set(tmp)
    if fa != fb:
        problems.append(f"files only in A: {sorted(fa - fb)}, only in B: {sorted(fb - fa)}")
    for name in sorted(fa & fb):
        pa, pb = a / name, b / name
        if name == ".lock":
            continue  # the holder's pid and start time
        if name.endswith(".safetensors"):
            ta, ma = load_checkpoint(pa)
            tb, mb = load_checkpoint(pb)
            if ta.keys() != tb.keys():
                problems.append(f"{name}: tensors {sorted(ta.keys() ^ tb.keys())} in only one")
            for k in sorted(ta.keys() & tb.keys()):
                x, y = ta[k], tb[k]
                if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                    problems.append(f"{name}: tensor {k!r} differs")
            d = _json_diff(untimed(ma), untimed(mb))
            if d:
                problems.append(f"{name}: meta differs at {d}")
        elif name.endswith(".json"):
            d = _json_diff(untimed(json.loads(pa.read_text())), untimed(json.loads(pb.read_text())))
            if d:
                problems.append(f"{name} differs at {d}")
        elif name.endswith(".png") and not pngs:
            continue
        elif pa.read_bytes() != pb.read_bytes():
            problems.append(f"{name}: bytes differ")
    return problems


class Clock:
    """Installed in a child that runs uninterrupted: write to ``record`` (JSON), at each
    checkpoint commit, the seconds since :meth:`install` and the checkpoint's iteration
    ("commits"), and at the last one how many renames and fsyncs into ``folder`` came
    before it -- to aim the kills of later children."""

    def __init__(self, folder: Path, record: Path) -> None:
        self.folder, self.record = Path(os.path.realpath(folder)), record

    def install(self) -> None:
        t0 = time.monotonic()
        real_replace, real_fsync = os.replace, os.fsync
        data: dict[str, Any] = {"commits": [], "replaces": 0, "fsyncs": 0}

        def replace(src, dst, *a, **kw):
            if not _inside(self.folder, dst):
                return real_replace(src, dst, *a, **kw)
            data["replaces"] += 1
            meta = load_checkpoint(Path(src))[1] if Path(dst).name == CHECKPOINT else None
            result = real_replace(src, dst, *a, **kw)
            if meta is not None:
                data["commits"].append((time.monotonic() - t0, meta.get("iteration", 0)))
                if meta.get("metrics") is not None:
                    self.record.write_text(json.dumps(data))
            return result

        def fsync(fd):
            try:
                if _inside(self.folder, os.readlink(f"/proc/self/fd/{fd}")):
                    data["fsyncs"] += 1
            except OSError:
                pass
            return real_fsync(fd)

        os.replace, os.fsync = replace, fsync


class Gate:
    """Installed in a child: before the update that would make ``iteration`` + 1, touch
    ``waiting`` and hold until ``go`` exists (the run itself is not changed)."""

    def __init__(self, iteration: int, waiting: Path, go: Path) -> None:
        self.iteration, self.waiting, self.go = iteration, waiting, go

    def install(self) -> None:
        from zerokara.train.loop import Trainer

        step = Trainer.step

        def gated(trainer, batch):
            if trainer.iteration == self.iteration:
                self.waiting.touch()
                deadline = time.monotonic() + CHILD_TIMEOUT
                while not self.go.exists() and time.monotonic() < deadline:
                    time.sleep(0.005)
            return step(trainer, batch)

        Trainer.step = gated


def poll(condition: Callable[[], bool], what: str, timeout: float = CHILD_TIMEOUT) -> None:
    """Wait (generously) until ``condition()``; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def lock_holder(folder: Path) -> int | None:
    """The pid the folder's .lock names (None: no lock file or not readable yet)."""
    try:
        return json.loads((folder / ".lock").read_text())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
