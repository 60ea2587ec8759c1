"""One sweep per folder: the sweep holds its folder's lock from start to end; a
second sweep into it is refused in one line naming the holder's pid; a lock left
by a killed sweep is free; temporaries a killed sweep left are removed; the
plots' temporaries are unique."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sweep import toy  # noqa: F401 -- registers the toy task
from zerokara.runlock import LOCK, FolderBusyError, FolderLock
from zerokara.sweep import Sweep, get_task
from zerokara.sweep import results as results_mod

TOY = get_task("toy")


def sweep_cmd(out: Path, iters: int, seeds: int = 1, workers: int = 1) -> list[str]:
    """``python -m zerokara sweep binary-addition`` into ``out`` (also test_orphans')."""
    return [sys.executable, "-m", "zerokara", "sweep", "binary-addition", "--iters", str(iters),
            "--seeds", str(seeds), "--workers", str(workers), "--out", str(out), "--no-progress"]


def holder_pid(folder: Path) -> int | None:
    try:
        return json.loads((folder / LOCK).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_a_second_sweep_into_the_same_folder_is_refused_and_the_first_goes_on(tmp_path):
    out = tmp_path / "s"
    first = subprocess.Popen(sweep_cmd(out, 1_000_000), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while holder_pid(out) != first.pid or not (out / "sweep.json").is_file():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first sweep never took its folder's lock"
            time.sleep(0.05)
        before = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}

        second = subprocess.run(sweep_cmd(out, 10), capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, second.stdout + second.stderr
        assert second.stdout == ""  # refused before anything is printed or started
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert second.stderr.startswith(f"zerokara: error: {out} is in use: another sweep (pid {first.pid},")

        assert first.poll() is None  # untouched: still running, its files as they were
        assert {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")} == before
        assert holder_pid(out) == first.pid
    finally:
        first.kill()  # kill -9: its workers follow it (tests/sweep/test_orphans.py)
        first.communicate(timeout=30)

    # the killed sweep's lock is free: the next sweep takes the folder over and finishes
    third = subprocess.run(sweep_cmd(out, 10), capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stdout + third.stderr
    assert json.loads((out / "results.json").read_text())[0]["status"] == "ok"


def test_a_lock_held_by_a_process_killed_with_kill_9_is_taken_over(tmp_path):
    code = (
        "import sys, time; from zerokara.runlock import FolderLock; "
        "FolderLock(sys.argv[1], 'sweep').acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(FolderBusyError, match=f"another sweep \\(pid {holder.pid},"):
            Sweep(TOY, {"width": [4]}, 1, tmp_path).run(workers=1)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    rows = Sweep(TOY, {"width": [4]}, 1, tmp_path).run(workers=1)
    assert [r["status"] for r in rows] == ["ok"]
    assert holder_pid(tmp_path) == os.getpid()  # the last holder: this process, now released
    with FolderLock(tmp_path, "sweep"):  # free again
        pass


def test_the_sweep_holds_its_lock_while_it_runs_and_locked_is_reentrant(tmp_path):
    sweep = Sweep(TOY, {"width": [4]}, 1, tmp_path)
    with sweep.locked():
        with pytest.raises(FolderBusyError, match=f"pid {os.getpid()}"):
            FolderLock(tmp_path, "sweep").acquire()
        assert [r["status"] for r in sweep.run(workers=1)] == ["ok"]  # the same lock, kept
        with pytest.raises(FolderBusyError):
            Sweep(TOY, {"width": [4]}, 1, tmp_path).run(workers=1)
    with FolderLock(tmp_path, "sweep"):  # released at the end
        pass


def test_temporaries_a_killed_sweep_left_are_removed_at_the_start(tmp_path):
    (tmp_path / "trials").mkdir()
    left = [
        tmp_path / ".results.csv.k2j3.tmp",
        tmp_path / ".loss_width.png.x8.tmp.png",
        tmp_path / "trials" / ".0123abcd.json.q1w2.tmp",
    ]
    kept = [tmp_path / "notes.txt", tmp_path / "trials" / "keep.tmp"]  # not a writer's temporary
    for p in left + kept:
        p.write_text("x")
    Sweep(TOY, {"width": [4]}, 1, tmp_path).run(workers=1)
    assert not any(p.exists() for p in left)
    assert all(p.read_text() == "x" for p in kept)


class _Fig:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.paths = fail, []

    def savefig(self, path, **kwargs) -> None:
        self.paths.append(Path(path))
        Path(path).write_bytes(b"half a png")
        if self.fail:
            raise OSError("disk full")


class _Plt:
    def close(self, fig) -> None:
        pass


def test_plots_go_through_a_unique_temporary_removed_on_failure(tmp_path):
    target = tmp_path / "loss_lr.png"
    figs = [_Fig(), _Fig()]
    for fig in figs:
        assert results_mod._save_png(_Plt(), fig, target) == target
    a, b = figs[0].paths[0], figs[1].paths[0]
    assert a != b and a.parent == tmp_path
    for p in (a, b):
        assert p.name.startswith(".loss_lr.png.") and p.name.endswith(".tmp.png")
    assert target.read_bytes() == b"half a png" and sorted(os.listdir(tmp_path)) == ["loss_lr.png"]

    with pytest.raises(OSError, match="disk full"):
        results_mod._save_png(_Plt(), _Fig(fail=True), tmp_path / "loss_hidden.png")
    assert sorted(os.listdir(tmp_path)) == ["loss_lr.png"]
