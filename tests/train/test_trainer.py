"""ClassifierTrainer (the one loop over shuffled rows): files it writes, bitwise resume, NaN loss, bad arguments."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zerokara.errors import InputError, NaNLossError
from zerokara.io import load_checkpoint
from zerokara.models import MultiLayerNet, TwoLayerNet
from zerokara.optim import SGD, Adam
from zerokara.train import CHECKPOINT, ClassifierTrainer


def blobs(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 4-d: a problem a small MLP solves in a few epochs."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 3, n)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    x = (centers[t] + 0.5 * rng.standard_normal((n, 4))).astype(np.float32)
    return x, t


def make(out, seed=0, dropout=0.3):
    model = MultiLayerNet(4, (8, 8), 3, batchnorm=True, dropout=dropout, rng=np.random.default_rng(seed))
    return ClassifierTrainer(model, Adam(0.01), rng=np.random.default_rng(seed + 1), out_dir=out,
                   config={"model": "test"})


def test_fit_learns_and_writes_the_run_files(tmp_path):
    x, t = blobs()
    tr = make(tmp_path)
    metrics = tr.fit(x, t, epochs=5, batch_size=20, x_test=x, t_test=t)
    assert metrics["test_accuracy"] > 0.9
    assert metrics["iterations"] == 5 * (240 // 20) and metrics["epochs"] == 5
    for name in (CHECKPOINT, "checkpoint.json", "history.json", "metrics.json", "loss.png", "accuracy.png"):
        assert (tmp_path / name).is_file(), name
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist["loss"]) == 60 and [r["epoch"] for r in hist["epochs"]] == [1, 2, 3, 4, 5]
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]


@pytest.mark.parametrize("first", [{"epochs": 1}, {"epochs": 3, "max_iters": 17}])
def test_resume_is_bitwise_identical(tmp_path, first):
    """Stopping (at an epoch end or inside one) and resuming changes nothing:
    parameters, Adam moments, Dropout's generator and the batch order all carry over."""
    x, t = blobs()
    straight = make(tmp_path / "a")
    straight.fit(x, t, epochs=3, batch_size=20)

    part = make(tmp_path / "b")
    part.fit(x, t, batch_size=20, **first)
    again = make(tmp_path / "b", seed=99)  # different init: everything must come from the checkpoint
    again.resume()
    again.fit(x, t, epochs=3, batch_size=20)

    a, _ = load_checkpoint(tmp_path / "a" / CHECKPOINT)
    b, meta = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert meta["iteration"] == 36
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    ha = json.loads((tmp_path / "a" / "history.json").read_text())
    hb = json.loads((tmp_path / "b" / "history.json").read_text())
    assert ha["loss"] == hb["loss"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_nan_loss_is_a_clear_error_and_keeps_the_last_checkpoint(tmp_path):
    x, t = blobs()
    model = TwoLayerNet(4, 8, 3, activation_name="relu", weight_init_std=1.0, rng=np.random.default_rng(0))
    tr = ClassifierTrainer(model, SGD(0.1), rng=np.random.default_rng(0), out_dir=tmp_path)
    tr.fit(x, t, epochs=1, batch_size=20)
    before = (tmp_path / CHECKPOINT).read_bytes()
    tr.optimizer.lr = 1e30
    with pytest.raises(NaNLossError, match=r"loss became (nan|inf).*lower the learning rate"):
        tr.fit(x, t, epochs=5, batch_size=20)
    assert (tmp_path / CHECKPOINT).read_bytes() == before


def test_bad_batch_size_and_mismatched_labels():
    x, t = blobs()
    tr = make(None)
    with pytest.raises(InputError, match="batch_size expected in \\[1, 240\\].*got 500"):
        tr.fit(x, t, epochs=1, batch_size=500)
    with pytest.raises(InputError, match="x has 240 examples but t has 239"):
        tr.fit(x, t[:-1], epochs=1, batch_size=20)
