"""Checking plain functions: derivatives against numerical ones, softmax, cross-entropy and the pair
SoftmaxWithLoss relies on, each with the mistake it is there to catch."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from zerokara.check.functions import FunctionCheck, check_derivative, check_values, derivative_target
from zerokara.check.loss_functions import (
    check_cross_entropy,
    check_function,
    check_loss_pair,
    check_softmax,
    known_function,
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def assert_renders(res: FunctionCheck) -> None:
    en, ja = res.render("en"), res.render("ja")
    assert en and not JAPANESE.search(en)
    assert JAPANESE.search(ja)
    assert ("PASS" if res.ok else "FAIL") in en.splitlines()[2 if res.figures else 1]
    assert ("一致" if res.ok else "不一致") in ja


# the Day 3 note's question: the reader's d_tanh and the answer key's d_tann


def d_tanh(x):
    return 4 / (np.exp(x) + np.exp(-x)) ** 2


def d_tann(x):
    return 1 / (np.cosh(x) ** 2)


@pytest.mark.parametrize("fn", [d_tanh, d_tann])
def test_both_forms_of_the_tanh_derivative_pass(fn):
    res = check_function(fn, fn.__name__)
    assert res.ok and res.of == "tanh" and res.where == [] and res.skipped == []
    assert res.max_abs_err < 1e-9
    en = res.render("en")
    header = f"{fn.__name__} against the numerical derivative of tanh over [-6, 6] (241 points)"
    assert en.splitlines()[0] == header
    assert f"PASS: {fn.__name__} agrees with tanh's derivative to " in en
    assert "everywhere in [-6, 6]" in en
    assert "数値微分" in res.render("ja")
    assert_renders(res)


def test_the_two_forms_agree_with_each_other():
    res = check_values(d_tanh, d_tann, name="d_tanh", of_name="d_tann")
    assert res.ok and res.max_abs_err < 1e-14
    assert "PASS: d_tanh agrees with the reference d_tann" in res.render("en")
    assert_renders(res)


# wrong derivatives and where they are wrong


def test_one_minus_x_squared_is_wrong_for_tanh_except_at_0():
    res = check_derivative(lambda x: 1 - x**2, np.tanh, name="d_tanh", of_name="tanh")
    assert not res.ok
    (a, b), (c, d) = res.where
    assert (a, d) == (-6.0, 6.0)
    assert b == pytest.approx(-0.05) and c == pytest.approx(0.05)
    assert abs(res.worst_x) == 6.0
    en = res.render("en")
    assert "they disagree at x in [-6, -0.05] and [0.05, 6]" in en
    assert "write: return 1 / np.cosh(x) ** 2" in en
    # 1 - y**2 is tanh's derivative written with the output y = tanh(x), as backward uses it
    assert "given the output y = tanh(x)" in en
    assert_renders(res)


def test_x_times_one_minus_x_is_wrong_for_sigmoid_everywhere():
    res = check_function(lambda x: x * (1 - x), "d_sigmoid")
    assert not res.ok and res.of == "sigmoid"
    assert res.where == [(-6.0, 6.0)]
    en = res.render("en")
    assert "write: return sigmoid(x) * (1 - sigmoid(x))" in en
    assert "given the output y = sigmoid(x)" in en
    assert_renders(res)


def test_a_derivative_off_in_one_region_is_located():
    # right for x < 1, twice too large from 1 on
    res = check_derivative(lambda x: np.where(x < 1, 1 / np.cosh(x) ** 2, 2 / np.cosh(x) ** 2), np.tanh)
    assert not res.ok
    assert res.where == [(pytest.approx(1.0), 6.0)]
    assert "output" not in res.render("en")


def test_relu_derivative_passes_with_the_kink_at_0_left_out():
    res = check_function(lambda x: (x > 0).astype(float), "relu_grad")
    assert res.ok and res.of == "relu"
    assert res.skipped == [0.0]  # the only grid point within a step of the kink
    assert "x in {0} left out: relu has no derivative there (a kink or a jump)" in res.render("en")
    assert "除外" in res.render("ja")
    assert_renders(res)
    # with no grid point at the kink, nothing is left out and it still passes
    res = check_derivative(lambda x: (x > 0).astype(float), lambda x: np.maximum(0, x), points=240)
    assert res.ok and res.skipped == []


def test_relu_derivative_that_is_wrong_away_from_the_kink_fails():
    res = check_function(lambda x: np.maximum(0, x), "d_relu")  # relu itself, not its derivative
    assert not res.ok
    assert res.skipped == [0.0]
    # agrees (0) for x < 0 and at x = 1 (relu(1) = 1 = relu'(1)); the kink at 0 is left out
    assert res.where == [(pytest.approx(0.05), pytest.approx(0.95)), (pytest.approx(1.05), 6.0)]
    assert "write: return (x > 0).astype(float)" in res.render("en")


def test_a_function_that_only_takes_scalars_is_called_one_x_at_a_time():
    res = check_derivative(lambda x: 1 / math.cosh(x) ** 2, np.tanh, name="d", of_name="tanh")
    assert res.ok
    assert "one x at a time" in res.render("en")


def test_overflow_is_reported_where_it_happens():
    # math.cosh(x) ** 2 overflows (OverflowError) beyond |x| ~ 355, where 1/cosh**2 is 0
    res = check_derivative(lambda x: 1 / math.cosh(x) ** 2, np.tanh, lo=-1000, hi=1000, points=201)
    assert not res.ok and math.isinf(res.max_abs_err)
    assert res.where == [(-1000.0, -360.0), (360.0, 1000.0)]
    assert "gives nan at x in [-1000, -360] and [360, 1000] (overflow?)" in res.render("en")
    assert_renders(res)
    # np.exp(1000) is inf, 4/inf is 0: the reader's form survives
    res = check_derivative(d_tanh, np.tanh, lo=-1000, hi=1000, points=201)
    assert res.ok


def test_where_the_function_itself_overflows_is_left_out():
    res = check_derivative(np.exp, np.exp, lo=0, hi=1000, points=101)
    assert res.ok
    left_out = "x in [710, 1000] left out: fn has no derivative there (it is not finite: overflow)"
    assert left_out in res.render("en")


def test_a_derivative_that_raises_is_reported():
    def broken(x):
        raise RuntimeError("not written yet")

    res = check_derivative(broken, np.tanh, name="d_tanh")
    assert not res.ok
    assert "FAIL: d_tanh raised RuntimeError: not written yet" in res.render("en")
    assert "で RuntimeError: not written yet が発生しました" in res.render("ja")


# names


@pytest.mark.parametrize(
    ("name", "target"),
    [("d_tanh", "tanh"), ("d_tann", "tanh"), ("tanh_grad", "tanh"), ("dtanh", "tanh"),
     ("d_sigmoid", "sigmoid"), ("sigmoid_grad", "sigmoid"), ("d_relu", "relu"), ("relu_grad", "relu"),
     ("grad_relu", "relu"), ("derivative_swish", "swish"), ("d_step_function", "step_function"),
     ("tanh", None), ("softmax", None)],
)  # fmt: skip
def test_derivative_target(name, target):
    assert derivative_target(name) == target


def test_known_function():
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(known_function("tanh")(x), np.tanh(x))
    np.testing.assert_allclose(known_function("d_tann")(x), 1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(known_function("sigmoid_grad")(x), d_sigmoid_ref(x))
    np.testing.assert_allclose(known_function("relu")(x), np.maximum(0, x))
    np.testing.assert_allclose(known_function("softmax")(x).sum(), 1.0)
    for name in ("step_function", "identity_function", "cross_entropy_error", "relu_grad"):
        assert callable(known_function(name))
    assert known_function("swish") is None and known_function("d_swish") is None


def d_sigmoid_ref(x):
    s = 1 / (1 + np.exp(-x))
    return s * (1 - s)


def test_check_function_compares_activations_with_the_reference():
    assert check_function(lambda x: 1 / (1 + np.exp(-x)), "sigmoid").ok
    assert check_function(lambda x: np.array(x > 0, dtype=int), "step_function").ok
    assert check_function(lambda x: x, "identity_function").ok
    res = check_function(lambda x: np.array(x >= 0, dtype=int), "step_function")
    assert not res.ok and res.where == [(0.0, 0.0)]
    assert "x in {0}" in res.render("en")
    assert "write: return np.array(x > 0, dtype=int)" in res.render("en")
    assert_renders(res)


def test_check_function_unknown_name():
    res = check_function(lambda x: x, "swish")
    assert not res.ok and res.of is None
    assert "no check for a function named swish" in res.render("en")
    assert JAPANESE.search(res.render("ja"))


# softmax


def naive_softmax(x):
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def stable_softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def book1_softmax(x):  # book 1's common/functions.py
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def vector_softmax(a):  # book 1 chapter 3: one vector only
    e = np.exp(a - np.max(a))
    return e / np.sum(e)


@pytest.mark.parametrize("fn", [stable_softmax, book1_softmax])
def test_stable_softmax_passes(fn):
    res = check_softmax(fn)
    assert res.ok and res.lines == []
    assert_renders(res)


def test_naive_softmax_is_flagged_for_overflow():
    res = check_function(naive_softmax, "softmax")
    assert not res.ok
    en = res.render("en")
    assert "on x = [1000, 1010, 990] it gives [nan, nan, nan]: exp(x) overflows" in en
    assert "subtract the row max before exp: np.exp(x - np.max(x, axis=-1, keepdims=True))" in en
    assert "FAIL: softmax fails 2 of 4 checks" in en  # the batch and the vector pass
    assert_renders(res)


def test_vector_only_softmax_is_flagged_for_batches():
    res = check_softmax(vector_softmax)
    assert not res.ok
    en = res.render("en")
    assert "on a batch (4, 5) the rows sum to" in en
    assert "axis=-1, keepdims=True" in en
    assert "on a vector" not in en


def test_softmax_that_raises_on_a_vector():
    res = check_softmax(lambda x: stable_softmax(x) if x.ndim == 2 else x.sum(axis=1))
    assert not res.ok
    assert "on a vector (5,) it raised AxisError" in res.render("en")


# cross-entropy


def book1_cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def unfloored_cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t])) / y.shape[0]


def onehot_cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    return -np.sum(t * np.log(y + 1e-7)) / y.shape[0]


def unaveraged_cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7))


def test_book1_cross_entropy_passes():
    res = check_function(book1_cross_entropy_error, "cross_entropy_error")
    assert res.ok and res.lines == []
    assert_renders(res)


def test_cross_entropy_without_the_floor_is_flagged_for_a_zero_probability():
    y = np.array([[0.0, 0.5, 0.5]])
    with np.errstate(divide="ignore"):
        assert unfloored_cross_entropy_error(y, np.array([0])) == np.inf
    res = check_cross_entropy(unfloored_cross_entropy_error)
    assert not res.ok
    en = res.render("en")
    assert "with a probability of 0 it gives inf" in en
    assert "np.log(y + 1e-7)" in en
    assert "FAIL: cross_entropy_error fails 1 of 5 checks" in en
    assert_renders(res)


def test_cross_entropy_for_one_hot_only_is_flagged_for_labels():
    res = check_cross_entropy(onehot_cross_entropy_error)
    assert not res.ok
    en = res.render("en")
    assert "on a batch and labels t (4,) it raised ValueError" in en
    assert "y[np.arange(batch_size), t]" in en
    assert "one-hot t (4, 5)" not in en  # the one-hot batch passes
    assert_renders(res)


def test_cross_entropy_not_divided_by_the_batch_size():
    res = check_cross_entropy(unaveraged_cross_entropy_error)
    assert not res.ok
    assert "divide by the batch size" in res.render("en")
    assert "one y (5,)" not in res.render("en")  # a batch of one is right


# the pair SoftmaxWithLoss relies on


@pytest.mark.parametrize("ce", [book1_cross_entropy_error, onehot_cross_entropy_error])
@pytest.mark.parametrize("softmax", [stable_softmax, book1_softmax])
def test_loss_pair_gradient_is_y_minus_t_over_n(softmax, ce):
    res = check_loss_pair(softmax, ce)
    assert res.ok and res.max_abs_err < 1e-6
    assert "PASS: the gradient is (softmax(x) - t) / N" in res.render("en")
    assert_renders(res)


def test_loss_pair_fails_for_a_softmax_without_normalisation():
    res = check_loss_pair(np.exp, book1_cross_entropy_error, softmax_name="exp")
    assert not res.ok
    en = res.render("en")
    assert "FAIL: the gradient differs from (exp(x) - t) / N" in en
    assert "exp's rows sum to" in en
    assert_renders(res)


def test_loss_pair_names_a_loss_not_divided_by_n():
    res = check_loss_pair(stable_softmax, unaveraged_cross_entropy_error)
    assert not res.ok
    assert "does not divide by the batch size" in res.render("en")


def test_loss_pair_with_a_failing_function():
    res = check_loss_pair(stable_softmax, lambda y, t: 1 / 0)
    assert not res.ok
    assert "ZeroDivisionError" in res.render("en")
    assert JAPANESE.search(res.render("ja"))
