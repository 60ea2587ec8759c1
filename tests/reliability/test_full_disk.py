"""A full disk while a run trains: the run stops with exit status 1 and one line
naming the file it could not write and what was kept, no traceback, no temporary
left; the checkpoint on disk is the last good one, and ``--resume``, once there is
room again, ends with the very run an uninterrupted start makes.

First simulated (``OSError(ENOSPC)`` from the k-th write of a file on: every write
inside ``zerokara.io.atomic_write_bytes`` fails from then on, as on a full disk),
then, where a tmpfs can be mounted, a real one.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

import zerokara.io
from tests.reliability.harness import CHECKPOINT, compare_runs, patch_data, temporaries, untimed
from zerokara.cli import main
from zerokara.io import load_checkpoint

#: 6 epochs of 3 updates, a checkpoint after each
SPIRAL = ["train", "spiral", "--epochs", "6", "--batch-size", "100", "--no-progress"]


class _FullFile:
    """A file opened for writing on a full disk: every write fails."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


class FullDisk:
    """``zerokara.io``'s ``open``, failing every write once the ``k``-th temporary of
    ``name`` is opened (the disk fills up then and stays full)."""

    def __init__(self, monkeypatch, name: str, k: int) -> None:
        self.name, self.k, self.seen, self.full = name, k, 0, False
        monkeypatch.setattr(zerokara.io, "open", self.open, raising=False)

    def open(self, file, mode="r", *args, **kw):
        f = open(file, mode, *args, **kw)  # noqa: SIM115 - returned to a with block
        if "w" not in mode and "a" not in mode:
            return f
        if Path(file).name.startswith(f".{self.name}."):
            self.seen += 1
            self.full = self.full or self.seen >= self.k
        return _FullFile(f) if self.full else f


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.endswith("\n"), f"one line expected: {err!r}"
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "name,k,kept",
    [
        # the 3rd checkpoint cannot be written: the 2nd is the one on disk
        (CHECKPOINT, 3, "the previous checkpoint.safetensors is kept"),
        # the 3rd checkpoint is committed, its history.json view cannot be written
        ("history.json", 3, "the previous history.json is kept"),
        # the last checkpoint is committed, metrics.json (written once, at the end) cannot be
        ("metrics.json", 1, "nothing was written"),
    ],
)
def test_a_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(
    tmp_path, monkeypatch, capsys, name, k, kept
):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*SPIRAL, "--out", str(a)]) == 0
    _, final = load_checkpoint(a / CHECKPOINT)
    capsys.readouterr()

    disk = FullDisk(monkeypatch, name, k)
    assert main([*SPIRAL, "--out", str(b)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert disk.full
    assert f"cannot write {b / name}: No space left on device; {kept}" in err, err
    assert temporaries(b) == []
    _, meta = load_checkpoint(b / CHECKPOINT)  # loadable: the last good one
    epochs = {CHECKPOINT: k - 1, "history.json": k, "metrics.json": final["epoch"]}[name]
    assert meta["epoch"] == epochs
    assert untimed(meta["history"]["epochs"]) == untimed(final["history"]["epochs"][:epochs])

    monkeypatch.undo()  # room again
    assert main([*SPIRAL, "--out", str(b), "--resume"]) == 0
    assert compare_runs(a, b) == []


def test_a_full_disk_while_drawing_the_plots_is_repaired_by_resume(tmp_path, monkeypatch, capsys):
    """The last checkpoint, its views and metrics.json are written; the disk fills up as
    the plots are drawn (savefig fails). ``--resume``, with room again, must draw them:
    they are views of the checkpoint."""
    import matplotlib.figure

    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*SPIRAL, "--out", str(a)]) == 0
    capsys.readouterr()

    def full(self, *args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    assert main([*SPIRAL, "--out", str(b)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert f"{b}/" in err and ".png: No space left on device; nothing was written" in err, err
    assert temporaries(b) == []
    assert load_checkpoint(b / CHECKPOINT)[1]["metrics"] is not None  # the last commit came first

    monkeypatch.undo()  # room again
    assert main([*SPIRAL, "--out", str(b), "--resume"]) == 0
    assert compare_runs(a, b) == []


def test_a_full_disk_before_the_first_checkpoint_leaves_nothing_to_resume_and_says_so(
    tmp_path, monkeypatch, capsys
):
    b = tmp_path / "b"
    FullDisk(monkeypatch, CHECKPOINT, 1)
    assert main([*SPIRAL, "--out", str(b)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert f"cannot write {b / CHECKPOINT}: No space left on device; nothing was written" in err
    assert temporaries(b) == [] and not (b / CHECKPOINT).exists()


# -- a real full disk ----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root, or CAP_SYS_ADMIN); skipped, saying why, where it cannot
    be mounted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot mount a tmpfs to fill up: {e}")
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up: {res.stderr.strip() or res.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


MLP = [
    "train",
    "mlp",
    "--model",
    "multi-layer",
    "--hidden",
    "16,16",
    "--epochs",
    "3",
    "--batch-size",
    "100",
    "--no-progress",
]


def test_a_real_full_disk(tmp_path, small_disk, monkeypatch, capsys):
    """The multi-layer MLP's checkpoint is ~165 KB: with room for one and a half, the first
    commit fits and the second cannot be written beside it."""
    patch_data(monkeypatch)
    a, b = tmp_path / "a", small_disk / "run"
    assert main([*MLP, "--out", str(a)]) == 0
    size = (a / CHECKPOINT).stat().st_size
    capsys.readouterr()

    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave room for 1.5 checkpoints and the small views
        f.write(b"\0" * (_free(small_disk) - int(1.5 * size) - 6 * 4096))
    assert main([*MLP, "--out", str(b)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert (
        f"cannot write {b / CHECKPOINT}: No space left on device; "
        "the previous checkpoint.safetensors is kept" in err
    ), err
    assert temporaries(b) == []
    _, meta = load_checkpoint(b / CHECKPOINT)
    assert meta["epoch"] == 1

    filler.unlink()  # room again
    assert main([*MLP, "--out", str(b), "--resume"]) == 0
    assert compare_runs(a, b) == []
