"""gradient-norm (book 2, 6.1): the book's Wh explodes at scale 1 and vanishes at 0.5;
through tanh it vanishes at scale 1 too, and that is what TimeRNN.backward computes;
clip_grads caps the norm and keeps the direction; the factor per step is bounded by the
largest singular value and tends to the spectral radius."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zerokara.experiments import gradient_norm as gn
from zerokara.experiments import run_experiment


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    return run_experiment("gradient-norm", tmp_path_factory.mktemp("gn"), quick=True)


def test_the_book_s_curves_explode_at_scale_1_and_vanish_at_half(outcome):
    f = outcome.figures
    assert f["scale_1_last_over_first"] > 50  # 101
    assert f["scale_0.5_last_over_first"] < 1e-3  # 2e-4
    ones = np.sqrt(gn.N * gn.H)
    for key in ("scale_1", "scale_0.5"):
        ns = np.array(f["curves"][key])
        assert len(ns) == gn.T
        steady = gn.step_ratios(ns)[5:]  # after a few steps every step multiplies alike
        assert np.all(steady > 1) if key == "scale_1" else np.all(steady < 1)
        assert f[f"{key}_growth_per_step"] == pytest.approx((ns[-1] / ones) ** (1 / gn.T))


def test_the_curves_are_the_book_s_loop_on_the_book_s_draw():
    """ch06/rnn_gradient_graph.py (np.random.seed(3); Wh = np.random.randn(3, 3) * 0.5, the
    global generator's legacy draws, which RandomState(3) repeats), the norm not divided by N."""
    Wh = np.random.RandomState(3).randn(3, 3) * 0.5
    dh, expected = np.ones((2, 3)), []
    for _ in range(20):
        dh = np.dot(dh, Wh.T)
        expected.append(np.sqrt(np.sum(dh**2)))
    np.testing.assert_allclose(gn.norms(gn.linear_grads(gn.book_wh() * 0.5)), expected, rtol=1e-12)


def test_tanh_vanishes_at_scale_1_and_is_what_time_rnn_backward_carries(outcome):
    f = outcome.figures
    assert f["tanh_scale_1_last_over_first"] < 1e-4
    assert f["tanh_scale_1_growth_per_step"] < 1 < f["scale_1_growth_per_step"]
    assert 0 < f["tanh_scale_1_mean_slope"] < 1
    # the same steps by hand: dh <- (dh * (1 - h^2)) @ Wh.T, from dL/dh_T = ones
    Wh = gn.book_wh()
    xs = np.random.default_rng(1).standard_normal((gn.N, gn.T, gn.H))
    grads, hs = gn.tanh_grads(Wh, xs)
    dh, by_hand = np.ones((gn.N, gn.H)), []
    for t in reversed(range(gn.T)):
        dh = (dh * (1 - hs[:, t] ** 2)) @ Wh.T
        by_hand.append(dh)
    np.testing.assert_allclose(grads, by_hand, rtol=1e-10, atol=1e-300)
    # and the forward is a tanh RNN with Wx = Wh: h_t = tanh((x_t + h_{t-1}) @ Wh)
    h = np.zeros((gn.N, gn.H))
    for t in range(gn.T):
        h = np.tanh((xs[:, t] + h) @ Wh)
    np.testing.assert_allclose(hs[:, -1], h, rtol=1e-12)


def test_tanh_s_factor_per_step_is_at_most_the_linear_bound():
    Wh = gn.book_wh()
    xs = np.random.default_rng(0).standard_normal((gn.N, gn.T, gn.H))
    grads, hs = gn.tanh_grads(Wh, xs)
    ns = gn.norms(grads)
    slope = 1 - hs**2  # (N, T, H); step k goes through the slope at time T - k
    bound = gn.largest_singular_value(Wh) * slope[:, ::-1].max(axis=(0, 2))
    assert np.all(gn.step_ratios(ns) <= bound * (1 + 1e-12))


def test_clipping_caps_the_norm_at_max_norm_and_keeps_the_direction(outcome):
    f = outcome.figures
    raw, clip = np.array(f["curves"]["scale_1"]), np.array(f["curves"]["clipped_scale_1"])
    assert np.all(clip <= gn.MAX_NORM)
    over = raw > gn.MAX_NORM
    assert over.sum() == f["clipped_scale_1_steps_clipped"] > 10
    np.testing.assert_allclose(clip[over], gn.MAX_NORM, rtol=1e-6)
    np.testing.assert_array_equal(clip[~over], raw[~over])  # under the threshold: untouched
    assert f["clipped_scale_1_max_norm"] <= gn.MAX_NORM
    assert f["clipped_scale_1_min_cosine_to_unclipped"] == pytest.approx(1.0, abs=1e-12)
    # clipping a small threshold still leaves the direction
    g = gn.linear_grads(gn.book_wh())
    c = gn.clipped(g, 0.25)
    np.testing.assert_allclose(c / gn.norms(c)[:, None, None], g / gn.norms(g)[:, None, None], rtol=1e-10)


def test_largest_singular_value_bounds_each_step_and_rho_is_the_long_run_factor(outcome):
    for row in outcome.figures["draws"]:
        rng = np.random.default_rng(row["seed"])
        W = rng.standard_normal((gn.H, gn.H))
        for scale in gn.SCALES:
            Wh, r = W * scale, row[gn.scale_name(scale)]
            ns = gn.norms(gn.linear_grads(Wh))
            assert np.all(gn.step_ratios(ns) <= r["largest_singular_value"] * (1 + 1e-12))
            assert r["spectral_radius"] <= r["largest_singular_value"] + 1e-12
            if r["largest_singular_value"] < 1:  # sigma < 1: it must vanish
                assert r["last_over_first"] < 1
            long = gn.norms(gn.linear_grads(Wh, 200))  # steps 100..200: past the first ones
            assert (long[-1] / long[99]) ** (1 / 100) == pytest.approx(r["spectral_radius"], rel=0.01)
    # the book's Wh * 0.5: sigma above 1, yet the gradient vanishes, as rho < 1 says
    f = outcome.figures
    assert f["scale_0.5_largest_singular_value"] > 1 > f["scale_0.5_spectral_radius"]
    assert f["scale_0.5_last_over_first"] < 1


def test_the_draws_table_and_the_pictures(outcome, tmp_path):
    f = outcome.figures
    assert len(f["draws"]) == gn.SEEDS
    assert f["draws_scale_1_exploded"] > f["draws_scale_0.5_exploded"]
    assert f["draws_scale_1_rho_above_1"] <= f["draws_scale_1_sigma_above_1"]
    assert f["draws_tanh_scale_1_exploded"] == 0
    for name in ("gradient-norm.png", "gradient-norm-log.png"):
        assert (outcome.out_dir / name).stat().st_size > 10_000, name
    record = json.loads((outcome.out_dir / "gradient-norm.json").read_text())
    assert record["experiment"] == "gradient-norm" and record["book"] == {}
    assert len(record["figures"]["curves"]["tanh_scale_1"]) == gn.T
