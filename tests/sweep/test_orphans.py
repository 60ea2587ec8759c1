"""A sweep killed with ``kill -9`` takes its whole process tree with it: the pool's
workers (mid-trial) and multiprocessing's resource tracker end within seconds,
and nothing keeps the sweep's output pipe open."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.sweep.test_lock import sweep_cmd

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def state_and_ppid(pid: int) -> tuple[str, int] | None:
    """``(state, ppid)`` of a live process from /proc, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold anything
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    info = state_and_ppid(pid)
    return info is not None and info[0] not in ("Z", "X")  # a zombie has ended; only its entry remains


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (info := state_and_ppid(int(d.name))) and info[1] == pid:
            out.append(int(d.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def test_a_sweep_killed_with_kill_9_leaves_no_process_behind(tmp_path):
    # trials long enough (a million updates) to be mid-way when the sweep dies
    cmd = sweep_cmd(tmp_path / "s", 1_000_000, seeds=2, workers=2)
    sweep = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while True:  # both workers started, and well into their trials (1 s of CPU each)
            kids = children(sweep.pid)
            workers = [k for k in kids if "spawn_main" in cmdline(k)]
            tracker = [k for k in kids if "resource_tracker" in cmdline(k)]
            if len(workers) == 2 and tracker and all(cpu_seconds(w) >= 1 for w in workers):
                break
            assert sweep.poll() is None, sweep.communicate()
            assert time.monotonic() < deadline, f"workers never started: {kids}"
            time.sleep(0.05)

        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait(timeout=10)
        killed = time.monotonic()
        while any(alive(k) for k in kids) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        gone_after = time.monotonic() - killed
        left = [f"{k}: {cmdline(k)}" for k in kids if alive(k)]
        assert not left, f"still running {gone_after:.1f} s after the sweep was killed: {left}"
        assert gone_after < 5, f"children took {gone_after:.1f} s to end"
        # no process holds the sweep's output pipe any more: reading it reaches end-of-file
        _, err = sweep.communicate(timeout=5)
        assert b"Traceback" not in err, err.decode()
    finally:
        for pid in [sweep.pid, *kids]:  # only the processes this test started
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if sweep.returncode is None:
            sweep.kill()
            sweep.wait()
