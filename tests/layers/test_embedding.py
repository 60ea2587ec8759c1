"""Embedding with repeated ids (gradient check, PyTorch parity), RowGrad, and
the optimizers' sparse row updates against their dense equivalents and
torch.optim.SparseAdam."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import assert_close
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import Embedding, RowGrad, TimeEmbedding
from zerokara.optim import SGD, Adam, Momentum


def repeated_ids(rng, shape, V):
    ids = rng.integers(0, V, shape)
    ids.reshape(-1)[:3] = 2  # id 2 at least three times
    return ids


# ---------------------------------------------------------------------------
# gradient check and PyTorch parity with repeated ids
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_gradcheck_embedding_repeated_ids(rng, shape):
    layer = Embedding(rng.standard_normal((5, 3)))
    ids = repeated_ids(rng, shape, 5)
    report = gradcheck(layer, ids)
    assert report.ok, str(report)
    assert [e.name for e in report.entries] == ["W"]  # ids are data, not differentiated


def test_gradcheck_time_embedding(rng):
    report = gradcheck(TimeEmbedding(rng.standard_normal((6, 4))), repeated_ids(rng, (2, 5), 6))
    assert report.ok, str(report)


def test_backward_matches_torch_embedding_with_repeated_ids(rng):
    V, D = 6, 4
    W = rng.standard_normal((V, D))
    ids = repeated_ids(rng, (5, 3), V)
    dout = rng.standard_normal((5, 3, D))
    layer = Embedding(W.copy())
    out = layer.forward(ids)
    layer.backward(dout)

    emb = torch.nn.Embedding(V, D, dtype=torch.float64)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(W))
    out_t = emb(torch.from_numpy(ids))
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t)
    g = layer.grads["W"]
    assert isinstance(g, RowGrad)
    assert_close(np.asarray(g), emb.weight.grad)
    # the repeated id's row is the sum of its three (or more) gradients
    assert_close(g.rows[list(g.idx).index(2)], dout.reshape(-1, D)[ids.reshape(-1) == 2].sum(axis=0))


def test_backward_is_repeatable(rng):
    layer = Embedding(rng.standard_normal((4, 2)))
    layer.forward(np.array([1, 1, 3]))
    dout = rng.standard_normal((3, 2))
    layer.backward(dout)
    first = np.asarray(layer.grads["W"])
    layer.backward(dout)
    assert_close(np.asarray(layer.grads["W"]), first)  # set, not accumulated across calls


@pytest.mark.parametrize("ids,message", [
    (np.array([0, 5]), "token id 5 out of range; expected ids in [0, 4]"),
    (np.array([-1]), "token id -1 out of range"),
    (np.array([0.0, 1.0]), "ids expected an integer array, got float64"),
    (np.zeros(0, dtype=int), "ids is empty"),
])
def test_bad_ids(ids, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Embedding(np.zeros((5, 2))).forward(ids)


# ---------------------------------------------------------------------------
# RowGrad
# ---------------------------------------------------------------------------


def test_rowgrad_accumulate_sums_repeats_into_sorted_distinct_rows(rng):
    ids = np.array([4, 1, 4, 0, 1, 4])
    g = rng.standard_normal((6, 3))
    r = RowGrad.accumulate(ids, g, (5, 3))
    assert list(r.idx) == [0, 1, 4]
    dense = np.zeros((5, 3))
    np.add.at(dense, ids, g)
    assert_close(r.dense(), dense)
    assert_close(np.asarray(r), dense)
    assert r.sq_norm() == pytest.approx(float(np.sum(dense ** 2)))


def test_rowgrad_add_and_scale(rng):
    a = RowGrad.accumulate(np.array([0, 2]), rng.standard_normal((2, 3)), (4, 3))
    b = RowGrad.accumulate(np.array([2, 3]), rng.standard_normal((2, 3)), (4, 3))
    both = a + b
    assert isinstance(both, RowGrad) and list(both.idx) == [0, 2, 3]
    assert_close(np.asarray(both), np.asarray(a) + np.asarray(b))
    d = rng.standard_normal((4, 3))
    assert_close(a + d, np.asarray(a) + d)
    assert_close(d + a, np.asarray(a) + d)
    before = np.asarray(a).copy()
    a *= 0.5
    assert_close(np.asarray(a), 0.5 * before)


# ---------------------------------------------------------------------------
# sparse optimizer updates
# ---------------------------------------------------------------------------


def sparse_and_dense(rng, V=8, D=3, M=6):
    ids = rng.integers(0, V, M)
    g = RowGrad.accumulate(ids, rng.standard_normal((M, D)), (V, D))
    return g, np.asarray(g)


def test_sparse_sgd_equals_dense_sgd(rng):
    W = rng.standard_normal((8, 3))
    a, b = W.copy(), W.copy()
    opt_s, opt_d = SGD(lr=0.1), SGD(lr=0.1)
    for _ in range(4):
        g, dense = sparse_and_dense(rng)
        opt_s.update({"W": a}, {"W": g})
        opt_d.update({"W": b}, {"W": dense})
    assert_close(a, b)


@pytest.mark.parametrize("cls", [Adam, Momentum])
def test_sparse_update_equals_dense_when_every_row_is_used(rng, cls):
    """Lazy and dense updates agree when each step touches every row."""
    V, D = 5, 3
    W = rng.standard_normal((V, D))
    a, b = W.copy(), W.copy()
    opt_s, opt_d = cls(lr=0.01), cls(lr=0.01)
    for _ in range(4):
        ids = np.concatenate([np.arange(V), rng.integers(0, V, 4)])  # all rows, some twice
        g = RowGrad.accumulate(ids, rng.standard_normal((len(ids), D)), (V, D))
        opt_s.update({"W": a}, {"W": g})
        opt_d.update({"W": b}, {"W": np.asarray(g)})
    assert_close(a, b, rtol=1e-12)


def test_sparse_adam_is_lazy_untouched_rows_and_state_do_not_move(rng):
    V, D = 6, 2
    W = rng.standard_normal((V, D))
    opt = Adam(lr=0.01)
    opt.update({"W": W}, {"W": RowGrad.accumulate(np.array([0, 1]), np.ones((2, D)), (V, D))})
    m1 = opt.state["m"]["W"].copy()
    W1 = W.copy()
    opt.update({"W": W}, {"W": RowGrad.accumulate(np.array([1, 3]), np.ones((2, D)), (V, D))})
    # row 0 was not used in step 2: neither it nor its moments move (a dense
    # Adam would keep moving it with its old momentum)
    assert_close(W[0], W1[0])
    assert_close(opt.state["m"]["W"][0], m1[0])
    assert not np.allclose(W[3], W1[3]) and not np.allclose(W[1], W1[1])
    assert_close(W[[2, 4, 5]], W1[[2, 4, 5]])


def test_sparse_adam_matches_torch_sparse_adam(rng):
    """Several steps of embedding lookups with repeated ids: zerokara's lazy
    Adam and torch.optim.SparseAdam (eps tiny so their eps placements agree)."""
    V, D, lr, eps = 7, 3, 0.05, 1e-30
    W = rng.standard_normal((V, D))
    layer, opt = Embedding(W.copy()), Adam(lr=lr, eps=eps)
    emb = torch.nn.Embedding(V, D, sparse=True, dtype=torch.float64)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(W))
    topt = torch.optim.SparseAdam(emb.parameters(), lr=lr, eps=eps)
    for _ in range(5):
        ids = rng.integers(0, 4, (3, 2))  # rows 4..6 never used; 0..3 sometimes, repeated
        dout = rng.standard_normal((3, 2, D))
        layer.forward(ids)
        layer.backward(dout)
        opt.update(layer.params, layer.grads)
        topt.zero_grad()
        emb(torch.from_numpy(ids)).backward(torch.from_numpy(dout))
        topt.step()
    assert_close(layer.params["W"], emb.weight, rtol=1e-9, atol=1e-12)
    assert_close(layer.params["W"][4:], W[4:])
