"""The language models' layers: TimeEmbedding, TimeAffine (plain and with a
transposed, tied W) and TimeSoftmaxWithLoss (with and without ignore_label).

Each has its float64 gradient check and its PyTorch parity test side by side
(F.embedding, x @ W + b, F.cross_entropy with ignore_index); plus the sparse
RowGrad of the embedding summing repeated ids, pure backward, and clear errors.
"""

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
from zerokara.layers import RowGrad, TimeAffine, TimeEmbedding, TimeSoftmaxWithLoss

SETTINGS = settings(max_examples=8, deadline=None)
seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------- TimeEmbedding


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 4), v=st.integers(1, 6), d=st.integers(1, 4), seed=seeds)
def test_time_embedding_gradcheck(n, t, v, d, seed):
    rng = np.random.default_rng(seed)
    layer = TimeEmbedding(rng.standard_normal((v, d)))
    ids = rng.integers(0, v, (n, t))  # small v: ids repeat, and their gradients must add up
    rep = gradcheck(layer, ids)
    assert rep.ok, str(rep)
    assert {e.name for e in rep.entries} == {"W"}


def test_time_embedding_matches_torch_and_sums_repeats(rng):
    W = rng.standard_normal((7, 3))
    ids = np.array([[1, 4, 1], [6, 1, 0]])
    dout = rng.standard_normal((2, 3, 3))
    layer = TimeEmbedding(W.copy())
    out = layer.forward(ids)
    assert layer.backward(dout) is None  # word ids have no gradient
    g = layer.grads["W"]
    assert isinstance(g, RowGrad) and g.idx.tolist() == [0, 1, 4, 6]  # only the rows looked up

    Wt = to_torch(W, grad=True)
    ot = F.embedding(torch.from_numpy(ids), Wt)
    ot.backward(torch.from_numpy(dout))
    assert_close(out, ot)
    assert_close(np.asarray(g), Wt.grad)
    assert_close(np.asarray(g)[1], dout[0, 0] + dout[0, 2] + dout[1, 1])  # id 1 used three times


def test_time_embedding_backward_is_pure(rng):
    layer = TimeEmbedding(rng.standard_normal((5, 2)))
    ids = rng.integers(0, 5, (2, 4))
    layer.forward(ids)
    dout = rng.standard_normal((2, 4, 2))
    before = dout.copy()
    layer.backward(dout)
    first = np.asarray(layer.grads["W"])
    layer.backward(dout)
    np.testing.assert_array_equal(first, np.asarray(layer.grads["W"]))
    np.testing.assert_array_equal(dout, before)


@pytest.mark.parametrize("ids,message", [
    (np.array([[0, 5]]), "token id 5 out of range; expected ids in [0, 4] (vocabulary size 5)"),
    (np.array([[-1, 2]]), "token id -1 out of range"),
    (np.array([0, 1]), "ids expected shape (N, T), got (2,)"),
    (np.array([[0.0, 1.0]]), "ids expected an integer array, got float64"),
])
def test_time_embedding_bad_ids(ids, message):
    layer = TimeEmbedding(np.zeros((5, 2), dtype=np.float32))
    with pytest.raises(InputError) as info:
        layer.forward(ids)
    assert message in str(info.value) and "TimeEmbedding" in str(info.value)


# ---------------------------------------------------------------- TimeAffine


def make_affine(rng, d: int, h: int, transpose: bool) -> TimeAffine:
    W = rng.standard_normal((h, d) if transpose else (d, h))
    return TimeAffine(W, rng.standard_normal(h), transpose_W=transpose)


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(1, 4), h=st.integers(1, 5), seed=seeds)
@pytest.mark.parametrize("transpose", [False, True])
def test_time_affine_gradcheck(transpose, n, t, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = make_affine(rng, d, h, transpose)
    rep = gradcheck(layer, rng.standard_normal((n, t, d)))
    assert rep.ok, str(rep)
    assert {e.name for e in rep.entries} == {"xs", "W", "b"}


@pytest.mark.parametrize("transpose", [False, True])
def test_time_affine_matches_torch(rng, transpose):
    layer = make_affine(rng, 4, 6, transpose)
    xs = rng.standard_normal((3, 5, 4))
    dout = rng.standard_normal((3, 5, 6))
    out = layer.forward(xs)
    dxs = layer.backward(dout)

    W, b = to_torch(layer.params["W"], grad=True), to_torch(layer.params["b"], grad=True)
    xt = to_torch(xs, grad=True)
    ot = xt @ (W.T if transpose else W) + b  # b broadcast over batch and time
    ot.backward(torch.from_numpy(dout))
    assert_close(out, ot)
    assert_close(dxs, xt.grad)
    assert_close(layer.grads["W"], W.grad)  # (V, D) when transposed: the embedding's layout
    assert_close(layer.grads["b"], b.grad)


def test_time_affine_transpose_shares_the_array(rng):
    W = rng.standard_normal((6, 4))
    layer = TimeAffine(W, np.zeros(6), transpose_W=True)
    assert layer.params["W"] is W
    W[0, 0] = 100.0  # an update of the shared array is what the layer computes with
    assert layer.forward(np.eye(4)[None])[0, 0, 0] == 100.0


def test_time_affine_skips_input_grad_and_rejects_bad_shapes(rng):
    layer = make_affine(rng, 3, 2, False)
    layer.forward(rng.standard_normal((2, 2, 3)))
    layer.input_grad = False
    assert layer.backward(rng.standard_normal((2, 2, 2))) is None
    with pytest.raises(InputError, match=r"TimeAffine: xs expected shape \(N, T, 3\), got \(2, 3\)"):
        layer.forward(rng.standard_normal((2, 3)))
    with pytest.raises(InputError, match="do not fit"):
        TimeAffine(np.zeros((3, 2)), np.zeros(3))


# ---------------------------------------------------------------- TimeSoftmaxWithLoss


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 4), v=st.integers(2, 6), seed=seeds,
       ignore=st.booleans())
def test_time_softmax_with_loss_gradcheck(n, t, v, seed, ignore):
    rng = np.random.default_rng(seed)
    ts = rng.integers(0, v, (n, t))
    layer = TimeSoftmaxWithLoss(ignore_label=-1 if ignore else None)
    if ignore:
        ts[rng.random((n, t)) < 0.4] = -1
        ts.flat[0] = 0  # at least one counted position
    rep = gradcheck(layer, rng.standard_normal((n, t, v)) * 3, ts)
    assert rep.ok, str(rep)


@pytest.mark.parametrize("ignore", [None, -1, 2])
@pytest.mark.parametrize("dout", [1.0, 0.5])
def test_time_softmax_with_loss_matches_torch_cross_entropy(rng, ignore, dout):
    N, T, V = 4, 6, 5
    xs = rng.standard_normal((N, T, V)) * 4
    ts = rng.integers(0, V, (N, T))
    if ignore == -1:
        ts[:, -2:] = -1  # padding at the ends of the sequences
    layer = TimeSoftmaxWithLoss(ignore_label=ignore)
    loss = layer.forward(xs, ts)
    dxs = layer.backward(dout)

    xt = to_torch(xs, grad=True)
    lt = F.cross_entropy(xt.reshape(N * T, V), torch.from_numpy(ts.reshape(-1)),
                         ignore_index=-100 if ignore is None else ignore)
    (lt * dout).backward()
    assert_close(loss, lt.item())
    assert_close(dxs, xt.grad)
    if ignore is not None:
        assert not np.any(dxs[ts == ignore])  # ignored positions get no gradient


def test_time_softmax_with_loss_extreme_scores_float32(rng):
    xs = (rng.standard_normal((2, 3, 10_000)) * 50).astype(np.float32)
    xs[0, 0, 7] = 1e4  # one enormous score: exp would overflow without the max shift
    ts = rng.integers(0, 10_000, (2, 3))
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    dxs = layer.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(dxs)) and dxs.dtype == np.float32
    lt = F.cross_entropy(torch.from_numpy(xs.astype(np.float64)).reshape(6, -1),
                         torch.from_numpy(ts.reshape(-1)))
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    np.testing.assert_allclose(dxs.sum(axis=-1), 0, atol=1e-6)  # softmax - onehot sums to 0


def test_time_softmax_with_loss_backward_is_pure(rng):
    layer = TimeSoftmaxWithLoss(ignore_label=0)
    ts = np.array([[1, 0, 2]])
    layer.forward(rng.standard_normal((1, 3, 4)), ts)
    a = layer.backward()
    np.testing.assert_array_equal(a, layer.backward())


@pytest.mark.parametrize("ts,message", [
    (np.array([[0, 9]]), "label 9 out of range; expected class ids in [0, 3]"),
    (np.array([[0, 1, 2]]), "ts expected shape (1, 2), got (1, 3)"),
    (np.array([[-1, -1]]), "every target equals ignore_label"),
])
def test_time_softmax_with_loss_bad_targets(ts, message):
    layer = TimeSoftmaxWithLoss(ignore_label=-1)
    with pytest.raises(InputError) as info:
        layer.forward(np.zeros((1, 2, 4)), ts)
    assert message in str(info.value)
