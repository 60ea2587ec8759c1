"""BatchNorm on (N, C, H, W) feature maps (torch's BatchNorm2d): statistics per
channel over N, H and W. Gradient check on random shapes, parity with PyTorch in
float64, clear errors on bad input, pure backward. The (N, D) case is tested in
test_core.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import BatchNorm

SETTINGS = settings(max_examples=12, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def _batchnorm(rng: np.random.Generator, c: int, **kw) -> BatchNorm:
    bn = BatchNorm(c, dtype=np.float64, **kw)
    bn.params["gamma"][...] = rng.standard_normal(c)
    bn.params["beta"][...] = rng.standard_normal(c)
    bn.running_mean = rng.standard_normal(c)
    bn.running_var = rng.uniform(0.5, 2.0, c)
    return bn


def _maps(rng: np.random.Generator, shape) -> np.ndarray:
    """Feature maps whose channels have different means and scales."""
    c = shape[1]
    scale = rng.uniform(0.5, 3.0, c)[None, :, None, None]
    shift = rng.standard_normal(c)[None, :, None, None]
    return rng.standard_normal(shape) * scale + shift


# ---------------------------------------------------------------------------
# 1. gradient check on random shapes (float64)
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(2, 4), c=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5),
       seed=seeds, training=st.booleans())
def test_gradcheck_batchnorm_4d(n, c, h, w, seed, training):
    rng = np.random.default_rng(seed)
    bn = _batchnorm(rng, c).train(training)
    report = gradcheck(bn, _maps(rng, (n, c, h, w)))
    assert report.ok, str(report)
    assert {e.name for e in report.entries} == {"x", "gamma", "beta"}


def test_gradcheck_catches_4d_backward_ignoring_batch_statistics(rng):
    """The correction terms matter in 4-D too (guards the check above from being vacuous)."""

    class NoCorrection(BatchNorm):
        def backward(self, dout):
            super().backward(dout)
            return dout * self.params["gamma"][:, None, None] * self.inv_std[:, None, None]

    bn = NoCorrection(3, dtype=np.float64)
    report = gradcheck(bn, _maps(rng, (2, 3, 3, 2)))
    assert not report.ok
    assert not report["x"].ok
    assert report["gamma"].ok and report["beta"].ok


# ---------------------------------------------------------------------------
# 2. parity with PyTorch (float64)
# ---------------------------------------------------------------------------


def _torch_step(x, dout, gamma, beta, rm_t, rv_t, *, training, momentum, eps):
    """F.batch_norm forward and backward; updates rm_t and rv_t in place when training."""
    xt, gt, bt = to_torch(x, grad=True), to_torch(gamma, grad=True), to_torch(beta, grad=True)
    out_t = F.batch_norm(xt, rm_t, rv_t, gt, bt, training=training, momentum=momentum, eps=eps)
    out_t.backward(to_torch(dout))
    return out_t, xt.grad, gt.grad, bt.grad


@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.3, 1e-3)])
def test_batchnorm_4d_matches_torch_train_then_eval(rng, momentum, eps):
    c = 3
    ours = _batchnorm(rng, c, momentum=momentum, eps=eps)
    gamma, beta = ours.params["gamma"].copy(), ours.params["beta"].copy()
    # torch's F.batch_norm updates running stats with the same convention as ours
    # (running = (1 - momentum) * running + momentum * batch, variance unbiased over
    # the N*H*W values of a channel), so both are compared directly
    rm_t, rv_t = to_torch(ours.running_mean), to_torch(ours.running_var)

    for step, shape in enumerate([(4, c, 5, 3), (2, c, 1, 4), (3, c, 2, 2)]):
        x = _maps(rng, shape) + 0.5 * step
        dout = rng.standard_normal(shape)
        out = ours.forward(x)
        dx = ours.backward(dout)
        out_t, dx_t, dg_t, db_t = _torch_step(x, dout, gamma, beta, rm_t, rv_t,
                                              training=True, momentum=momentum, eps=eps)
        assert out.shape == shape and dx.shape == shape
        assert out.flags.c_contiguous and dx.flags.c_contiguous
        assert_close(out, out_t, rtol=1e-5, atol=1e-5)
        assert_close(dx, dx_t, rtol=1e-5, atol=1e-5)
        assert_close(ours.grads["gamma"], dg_t, rtol=1e-5, atol=1e-5)
        assert_close(ours.grads["beta"], db_t, rtol=1e-5, atol=1e-5)
        assert ours.running_mean.shape == (c,) and ours.running_var.shape == (c,)
        assert_close(ours.running_mean, rm_t, rtol=1e-5, atol=1e-5)
        assert_close(ours.running_var, rv_t, rtol=1e-5, atol=1e-5)

    ours.eval()
    x = _maps(rng, (2, c, 3, 4))
    dout = rng.standard_normal(x.shape)
    rm, rv = ours.running_mean.copy(), ours.running_var.copy()
    out = ours.forward(x)
    dx = ours.backward(dout)
    out_t, dx_t, dg_t, db_t = _torch_step(x, dout, gamma, beta, rm_t, rv_t,
                                          training=False, momentum=momentum, eps=eps)
    assert_close(out, out_t, rtol=1e-5, atol=1e-5)
    assert_close(dx, dx_t, rtol=1e-5, atol=1e-5)
    assert_close(ours.grads["gamma"], dg_t, rtol=1e-5, atol=1e-5)
    assert_close(ours.grads["beta"], db_t, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.running_mean, rm)  # eval does not update
    np.testing.assert_array_equal(ours.running_var, rv)


@SETTINGS
@given(n=st.integers(2, 4), c=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5),
       seed=seeds, training=st.booleans())
def test_batchnorm_4d_matches_torch_random_shapes(n, c, h, w, seed, training):
    rng = np.random.default_rng(seed)
    bn = _batchnorm(rng, c).train(training)
    rm_t, rv_t = to_torch(bn.running_mean), to_torch(bn.running_var)
    x, dout = _maps(rng, (n, c, h, w)), rng.standard_normal((n, c, h, w))
    out = bn.forward(x)
    dx = bn.backward(dout)
    ref = _torch_step(x, dout, bn.params["gamma"], bn.params["beta"], rm_t, rv_t,
                      training=training, momentum=bn.momentum, eps=bn.eps)
    for ours, theirs in zip((out, dx, bn.grads["gamma"], bn.grads["beta"], bn.running_mean,
                             bn.running_var), (*ref, rm_t, rv_t), strict=True):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# 3. per channel: the same numbers as the (N, D) layer on one row per position
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_4d_is_2d_on_positions_as_rows(rng, training):
    """Each of the N*H*W positions is one sample of C features: the 4-D layer gives
    bit for bit what the 2-D layer gives on x moved to (N*H*W, C)."""
    n, c, h, w = 3, 4, 2, 5
    four, two = _batchnorm(np.random.default_rng(1), c), _batchnorm(np.random.default_rng(1), c)
    four.train(training)
    two.train(training)
    x, dout = _maps(rng, (n, c, h, w)), rng.standard_normal((n, c, h, w))

    def rows(a):
        return a.transpose(0, 2, 3, 1).reshape(-1, c)

    out4, dx4 = four.forward(x), four.backward(dout)
    out2, dx2 = two.forward(rows(x)), two.backward(rows(dout))
    np.testing.assert_array_equal(rows(out4), out2)
    np.testing.assert_array_equal(rows(dx4), dx2)
    for k in ("gamma", "beta"):
        np.testing.assert_array_equal(four.grads[k], two.grads[k])
    np.testing.assert_array_equal(four.running_mean, two.running_mean)
    np.testing.assert_array_equal(four.running_var, two.running_var)


def test_4d_train_normalises_each_channel_over_n_h_w(rng):
    bn = BatchNorm(3, dtype=np.float64)
    out = bn.forward(_maps(rng, (4, 3, 5, 6)))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_4d_eval_uses_running_statistics_per_channel(rng):
    bn = _batchnorm(rng, 3).eval()

    def ch(a):  # (C,) -> (1, C, 1, 1): one value per channel, the same at every position
        return a[None, :, None, None]

    for shape in [(2, 3, 4, 3), (1, 3, 1, 1)]:  # eval needs no batch: one value per channel is fine
        x = _maps(rng, shape)
        want = (x - ch(bn.running_mean)) / np.sqrt(ch(bn.running_var) + bn.eps)
        want = want * ch(bn.params["gamma"]) + ch(bn.params["beta"])
        np.testing.assert_allclose(bn.forward(x), want, rtol=1e-12)


def test_4d_float32_and_astype_keep_running_statistics_per_channel(rng):
    bn = BatchNorm(2)
    x = _maps(rng, (3, 2, 4, 4)).astype(np.float32)
    out = bn.forward(x)
    dx = bn.backward(np.ones_like(x))
    assert out.dtype == dx.dtype == np.float32
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float32
    assert bn.running_mean.shape == bn.running_var.shape == (2,)
    # running statistics are not parameters: the state dict holds gamma and beta only,
    # (C,) as in the (N, D) case; astype converts the running statistics too
    assert {k: v.shape for k, v in bn.state_dict().items()} == {"gamma": (2,), "beta": (2,)}
    bn.astype(np.float64)
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float64
    assert bn.running_mean.shape == bn.running_var.shape == (2,)
    assert bn.forward(x.astype(np.float64)).dtype == np.float64


# ---------------------------------------------------------------------------
# 4. bad input -> InputError naming layer, argument, expected and received
# ---------------------------------------------------------------------------


def test_4d_wrong_channel_count():
    bn = BatchNorm(3)
    with pytest.raises(InputError,
                       match=r"^BatchNorm: x expected shape \(N, 3, H, W\), got \(2, 4, 5, 5\)$"):
        bn.forward(np.zeros((2, 4, 5, 5), np.float32))
    np.testing.assert_array_equal(bn.running_mean, 0)  # nothing was updated


def test_4d_channels_last_is_refused():
    """(N, H, W, C) is the slip to catch: C sits in the last axis, not axis 1."""
    with pytest.raises(InputError, match=r"expected shape \(N, 3, H, W\), got \(2, 5, 5, 3\)"):
        BatchNorm(3).forward(np.zeros((2, 5, 5, 3), np.float32))


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 4, 1), (3,)])
def test_3d_and_other_ranks(shape):
    with pytest.raises(InputError) as e:
        BatchNorm(3).forward(np.zeros(shape, np.float32))
    msg = str(e.value)
    shape_txt = str(shape)
    assert msg == f"BatchNorm: x expected shape (N, 3) or (N, 3, H, W), got {shape_txt}"


def test_4d_one_value_per_channel_in_training():
    bn = BatchNorm(3)
    with pytest.raises(InputError) as e:
        bn.forward(np.zeros((1, 3, 1, 1), np.float32))
    msg = str(e.value)
    assert msg.startswith("BatchNorm: x in training mode expected at least 2 values per channel")
    assert "N*H*W >= 2" in msg and "(1, 3, 1, 1)" in msg
    np.testing.assert_array_equal(bn.running_mean, 0)


def test_4d_batch_of_one_with_several_positions_trains(rng):
    """As torch: N = 1 is fine when a channel still has H*W >= 2 values."""
    bn = BatchNorm(2, dtype=np.float64)
    x = _maps(rng, (1, 2, 2, 3))
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)


def test_4d_dtype_and_int_and_empty():
    bn = BatchNorm(3)
    with pytest.raises(InputError, match=r"^BatchNorm: x expected dtype float32 .*got float64"):
        bn.forward(np.zeros((2, 3, 2, 2)))
    with pytest.raises(InputError, match=r"^BatchNorm: x expected a float array, got dtype int64"):
        bn.forward(np.zeros((2, 3, 2, 2), np.int64))
    with pytest.raises(InputError, match=r"^BatchNorm: x is an empty batch \(shape \(0, 3, 2, 2\)\)"):
        bn.forward(np.zeros((0, 3, 2, 2), np.float32))


# ---------------------------------------------------------------------------
# 5. backward is pure
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_4d_backward_twice_same_result_and_inputs_untouched(rng, training):
    bn = _batchnorm(rng, 3).train(training)
    x = _maps(rng, (2, 3, 4, 3))
    x_before = x.copy()
    bn.forward(x)
    dout = rng.standard_normal(x.shape)
    dout_before = dout.copy()
    cache = {k: v.copy() for k, v in vars(bn).items() if isinstance(v, np.ndarray)}
    dx1 = bn.backward(dout)
    dx1_copy = dx1.copy()
    grads1 = {k: g.copy() for k, g in bn.grads.items()}
    dx2 = bn.backward(dout)
    np.testing.assert_array_equal(dout, dout_before)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dx1, dx1_copy)
    np.testing.assert_array_equal(dx2, dx1_copy)
    assert not np.shares_memory(dx1, dout)
    for k, g in bn.grads.items():
        np.testing.assert_array_equal(g, grads1[k])
    for k, v in cache.items():
        np.testing.assert_array_equal(getattr(bn, k), v, err_msg=k)
