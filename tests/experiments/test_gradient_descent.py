"""gradient-descent: book 1's central difference, its gradient descent at three learning
rates (the book's printed figures, digit for digit), and backprop against the numerical
gradient of TwoLayerNet."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zerokara.experiments import gradient_descent as gd
from zerokara.experiments import run_experiment


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    return run_experiment("gradient-descent", tmp_path_factory.mktemp("gd"), quick=True)


def test_central_difference_beats_the_forward_one(outcome):
    f = outcome.figures
    assert abs(f["central_diff_at_5"] - 0.2) < 1e-8
    assert abs(f["central_diff_at_10"] - 0.3) < 1e-8
    assert f["central_error_at_5"] == abs(f["central_diff_at_5"] - 0.2)
    # the forward difference is off by 0.01 h = 1e-6; the central one only by rounding
    assert f["central_error_at_5"] * 1000 < f["forward_error_at_5"] < 2e-6


def test_the_books_printed_figures_are_reproduced(outcome):
    for key, (value, _where) in gd.BOOK.items():
        assert outcome.figures[key] == pytest.approx(value, rel=1e-8), key


def test_gradient_descent_at_three_rates(outcome):
    f = outcome.figures
    assert np.hypot(f["lr0.1_x0"], f["lr0.1_x1"]) < 1e-8  # 0.8**100 * 5 = 1e-9
    assert abs(f["lr10_x0"]) > 1e10  # diverges
    # ... and stops: past 2**40 the numerical gradient is 0, the exact one would go on
    assert 0 < f["lr10_last_moving_step"] < gd.STEPS
    assert abs(f["lr10_x0_exact_gradient"]) > 1e100
    assert np.hypot(f["lr1e-10_x0"] - gd.START[0], f["lr1e-10_x1"] - gd.START[1]) < 1e-6
    assert f["lr1e-10_x0"] != gd.START[0]  # it moved, barely
    assert len(f["lr0.1_path"]) == gd.DRAWN + 1 and f["lr0.1_path"][0] == list(gd.START)


def test_vectorised_gradient_is_the_books_loop_bit_for_bit():
    x = np.array([-3.0, 4.0])
    book = np.zeros(2)
    for i in range(2):  # book 1's numerical_gradient, element by element
        v = x[i]
        x[i] = v + gd.H
        plus = x[0] ** 2 + x[1] ** 2
        x[i] = v - gd.H
        minus = x[0] ** 2 + x[1] ** 2
        x[i] = v
        book[i] = (plus - minus) / (2 * gd.H)
    assert np.array_equal(gd.numerical_gradient_2d(x), book)


def test_backprop_equals_the_numerical_gradient_and_is_faster(outcome):
    f = outcome.figures
    assert f["parameter_elements"] == 784 * 50 + 50 + 50 * 10 + 10
    assert 0 < f["numerical_elements_timed"] < f["parameter_elements"]  # quick: a sample
    assert f["max_relative_difference"] < 1e-6
    assert 0 < f["backprop_seconds"] < f["numerical_seconds_estimated"]
    assert f["numerical_over_backprop"] > 100


def test_numerical_gradient_catches_a_wrong_gradient():
    """The comparison can fail: a gradient off by 1% is 1e-2 away, not 1e-6."""
    model, x, t = gd.net_and_batch(0)
    grads = gd.backprop_gradient(model, x, t)
    arr = model.parameters()["affine2.W"]
    idx = np.arange(arr.size)
    num = gd.numerical_gradient(model, x, t, arr, idx)
    np.testing.assert_allclose(num, grads["affine2.W"].reshape(-1), rtol=0, atol=1e-6 * np.abs(num).max())
    wrong = grads["affine2.W"].reshape(-1) * 1.01
    assert np.max(np.abs(wrong - num)) / np.abs(num).max() > 1e-3


def test_pictures_and_json(outcome):
    out = outcome.out_dir
    for name in ("gradient-descent-derivative.png", "gradient-descent-field.png"):
        assert (out / name).stat().st_size > 20_000, name
    record = json.loads((out / "gradient-descent.json").read_text())
    assert record["book"]["lr10_x0"]["value"] == -2.58983747e13
    assert len(record["figures"]["error_vs_h"]["h"]) == len(record["figures"]["error_vs_h"]["central"])
