"""The cases a demanding user found (issue "nothing lost, nothing silent"), one test
each, through the mechanisms that fix them: declared option ranges, one atomic
checkpoint with a SHA-256 manifest, refused setting changes, one-line faults.

Kills, concurrent runs and a full disk are in tests/reliability; sweeps' orphans
in tests/sweep/test_orphans.py; API misuse in tests/layers/test_misuse.py and
tests/test_optim_misuse.py; book 2's data hashes in tests/data/test_integrity.py.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from zerokara.cli import main
from zerokara.io import load_checkpoint

SPIRAL = ["train", "spiral", "--epochs", "3", "--no-progress"]


def _one_line(err: str) -> None:
    assert err.startswith("zerokara") and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "mlp", "--max-grad", "-1"],  # flipped the gradient's sign, exit 0
        ["train", "mlp", "--max-grad", "0"],  # zeroed every gradient in mlp and seq2seq...
        ["train", "seq2seq", "--max-grad", "0"],
        ["train", "rnnlm", "--max-grad", "0"],  # ...but meant "no clipping" in rnnlm
        ["train", "mlp", "--epochs", "-1"],
        ["train", "binary-addition", "--iters", "0"],
        ["train", "mlp", "--dropout", "-0.2"],
        ["train", "mlp", "--init", "-1"],
        ["train", "mlp", "--lr", "inf"],
        ["train", "mlp", "--seed", "-1"],  # was a traceback
        ["evaluate", "run", "--batch-size", "0"],  # was ZeroDivisionError
    ],
    ids=" ".join,
)
def test_the_options_found_accepted_or_crashing_are_refused_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert f"argument {argv[-2]}: expected" in err


def test_max_grad_none_turns_clipping_off_and_is_recorded(tmp_path):
    out = tmp_path / "r"
    assert main([*SPIRAL, "--epochs", "1", "--max-grad", "none", "--out", str(out)]) == 0
    _, meta = load_checkpoint(out / "checkpoint.safetensors")
    assert meta["config"]["max_grad"] == "none"


@pytest.mark.parametrize("change", [["--batch-size", "20"], ["--max-grad", "5"], ["--seed", "1"]])
def test_a_resume_that_changes_a_setting_is_refused_and_changes_nothing(tmp_path, capsys, change):
    """Found: a resume with another --batch-size or --max-grad was taken silently (or failed
    as "Affine: x is an empty batch")."""
    out = tmp_path / "r"
    assert main([*SPIRAL, "--epochs", "1", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"}
    capsys.readouterr()
    assert main([*SPIRAL, "--out", str(out), "--resume", *change]) == 1
    err = capsys.readouterr().err
    _one_line(err)
    key = change[0][2:].replace("-", "_")
    assert f"cannot resume with {key}=" in err and "only epochs and iters may change" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"} == before


def test_a_longer_resume_is_kept_in_the_history(tmp_path):
    out = tmp_path / "r"
    assert main([*SPIRAL, "--epochs", "1", "--out", str(out)]) == 0
    assert main([*SPIRAL, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["resumes"] == [{"iteration": 10, "epochs": [1, 2]}]


@pytest.fixture
def finished(tmp_path):
    out = tmp_path / "r"
    assert main([*SPIRAL, "--out", str(out)]) == 0
    return out


def _header(path):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return data, n, json.loads(data[8 : 8 + n])


def test_one_byte_flipped_inside_a_tensor_is_named(finished, capsys):
    """Found: a flipped byte inside a checkpoint tensor resumed silently."""
    path = finished / "checkpoint.safetensors"
    data, n, header = _header(path)
    name = next(k for k in header if k.startswith("model/"))
    start = 8 + n + header[name]["data_offsets"][0]
    data = bytearray(data)
    data[start + 1] ^= 0x10
    path.write_bytes(bytes(data))
    assert main([*SPIRAL, "--epochs", "4", "--out", str(finished), "--resume"]) == 1
    err = capsys.readouterr().err
    _one_line(err)
    assert f"tensor {name!r} does not match its SHA-256" in err


def test_edited_metadata_is_named_not_a_traceback(finished, capsys):
    """Found: edited metadata (and a corrupt permutation) gave TypeError / IndexError tracebacks."""
    path = finished / "checkpoint.safetensors"
    data, n, header = _header(path)
    doc = header["__metadata__"]["zerokara"]
    edited = doc.replace('"epoch": 3', '"epoch": "3"')
    assert edited != doc
    header["__metadata__"]["zerokara"] = edited
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])
    assert main([*SPIRAL, "--epochs", "4", "--out", str(finished), "--resume"]) == 1
    err = capsys.readouterr().err
    _one_line(err)
    assert "the metadata does not match its SHA-256" in err


def test_nan_weights_in_a_checkpoint_are_not_blamed_on_the_learning_rate(tmp_path, capsys):
    """Found: NaN weights in a checkpoint were reported as a NaN loss ("lower the learning rate")."""
    from zerokara.io import save_checkpoint

    out = tmp_path / "r"
    assert main([*SPIRAL, "--epochs", "1", "--out", str(out)]) == 0
    tensors, meta = load_checkpoint(out / "checkpoint.safetensors")
    key = next(k for k in tensors if k.startswith("model/"))
    tensors[key] = tensors[key].copy()
    tensors[key].flat[0] = np.nan
    meta = {k: v for k, v in meta.items() if k not in ("format", "version")}
    save_checkpoint(out / "checkpoint.safetensors", tensors, meta)  # a valid manifest, NaN inside
    assert main([*SPIRAL, "--out", str(out), "--resume"]) == 1
    err = capsys.readouterr().err
    _one_line(err)
    assert f"tensor {key!r} holds NaN or infinite values" in err and "learning rate" not in err


def test_a_truncated_history_json_is_written_again_from_the_checkpoint(finished, capsys):
    """Found: a truncated history.json was a JSONDecodeError traceback. The history is in
    the checkpoint; history.json is its view."""
    whole = (finished / "history.json").read_text()
    (finished / "history.json").write_text(whole[: len(whole) // 2])
    assert main([*SPIRAL, "--out", str(finished), "--resume"]) == 0
    assert "wrote history.json again from its checkpoint" in capsys.readouterr().out
    assert (finished / "history.json").read_text() == whole


def test_stale_temporaries_are_removed_at_the_next_start(finished):
    """Found: 17 .tmp files, some checkpoint-sized, stayed behind and were never cleaned up."""
    stale = [finished / ".checkpoint.safetensors.abc123.tmp", finished / ".loss.png.x1.tmp.png"]
    for p in stale:
        p.write_bytes(b"half")
    assert main([*SPIRAL, "--epochs", "4", "--out", str(finished), "--resume"]) == 0
    assert not any(p.exists() for p in stale)
    assert not list(finished.glob(".*.tmp*"))


def test_an_out_that_is_a_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("mine")
    assert main([*SPIRAL, "--out", str(f)]) == 1
    err = capsys.readouterr().err
    _one_line(err)
    assert "is a file, not a folder" in err and f.read_text() == "mine"
