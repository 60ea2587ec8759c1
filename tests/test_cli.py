"""The zerokara command: help everywhere, training runs, resume, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.realdata import real_mnist  # noqa: F401  (fixture)
from zerokara.cli import main
from zerokara.io import load_checkpoint


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zerokara", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.parametrize("args", [[], ["train"], ["train", "mlp"], ["train", "spiral"], ["gradcheck"]])
def test_help_everywhere(args):
    res = run(*args, "--help")
    assert res.returncode == 0 and "usage: zerokara" in res.stdout


def test_gradcheck_command_passes_and_lists():
    res = run("gradcheck", "all", "--sizes", "N=4,D=3,H=4,C=3")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(": PASS") == res.stdout.count("gradient check of") >= 11
    assert "affine" in run("gradcheck", "--list", "x").stdout


@pytest.mark.parametrize("args,message", [
    (["gradcheck", "conv9"], "unknown layer 'conv9'; known: affine, relu"),
    (["gradcheck", "affine", "--sizes", "N=0"], "--sizes: expected KEY=positive integer"),
])
def test_bad_gradcheck_input_is_one_line(args, message):
    res = run(*args)
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and message in res.stderr
    assert "Traceback" not in res.stderr


def test_train_spiral_writes_everything(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "spiral", "--epochs", "30", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"train_accuracy", "train_seconds", "epochs"} <= metrics.keys()
    assert metrics["epochs"] == 30 and metrics["train_accuracy"] > 0.4
    for name in ("checkpoint.safetensors", "checkpoint.json", "history.json", "loss.png",
                 "accuracy.png", "decision_boundary.png"):
        assert (out / name).is_file(), name


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "spiral", "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["train", "spiral", "--epochs", "2", "--out", str(out), "--no-progress"]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resume_without_checkpoint_and_truncated_checkpoint(tmp_path, capsys):
    assert main(["train", "spiral", "--out", str(tmp_path / "none"), "--resume", "--no-progress"]) == 1
    assert "no checkpoint in" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main(["train", "spiral", "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    ckpt = out / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    assert main(["train", "spiral", "--epochs", "4", "--out", str(out), "--resume", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "not a readable safetensors checkpoint" in err and err.count("\n") == 1
    assert len(ckpt.read_bytes()) == 100  # the user's file is left as it was


def test_resume_with_a_different_model_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "spiral", "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    assert main(["train", "spiral", "--epochs", "3", "--hidden", "20", "--out", str(out),
                 "--resume", "--no-progress"]) == 1
    assert "cannot resume with hidden='20'" in capsys.readouterr().err


def test_resume_with_another_lr_is_refused(tmp_path, capsys):
    """Resuming keeps the checkpoint's learning rate, so a different --lr is an
    error rather than silently ignored; the same value (or none) resumes."""
    out = tmp_path / "run"
    assert main(["train", "spiral", "--epochs", "1", "--lr", "0.5", "--out", str(out),
                 "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["train", "spiral", "--epochs", "2", "--lr", "0.1", "--out", str(out),
                 "--resume", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "cannot resume with lr=0.1" in err and "started at 0.5" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["train", "spiral", "--epochs", "2", "--lr", "0.50", "--out", str(out),
                 "--resume", "--no-progress"]) == 0


def test_nan_loss_is_one_line(tmp_path):
    res = run("train", "spiral", "--activation", "relu", "--init", "10", "--lr", "1e30",
              "--epochs", "5", "--out", str(tmp_path / "r"), "--no-progress")
    assert res.returncode == 1
    assert "zerokara: error: loss became" in res.stderr and "Traceback" not in res.stderr


def tiny_mnist(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((1000, 784), dtype=np.float32)
    t = rng.integers(0, 10, 1000)
    return (x[:800], t[:800]), (x[800:], t[800:])


def _resume_matches(tmp_path, extra: list[str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["train", "mlp", "--no-progress", *extra]
    assert main([*common, "--epochs", "2", "--out", str(a)]) == 0
    assert main([*common, "--epochs", "1", "--out", str(b)]) == 0
    assert main([*common, "--epochs", "2", "--out", str(b), "--resume"]) == 0
    ta, _ = load_checkpoint(a / "checkpoint.safetensors")
    tb, _ = load_checkpoint(b / "checkpoint.safetensors")
    assert ta.keys() == tb.keys()
    for k in ta:
        assert np.array_equal(ta[k], tb[k]), k  # bitwise


def test_mlp_resume_is_bitwise_on_small_data(tmp_path, monkeypatch):
    monkeypatch.setattr("zerokara.data.load_mnist", lambda **kw: tiny_mnist())
    _resume_matches(tmp_path, ["--model", "multi-layer", "--dropout", "0.2", "--batchnorm"])


def test_mlp_resume_is_bitwise_on_real_mnist(tmp_path, real_mnist):
    _resume_matches(tmp_path, [])


def test_missing_and_corrupt_mnist_are_one_line_errors(tmp_path, monkeypatch, capsys):
    import dataclasses

    from zerokara.data import mnist

    # an unreachable mirror: the test never touches the network, wherever it runs
    offline = dataclasses.replace(mnist.MNIST, mirrors=(f"file://{tmp_path}/nowhere",))
    monkeypatch.setattr(mnist, "MNIST", offline)
    env_dir = tmp_path / "data"
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(env_dir))
    assert main(["train", "mlp", "--out", str(tmp_path / "r1"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zerokara: error:") and err.count("\n") == 1
    assert "ZEROKARA_DATA_DIR" in err and "train-images-idx3-ubyte.gz" in err
    # no partial download left (the data folder's .lock is the downloads' lock)
    assert not any(p.is_file() and p.name != ".lock" for p in env_dir.rglob("*"))

    (env_dir / "mnist").mkdir(parents=True, exist_ok=True)
    corrupt = env_dir / "mnist" / "train-images-idx3-ubyte.gz"
    corrupt.write_bytes(b"not mnist")
    assert main(["train", "mlp", "--out", str(tmp_path / "r2"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "sha256" in err.lower() and err.count("\n") == 1
    assert corrupt.read_bytes() == b"not mnist"  # the user's file is left alone
