"""Loss layers: gradient check, parity with PyTorch's losses, bad labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import SigmoidWithLoss, SoftmaxWithLoss, softmax

SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def names(report) -> set[str]:
    return {e.name for e in report.entries}


def one_hot(t: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c)[t]


# ---------------------------------------------------------------------------
# gradient check on random shapes
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 6), c=st.integers(1, 7), seed=seeds, onehot=st.booleans())
def test_gradcheck_softmax_with_loss(n, c, seed, onehot):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * 3
    t = rng.integers(0, c, n)
    report = gradcheck(SoftmaxWithLoss(), x, one_hot(t, c) if onehot else t)
    assert report.ok, str(report)
    assert names(report) == {"x"}  # the target is data, not differentiated


@SETTINGS
@given(n=st.integers(1, 6), k=st.integers(1, 7), seed=seeds, soft=st.booleans())
def test_gradcheck_sigmoid_with_loss(n, k, seed, soft):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)) * 3
    t = rng.uniform(0, 1, (n, k)) if soft else rng.integers(0, 2, (n, k)).astype(np.float64)
    report = gradcheck(SigmoidWithLoss(), x, t)
    assert report.ok, str(report)
    assert names(report) == {"x"}


# ---------------------------------------------------------------------------
# parity with PyTorch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dout", [1.0, 0.37])
def test_softmax_with_loss_matches_cross_entropy_class_ids(rng, dout):
    n, c = 7, 5
    x = rng.standard_normal((n, c)) * 3
    t = rng.integers(0, c, n)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(dout)

    xt = to_torch(x, grad=True)
    loss_t = F.cross_entropy(xt, torch.tensor(t))
    loss_t.backward(torch.tensor(dout, dtype=torch.float64))
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item())
    assert_close(dx, xt.grad)


def test_softmax_with_loss_one_hot_equals_class_ids_and_torch(rng):
    n, c = 6, 4
    x = rng.standard_normal((n, c))
    t = rng.integers(0, c, n)
    a, b = SoftmaxWithLoss(), SoftmaxWithLoss()
    loss_ids, loss_oh = a.forward(x, t), b.forward(x, one_hot(t, c))
    assert_close(loss_oh, loss_ids)
    assert_close(b.backward(), a.backward())

    xt = to_torch(x, grad=True)
    loss_t = F.cross_entropy(xt, to_torch(one_hot(t, c)))
    loss_t.backward()
    assert_close(loss_oh, loss_t.item())
    assert_close(b.backward(), xt.grad)


def test_softmax_with_loss_probability_targets_match_torch(rng):
    """Soft targets (rows summing to 1, e.g. label smoothing) as torch takes them."""
    n, c = 5, 6
    x = rng.standard_normal((n, c)) * 2
    p = rng.uniform(0.0, 1.0, (n, c))
    p /= p.sum(axis=1, keepdims=True)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, p)
    dx = layer.backward(2.5)

    xt = to_torch(x, grad=True)
    loss_t = F.cross_entropy(xt, to_torch(p))
    loss_t.backward(torch.tensor(2.5, dtype=torch.float64))
    assert_close(loss, loss_t.item())
    assert_close(dx, xt.grad)


def test_softmax_with_loss_extreme_logits_are_finite_and_exact(rng):
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    t = np.array([2, 1])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward()
    xt = to_torch(x, grad=True)
    loss_t = F.cross_entropy(xt, torch.tensor(t))
    loss_t.backward()
    assert np.isfinite(loss)
    assert_close(loss, loss_t.item())  # 1000 for the first row: no log(0 + 1e-7)
    assert_close(dx, xt.grad)


def test_softmax_rows_sum_to_one_and_do_not_overflow(rng):
    x = rng.standard_normal((4, 5)) * 500
    y = softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-14)
    assert_close(y, torch.softmax(to_torch(x), dim=-1))


@pytest.mark.parametrize("shape", [(6, 3), (8,), (2, 3, 4)])
def test_sigmoid_with_loss_matches_bce_with_logits(rng, shape):
    x = rng.standard_normal(shape) * 4
    x.flat[0] = 800.0  # large logits: exact, no overflow
    x.flat[-1] = -800.0
    t = rng.integers(0, 2, shape).astype(np.float64)
    dout = 1.3
    layer = SigmoidWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(dout)

    xt = to_torch(x, grad=True)
    loss_t = F.binary_cross_entropy_with_logits(xt, to_torch(t))
    loss_t.backward(torch.tensor(dout, dtype=torch.float64))
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item())
    assert_close(dx, xt.grad)


def test_sigmoid_with_loss_soft_targets_match_torch(rng):
    x = rng.standard_normal((4, 3))
    t = rng.uniform(0, 1, (4, 3))
    layer = SigmoidWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward()
    xt = to_torch(x, grad=True)
    loss_t = F.binary_cross_entropy_with_logits(xt, to_torch(t))
    loss_t.backward()
    assert_close(loss, loss_t.item())
    assert_close(dx, xt.grad)


# ---------------------------------------------------------------------------
# bad labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [5, 9, -1])
def test_softmax_labels_out_of_range(bad):
    t = np.array([0, bad, 1])
    with pytest.raises(InputError) as e:
        SoftmaxWithLoss().forward(np.zeros((3, 5)), t)
    msg = str(e.value)
    assert "SoftmaxWithLoss" in msg
    assert f"label {bad}" in msg
    assert "[0, 4]" in msg


@pytest.mark.parametrize("shape", [(3, 1), (4,), (2,), ()])
def test_softmax_wrong_label_shape(shape):
    t = np.zeros(shape, dtype=np.int64)
    with pytest.raises(InputError) as e:
        SoftmaxWithLoss().forward(np.zeros((3, 5)), t)
    msg = str(e.value)
    assert "SoftmaxWithLoss" in msg and "t expected shape (3,)" in msg
    assert str(tuple(shape)) in msg


@pytest.mark.parametrize("shape", [(3,), (3, 4), (5, 3)])
def test_softmax_float_labels_of_wrong_shape(shape):
    with pytest.raises(InputError) as e:
        SoftmaxWithLoss().forward(np.zeros((3, 5)), np.zeros(shape))
    msg = str(e.value)
    assert "SoftmaxWithLoss" in msg and "t" in msg and "(3, 5)" in msg and str(shape) in msg


@pytest.mark.parametrize("t", [[0, 1, 2], np.array([True, False, True])])
def test_softmax_labels_not_integer(t):
    with pytest.raises(InputError, match="SoftmaxWithLoss: t expected integer class ids"):
        SoftmaxWithLoss().forward(np.zeros((3, 5)), t)


def test_softmax_x_must_be_2d():
    with pytest.raises(InputError, match=r"SoftmaxWithLoss: x expected shape \(N, C\), got \(5,\)"):
        SoftmaxWithLoss().forward(np.zeros(5), np.array([0]))


@pytest.mark.parametrize("shape", [(3,), (3, 4), (4, 3, 1)])
def test_sigmoid_target_shape_mismatch(shape):
    with pytest.raises(InputError) as e:
        SigmoidWithLoss().forward(np.zeros((4, 3)), np.zeros(shape))
    msg = str(e.value)
    assert msg.startswith("SigmoidWithLoss: t expected shape (4, 3), got ")
    assert msg.endswith(str(shape))


def test_sigmoid_target_out_of_range():
    with pytest.raises(InputError, match=r"SigmoidWithLoss: t expected targets in \[0, 1\]"):
        SigmoidWithLoss().forward(np.zeros((2, 2)), np.array([[0.0, 2.0], [1.0, 0.0]]))


# ---------------------------------------------------------------------------
# pure backward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ids", "onehot", "sigmoid"])
def test_loss_backward_twice_same_result(rng, kind):
    x = rng.standard_normal((4, 3))
    if kind == "sigmoid":
        layer, t = SigmoidWithLoss(), rng.integers(0, 2, (4, 3)).astype(np.float64)
    else:
        ids = rng.integers(0, 3, 4)
        layer, t = SoftmaxWithLoss(), (ids if kind == "ids" else one_hot(ids, 3))
    x0, t0 = x.copy(), t.copy()
    layer.forward(x, t)
    y0 = layer.y.copy()
    dx1 = layer.backward(1.0)
    dx1_copy = dx1.copy()
    dx2 = layer.backward(1.0)
    np.testing.assert_array_equal(dx1, dx1_copy)
    np.testing.assert_array_equal(dx2, dx1_copy)
    np.testing.assert_array_equal(layer.y, y0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(t, t0)
    np.testing.assert_allclose(layer.backward(2.0), 2.0 * dx1_copy, rtol=1e-15)
