"""Transformer layers: float64 gradient checks on random shapes (with and without masks),
parity with PyTorch (forward, backward and attention weights, same weights), the causal
mask hiding the future exactly, the fully-hidden-row rule, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_backward_is_pure, assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import (
    GELU,
    FeedForward,
    LayerNorm,
    Module,
    MultiHeadAttention,
    PositionalEncoding,
    ScaledDotProductAttention,
    Softmax,
    causal_mask,
    padding_mask,
)
from zerokara.layers.position_wise import sinusoidal_table

SETTINGS = settings(max_examples=8, deadline=None)
seeds = st.integers(0, 2**32 - 1)
MASKS = ["none", "causal", "padding", "random"]
F64 = np.float64
PARITY = {"rtol": 1e-5, "atol": 1e-12}  # the brief's 1e-5 relative; float64 reaches ~1e-13


def names(report) -> set[str]:
    return {e.name for e in report.entries}


def assert_ok(report) -> None:
    assert report.ok and not report.notes, str(report)


def make_mask(kind: str, rng: np.random.Generator, N: int, h: int, Tq: int, Tk: int) -> np.ndarray | None:
    """None, causal (T, T), padding (N, 1, 1, Tk) or a random (N, h, Tq, Tk) mask (which may
    hide a whole row: the rule for that is checked too)."""
    if kind == "none":
        return None
    if kind == "causal":
        assert Tq == Tk
        return causal_mask(Tq)
    if kind == "padding":
        ids = rng.integers(0, 3, (N, Tk))
        ids[:, 0] = 1  # every sequence keeps its first token
        return padding_mask(ids, 0)
    return rng.random((N, h, Tq, Tk)) < 0.3


def random_mha(rng: np.random.Generator, d_model: int, heads: int) -> MultiHeadAttention:
    """A float64 layer with non-zero biases (zero biases would hide a wrong bias gradient)."""
    mha = MultiHeadAttention(d_model, heads, rng=rng, dtype=F64)
    for b in ("bq", "bk", "bv", "bo"):
        mha.params[b][...] = rng.standard_normal(d_model) * 0.5
    return mha


class SelfAttention(Module):
    """The documented self-attention use: x passed twice, the two gradients added."""

    def __init__(self, mha: MultiHeadAttention, mask: np.ndarray | None) -> None:
        super().__init__()
        self.mha, self.mask = mha, mask

    def forward(self, x):
        return self.mha.forward(x, x, self.mask)

    def backward(self, dout):
        dq, dkv = self.mha.backward(dout)
        return dq + dkv


# -- 1. gradient checks (float64) ---------------------------------------------------------------
@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=seeds, axis=st.sampled_from([-1, 0]))
def test_gradcheck_softmax(shape, seed, axis):
    rng = np.random.default_rng(seed)
    report = gradcheck(Softmax(axis=axis), rng.standard_normal(shape) * 2)
    assert_ok(report)
    assert names(report) == {"x"}


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(2, 6), seed=seeds)
def test_gradcheck_layer_norm(n, t, d, seed):
    rng = np.random.default_rng(seed)
    ln = LayerNorm(d, dtype=F64)
    ln.params["gamma"][...] = rng.standard_normal(d)
    ln.params["beta"][...] = rng.standard_normal(d)
    report = gradcheck(ln, rng.standard_normal((n, t, d)) * 2 + 1)
    assert_ok(report)
    assert names(report) == {"x", "gamma", "beta"}


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=seeds)
def test_gradcheck_gelu(shape, seed):
    rng = np.random.default_rng(seed)
    assert_ok(gradcheck(GELU(), rng.standard_normal(shape) * 2))


@SETTINGS
@given(n=st.integers(1, 2), h=st.integers(1, 3), tq=st.integers(1, 4), tk=st.integers(1, 4),
       dk=st.integers(1, 4), dv=st.integers(1, 3), kind=st.sampled_from(MASKS), seed=seeds)
def test_gradcheck_scaled_dot_product_attention(n, h, tq, tk, dk, dv, kind, seed):
    rng = np.random.default_rng(seed)
    tk = tq if kind == "causal" else tk
    q, k, v = (rng.standard_normal(s) for s in ((n, h, tq, dk), (n, h, tk, dk), (n, h, tk, dv)))
    report = gradcheck(ScaledDotProductAttention(), q, k, v, make_mask(kind, rng, n, h, tq, tk))
    assert_ok(report)
    assert names(report) == {"q", "k", "v"}


@SETTINGS
@given(n=st.integers(1, 2), heads=st.integers(1, 3), dk=st.integers(1, 3), tq=st.integers(1, 3),
       tk=st.integers(1, 4), kind=st.sampled_from(MASKS), seed=seeds)
def test_gradcheck_multi_head_attention(n, heads, dk, tq, tk, kind, seed):
    rng = np.random.default_rng(seed)
    tk = tq if kind == "causal" else tk
    d = heads * dk
    mha = random_mha(rng, d, heads)
    query, kv = rng.standard_normal((n, tq, d)), rng.standard_normal((n, tk, d))
    report = gradcheck(mha, query, kv, make_mask(kind, rng, n, heads, tq, tk))
    # bk's true gradient is 0 (q . bk is the same for every key: softmax ignores it); it
    # passes by the absolute tolerance, and torch agrees below
    assert_ok(report)
    assert names(report) == {"query", "key_value", "Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo"}


@SETTINGS
@given(n=st.integers(1, 2), heads=st.integers(1, 2), t=st.integers(1, 4),
       kind=st.sampled_from(["none", "causal"]), seed=seeds)
def test_gradcheck_self_attention_adds_both_gradients(n, heads, t, kind, seed):
    rng = np.random.default_rng(seed)
    d = 2 * heads
    report = gradcheck(SelfAttention(random_mha(rng, d, heads), make_mask(kind, rng, n, heads, t, t)),
                       rng.standard_normal((n, t, d)))
    assert_ok(report)
    assert "x" in names(report) and "mha.Wq" in names(report)


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 4), extra=st.integers(0, 2), d=st.integers(1, 5),
       learned=st.booleans(), seed=seeds)
def test_gradcheck_positional_encoding(n, t, extra, d, learned, seed):
    rng = np.random.default_rng(seed)
    pe = PositionalEncoding(t + extra, d, learned=learned, rng=rng, dtype=F64)
    report = gradcheck(pe, rng.standard_normal((n, t, d)))
    assert_ok(report)
    assert names(report) == ({"x", "P"} if learned else {"x"})


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 3), d=st.integers(1, 4), d_ff=st.integers(1, 6),
       activation=st.sampled_from(["relu", "gelu"]), seed=seeds)
def test_gradcheck_feed_forward(n, t, d, d_ff, activation, seed):
    rng = np.random.default_rng(seed)
    ff = FeedForward(d, d_ff, activation, rng=rng, dtype=F64)
    ff.params["b1"][...] = rng.standard_normal(d_ff) * 0.5
    ff.params["b2"][...] = rng.standard_normal(d) * 0.5
    report = gradcheck(ff, rng.standard_normal((n, t, d)))
    assert_ok(report)
    assert names(report) == {"x", "W1", "b1", "W2", "b2"}


def test_backward_is_pure(rng):
    layers = {
        "Softmax": Softmax(),
        "LayerNorm": LayerNorm(4, dtype=F64),
        "GELU": GELU(),
        "PositionalEncoding": PositionalEncoding(5, 4, learned=True, rng=rng, dtype=F64),
        "FeedForward": FeedForward(4, 6, "gelu", rng=rng, dtype=F64),
    }
    for name, layer in layers.items():
        assert_backward_is_pure(layer, rng.standard_normal((2, 3, 4)), rng, name)


# -- 2. parity with PyTorch (float64, same weights) ------------------------------------------------
def grad_of(out: torch.Tensor, leaves, dout: np.ndarray):
    return torch.autograd.grad(out, leaves, to_torch(dout))


@pytest.mark.parametrize("dim", [-1, 1])
def test_softmax_matches_torch(dim, rng):
    x, dy = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 5))
    layer = Softmax(axis=dim)
    y = layer.forward(x)
    tx = to_torch(x, grad=True)
    ty = torch.softmax(tx, dim=dim)
    assert_close(y, ty, **PARITY)
    assert_close(layer.backward(dy), grad_of(ty, tx, dy)[0], **PARITY)


def test_layer_norm_matches_torch(rng):
    x, dy = rng.standard_normal((3, 4, 6)) * 3 + 1, rng.standard_normal((3, 4, 6))
    ln = LayerNorm(6, eps=1e-5, dtype=F64)
    ln.params["gamma"][...] = rng.standard_normal(6)
    ln.params["beta"][...] = rng.standard_normal(6)
    ref = torch.nn.LayerNorm(6, eps=1e-5).double()
    with torch.no_grad():
        ref.weight.copy_(to_torch(ln.params["gamma"]))
        ref.bias.copy_(to_torch(ln.params["beta"]))
    tx = to_torch(x, grad=True)
    ty = ref(tx)
    ty.backward(to_torch(dy))
    assert_close(ln.forward(x), ty, **PARITY)
    assert_close(ln.backward(dy), tx.grad, **PARITY)
    assert_close(ln.grads["gamma"], ref.weight.grad, **PARITY)
    assert_close(ln.grads["beta"], ref.bias.grad, **PARITY)


def test_gelu_matches_torch_tanh_approximation(rng):
    x, dy = rng.standard_normal((4, 7)) * 3, rng.standard_normal((4, 7))
    layer = GELU()
    tx = to_torch(x, grad=True)
    ty = F.gelu(tx, approximate="tanh")
    assert_close(layer.forward(x), ty, **PARITY)
    assert_close(layer.backward(dy), grad_of(ty, tx, dy)[0], **PARITY)
    # and it is the approximation, not the exact erf GELU (they differ by ~1e-4)
    assert not np.allclose(layer.forward(x), F.gelu(tx).detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["none", "causal", "padding", "random", "row-hidden"])
def test_scaled_dot_product_attention_matches_torch(kind, rng):
    N, h, T, dk, dv = 2, 3, 4, 5, 3
    q, k, v = (rng.standard_normal(s) for s in ((N, h, T, dk), (N, h, T, dk), (N, h, T, dv)))
    mask = make_mask("random" if kind == "row-hidden" else kind, rng, N, h, T, T)
    if kind == "row-hidden":
        mask[0, 1, 2, :] = True  # one query sees nothing: torch's rule too gives zeros
    dout = rng.standard_normal((N, h, T, dv))
    layer = ScaledDotProductAttention()
    out = layer.forward(q, k, v, mask)
    dq, dk_, dv_ = layer.backward(dout)
    tq, tk, tv = (to_torch(a, grad=True) for a in (q, k, v))
    # torch's bool attn_mask is True = attend: the opposite of ours
    tmask = None if mask is None else torch.tensor(~mask)
    tout = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask)
    tout.backward(to_torch(dout))
    assert_close(out, tout, **PARITY)
    assert_close(dq, tq.grad, **PARITY)
    assert_close(dk_, tk.grad, **PARITY)
    assert_close(dv_, tv.grad, **PARITY)
    # the weights: torch's softmax of the same masked scores (a fully hidden row: 0)
    scores = (tq @ tk.transpose(-1, -2)) / np.sqrt(dk)
    if mask is not None:
        scores = scores.masked_fill(torch.tensor(mask), float("-inf"))
    assert_close(layer.weights, torch.softmax(scores, dim=-1).nan_to_num(0.0), **PARITY)


def torch_mha(mha: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    """torch's layer holding our weights: it computes x @ W.T, so each of ours is transposed;
    Wq, Wk, Wv are packed into one (3 d_model, d_model) in_proj_weight."""
    p = mha.params
    d = p["Wq"].shape[0]
    ref = torch.nn.MultiheadAttention(d, mha.heads, batch_first=True).double()
    with torch.no_grad():
        ref.in_proj_weight.copy_(to_torch(np.concatenate([p["Wq"].T, p["Wk"].T, p["Wv"].T])))
        ref.in_proj_bias.copy_(to_torch(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        ref.out_proj.weight.copy_(to_torch(p["Wo"].T))
        ref.out_proj.bias.copy_(to_torch(p["bo"]))
    return ref


@pytest.mark.parametrize("kind", ["none", "causal", "padding", "causal+padding", "cross+padding"])
def test_multi_head_attention_matches_torch(kind, rng):
    N, heads, d, Tq = 3, 2, 6, 4
    Tk = 5 if kind.startswith("cross") else Tq
    mha = random_mha(rng, d, heads)
    ref = torch_mha(mha)
    query, kv = rng.standard_normal((N, Tq, d)), rng.standard_normal((N, Tk, d))
    ids = rng.integers(0, 3, (N, Tk))
    ids[:, 0] = 1  # a row with every key hidden gives NaN in torch's MultiheadAttention
    our_mask, attn_mask, key_padding_mask = None, None, None
    if "causal" in kind:
        our_mask = attn_mask = causal_mask(Tq)
    if "padding" in kind:
        pad = padding_mask(ids, 0)
        our_mask = pad if our_mask is None else our_mask | pad  # (N, 1, T, T)
        key_padding_mask = torch.tensor(ids == 0)  # True = ignore, as ours
    dout = rng.standard_normal((N, Tq, d))
    out = mha.forward(query, kv, our_mask)
    dquery, dkv = mha.backward(dout)

    tq, tkv = to_torch(query, grad=True), to_torch(kv, grad=True)
    tout, tw = ref(tq, tkv, tkv, key_padding_mask=key_padding_mask, need_weights=True,
                   average_attn_weights=False,
                   attn_mask=None if attn_mask is None else torch.tensor(attn_mask))  # True = hidden
    tout.backward(to_torch(dout))
    assert_close(out, tout, **PARITY)
    assert_close(mha.weights, tw, **PARITY)
    assert_close(dquery, tq.grad, **PARITY)
    assert_close(dkv, tkv.grad, **PARITY)  # torch's key and value are one tensor: its grads add up too
    g, gw, gb = mha.grads, ref.in_proj_weight.grad.numpy(), ref.in_proj_bias.grad.numpy()
    for i, name in enumerate("qkv"):
        assert_close(g[f"W{name}"], gw[i * d:(i + 1) * d].T, **PARITY)
        assert_close(g[f"b{name}"], gb[i * d:(i + 1) * d], **PARITY)
    assert_close(g["Wo"], ref.out_proj.weight.grad.T, **PARITY)
    assert_close(g["bo"], ref.out_proj.bias.grad, **PARITY)


def test_multi_head_attention_float32_stays_float32_and_close_to_torch(rng):
    mha = MultiHeadAttention(8, 2, rng=rng)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    out = mha.forward(x, x, causal_mask(5))
    dq, dkv = mha.backward(np.ones_like(out))
    assert out.dtype == dq.dtype == dkv.dtype == mha.grads["Wq"].dtype == np.float32
    mha.astype(F64)
    ref = torch_mha(mha)
    tout, _ = ref(*(to_torch(x),) * 3, attn_mask=torch.tensor(causal_mask(5)))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-4, atol=1e-5)


# -- 3. masks: the future is hidden exactly, hidden rows give zeros ---------------------------------
def test_causal_mask_and_padding_mask_values():
    np.testing.assert_array_equal(causal_mask(3), [[False, True, True], [False, False, True],
                                                   [False, False, False]])
    pad = padding_mask(np.array([[5, 2, 0], [0, 1, 1]]), pad_id=0)
    assert pad.shape == (2, 1, 1, 3) and pad.dtype == bool
    np.testing.assert_array_equal(pad[:, 0, 0], [[False, False, True], [True, False, False]])
    assert (causal_mask(3) | pad).shape == (2, 1, 3, 3)


@pytest.mark.parametrize("t0", [0, 2, 4])
def test_causal_mask_hides_the_future_in_attention(t0, rng):
    """Changing tokens after t0 leaves outputs up to t0 bit for bit the same, and a loss on
    those outputs sends exactly zero gradient to the later tokens."""
    N, h, T, d = 2, 2, 6, 3
    q, k, v = (rng.standard_normal((N, h, T, d)) for _ in range(3))
    layer = ScaledDotProductAttention()
    before = layer.forward(q, k, v, causal_mask(T))
    later = (slice(None), slice(None), slice(t0 + 1, None))
    for a in (q, k, v):
        a[later] = rng.standard_normal(a[later].shape) * 100
    after = layer.forward(q, k, v, causal_mask(T))
    np.testing.assert_array_equal(after[:, :, : t0 + 1], before[:, :, : t0 + 1])
    assert not np.array_equal(after, before) or t0 == T - 1
    dout = np.zeros_like(after)
    dout[:, :, : t0 + 1] = rng.standard_normal(dout[:, :, : t0 + 1].shape)
    for g in layer.backward(dout):
        assert not np.any(g[later])


@pytest.mark.parametrize("t0", [0, 3])
def test_causal_mask_hides_the_future_in_multi_head_attention(t0, rng):
    N, T, d = 2, 5, 6
    mha = random_mha(rng, d, 3)
    x = rng.standard_normal((N, T, d))
    before = mha.forward(x, x, causal_mask(T))
    x2 = x.copy()
    x2[:, t0 + 1:] = rng.standard_normal(x2[:, t0 + 1:].shape) * 100
    after = mha.forward(x2, x2, causal_mask(T))
    np.testing.assert_array_equal(after[:, : t0 + 1], before[:, : t0 + 1])
    assert not np.array_equal(after[:, t0 + 1:], before[:, t0 + 1:])
    dout = np.zeros_like(after)
    dout[:, : t0 + 1] = 1.0
    dq, dkv = mha.backward(dout)
    assert not np.any((dq + dkv)[:, t0 + 1:])


def test_a_fully_hidden_row_gives_zeros_not_nan(rng):
    x = rng.standard_normal((2, 4))
    x[0] = -np.inf
    x[1, 2] = -np.inf
    sm = Softmax()
    with np.errstate(all="raise"):  # no 0/0, no inf - inf on the way
        y = sm.forward(x)
        dx = sm.backward(rng.standard_normal((2, 4)))
    np.testing.assert_array_equal(y[0], 0)
    assert y[1, 2] == 0 and np.isclose(y[1].sum(), 1)
    np.testing.assert_array_equal(dx[0], 0)
    assert dx[1, 2] == 0

    mha = random_mha(rng, 4, 2)
    mask = np.zeros((1, 1, 3, 3), dtype=bool)
    mask[..., 1, :] = True  # query 1 may see no key
    out = mha.forward(rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 3, 4)), mask)
    assert mha.weights is not None
    np.testing.assert_array_equal(mha.weights[:, :, 1], 0)
    np.testing.assert_array_equal(out[0, 1], mha.params["bo"])  # nothing attended: only the bias
    dq, _ = mha.backward(np.ones_like(out))
    np.testing.assert_array_equal(dq[0, 1], 0)


def test_weights_are_kept_and_rows_sum_to_one(rng):
    mha = random_mha(rng, 6, 3)
    assert mha.weights is None
    mha.forward(rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6)))
    assert mha.weights is not None and mha.weights.shape == (2, 3, 4, 5)
    np.testing.assert_allclose(mha.weights.sum(axis=-1), 1.0)


# -- 4. positional encoding ----------------------------------------------------------------------
def test_sinusoidal_table_is_the_papers_formula():
    max_len, d = 7, 5
    want = np.zeros((max_len, d))
    for pos in range(max_len):
        for j in range(d):
            i = j // 2
            angle = pos / 10000 ** (2 * i / d)
            want[pos, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    np.testing.assert_allclose(sinusoidal_table(max_len, d, F64), want, rtol=1e-12, atol=1e-15)
    pe = PositionalEncoding(max_len, d, dtype=F64)
    x = np.zeros((2, 3, d))
    np.testing.assert_array_equal(pe.forward(x), np.broadcast_to(want[:3], (2, 3, d)))
    assert pe.params == {} and pe.table.dtype == F64


def test_learned_positional_encoding_gradient_sums_over_the_batch(rng):
    pe = PositionalEncoding(6, 3, learned=True, rng=rng, dtype=F64)
    dout = rng.standard_normal((4, 2, 3))
    pe.forward(rng.standard_normal((4, 2, 3)))
    np.testing.assert_array_equal(pe.backward(dout), dout)
    np.testing.assert_allclose(pe.grads["P"][:2], dout.sum(axis=0))
    np.testing.assert_array_equal(pe.grads["P"][2:], 0)
    assert set(pe.parameters()) == {"P"}


# -- 5. bad input: one clear line each --------------------------------------------------------------
def one_line(excinfo, *parts: str) -> None:
    text = str(excinfo.value)
    assert "\n" not in text, text
    for p in parts:
        assert p in text, text


def test_sequence_longer_than_max_len_is_refused(rng):
    pe = PositionalEncoding(4, 3)
    with pytest.raises(InputError) as e:
        pe.forward(rng.standard_normal((2, 5, 3)).astype(np.float32))
    one_line(e, "PositionalEncoding: x", "max_len=4", "T=5")


@pytest.mark.parametrize("mask,got", [
    (np.zeros((3, 3), dtype=bool), "got (3, 3)"),  # Tq x Tk transposed: (4, 3) wanted
    (np.zeros((2, 1, 4, 3, 1), dtype=bool), "got (2, 1, 4, 3, 1)"),
    (np.zeros((3, 1, 1, 3), dtype=bool), "got (3, 1, 1, 3)"),  # another batch size
    (np.zeros((4, 3)), "got dtype float64 (4, 3)"),
    (np.zeros((4, 3), dtype=np.int64), "got dtype int64 (4, 3)"),
    ([[True] * 3] * 4, "got a list"),
])
def test_bad_masks_are_refused(mask, got, rng):
    N, h, Tq, Tk, dk = 2, 2, 4, 3, 2
    q, k, v = (rng.standard_normal(s) for s in ((N, h, Tq, dk), (N, h, Tk, dk), (N, h, Tk, dk)))
    with pytest.raises(InputError) as e:
        ScaledDotProductAttention().forward(q, k, v, mask)
    one_line(e, "ScaledDotProductAttention: mask expected a bool array broadcastable to (N, h, Tq, Tk) = "
                "(2, 2, 4, 3)", got)
    mha = MultiHeadAttention(4, 2, rng=rng, dtype=F64)
    with pytest.raises(InputError) as e:
        mha.forward(rng.standard_normal((N, Tq, 4)), rng.standard_normal((N, Tk, 4)), mask)
    one_line(e, "MultiHeadAttention: mask expected", "(2, 2, 4, 3)", got)


def test_d_model_not_divisible_by_heads_is_refused():
    with pytest.raises(InputError) as e:
        MultiHeadAttention(10, 3)
    one_line(e, "MultiHeadAttention: d_model expected a multiple of heads=3", "got d_model=10")


@pytest.mark.parametrize("make,owner,arg", [
    (lambda: MultiHeadAttention(0, 1), "MultiHeadAttention", "d_model"),
    (lambda: MultiHeadAttention(4, 0), "MultiHeadAttention", "heads"),
    (lambda: MultiHeadAttention(4, 2, rng=3), "MultiHeadAttention", "rng"),
    (lambda: LayerNorm(0), "LayerNorm", "d"),
    (lambda: LayerNorm(3, eps=0.0), "LayerNorm", "eps"),
    (lambda: PositionalEncoding(0, 4), "PositionalEncoding", "max_len"),
    (lambda: PositionalEncoding(4, 0), "PositionalEncoding", "d_model"),
    (lambda: FeedForward(4, 8, "tanh"), "FeedForward", "activation"),
    (lambda: FeedForward(4, 0), "FeedForward", "d_ff"),
    (lambda: causal_mask(0), "causal_mask", "T"),
    (lambda: padding_mask(np.zeros((2, 3)), 0), "padding_mask", "ids"),
    (lambda: padding_mask(np.zeros(3, dtype=int), 0), "padding_mask", "ids"),
])
def test_bad_constructor_arguments(make, owner, arg):
    with pytest.raises(InputError) as e:
        make()
    one_line(e, f"{owner}: {arg} expected ", ", got ")


def test_bad_shapes_and_dtypes_name_the_argument(rng):
    sdpa = ScaledDotProductAttention()
    q = rng.standard_normal((2, 2, 3, 4))
    with pytest.raises(InputError) as e:
        sdpa.forward(q, rng.standard_normal((2, 2, 5, 3)), rng.standard_normal((2, 2, 5, 4)))
    one_line(e, "ScaledDotProductAttention: k expected shape (2, 2, Tk, 4), got (2, 2, 5, 3)")
    with pytest.raises(InputError) as e:
        sdpa.forward(q, q, rng.standard_normal((2, 2, 4, 4)))
    one_line(e, "ScaledDotProductAttention: v expected shape (2, 2, 3, dv), got (2, 2, 4, 4)")
    mha = MultiHeadAttention(4, 2, rng=rng)  # float32
    with pytest.raises(InputError) as e:
        mha.forward(rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4)))
    one_line(e, "MultiHeadAttention: query expected dtype float32", "got float64")
    with pytest.raises(InputError) as e:
        mha.forward(np.zeros((2, 3, 5), np.float32), np.zeros((2, 3, 4), np.float32))
    one_line(e, "MultiHeadAttention: query expected shape (N, Tq, 4), got (2, 3, 5)")
    with pytest.raises(InputError) as e:
        mha.forward(np.zeros((2, 3, 4), np.float32), np.zeros((3, 3, 4), np.float32))
    one_line(e, "MultiHeadAttention: key_value expected shape (2, Tk, 4)", "got (3, 3, 4)")
    with pytest.raises(InputError) as e:
        LayerNorm(4).forward(np.zeros((2, 3), np.float32))
    one_line(e, "LayerNorm: x expected shape (..., 4), got (2, 3)")
    with pytest.raises(InputError) as e:
        FeedForward(4, 8, rng=rng).forward(np.zeros((2, 4), np.float32))
    one_line(e, "FeedForward: x expected shape (N, T, 4), got (2, 4)")
