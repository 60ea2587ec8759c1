"""Core layers: gradient check on random shapes, parity with PyTorch in float64,
clear errors on bad input, and pure backward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_backward_is_pure, assert_close, to_numpy, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, Tanh

SETTINGS = settings(max_examples=15, deadline=None)
sizes = st.integers(1, 7)
seeds = st.integers(0, 2**32 - 1)


def names(report) -> set[str]:
    return {e.name for e in report.entries}


def away_from_zero(rng: np.random.Generator, shape) -> np.ndarray:
    """Normal values pushed at least 0.1 away from ReLU's kink (finite differences
    across the kink are meaningless)."""
    x = rng.standard_normal(shape)
    return x + 0.1 * np.sign(x) + (x == 0) * 0.1


# ---------------------------------------------------------------------------
# 1. gradient check on random shapes (float64)
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 6), d=sizes, h=sizes, seed=seeds)
def test_gradcheck_affine(n, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = Affine(rng.standard_normal((d, h)), rng.standard_normal(h))
    report = gradcheck(layer, rng.standard_normal((n, d)))
    assert report.ok, str(report)
    assert names(report) == {"x", "W", "b"}
    assert {e.name: e.kind for e in report.entries} == {"x": "input", "W": "param", "b": "param"}


@SETTINGS
@given(n=st.integers(1, 6), d=sizes, seed=seeds,
       layer=st.sampled_from(["relu", "sigmoid", "tanh"]))
def test_gradcheck_activations(n, d, seed, layer):
    rng = np.random.default_rng(seed)
    mod = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}[layer]()
    x = away_from_zero(rng, (n, d)) * 2
    report = gradcheck(mod, x)
    assert report.ok, str(report)
    assert names(report) == {"x"}


@SETTINGS
@given(n=st.integers(1, 6), d=sizes, seed=seeds, p=st.sampled_from([0.0, 0.2, 0.5, 0.9]))
def test_gradcheck_dropout_train(n, d, seed, p):
    rng = np.random.default_rng(seed)
    layer = Dropout(p, rng=np.random.default_rng(seed + 1))
    assert layer.training
    report = gradcheck(layer, rng.standard_normal((n, d)))
    assert report.ok, str(report)
    assert names(report) == {"x"}


def _batchnorm(rng: np.random.Generator, d: int) -> BatchNorm:
    bn = BatchNorm(d, dtype=np.float64)
    bn.params["gamma"][...] = rng.standard_normal(d)
    bn.params["beta"][...] = rng.standard_normal(d)
    bn.running_mean = rng.standard_normal(d)
    bn.running_var = rng.uniform(0.5, 2.0, d)
    return bn


@SETTINGS
@given(n=st.integers(2, 6), d=sizes, seed=seeds, training=st.booleans())
def test_gradcheck_batchnorm(n, d, seed, training):
    rng = np.random.default_rng(seed)
    bn = _batchnorm(rng, d).train(training)
    report = gradcheck(bn, rng.standard_normal((n, d)) * 3 + 1)
    assert report.ok, str(report)
    assert names(report) == {"x", "gamma", "beta"}


def test_gradcheck_catches_batchnorm_backward_ignoring_batch_statistics(rng):
    """The training-mode correction terms matter: the eval-mode formula used in
    training must fail the check (guards the check above from being vacuous)."""

    class NoCorrection(BatchNorm):
        def backward(self, dout):
            super().backward(dout)
            return dout * self.params["gamma"] * self.inv_std

    bn = NoCorrection(3, dtype=np.float64)
    report = gradcheck(bn, rng.standard_normal((5, 3)))
    assert not report.ok
    assert not report["x"].ok
    assert report["gamma"].ok and report["beta"].ok


# ---------------------------------------------------------------------------
# 2. parity with PyTorch (float64)
# ---------------------------------------------------------------------------


def test_affine_matches_torch_linear(rng):
    n, d, h = 5, 4, 3
    W, b = rng.standard_normal((d, h)), rng.standard_normal(h)
    x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, h))
    layer = Affine(W.copy(), b.copy())
    out = layer.forward(x)
    dx = layer.backward(dout)

    xt, Wt, bt = to_torch(x, grad=True), to_torch(W.T, grad=True), to_torch(b, grad=True)
    out_t = F.linear(xt, Wt, bt)  # torch's weight is (H, D): ours transposed
    out_t.backward(to_torch(dout))

    assert out.dtype == np.float64
    assert_close(out, out_t)
    assert_close(dx, xt.grad)
    assert_close(layer.grads["W"], Wt.grad.T)
    assert_close(layer.grads["b"], bt.grad)


@pytest.mark.parametrize("layer, fn", [(ReLU, torch.relu), (Sigmoid, torch.sigmoid),
                                       (Tanh, torch.tanh)])
def test_activations_match_torch(rng, layer, fn):
    x = rng.standard_normal((6, 5)) * 4
    x[0, :3] = [-800.0, 800.0, 0.5]  # saturated sigmoid/tanh must stay finite and exact
    dout = rng.standard_normal(x.shape)
    mod = layer()
    out = mod.forward(x)
    dx = mod.backward(dout)

    xt = to_torch(x, grad=True)
    out_t = fn(xt)
    out_t.backward(to_torch(dout))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert_close(out, out_t)
    assert_close(dx, xt.grad)


def _torch_bn(d: int, gamma: np.ndarray, beta: np.ndarray, momentum=0.1, eps=1e-5):
    bn = torch.nn.BatchNorm1d(d, eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(to_torch(gamma))
        bn.bias.copy_(to_torch(beta))
    return bn


@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.3, 1e-3)])
def test_batchnorm_matches_torch_train_then_eval(rng, momentum, eps):
    n, d = 6, 4
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    ours = BatchNorm(d, momentum=momentum, eps=eps, dtype=np.float64)
    ours.params["gamma"][...] = gamma
    ours.params["beta"][...] = beta
    theirs = _torch_bn(d, gamma, beta, momentum, eps)
    theirs.train()

    for step in range(3):
        x = rng.standard_normal((n + step, d)) * 2 + 0.5 * step
        dout = rng.standard_normal(x.shape)
        out = ours.forward(x)
        dx = ours.backward(dout)

        theirs.zero_grad()
        xt = to_torch(x, grad=True)
        out_t = theirs(xt)
        out_t.backward(to_torch(dout))

        assert_close(out, out_t)
        assert_close(dx, xt.grad)
        assert_close(ours.grads["gamma"], theirs.weight.grad)
        assert_close(ours.grads["beta"], theirs.bias.grad)
        assert_close(ours.running_mean, theirs.running_mean)
        assert_close(ours.running_var, theirs.running_var)
    assert not np.allclose(ours.running_var, 1.0)  # the statistics did move

    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, d))
    dout = rng.standard_normal(x.shape)
    rm, rv = ours.running_mean.copy(), ours.running_var.copy()
    out = ours.forward(x)
    dx = ours.backward(dout)
    theirs.zero_grad()
    xt = to_torch(x, grad=True)
    out_t = theirs(xt)
    out_t.backward(to_torch(dout))
    assert_close(out, out_t)
    assert_close(dx, xt.grad)
    assert_close(ours.grads["gamma"], theirs.weight.grad)
    assert_close(ours.grads["beta"], theirs.bias.grad)
    np.testing.assert_array_equal(ours.running_mean, rm)  # eval does not update
    np.testing.assert_array_equal(ours.running_var, rv)


def test_batchnorm_eval_accepts_batch_of_one(rng):
    bn = BatchNorm(3, dtype=np.float64).eval()
    x = rng.standard_normal((1, 3))
    np.testing.assert_allclose(bn.forward(x), x / np.sqrt(1 + 1e-5), rtol=1e-12)


def test_dropout_eval_is_identity(rng):
    layer = Dropout(0.5, rng=np.random.default_rng(0)).eval()
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    out = layer.forward(x)
    dx = layer.backward(dout)
    xt = to_torch(x, grad=True)
    out_t = F.dropout(xt, p=0.5, training=False)
    out_t.backward(to_torch(dout))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dx, dout)
    np.testing.assert_array_equal(out, to_numpy(out_t))
    np.testing.assert_array_equal(dx, to_numpy(xt.grad))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_train_inverted_scaling(p):
    layer = Dropout(p, rng=np.random.default_rng(7))
    x = np.full((400, 250), 2.0)  # 100 000 units
    out = layer.forward(x)
    scale = 1.0 / (1.0 - p)
    kept = out != 0
    # every unit is either dropped or scaled by exactly 1/(1-p)
    np.testing.assert_allclose(out[kept], 2.0 * scale, rtol=1e-15)
    keep_rate = kept.mean()
    sd = np.sqrt(p * (1 - p) / x.size)
    assert abs(keep_rate - (1 - p)) < 5 * sd, keep_rate
    # expected activation is preserved (that is what "inverted" dropout means)
    assert abs(out.mean() - 2.0) < 5 * 2.0 * scale * sd

    dout = np.random.default_rng(8).standard_normal(x.shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx[~kept], 0.0)  # same mask as forward
    np.testing.assert_allclose(dx[kept], dout[kept] * scale, rtol=1e-15)


def test_dropout_float32_and_p_zero(rng):
    x = rng.standard_normal((50, 20)).astype(np.float32)
    out = Dropout(0.5, rng=np.random.default_rng(1)).forward(x)
    assert out.dtype == np.float32
    layer = Dropout(0.0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_new_mask_each_forward():
    layer = Dropout(0.5, rng=np.random.default_rng(3))
    x = np.ones((20, 20))
    assert not np.array_equal(layer.forward(x), layer.forward(x))


# ---------------------------------------------------------------------------
# 6. bad input -> InputError naming layer, argument, expected and received
# ---------------------------------------------------------------------------


def _affine32(d=4, h=3):
    return Affine.create(d, h, np.random.default_rng(0))


def test_affine_create_defaults():
    layer = _affine32(4, 3)
    assert layer.params["W"].shape == (4, 3) and layer.params["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["b"], np.zeros(3, np.float32))
    assert layer.grads["W"].shape == (4, 3) and layer.grads["b"].shape == (3,)


def test_affine_wrong_last_dim():
    with pytest.raises(InputError) as e:
        _affine32().forward(np.zeros((2, 5), np.float32))
    msg = str(e.value)
    assert msg.startswith("Affine:") and " x " in msg
    assert "(N, 4)" in msg and "(2, 5)" in msg


def test_affine_3d_input():
    with pytest.raises(InputError) as e:
        _affine32().forward(np.zeros((2, 3, 4), np.float32))
    msg = str(e.value)
    assert "Affine" in msg and " x " in msg and "(N, 4)" in msg and "(2, 3, 4)" in msg


def test_affine_float64_into_float32_layer():
    with pytest.raises(InputError) as e:
        _affine32().forward(np.zeros((2, 4), np.float64))
    msg = str(e.value)
    assert "Affine" in msg and " x " in msg and "float32" in msg and "float64" in msg


def test_affine_int_input():
    with pytest.raises(InputError) as e:
        _affine32().forward(np.zeros((2, 4), np.int64))
    msg = str(e.value)
    assert "Affine" in msg and " x " in msg and "float" in msg and "int64" in msg


def test_affine_empty_batch():
    with pytest.raises(InputError) as e:
        _affine32().forward(np.zeros((0, 4), np.float32))
    msg = str(e.value)
    assert "Affine" in msg and " x " in msg and "empty" in msg and "(0, 4)" in msg


def test_affine_not_an_array():
    with pytest.raises(InputError, match=r"Affine: x must be a numpy array, got list"):
        _affine32().forward([[0.0] * 4])


def test_affine_bad_parameter_shapes():
    with pytest.raises(InputError, match=r"\(3, 4\).*\(3,\)"):
        Affine(np.zeros((3, 4)), np.zeros(3))


def test_batchnorm_batch_of_one_in_training():
    bn = BatchNorm(3)
    with pytest.raises(InputError) as e:
        bn.forward(np.zeros((1, 3), np.float32))
    msg = str(e.value)
    assert "BatchNorm" in msg and "at least 2" in msg and "x" in msg and "(1, 3)" in msg
    np.testing.assert_array_equal(bn.running_mean, 0)  # nothing was updated


def test_batchnorm_wrong_width():
    with pytest.raises(InputError, match=r"BatchNorm: x expected shape \(N, 3\), got \(2, 4\)"):
        BatchNorm(3).forward(np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("p", [1, 1.0, 1.5, -0.1])
def test_dropout_bad_p(p):
    with pytest.raises(InputError) as e:
        Dropout(p)
    msg = str(e.value)
    assert "Dropout" in msg and "p" in msg and "[0, 1)" in msg and str(p) in msg


# ---------------------------------------------------------------------------
# 7. backward is pure
# ---------------------------------------------------------------------------


def _layers(rng, d):
    bn = _batchnorm(rng, d)
    return {
        "affine": Affine(rng.standard_normal((d, 3)), rng.standard_normal(3)),
        "relu": ReLU(),
        "sigmoid": Sigmoid(),
        "tanh": Tanh(),
        "dropout": Dropout(0.5, rng=np.random.default_rng(0)),
        "dropout_eval": Dropout(0.5, rng=np.random.default_rng(0)).eval(),
        "batchnorm_train": bn,
        "batchnorm_eval": _batchnorm(rng, d).eval(),
    }


@pytest.mark.parametrize("name", ["affine", "relu", "sigmoid", "tanh", "dropout",
                                  "dropout_eval", "batchnorm_train", "batchnorm_eval"])
def test_backward_twice_same_result_and_inputs_untouched(rng, name):
    d = 4
    assert_backward_is_pure(_layers(rng, d)[name], rng.standard_normal((5, d)), rng, name)


def test_relu_backward_does_not_zero_dout():
    """Book 1's ReLU wrote zeros into dout in place; ours must not."""
    relu = ReLU()
    relu.forward(np.array([[-1.0, 2.0, -3.0]]))
    dout = np.array([[5.0, 6.0, 7.0]])
    dx = relu.backward(dout)
    np.testing.assert_array_equal(dout, [[5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(dx, [[0.0, 6.0, 0.0]])
    assert not np.shares_memory(dx, dout)
    np.testing.assert_array_equal(relu.backward(dout), [[0.0, 6.0, 0.0]])


def test_sigmoid_backward_uses_output_not_dout():
    """The classic slip: a Sigmoid whose backward computes dout * (1 - dout)."""
    sig = Sigmoid()
    y = sig.forward(np.array([0.0, 2.0]))
    dout = np.array([3.0, 3.0])
    np.testing.assert_allclose(sig.backward(dout), 3.0 * y * (1 - y), rtol=1e-15)
    np.testing.assert_allclose(y[0], 0.5)


# ---------------------------------------------------------------------------
# 8. one sigmoid and one dtype check for the whole library
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_sigmoid_is_core_sigmoid_bit_for_bit(rng, dtype):
    """Sigmoid, SigmoidWithLoss, NegativeSamplingLoss and the cells' sigmoid
    all call core.sigmoid (the tanh form: finite at |x| = 800)."""
    from zerokara.layers import NegativeSamplingLoss, SigmoidWithLoss, recurrent, sigmoid

    x = (rng.standard_normal((6, 5)) * 30).astype(dtype)
    x[0, :2] = [-800, 800]
    y = sigmoid(x)
    assert y.dtype == dtype and np.all(np.isfinite(y)) and y[0, 0] == 0 and y[0, 1] == 1
    assert recurrent.sigmoid is sigmoid
    np.testing.assert_array_equal(Sigmoid().forward(x), y)
    loss = SigmoidWithLoss()
    loss.forward(x, (x > 0).astype(dtype))
    np.testing.assert_array_equal(loss.y, y)
    W, h = rng.standard_normal((9, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    ns = NegativeSamplingLoss(W, np.arange(9), sample_size=2, rng=np.random.default_rng(0))
    negatives = np.array([[1, 2], [3, 4], [5, 6]])
    ns.forward(h, np.array([0, 7, 8]), negatives)
    np.testing.assert_array_equal(ns.y, sigmoid(ns.embed_dot.forward(h, np.array(
        [[0, 1, 2], [7, 3, 4], [8, 5, 6]]))))


@pytest.mark.parametrize("make, arg", [
    (lambda: (Affine.create(4, 3, np.random.default_rng(0)), (np.zeros((2, 4)),)), "x"),
    (lambda: (BatchNorm(4), (np.zeros((2, 4)),)), "x"),
])
def test_dtype_mismatch_message_names_layer_argument_expected_received(make, arg):
    layer, inputs = make()
    with pytest.raises(InputError) as e:
        layer.forward(*inputs)
    msg = str(e.value)
    name = type(layer).__name__
    assert msg.startswith(f"{name}: {arg} expected dtype float32 (the layer's dtype), got float64")
    assert ".astype(np.float32)" in msg
