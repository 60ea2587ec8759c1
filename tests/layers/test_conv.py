"""Convolution layers (book 1, chapter 7): im2col/col2im, Convolution, Pooling, Flatten and
the readable SimpleConvolution / SimplePooling.

im2col has book 1's layout and col2im is its adjoint; every layer passes the numerical
gradient check on random shapes (non-square images and kernels, strides 1-3, padding
0-2), matches torch's conv2d / max_pool2d / avg_pool2d with the same weights in float64,
and equals its readable reference to 1e-10; bad input raises a one-line InputError;
backward never writes into dout or its cache.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_backward_is_pure, assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import (Affine, Convolution, Flatten, Im2colConvolution, Pooling, ReLU, Sequential,
                             SimpleConvolution, SimplePooling, col2im, im2col)
from zerokara.layers.conv import input_grad

SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def geometries(draw, pool: bool = False) -> dict:
    """N, C in 1-3; H, W in 3-9; a kernel up to 5x5 (pool: 4x4); stride 1-3; pad 0-2
    (pool: at most half the kernel, torch's rule), drawn so (H + 2 pad - FH) divides by
    the stride. Every combination of kernel, stride and pad has such H and W in 3-9."""
    k = 4 if pool else 5
    fh, fw = draw(st.integers(1, k)), draw(st.integers(1, k))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    if pool:
        pad = min(pad, fh // 2, fw // 2)

    def sizes(f: int) -> list[int]:
        return [s for s in range(3, 10) if s + 2 * pad >= f and (s + 2 * pad - f) % stride == 0]

    return {"n": draw(st.integers(1, 3)), "c": draw(st.integers(1, 3)),
            "h": draw(st.sampled_from(sizes(fh))), "w": draw(st.sampled_from(sizes(fw))),
            "fh": fh, "fw": fw, "stride": stride, "pad": pad}


def image(rng: np.random.Generator, g: dict) -> np.ndarray:
    return rng.standard_normal((g["n"], g["c"], g["h"], g["w"]))


def conv(rng: np.random.Generator, g: dict, fn: int, cls=Convolution):
    W = rng.standard_normal((fn, g["c"], g["fh"], g["fw"]))
    return cls(W, rng.standard_normal(fn), stride=g["stride"], pad=g["pad"])


def pool(g: dict, mode: str, cls=Pooling):
    return cls(g["fh"], g["fw"], stride=g["stride"], pad=g["pad"], mode=mode)


def out_size(size: int, f: int, g: dict) -> int:
    return (size + 2 * g["pad"] - f) // g["stride"] + 1


# ---------------------------------------------------------------------------
# 1. im2col and col2im
# ---------------------------------------------------------------------------


def test_im2col_shapes_of_book_1():
    """Book 1, section 7.4.3: a 5x5 filter over 3-channel 7x7 images."""
    rng = np.random.default_rng(0)
    assert im2col(rng.random((1, 3, 7, 7)), 5, 5, stride=1, pad=0).shape == (9, 75)
    assert im2col(rng.random((10, 3, 7, 7)), 5, 5, stride=1, pad=0).shape == (90, 75)


@SETTINGS
@given(g=geometries(), seed=seeds)
def test_im2col_rows_are_the_windows_in_book_1_layout(g, seed):
    """Row (n*OH + i)*OW + j is the window at output (i, j) of image n, flattened (C, FH, FW)."""
    x = image(np.random.default_rng(seed), g)
    s, p, fh, fw = g["stride"], g["pad"], g["fh"], g["fw"]
    oh, ow = out_size(g["h"], fh, g), out_size(g["w"], fw, g)
    col = im2col(x, fh, fw, s, p)
    assert col.shape == (g["n"] * oh * ow, g["c"] * fh * fw) and col.dtype == x.dtype
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
    for n in range(g["n"]):
        for i in range(oh):
            for j in range(ow):
                window = xp[n, :, i * s : i * s + fh, j * s : j * s + fw]
                np.testing.assert_array_equal(col[(n * oh + i) * ow + j], window.ravel())


@SETTINGS
@given(g=geometries(), seed=seeds)
def test_col2im_is_the_adjoint_of_im2col(g, seed):
    """<im2col(x), y> == <x, col2im(y)>: col2im is exactly im2col's backward."""
    rng = np.random.default_rng(seed)
    x = image(rng, g)
    col = im2col(x, g["fh"], g["fw"], g["stride"], g["pad"])
    y = rng.standard_normal(col.shape)
    back = col2im(y, x.shape, g["fh"], g["fw"], g["stride"], g["pad"])
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(col * y), np.sum(x * back), rtol=1e-12)


def test_col2im_adds_where_windows_overlap():
    """Each pixel receives one gradient per window that covers it: a 2x2 window at
    stride 1 covers the centre of a 3x3 image 4 times, the corners once."""
    col = np.ones((4, 4))
    np.testing.assert_array_equal(col2im(col, (1, 1, 3, 3), 2, 2)[0, 0],
                                  [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    # with padding 1 the border windows reach outside: what lands there is dropped
    np.testing.assert_array_equal(col2im(np.ones((16, 4)), (1, 1, 3, 3), 2, 2, 1, 1)[0, 0],
                                  np.full((3, 3), 4.0))


def test_im2col_keeps_float32_and_pads_with_fill():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    col = im2col(x, 2, 2, stride=2, pad=1, fill=-np.inf)
    assert col.dtype == np.float32
    np.testing.assert_array_equal(col[0], [-np.inf, -np.inf, -np.inf, 0])


# ---------------------------------------------------------------------------
# 2. gradient check on random shapes (float64)
# ---------------------------------------------------------------------------


def names(report) -> set[str]:
    return {e.name for e in report.entries}


@SETTINGS
@given(g=geometries(), fn=st.integers(1, 3), seed=seeds)
def test_gradcheck_convolution(g, fn, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(conv(rng, g, fn), image(rng, g))
    assert report.ok and not report.notes, str(report)
    assert names(report) == {"x", "W", "b"}


@SETTINGS
@given(g=geometries(pool=True), seed=seeds, mode=st.sampled_from(["max", "avg"]))
def test_gradcheck_pooling(g, seed, mode):
    # random normal inputs: two values of a window within eps of each other are improbable
    report = gradcheck(pool(g, mode), image(np.random.default_rng(seed), g))
    assert report.ok and not report.notes, str(report)
    assert names(report) == {"x"}


@SETTINGS
@given(g=geometries(), seed=seeds)
def test_gradcheck_flatten(g, seed):
    report = gradcheck(Flatten(), image(np.random.default_rng(seed), g))
    assert report.ok and not report.notes, str(report)


def test_gradcheck_small_convnet():
    """Book 1's SimpleConvNet in miniature: conv - relu - pool - flatten - affine."""
    rng = np.random.default_rng(7)
    net = Sequential(
        Convolution.create(2, 3, 3, 3, rng, pad=1, init="he", dtype=np.float64),
        ReLU(),
        Pooling(2, 2, stride=2),
        Flatten(),
        Affine.create(3 * 3 * 2, 4, rng, init="he", dtype=np.float64),
    )
    net["convolution1"].params["b"][...] = rng.standard_normal(3)
    report = gradcheck(net, rng.standard_normal((2, 2, 6, 4)))
    assert report.ok and not report.notes, str(report)
    assert names(report) == {"x", "convolution1.W", "convolution1.b", "affine1.W", "affine1.b"}


def test_gradcheck_catches_col2im_that_overwrites_overlaps(monkeypatch, rng):
    """A col2im with ``=`` where it must add loses the gradients of overlapping windows:
    the check must fail on x, so the checks above are not vacuous."""

    def col2im_assigning(col, shape, fh, fw, stride=1, pad=0):
        N, C, H, W = shape
        oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
        cols = col.reshape(N, oh, ow, C, fh, fw)
        img = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
        for y in range(fh):
            for x in range(fw):
                img[:, :, y : y + stride * oh : stride, x : x + stride * ow : stride] = \
                    cols[:, :, :, :, y, x].transpose(0, 3, 1, 2)
        return img[:, :, pad : pad + H, pad : pad + W]

    # average pooling with overlapping windows goes through col2im
    monkeypatch.setattr("zerokara.layers.pooling.col2im", col2im_assigning)
    report = gradcheck(Pooling(2, 2, stride=1, mode="avg"), rng.standard_normal((2, 2, 5, 4)))
    assert not report.ok and not report["x"].ok


@given(geometries(), st.integers(1, 4), seeds)
@SETTINGS
def test_input_grad_by_offset_is_col2im_of_dcol(g, fn, seed):
    """Convolution's dx, one kernel offset at a time, is book 1's col2im(dout2 @ W)."""
    rng = np.random.default_rng(seed)
    x = image(rng, g)
    W = rng.standard_normal((fn, g["c"], g["fh"], g["fw"]))
    col = im2col(x, g["fh"], g["fw"], g["stride"], g["pad"])
    dout2 = rng.standard_normal((col.shape[0], fn))  # (N*OH*OW, FN), book 1's layout
    want = col2im(dout2 @ W.reshape(fn, -1), x.shape, g["fh"], g["fw"], g["stride"], g["pad"])
    n, oh_ow = x.shape[0], col.shape[0] // x.shape[0]
    dout_t = dout2.reshape(n, oh_ow, fn).transpose(2, 0, 1).reshape(fn, -1)  # (FN, N*OH*OW)
    got = input_grad(W, dout_t, x.shape, g["stride"], g["pad"])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# 3. parity with PyTorch (float64)
# ---------------------------------------------------------------------------


@SETTINGS
@given(g=geometries(), fn=st.integers(1, 3), seed=seeds)
def test_convolution_matches_torch_conv2d(g, fn, seed):
    rng = np.random.default_rng(seed)
    layer = conv(rng, g, fn)
    W, b = layer.params["W"].copy(), layer.params["b"].copy()
    x = image(rng, g)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)

    xt, Wt, bt = to_torch(x, grad=True), to_torch(W, grad=True), to_torch(b, grad=True)
    out_t = F.conv2d(xt, Wt, bt, stride=g["stride"], padding=g["pad"])  # same (FN, C, FH, FW) layout
    out_t.backward(to_torch(dout))
    assert out.shape == tuple(out_t.shape) == (g["n"], fn, out_size(g["h"], g["fh"], g),
                                               out_size(g["w"], g["fw"], g))
    assert_close(out, out_t, rtol=1e-5, atol=1e-5)
    assert_close(dx, xt.grad, rtol=1e-5, atol=1e-5)
    assert_close(layer.grads["W"], Wt.grad, rtol=1e-5, atol=1e-5)
    assert_close(layer.grads["b"], bt.grad, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(g=geometries(pool=True), seed=seeds, mode=st.sampled_from(["max", "avg"]))
def test_pooling_matches_torch(g, seed, mode):
    """max_pool2d pads with -inf; avg_pool2d counts the zero padding (count_include_pad)."""
    rng = np.random.default_rng(seed)
    layer = pool(g, mode)
    x = image(rng, g)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)

    xt = to_torch(x, grad=True)
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    out_t = fn(xt, (g["fh"], g["fw"]), stride=g["stride"], padding=g["pad"])
    out_t.backward(to_torch(dout))
    assert out.shape == tuple(out_t.shape)
    assert_close(out, out_t, rtol=1e-5, atol=1e-5)
    assert_close(dx, xt.grad, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# 4. the readable references compute the same functions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SimpleConvolution, Im2colConvolution])
@SETTINGS
@given(g=geometries(), fn=st.integers(1, 3), seed=seeds)
def test_references_equal_convolution(cls, g, fn, seed):
    """The loop over output positions, and book 1's dcol + col2im backward, give the fast
    layer's numbers."""
    rng = np.random.default_rng(seed)
    fast = conv(rng, g, fn)
    ref = cls(fast.params["W"].copy(), fast.params["b"].copy(), g["stride"], g["pad"])
    x = image(rng, g)
    out = fast.forward(x)
    assert_close(ref.forward(x), out)
    dout = rng.standard_normal(out.shape)
    assert_close(ref.backward(dout), fast.backward(dout))
    for k in ("W", "b"):
        assert_close(ref.grads[k], fast.grads[k])


@SETTINGS
@given(g=geometries(pool=True), seed=seeds, mode=st.sampled_from(["max", "avg"]))
def test_simple_pooling_equals_pooling(g, seed, mode):
    rng = np.random.default_rng(seed)
    fast, ref = pool(g, mode), pool(g, mode, SimplePooling)
    x = image(rng, g)
    out = fast.forward(x)
    assert_close(ref.forward(x), out)
    dout = rng.standard_normal(out.shape)
    assert_close(ref.backward(dout), fast.backward(dout))


@pytest.mark.parametrize("cls", [Pooling, SimplePooling])
def test_max_pooling_tie_goes_to_the_first_pixel_of_the_window(cls):
    layer = cls(2, 2)
    layer.forward(np.ones((1, 1, 2, 4)))
    dx = layer.backward(np.array([[[[3.0, 5.0]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[3, 0, 5, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("cls", [Convolution, SimpleConvolution])
def test_convolution_without_input_grad(cls, rng):
    layer = cls.create(2, 3, 3, 2, rng, dtype=np.float64)
    full = cls(layer.params["W"].copy(), layer.params["b"].copy())
    layer.input_grad = False
    x = rng.standard_normal((2, 2, 5, 4))
    dout = rng.standard_normal(layer.forward(x).shape)
    full.forward(x)
    assert layer.backward(dout) is None
    assert full.backward(dout) is not None
    for k in ("W", "b"):
        assert_close(layer.grads[k], full.grads[k])


# ---------------------------------------------------------------------------
# 5. create, defaults and dtype
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Convolution, SimpleConvolution])
def test_create_defaults_float32(cls):
    layer = cls.create(3, 8, 5, 4, np.random.default_rng(0), stride=2, pad=1)
    assert type(layer) is cls
    W, b = layer.params["W"], layer.params["b"]
    assert W.shape == (8, 3, 5, 4) and W.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_array_equal(b, 0)
    assert abs(W.std() - 0.01) < 0.002  # book 1's weight_init_std
    assert (layer.stride, layer.pad) == (2, 1)
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6)).astype(np.float32)
    out = layer.forward(x)
    assert out.shape == (2, 8, 3, 3) and out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert layer.grads["W"].dtype == np.float32


@pytest.mark.parametrize("init, std", [("he", np.sqrt(2 / 144)), ("xavier", np.sqrt(1 / 144)), (0.3, 0.3)])
def test_create_init_uses_fan_in_c_fh_fw(init, std):
    """fan-in is C*FH*FW = 16*3*3 = 144, not FN (W.shape[0])."""
    W = Convolution.create(16, 64, 3, 3, np.random.default_rng(0), init=init).params["W"]
    assert abs(W.std() - std) < 0.03 * std


def test_pooling_stride_defaults_to_the_pool_size():
    layer = Pooling(2, 2)
    assert layer.stride == 2 and layer.mode == "max"
    assert layer.forward(np.zeros((1, 1, 4, 6))).shape == (1, 1, 2, 3)
    assert Pooling(3, 2, stride=1).stride == 1


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_keeps_float32(mode):
    layer = Pooling(2, 2, mode=mode)
    out = layer.forward(np.ones((2, 3, 4, 4), np.float32))
    assert out.dtype == np.float32 and layer.backward(out).dtype == np.float32


def test_flatten_shapes():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    layer = Flatten()
    out = layer.forward(x)
    np.testing.assert_array_equal(out, x.reshape(2, 60))
    np.testing.assert_array_equal(layer.backward(out), x)


# ---------------------------------------------------------------------------
# 6. bad input -> InputError naming layer, argument, expected and received
# ---------------------------------------------------------------------------


def _conv32(cls=Convolution, **kw):
    return cls.create(3, 4, 3, 3, np.random.default_rng(0), **kw)


BOTH_CONV = pytest.mark.parametrize("cls", [Convolution, SimpleConvolution])
BOTH_POOL = pytest.mark.parametrize("cls", [Pooling, SimplePooling])


@BOTH_CONV
def test_convolution_wrong_rank(cls):
    with pytest.raises(InputError, match=r": x expected shape \(N, 3, H, W\), got \(3, 7, 7\)$") as e:
        _conv32(cls).forward(np.zeros((3, 7, 7), np.float32))
    assert str(e.value).startswith(f"{cls.__name__}:")


@BOTH_CONV
def test_convolution_wrong_channel_count(cls):
    with pytest.raises(InputError) as e:
        _conv32(cls).forward(np.zeros((2, 1, 7, 7), np.float32))
    assert str(e.value) == (f"{cls.__name__}: x expected shape (N, 3, H, W) (3 channels), "
                            "got (2, 1, 7, 7) (1 channels)")


@BOTH_CONV
def test_convolution_kernel_larger_than_padded_input(cls):
    with pytest.raises(InputError) as e:
        _conv32(cls).forward(np.zeros((2, 3, 2, 7), np.float32))
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}: kernel FH = 3 is larger than the padded input")
    assert "(H + 2*pad - FH) = (2 + 0 - 3) = -1 < 0" in msg and "(2, 3, 2, 7)" in msg
    assert "\n" not in msg


@BOTH_CONV
def test_convolution_stride_does_not_divide(cls):
    with pytest.raises(InputError) as e:
        _conv32(cls, stride=3).forward(np.zeros((2, 3, 7, 7), np.float32))
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}: (H + 2*pad - FH) = (7 + 0 - 3) = 4 is not divisible by stride 3")
    assert "OH = (H + 2*pad - FH) // stride + 1" in msg and "\n" not in msg


@BOTH_CONV
def test_convolution_float64_into_float32_layer(cls):
    with pytest.raises(InputError) as e:
        _conv32(cls).forward(np.zeros((2, 3, 7, 7)))
    assert str(e.value).startswith(
        f"{cls.__name__}: x expected dtype float32 (the layer's dtype), got float64")


@BOTH_CONV
def test_convolution_empty_batch_and_int_input(cls):
    with pytest.raises(InputError, match=r"x is an empty batch \(shape \(0, 3, 7, 7\)\)"):
        _conv32(cls).forward(np.zeros((0, 3, 7, 7), np.float32))
    with pytest.raises(InputError, match=r"x expected a float array, got dtype int64"):
        _conv32(cls).forward(np.zeros((2, 3, 7, 7), np.int64))


def test_convolution_bad_parameters():
    with pytest.raises(InputError, match=r"Convolution: expected W \(FN, C, FH, FW\) and b \(FN,\), "
                                         r"got W \(4, 3, 3\), b \(4,\)"):
        Convolution(np.zeros((4, 3, 3)), np.zeros(4))
    with pytest.raises(InputError, match=r"got W \(4, 3, 3, 3\), b \(3,\)"):
        Convolution(np.zeros((4, 3, 3, 3)), np.zeros(3))
    with pytest.raises(InputError, match=r"Convolution: stride expected an integer >= 1, got 0"):
        Convolution(np.zeros((4, 3, 3, 3)), np.zeros(4), stride=0)
    with pytest.raises(InputError, match=r"Convolution: pad expected an integer >= 0, got -1"):
        Convolution(np.zeros((4, 3, 3, 3)), np.zeros(4), pad=-1)


@BOTH_POOL
def test_pooling_bad_input(cls):
    name = cls.__name__
    with pytest.raises(InputError, match=rf"^{name}: x expected shape \(N, C, H, W\), got \(4, 4\)$"):
        cls(2, 2).forward(np.zeros((4, 4)))
    with pytest.raises(InputError) as e:
        cls(2, 2).forward(np.zeros((1, 1, 5, 4)))
    assert str(e.value).startswith(
        f"{name}: (H + 2*pad - pool_h) = (5 + 0 - 2) = 3 is not divisible by stride 2")
    with pytest.raises(InputError, match=rf"^{name}: kernel pool_w = 3 is larger than the padded input"):
        cls(3, 3, stride=1).forward(np.zeros((1, 1, 4, 2)))


def test_pooling_bad_options():
    with pytest.raises(InputError, match=r"Pooling: stride must be given for a non-square pool \(2, 3\)"):
        Pooling(2, 3)
    with pytest.raises(InputError, match=r"Pooling: pad expected at most half the pool .* = \(1, 1\), got 2"):
        Pooling(2, 3, stride=1, pad=2)
    with pytest.raises(InputError, match=r"Pooling: mode expected 'max' or 'avg', got 'mean'"):
        Pooling(2, 2, mode="mean")
    with pytest.raises(InputError, match=r"Pooling: pool_h expected an integer >= 1, got 0"):
        Pooling(0, 2, stride=1)


def test_flatten_and_col2im_bad_input():
    with pytest.raises(InputError, match=r"Flatten: x expected shape \(N, C, H, W\), got \(5,\)"):
        Flatten().forward(np.zeros(5))
    with pytest.raises(InputError, match=r"col2im: col expected shape \(N\*OH\*OW, C\*FH\*FW\) = \(4, 4\)"):
        col2im(np.zeros((4, 3)), (1, 1, 3, 3), 2, 2)


# ---------------------------------------------------------------------------
# 7. backward is pure: dout and the cache untouched, a second call the same
# ---------------------------------------------------------------------------


def _pure_layers(rng):
    W, b = rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    return {
        "conv": Convolution(W.copy(), b.copy(), stride=1, pad=1),
        "simple_conv": SimpleConvolution(W.copy(), b.copy(), stride=1, pad=1),
        "max": Pooling(3, 3, stride=1, pad=1),
        "avg": Pooling(3, 3, stride=1, pad=1, mode="avg"),
        "simple_max": SimplePooling(3, 3, stride=1, pad=1),
        "simple_avg": SimplePooling(3, 3, stride=1, pad=1, mode="avg"),
        "flatten": Flatten(),
    }


@pytest.mark.parametrize("name", ["conv", "simple_conv", "max", "avg", "simple_max", "simple_avg",
                                  "flatten"])
def test_backward_twice_same_result_and_inputs_untouched(rng, name):
    assert_backward_is_pure(_pure_layers(rng)[name], rng.standard_normal((2, 2, 5, 4)), rng, name)
