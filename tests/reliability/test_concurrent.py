"""One writer per run folder: while a run trains, a second process starting the same
command, or resuming the run, is refused with one line naming the pid that holds the
folder, touches nothing, and the first run ends exactly as an undisturbed one.

The first run is a forked child held at a chosen update (harness.Gate) while the
second tries, in-process, so the timing is never a matter of luck."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import (
    CHECKPOINT,
    Gate,
    compare_runs,
    lock_holder,
    poll,
    snapshot,
    spawn,
    wait,
)
from zerokara.cli import main

#: 6 epochs of 3 updates, a checkpoint after each epoch
SPIRAL = ["train", "spiral", "--epochs", "6", "--batch-size", "100", "--no-progress"]


def _first_run_held(tmp_path: Path, at: int) -> tuple[int, Path, Path]:
    """Start the first run in a child, held before update ``at + 1``; (pid, folder, go)."""
    b, log = tmp_path / "b", tmp_path / "first.log"
    waiting, go = tmp_path / "waiting", tmp_path / "go"
    pid = spawn([*SPIRAL, "--out", str(b)], log, Gate(at, waiting, go).install)
    poll(lambda: waiting.exists() and lock_holder(b) == pid, f"the first run (pid {pid}) to hold {b}")
    return pid, b, go


def _refused(capsys, argv: list[str], pid: int) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.endswith("\n"), f"one line expected: {err!r}"
    assert f"pid {pid}" in err, err
    assert "Traceback" not in err


def _first_run_ends_undisturbed(tmp_path: Path, pid: int, b: Path, go: Path) -> None:
    go.touch()
    assert wait(pid) == ("exit", 0), (tmp_path / "first.log").read_text()
    a = tmp_path / "a"
    assert main([*SPIRAL, "--out", str(a)]) == 0
    assert compare_runs(a, b) == []


def test_the_same_command_into_a_busy_folder_is_refused_naming_the_pid(tmp_path, capsys):
    pid, b, go = _first_run_held(tmp_path, at=1)  # inside epoch 1: no checkpoint yet
    assert not (b / CHECKPOINT).exists()
    before = snapshot(b)
    _refused(capsys, [*SPIRAL, "--out", str(b)], pid)
    assert snapshot(b) == before
    _first_run_ends_undisturbed(tmp_path, pid, b, go)


def test_resuming_a_run_while_it_trains_is_refused_naming_the_pid(tmp_path, capsys):
    pid, b, go = _first_run_held(tmp_path, at=7)  # epochs 1 and 2 committed
    assert (b / CHECKPOINT).is_file()
    # a temporary as a live writer has it: the refused process must not take it for a killed one's
    live = b / ".checkpoint.safetensors.live.tmp"
    live.write_bytes(b"being written")
    before = snapshot(b)
    _refused(capsys, [*SPIRAL, "--out", str(b), "--resume"], pid)
    assert snapshot(b) == before
    live.unlink()
    _first_run_ends_undisturbed(tmp_path, pid, b, go)


def test_the_same_command_after_the_first_checkpoint_is_refused_naming_the_pid(tmp_path, capsys):
    """Once the first run has committed a checkpoint, the same command is told the folder
    'already holds a run; pass --resume' -- advice that cannot work while that run
    trains (the resume is then refused for the lock): the line must name the pid."""
    pid, b, go = _first_run_held(tmp_path, at=7)
    before = snapshot(b)
    try:
        _refused(capsys, [*SPIRAL, "--out", str(b)], pid)
        assert snapshot(b) == before
    finally:
        _first_run_ends_undisturbed(tmp_path, pid, b, go)


@pytest.mark.parametrize("second", ["same", "resume"])
def test_two_children_one_folder(tmp_path, second):
    """The same, the second process a child too (its own interpreter state, as a user's
    second terminal): exit 1, one line on stderr naming the first's pid."""
    pid, b, go = _first_run_held(tmp_path, at=1 if second == "same" else 7)
    out, err = tmp_path / "second.out", tmp_path / "second.err"
    argv = [*SPIRAL, "--out", str(b)] + (["--resume"] if second == "resume" else [])
    assert wait(spawn(argv, out, err=err)) == ("exit", 1)
    lines = err.read_text().splitlines()
    assert len(lines) == 1 and f"pid {pid}" in lines[0] and "Traceback" not in lines[0], lines
    _first_run_ends_undisturbed(tmp_path, pid, b, go)
