"""The course's binary-addition RNN: encoding, gradient check, PyTorch parity,
learning with the course's settings, and ``zerokara train binary-addition``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from zerokara.check import gradcheck
from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.io import load_checkpoint
from zerokara.models.binary_addition import (BinaryAdditionRNN, all_pairs, course_bits, decode,
                                             encode)
from zerokara.train.binary_addition import AdditionTrainer


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zerokara", *args], capture_output=True, text=True,
                          timeout=300)


def small_model(activation: str, loss: str = "mse", H: int = 5, seed: int = 1) -> BinaryAdditionRNN:
    m = BinaryAdditionRNN(H, activation=activation, loss=loss, weight_init_std=0.7,
                          rng=np.random.default_rng(seed), dtype=np.float64)
    rng = np.random.default_rng(seed + 10)
    m.params["b"][...] = 0.1 * rng.standard_normal(H)  # non-zero biases, so their gradients matter
    m.params["c"][...] = 0.1
    return m


def batch(n: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, d = encode(rng.integers(0, 128, n), rng.integers(0, 128, n), dtype=np.float64)
    return x + 0.1 * rng.standard_normal(x.shape), d  # off the 0/1 grid: dx is checked everywhere


# -- the data ------------------------------------------------------------------------
def test_encoding_is_least_significant_bit_first():
    x, d = encode(np.array([1, 127, 5]), np.array([0, 1, 3]))
    assert x.shape == (3, 8, 2) and d.shape == (3, 8) and x.dtype == np.float32
    assert x[0, 0].tolist() == [1, 0] and not x[0, 1:].any()  # 1 is bit 0: the first step
    assert d[1].tolist() == [0] * 7 + [1]  # 127 + 1 = 128: the carry runs through all 8 steps
    assert decode(d).tolist() == [1, 128, 8]
    assert course_bits(8) == "[0 0 0 0 1 0 0 0]"  # printed as the course does, MSB first
    a, b = all_pairs()
    assert len(a) == 128 * 128 and (a * 128 + b == np.arange(128 * 128)).all()


def test_bad_input_is_a_clear_error():
    m = BinaryAdditionRNN(4)
    with pytest.raises(InputError, match="x expected shape"):
        m.forward(np.zeros((2, 8, 3), np.float32), np.zeros((2, 8), np.float32))
    with pytest.raises(InputError, match=r"d expected shape \(2, 8\)"):
        m.forward(np.zeros((2, 8, 2), np.float32), np.zeros((2, 7), np.float32))
    with pytest.raises(InputError, match=r"a and b expected in \[0, 128\)"):
        encode(np.array([128]), np.array([0]))
    with pytest.raises(InputError, match="init expected one of"):
        BinaryAdditionRNN(4, init="glorot")


# -- the backward --------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_gradcheck(activation, loss):
    rep = gradcheck(small_model(activation, loss), *batch())
    assert rep.ok, rep
    assert {e.name for e in rep.entries} == {"x", "W_in", "W", "b", "W_out", "c"}


def test_matches_torch():
    """Same weights and batch: the loss and every gradient agree with autograd."""
    torch = pytest.importorskip("torch")
    m = small_model("tanh", H=6)
    x, d = batch(4)
    loss = m.forward(x, d)
    m.input_grad = True
    dx = m.backward()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in m.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    z = torch.zeros(4, 6, dtype=torch.float64)
    out = 0
    for t in range(8):
        z = torch.tanh(xt[:, t] @ p["W_in"] + z @ p["W"] + p["b"])
        y = torch.sigmoid(z @ p["W_out"] + p["c"])[:, 0]
        out = out + 0.5 * ((y - torch.tensor(d[:, t])) ** 2).sum() / 4
    out.backward()
    np.testing.assert_allclose(loss, out.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    for k in p:
        np.testing.assert_allclose(m.grads[k], p[k].grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=k)


def test_bias_gradient_sums_over_batch_and_time():
    """Seed 000's question: b is added at every (sequence, step), so db is the sum of
    dE/du over both axes -- here checked against the sum of per-sequence gradients."""
    m = small_model("sigmoid")
    x, d = batch(3)
    m.forward(x, d)
    m.backward()
    db = m.grads["b"].copy()
    per_seq = []
    for i in range(3):
        m.forward(x[i:i + 1], d[i:i + 1])
        m.backward()
        per_seq.append(m.grads["b"].copy() / 3)  # the batch loss is the mean over sequences
    np.testing.assert_allclose(db, np.sum(per_seq, axis=0), rtol=1e-12)


# -- learning ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_course_settings_learn_addition(seed):
    """The course's settings (sigmoid, weight_init_std 1, SGD lr 0.1, hidden 16, one
    pair per step). Measured: every sum of all 128 x 128 pairs right after 10,000
    iterations for seeds 0-9, and from 6,000 iterations on for seeds 0, 1, 2; here
    7,000 iterations must give >= 99% exact sums."""
    tr = AdditionTrainer({"iters": 7000, "seed": seed})
    metrics = tr.fit()
    assert metrics["exact_accuracy"] >= 0.99, metrics
    assert metrics["heldout_pairs"] > 8000 and metrics["heldout_exact_accuracy"] >= 0.99


# -- the command ---------------------------------------------------------------------
def test_help():
    res = run("train", "binary-addition", "--help")
    assert res.returncode == 0 and "usage: zerokara train binary-addition" in res.stdout
    assert "--weight-init-std" in res.stdout and "--epochs" not in res.stdout


def test_train_writes_its_files_and_prints_sums(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "binary-addition", "--iters", "300", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in ("checkpoint.safetensors", "checkpoint.json", "history.json", "metrics.json",
                 "loss.png", "accuracy.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 300
    assert {"loss", "bit_accuracy", "exact_accuracy", "heldout_exact_accuracy",
            "train_seconds"} <= metrics.keys()
    assert printed.count("Pred:[") == 4 and printed.count("True:[") == 4
    assert f"loss plot: {out / 'loss.png'}" in printed and "exact accuracy" in printed
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["loss"]) == 300 and [r["iteration"] for r in hist["epochs"]][-1] == 300


def test_resume_is_bitwise_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["train", "binary-addition", "--no-progress", "--batch-size", "2", "--max-grad", "5",
              "--eval-every", "100"]
    assert main([*common, "--iters", "400", "--out", str(a)]) == 0
    assert main([*common, "--iters", "150", "--out", str(b)]) == 0
    assert main(["train", "binary-addition", "--no-progress", "--iters", "400", "--out", str(b),
                 "--resume", "--eval-every", "100"]) == 0  # the other settings come from the checkpoint
    ta, ma = load_checkpoint(a / "checkpoint.safetensors")
    tb, mb = load_checkpoint(b / "checkpoint.safetensors")
    assert ta.keys() == tb.keys() and ma["rng"] == mb["rng"] and mb["config"]["batch_size"] == 2
    for k in ta:
        assert np.array_equal(ta[k], tb[k]), k  # bitwise
    ha, hb = (json.loads((p / "history.json").read_text()) for p in (a, b))
    assert ha["loss"] == hb["loss"]


def test_resume_with_another_model_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "binary-addition", "--iters", "50", "--out", str(out), "--no-progress"]) == 0
    assert main(["train", "binary-addition", "--iters", "100", "--hidden", "8", "--out", str(out),
                 "--resume", "--no-progress"]) == 1
    assert "cannot resume with hidden=8" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--epochs", "3"], "--epochs: binary addition has no epochs"),
    # values outside an option's declared range: tests/test_options.py (exit status 2)
    (["--activation", "relu", "--loss", "bce", "--lr", "1"], "at iteration 1: the run diverged"),
])
def test_bad_runs_are_one_line_errors(tmp_path, args, message):
    res = run("train", "binary-addition", "--iters", "200", "--out", str(tmp_path / "r"),
              "--no-progress", *args)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr.startswith("zerokara: error:") and res.stderr.count("\n") == 1
    assert message in res.stderr and "Traceback" not in res.stderr
