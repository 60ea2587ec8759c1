"""weight-init-histogram: sigmoid collapses to 0.5 under std 0.01 and piles up at 0 and 1
under std 1, He keeps ReLU's spread; batchnorm-compare: BatchNorm learns at more initial
scales than the plain net (real MNIST)."""

from __future__ import annotations

import json

import numpy as np

from tests.realdata import real_mnist  # noqa: F401  (fixture)
from zerokara.experiments import batchnorm_compare as bn
from zerokara.experiments import run_experiment
from zerokara.experiments import weight_init_histogram as hist
from zerokara.layers import Affine, BatchNorm


def test_histogram_figures_show_saturation_collapse_and_he_keeping_the_spread(tmp_path):
    f = run_experiment("weight-init-histogram", tmp_path, quick=True).figures
    # std 0.01: every sigmoid says about 0.5 (Xavier's spread does not)
    assert f["sigmoid_std_0.01_layer5_near_half"] > 0.95
    assert f["sigmoid_xavier_layer5_near_half"] < 0.6
    # std 1: sigmoid's outputs pile up at 0 and 1, where its slope is ~0 (Xavier's do not)
    assert f["sigmoid_std_1_layer5_near_0_or_1"] > 0.4
    assert f["sigmoid_xavier_layer5_near_0_or_1"] < 0.01
    sig = f["layers"]["sigmoid_std_1"]
    assert all(near > 0.4 for near in sig["near_0_or_1"])
    # ReLU: He keeps the 5th layer's spread within a factor 2 of the 1st; std 0.01 loses
    # orders of magnitude, Xavier a factor sqrt(2) per layer
    ratio = {k: f[f"relu_{k}_layer5_std"] / f[f"relu_{k}_layer1_std"] for k in ("he", "xavier", "std_0.01")}
    assert 0.5 < ratio["he"] < 2
    assert ratio["std_0.01"] < 1e-3
    assert ratio["std_0.01"] < ratio["xavier"] < 0.5 * ratio["he"]
    for name in ("weight-init-histogram-sigmoid.png", "weight-init-histogram-relu.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    record = json.loads((tmp_path / "weight-init-histogram.json").read_text())
    assert set(record["figures"]["layers"]) == set(hist.COMBOS)


def test_activations_scale_the_same_draws_by_each_init():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, hist.UNITS), dtype=np.float32)
    w = rng.standard_normal((hist.LAYERS, hist.UNITS, hist.UNITS), dtype=np.float32)
    a = hist.activations(x, w, "relu", "he")
    assert a.shape == (hist.LAYERS, 20, hist.UNITS) and a.dtype == np.float32
    np.testing.assert_allclose(a[0], np.maximum(x @ w[0] * np.sqrt(2 / hist.UNITS), 0), rtol=1e-5, atol=1e-6)
    s = hist.activations(x, w, "sigmoid", 0.01)
    np.testing.assert_allclose(s[1], 1 / (1 + np.exp(-(s[0] @ w[1] * 0.01))), rtol=1e-5)


def test_batchnorm_and_plain_start_from_the_same_plain_normal_weights():
    with_bn, plain = bn.make_net(0.01, True, 0), bn.make_net(0.01, False, 0)
    w_bn = [m.params["W"] for m in with_bn.net.layers.values() if isinstance(m, Affine)]
    w_plain = [m.params["W"] for m in plain.net.layers.values() if isinstance(m, Affine)]
    assert len(w_bn) == len(w_plain) == 6
    for a, b in zip(w_bn, w_plain, strict=True):
        np.testing.assert_array_equal(a, b)
    first = w_plain[0]  # init=0.01: normal * 0.01, as book 1's weight_init_std
    np.testing.assert_allclose(first, 0.01 * np.random.default_rng(0).standard_normal((784, 100)), rtol=1e-6)
    assert abs(first.std() - 0.01) < 2e-4 and abs(first.mean()) < 2e-4


def test_batch_stats_accuracy_leaves_the_running_statistics_alone():
    net = bn.make_net(0.01, True, 0)
    x = np.random.default_rng(1).random((50, 784), dtype=np.float32)
    t = np.arange(50) % 10
    layer = next(m for m in net.net.layers.values() if isinstance(m, BatchNorm))
    before = layer.running_var.copy()
    acc = bn.batch_stats_accuracy(net, x, t)
    assert 0 <= acc <= 1
    np.testing.assert_array_equal(layer.running_var, before)


def test_batchnorm_learns_at_more_initial_scales_than_plain(tmp_path, real_mnist):  # noqa: F811
    out = run_experiment("batchnorm-compare", tmp_path, quick=True)
    f = out.figures
    assert f["scales"] == len(bn.QUICK_SCALES) and f["epochs"] == bn.QUICK_EPOCHS
    assert f["batchnorm_learns"] > f["plain_learns"]
    assert f["batchnorm_ends_higher"] >= len(bn.QUICK_SCALES) - 1
    curves = f["curves"]
    assert all(len(c) == bn.QUICK_EPOCHS + 1 for kind in curves.values() for c in kind.values())
    # the same net measured with its batch's statistics learns no later than in eval mode
    assert f["batchnorm_eval_lag_epochs"] >= 0
    assert (tmp_path / "batchnorm-compare.png").stat().st_size > 10_000
