"""Checkpoint files: round trip, atomic writes, clear errors for broken or foreign files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from safetensors.numpy import save_file

from zerokara.errors import CheckpointError
from zerokara.io import atomic_write_text, load_checkpoint, save_checkpoint, split_prefix


def test_round_trip_keeps_arrays_and_meta(tmp_path):
    p = tmp_path / "c.safetensors"
    arrays = {"model/W": np.arange(6, dtype=np.float32).reshape(2, 3), "optim/t": np.array([7])}
    save_checkpoint(p, arrays, {"epoch": 3, "rng": {"state": 2**127 + 5}})
    tensors, meta = load_checkpoint(p)
    assert np.array_equal(tensors["model/W"], arrays["model/W"]) and tensors["model/W"].dtype == np.float32
    assert meta["epoch"] == 3 and meta["rng"]["state"] == 2**127 + 5
    assert split_prefix(tensors, "model") == {"W": tensors["model/W"]}


@pytest.mark.parametrize("cut", [0, 5, 20, -10])
def test_truncated_checkpoint_is_a_clear_error(tmp_path, cut):
    p = tmp_path / "c.safetensors"
    save_checkpoint(p, {"w": np.ones((50, 50), np.float32)}, {"epoch": 1})
    data = p.read_bytes()
    p.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        load_checkpoint(p)


def test_foreign_and_missing_files(tmp_path):
    foreign = tmp_path / "other.safetensors"
    save_file({"w": np.ones(3, np.float32)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a zerokara checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(os.urandom(300))
    with pytest.raises(CheckpointError):
        load_checkpoint(junk)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "c.safetensors"
    save_checkpoint(p, {"w": np.zeros(3, np.float32)}, {"epoch": 1})
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(p, {"w": np.ones(3, np.float32)}, {"epoch": 2})
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "m.json", "{}")
    assert p.read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["c.safetensors"]
