"""Attention layers: gradient checks, PyTorch parity (forward and backward),
TimeAttention = book 2's loop of Attention, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers.attention import Attention, AttentionWeight, TimeAttention, WeightSum

N, T, Ty, H = 3, 5, 4, 6


def arrays(rng, *shapes):
    return [rng.standard_normal(s) for s in shapes]


# -- gradient checks (float64) ----------------------------------------------------------
@pytest.mark.parametrize("make,shapes", [
    (AttentionWeight, [(N, T, H), (N, H)]),
    (WeightSum, [(N, T, H), (N, T)]),
    (Attention, [(N, T, H), (N, H)]),
    (TimeAttention, [(N, T, H), (N, Ty, H)]),
])
def test_gradcheck(make, shapes, rng):
    rep = gradcheck(make(), *arrays(rng, *shapes))
    assert rep.ok, rep
    assert len(rep.entries) == 2  # both inputs checked, no parameters


def test_weightsum_gradcheck_with_softmax_weights(rng):
    hs, s = arrays(rng, (N, T, H), (N, T))
    a = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    assert gradcheck(WeightSum(), hs, a).ok


# -- PyTorch parity ----------------------------------------------------------------------
def torch_attention(hs, hq):
    """The same computation in torch: hq (N, Ty, H) queries over hs (N, T, H)."""
    a = torch.softmax(hq @ hs.transpose(1, 2), dim=-1)
    return a, a @ hs


def test_attention_weight_and_weight_sum_match_torch(rng):
    hs, h, da, dc = arrays(rng, (N, T, H), (N, H), (N, T), (N, H))
    aw, ws = AttentionWeight(), WeightSum()
    a = aw.forward(hs, h)
    c = ws.forward(hs, a)
    ths, th = to_torch(hs, grad=True), to_torch(h, grad=True)
    ta, tc = torch_attention(ths, th[:, None, :])
    assert_close(a, ta[:, 0])
    assert_close(c, tc[:, 0])
    # AttentionWeight alone: upstream gradient da on the weights
    dhs, dh = aw.backward(da)
    gh, gq = torch.autograd.grad(ta[:, 0], (ths, th), to_torch(da), retain_graph=True)
    assert_close(dhs, gh)
    assert_close(dh, gq)
    # WeightSum alone: hs and a as independent leaves
    ta_leaf = to_torch(a, grad=True)
    ths2 = to_torch(hs, grad=True)
    (ths2 * ta_leaf[:, :, None]).sum(1).backward(to_torch(dc))
    dhs_w, da_w = ws.backward(dc)
    assert_close(dhs_w, ths2.grad)
    assert_close(da_w, ta_leaf.grad)


def test_attention_matches_torch(rng):
    hs, h, dc = arrays(rng, (N, T, H), (N, H), (N, H))
    layer = Attention()
    c = layer.forward(hs, h)
    ths, th = to_torch(hs, grad=True), to_torch(h, grad=True)
    ta, tc = torch_attention(ths, th[:, None, :])
    tc[:, 0].backward(to_torch(dc))
    dhs, dh = layer.backward(dc)
    assert_close(c, tc[:, 0])
    assert_close(layer.attention_weight, ta[:, 0])
    assert_close(dhs, ths.grad)
    assert_close(dh, th.grad)


def test_time_attention_matches_torch(rng):
    enc, dec, dcs = arrays(rng, (N, T, H), (N, Ty, H), (N, Ty, H))
    layer = TimeAttention()
    cs = layer.forward(enc, dec)
    te, td = to_torch(enc, grad=True), to_torch(dec, grad=True)
    ta, tcs = torch_attention(te, td)
    tcs.backward(to_torch(dcs))
    de, dd = layer.backward(dcs)
    assert_close(cs, tcs)
    assert_close(layer.attention_weights, ta)
    assert_close(de, te.grad)
    assert_close(dd, td.grad)
    # a second backward gives the same (nothing cached is edited in place)
    de2, dd2 = layer.backward(dcs)
    assert_close(de2, de)
    assert_close(dd2, dd)


def test_time_attention_float32_matches_torch(rng):
    enc, dec, dcs = (a.astype(np.float32) for a in arrays(rng, (8, 29, 32), (8, 10, 32), (8, 10, 32)))
    layer = TimeAttention()
    cs = layer.forward(enc, dec)
    de, dd = layer.backward(dcs)
    te = torch.tensor(enc, requires_grad=True)
    td = torch.tensor(dec, requires_grad=True)
    _, tcs = torch_attention(te, td)
    tcs.backward(torch.tensor(dcs))
    assert cs.dtype == np.float32 and de.dtype == np.float32
    np.testing.assert_allclose(cs, tcs.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(de, te.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dd, td.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_time_attention_is_book2s_loop_of_attention(rng):
    """Book 2 runs one Attention per decoder step; the batched products are the same."""
    enc, dec, dcs = arrays(rng, (N, T, H), (N, Ty, H), (N, Ty, H))
    layer = TimeAttention()
    cs = layer.forward(enc, dec)
    de, dd = layer.backward(dcs)
    steps = [Attention() for _ in range(Ty)]
    loop_cs = np.stack([a.forward(enc, dec[:, t]) for t, a in enumerate(steps)], axis=1)
    loop_de = np.zeros_like(enc)
    loop_dd = np.empty_like(dec)
    for t, a in enumerate(steps):
        dhs, dh = a.backward(dcs[:, t])
        loop_de += dhs  # the encoder states are used at every step: gradients add up
        loop_dd[:, t] = dh
    assert_close(cs, loop_cs)
    assert_close(de, loop_de)
    assert_close(dd, loop_dd)
    assert_close(layer.attention_weights.sum(axis=2), np.ones((N, Ty)))


# -- bad input -------------------------------------------------------------------------
def test_mismatched_shapes_are_named(rng):
    hs, h = arrays(rng, (N, T, H), (N, H + 1))
    with pytest.raises(InputError, match=r"AttentionWeight: h expected shape \(3, 6\)"):
        AttentionWeight().forward(hs, h)
    with pytest.raises(InputError, match=r"TimeAttention: hs_dec expected shape \(3, Ty, 6\)"):
        TimeAttention().forward(hs, rng.standard_normal((N + 1, 2, H)))
    with pytest.raises(InputError, match=r"WeightSum: a expected shape \(3, 5\)"):
        WeightSum().forward(hs, rng.standard_normal((N, T + 1)))
