"""Recurrent cells (one time step): RNN (tanh, sigmoid, relu), LSTM, GRU.

Gradient check on random shapes (float64), parity with torch.nn.RNNCell /
LSTMCell / GRUCell in float64 (forward and every gradient, including dh_prev
and dc_prev), clear errors on bad input, create() defaults, pure backward.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import GRU, LSTM, RNN

SETTINGS = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2**32 - 1)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def names(report) -> set[str]:
    return {e.name for e in report.entries}


def make_cell(kind: str, d: int, h: int, rng: np.random.Generator, act: str = "tanh",
              scale: float = 0.6):
    """A float64 cell with random weights *and* random (non-zero) biases."""
    g = GATES[kind]
    Wx = rng.standard_normal((d, g * h)) * scale
    Wh = rng.standard_normal((h, g * h)) * scale
    if kind == "gru":
        return GRU(Wx, Wh, rng.standard_normal(g * h) * scale, rng.standard_normal(g * h) * scale)
    b = rng.standard_normal(g * h) * scale
    return LSTM(Wx, Wh, b) if kind == "lstm" else RNN(Wx, Wh, b, activation=act)


def cell_inputs(kind: str, n: int, d: int, h: int, rng: np.random.Generator) -> tuple:
    x, hp = rng.standard_normal((n, d)), rng.standard_normal((n, h))
    return (x, hp, rng.standard_normal((n, h))) if kind == "lstm" else (x, hp)


# ---------------------------------------------------------------------------
# 1. gradient check on random shapes (float64)
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 4), d=st.integers(1, 4), h=st.integers(1, 5), seed=seeds)
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
def test_gradcheck_rnn_cell(act, n, d, h, seed):
    rng = np.random.default_rng(seed)
    cell = make_cell("rnn", d, h, rng, act)
    x, hp = cell_inputs("rnn", n, d, h, rng)
    if act == "relu":  # finite differences across ReLU's kink are meaningless
        a = x @ cell.params["Wx"] + hp @ cell.params["Wh"] + cell.params["b"]
        assume(np.min(np.abs(a)) > 1e-4)
    report = gradcheck(cell, x, hp)
    assert report.ok, str(report)
    assert {e.name: e.kind for e in report.entries} == {
        "x": "input", "h_prev": "input", "Wx": "param", "Wh": "param", "b": "param"}


@SETTINGS
@given(n=st.integers(1, 4), d=st.integers(1, 4), h=st.integers(1, 5), seed=seeds)
def test_gradcheck_lstm_cell(n, d, h, seed):
    rng = np.random.default_rng(seed)
    cell = make_cell("lstm", d, h, rng)
    report = gradcheck(cell, *cell_inputs("lstm", n, d, h, rng))  # two outputs: h and c
    assert report.ok, str(report)
    assert names(report) == {"x", "h_prev", "c_prev", "Wx", "Wh", "b"}


@SETTINGS
@given(n=st.integers(1, 4), d=st.integers(1, 4), h=st.integers(1, 5), seed=seeds)
def test_gradcheck_gru_cell(n, d, h, seed):
    rng = np.random.default_rng(seed)
    cell = make_cell("gru", d, h, rng)
    report = gradcheck(cell, *cell_inputs("gru", n, d, h, rng))
    assert report.ok, str(report)
    assert names(report) == {"x", "h_prev", "Wx", "Wh", "bx", "bh"}


def test_gradcheck_catches_a_wrong_recurrent_gradient(rng):
    """A GRU whose dh_prev is off (the path through Wh dropped) must fail the
    check on h_prev only (guards the checks above from being vacuous)."""

    class NoRecurrentPath(GRU):
        def backward(self, dh_next):
            dx, _ = super().backward(dh_next)
            return dx, dh_next * self.cache[4]  # only the direct z * dh part

    ref = make_cell("gru", 3, 4, rng)
    cell = NoRecurrentPath(*ref.params.values())
    report = gradcheck(cell, *cell_inputs("gru", 2, 3, 4, rng))
    assert not report.ok
    assert [e.name for e in report.failures()] == ["h_prev"]


# ---------------------------------------------------------------------------
# 2. parity with torch's cells (float64)
# ---------------------------------------------------------------------------


def load_torch(mod, Wx, Wh, b_ih, b_hh, suffix: str = "") -> None:
    """Our Wx (D, kH) is torch's weight_ih transposed, Wh likewise."""
    with torch.no_grad():
        getattr(mod, "weight_ih" + suffix).copy_(to_torch(Wx.T))
        getattr(mod, "weight_hh" + suffix).copy_(to_torch(Wh.T))
        getattr(mod, "bias_ih" + suffix).copy_(to_torch(b_ih))
        getattr(mod, "bias_hh" + suffix).copy_(to_torch(b_hh))


def torch_grads(mod, suffix: str = "") -> dict[str, np.ndarray]:
    g = {k: getattr(mod, k + suffix).grad.numpy() for k in
         ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    return {"Wx": g["weight_ih"].T, "Wh": g["weight_hh"].T, "bias_ih": g["bias_ih"],
            "bias_hh": g["bias_hh"]}


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_rnn_cell_matches_torch(rng, act):
    n, d, h = 4, 3, 5
    cell = make_cell("rnn", d, h, rng, act)
    p = cell.params
    x, hp = cell_inputs("rnn", n, d, h, rng)
    dh = rng.standard_normal((n, h))
    out = cell.forward(x, hp)
    dx, dhp = cell.backward(dh)

    b_hh = rng.standard_normal(h)  # split our single b into torch's two biases
    tc = torch.nn.RNNCell(d, h, nonlinearity=act, dtype=torch.float64)
    load_torch(tc, p["Wx"], p["Wh"], p["b"] - b_hh, b_hh)
    xt, ht = to_torch(x, grad=True), to_torch(hp, grad=True)
    out_t = tc(xt, ht)
    out_t.backward(to_torch(dh))
    g = torch_grads(tc)

    if act == "relu":
        assert np.any(out == 0) and np.any(out > 0)  # both sides of the kink are exercised
    assert_close(out, out_t)
    assert_close(dx, xt.grad)
    assert_close(dhp, ht.grad)
    assert_close(cell.grads["Wx"], g["Wx"])
    assert_close(cell.grads["Wh"], g["Wh"])
    assert_close(cell.grads["b"], g["bias_ih"])
    assert_close(cell.grads["b"], g["bias_hh"])


def test_lstm_cell_matches_torch(rng):
    n, d, h = 4, 3, 5
    cell = make_cell("lstm", d, h, rng, scale=0.8)
    p = cell.params
    x, hp, cp = cell_inputs("lstm", n, d, h, rng)
    dh, dc = rng.standard_normal((n, h)), rng.standard_normal((n, h))
    h_next, c_next = cell.forward(x, hp, cp)
    dx, dhp, dcp = cell.backward(dh, dc)

    b_hh = rng.standard_normal(4 * h)
    tc = torch.nn.LSTMCell(d, h, dtype=torch.float64)
    load_torch(tc, p["Wx"], p["Wh"], p["b"] - b_hh, b_hh)
    xt, ht, ct = (to_torch(a, grad=True) for a in (x, hp, cp))
    h_t, c_t = tc(xt, (ht, ct))
    torch.autograd.backward([h_t, c_t], [to_torch(dh), to_torch(dc)])
    g = torch_grads(tc)

    assert_close(h_next, h_t)
    assert_close(c_next, c_t)
    assert_close(dx, xt.grad)
    assert_close(dhp, ht.grad)
    assert_close(dcp, ct.grad)
    assert_close(cell.grads["Wx"], g["Wx"])
    assert_close(cell.grads["Wh"], g["Wh"])
    assert_close(cell.grads["b"], g["bias_ih"])
    assert_close(cell.grads["b"], g["bias_hh"])


def test_gru_cell_matches_torch(rng):
    n, d, h = 4, 3, 5
    cell = make_cell("gru", d, h, rng, scale=0.8)
    p = cell.params
    x, hp = cell_inputs("gru", n, d, h, rng)
    dh = rng.standard_normal((n, h))
    out = cell.forward(x, hp)
    dx, dhp = cell.backward(dh)

    tc = torch.nn.GRUCell(d, h, dtype=torch.float64)
    load_torch(tc, p["Wx"], p["Wh"], p["bx"], p["bh"])  # GRU keeps torch's two biases
    xt, ht = to_torch(x, grad=True), to_torch(hp, grad=True)
    out_t = tc(xt, ht)
    out_t.backward(to_torch(dh))
    g = torch_grads(tc)

    assert_close(out, out_t)
    assert_close(dx, xt.grad)
    assert_close(dhp, ht.grad)
    assert_close(cell.grads["Wx"], g["Wx"])
    assert_close(cell.grads["Wh"], g["Wh"])
    assert_close(cell.grads["bx"], g["bias_ih"])
    assert_close(cell.grads["bh"], g["bias_hh"])


def test_sigmoid_rnn_cell_matches_formula(rng):
    """torch has no sigmoid RNN; compare with the formula, including a saturated row."""
    cell = make_cell("rnn", 3, 4, rng, "sigmoid")
    x, hp = cell_inputs("rnn", 2, 3, 4, rng)
    x[0] = [900.0, -900.0, 900.0]
    a = x @ cell.params["Wx"] + hp @ cell.params["Wh"] + cell.params["b"]
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-a))
    out = cell.forward(x, hp)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    dh = rng.standard_normal(out.shape)
    dx, dhp = cell.backward(dh)
    da = dh * expected * (1 - expected)
    np.testing.assert_allclose(dx, da @ cell.params["Wx"].T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dhp, da @ cell.params["Wh"].T, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------
# 3. bad input -> InputError naming layer, argument, expected and received
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_cell_wrong_last_dim(cls):
    cell = cls.create(3, 5, np.random.default_rng(0))
    states = [np.zeros((2, 5), np.float32)] * (2 if cls is LSTM else 1)
    with pytest.raises(InputError) as e:
        cell.forward(np.zeros((2, 4), np.float32), *states)
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and " x " in msg
    assert "(N, 3)" in msg and "(2, 4)" in msg


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_cell_sequence_instead_of_step(cls):
    cell = cls.create(3, 5, np.random.default_rng(0))
    states = [np.zeros((2, 5), np.float32)] * (2 if cls is LSTM else 1)
    with pytest.raises(InputError) as e:
        cell.forward(np.zeros((2, 6, 3), np.float32), *states)
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and " x " in msg
    assert "(N, 3)" in msg and "(2, 6, 3)" in msg


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_cell_wrong_h_prev(cls):
    cell = cls.create(3, 5, np.random.default_rng(0))
    x = np.zeros((2, 3), np.float32)
    states = [np.zeros((2, 4), np.float32), np.zeros((2, 5), np.float32)][: 2 if cls is LSTM else 1]
    with pytest.raises(InputError) as e:
        cell.forward(x, *states)
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and "h_prev" in msg
    assert "(2, 5)" in msg and "(2, 4)" in msg


@pytest.mark.parametrize("c_shape", [(1, 5), (5,), (2, 6)])
def test_lstm_cell_wrong_c_prev(c_shape):
    cell = LSTM.create(3, 5, np.random.default_rng(0))
    x, hp = np.zeros((2, 3), np.float32), np.zeros((2, 5), np.float32)
    with pytest.raises(InputError, match=r"LSTM: c_prev expected shape \(2, 5\)"):
        cell.forward(x, hp, np.zeros(c_shape, np.float32))


@pytest.mark.parametrize("cls", [RNN, GRU])
def test_cell_h_prev_not_an_array(cls):
    cell = cls.create(3, 5, np.random.default_rng(0))
    msg = rf"^{cls.__name__}: h_prev expected shape \(2, 5\), got list"
    with pytest.raises(InputError, match=msg):
        cell.forward(np.zeros((2, 3), np.float32), [[0.0] * 5] * 2)


@pytest.mark.parametrize("make", [
    lambda: RNN.create(3, 4, np.random.default_rng(0), activation="gelu"),
    lambda: RNN(np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4), activation="gelu"),
], ids=["create", "init"])
def test_rnn_unknown_activation(make):
    with pytest.raises(InputError) as e:
        make()
    msg = str(e.value)
    assert msg.startswith("RNN:") and "activation" in msg and "'gelu'" in msg
    for ok in ("tanh", "sigmoid", "relu"):
        assert ok in msg


# ---------------------------------------------------------------------------
# 4. create() defaults, repr, pure backward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls, bias_names", [(RNN, ["b"]), (LSTM, ["b"]), (GRU, ["bx", "bh"])])
def test_cell_create_defaults(cls, bias_names):
    d, h = 3, 5
    g = cls.gates
    cell = cls.create(d, h, np.random.default_rng(0))
    assert list(cell.params) == ["Wx", "Wh", *bias_names]
    assert cell.params["Wx"].shape == (d, g * h)
    assert cell.params["Wh"].shape == (h, g * h)
    for k in bias_names:
        assert cell.params[k].shape == (g * h,)
        np.testing.assert_array_equal(cell.params[k], 0)
    for k, v in cell.params.items():
        assert v.dtype == np.float32, k
        assert cell.grads[k].shape == v.shape and cell.grads[k].dtype == np.float32
    assert np.any(cell.params["Wx"] != 0) and np.any(cell.params["Wh"] != 0)
    cell64 = cls.create(d, h, np.random.default_rng(0), dtype=np.float64)
    assert all(v.dtype == np.float64 for v in cell64.params.values())


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_cell_create_xavier_std(cls):
    """Default init is Xavier, std sqrt(1/fan_in), fan_in = rows of each matrix."""
    d, h = 100, 50
    cell = cls.create(d, h, np.random.default_rng(1), dtype=np.float64)
    assert abs(cell.params["Wx"].std() / np.sqrt(1 / d) - 1) < 0.05
    assert abs(cell.params["Wh"].std() / np.sqrt(1 / h) - 1) < 0.05


def test_rnn_repr_and_activation():
    cell = RNN.create(3, 4, np.random.default_rng(0), activation="relu")
    assert cell.activation == "relu"
    r = repr(cell)
    assert r.startswith("RNN(") and "activation=relu" in r and "(3, 4)" in r
    assert "activation" not in repr(LSTM.create(3, 4, np.random.default_rng(0)))


@pytest.mark.parametrize("kind, act", [("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"),
                                       ("lstm", None), ("gru", None)])
def test_cell_backward_twice_same_result_and_inputs_untouched(rng, kind, act):
    n, d, h = 3, 4, 5
    cell = make_cell(kind, d, h, rng, act or "tanh")
    ins = cell_inputs(kind, n, d, h, rng)
    ins_before = [a.copy() for a in ins]
    out = cell.forward(*ins)
    outs = out if isinstance(out, tuple) else (out,)
    douts = [rng.standard_normal(o.shape) for o in outs]
    douts_before = [a.copy() for a in douts]
    cache_before = [c.copy() for c in cell.cache]

    r1 = cell.backward(*douts)
    r1_copy = [a.copy() for a in r1]
    grads1 = {k: g.copy() for k, g in cell.grads.items()}
    r2 = cell.backward(*douts)

    assert len(r1) == len(ins)
    for a, b in zip(douts, douts_before):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ins, ins_before):
        np.testing.assert_array_equal(a, b)
    for a, b, c in zip(r1, r1_copy, r2):
        np.testing.assert_array_equal(a, b)  # the second call did not overwrite the first
        np.testing.assert_array_equal(c, b)
    for k, g in cell.grads.items():
        np.testing.assert_array_equal(g, grads1[k])
    for a, b in zip(cell.cache, cache_before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_float32(rng, kind):
    """A float32 cell computes in float32 and agrees with float64 to float32 precision."""
    n, d, h = 3, 4, 5
    c64 = make_cell(kind, d, h, rng)
    c32 = make_cell(kind, d, h, np.random.default_rng(0))
    for k in c64.params:
        c32.params[k] = c64.params[k].astype(np.float32)
    c32.grads = {k: np.zeros_like(v) for k, v in c32.params.items()}
    ins = cell_inputs(kind, n, d, h, rng)
    o64 = c64.forward(*ins)
    o32 = c32.forward(*(a.astype(np.float32) for a in ins))
    o64, o32 = (o64, o32) if isinstance(o64, tuple) else ((o64,), (o32,))
    for a, b in zip(o32, o64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    douts = [rng.standard_normal(o.shape) for o in o64]
    g64 = c64.backward(*douts)
    g32 = c32.backward(*(a.astype(np.float32) for a in douts))
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for k in c64.grads:
        assert c32.grads[k].dtype == np.float32
        np.testing.assert_allclose(c32.grads[k], c64.grads[k], rtol=1e-4, atol=1e-5)
