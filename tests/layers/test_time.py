"""Sequence layers: TimeRNN (tanh, sigmoid, relu), TimeLSTM, TimeGRU,
Bidirectional and TimeDropout.

Gradient check on random shapes (float64) stateless, stateful (a non-zero
state carried in) and with an explicit initial state, whose gradient
(``layer.dh`` / ``layer.dc``) is checked as well; parity with torch.nn.RNN /
LSTM / GRU (batch_first, float64) over consecutive chunks with the state carried
on, as truncated BPTT runs them, and with bidirectional=True; clear errors on
bad input; state handling, create() defaults, names, repr and pure backward.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import GRU, LSTM, RNN, Bidirectional, TimeDropout, TimeGRU, TimeLSTM, TimeRNN

SETTINGS = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2**32 - 1)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
KINDS = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "lstm", "gru"]
TORCH_KINDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]  # torch has no sigmoid RNN


def names(report) -> set[str]:
    return {e.name for e in report.entries}


def make_time(kind: str, d: int, h: int, rng: np.random.Generator, *, stateful: bool = False,
              scale: float = 0.6):
    """A float64 Time layer with random weights *and* random (non-zero) biases."""
    base, _, act = kind.partition("-")
    g = GATES[base]
    Wx = rng.standard_normal((d, g * h)) * scale
    Wh = rng.standard_normal((h, g * h)) * scale
    if base == "gru":
        return TimeGRU(Wx, Wh, rng.standard_normal(g * h) * scale,
                       rng.standard_normal(g * h) * scale, stateful=stateful)
    b = rng.standard_normal(g * h) * scale
    if base == "lstm":
        return TimeLSTM(Wx, Wh, b, stateful=stateful)
    return TimeRNN(Wx, Wh, b, stateful=stateful, activation=act)


def random_states(layer, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return tuple(rng.standard_normal((n, layer.hidden_size)) for _ in layer.state_names)


def carried(layer) -> tuple[np.ndarray, ...]:
    return tuple(getattr(layer, s) for s in layer.state_names)


def relu_preacts(layer: TimeRNN, xs: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """The pre-activations of every step, computed independently of the layer."""
    p, h, out = layer.params, h0, []
    for t in range(xs.shape[1]):
        a = xs[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"]
        out.append(a)
        h = np.maximum(a, 0)
    return np.stack(out, axis=1)


def numeric_state_grads(layer, xs: np.ndarray, init: tuple[np.ndarray, ...], dhs: np.ndarray,
                        eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of L = sum(forward(xs, *init) * dhs) w.r.t. each initial state."""
    m = copy.deepcopy(layer)
    m.stateful = False

    def loss(states) -> float:
        return float(np.sum(m.forward(xs, *states) * dhs))

    grads = []
    for i, s in enumerate(init):
        g = np.zeros_like(s)
        for idx in np.ndindex(s.shape):
            plus, minus = [a.copy() for a in init], [a.copy() for a in init]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (loss(plus) - loss(minus)) / (2 * eps)
        grads.append(g)
    return grads


# ---------------------------------------------------------------------------
# 1. gradient check on random shapes (float64)
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 4), t=st.integers(1, 5), d=st.integers(1, 4), h=st.integers(1, 5),
       seed=seeds)
@pytest.mark.parametrize("mode", ["stateless", "stateful", "h0", "h0-over-carried"])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_time(kind, mode, n, t, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = make_time(kind, d, h, rng, stateful=mode in ("stateful", "h0-over-carried"))
    xs = rng.standard_normal((n, t, d))
    if layer.stateful:  # one forward first, so a non-zero state is carried in
        layer.forward(rng.standard_normal((n, int(rng.integers(1, 4)), d)))
        assume(all(np.any(s != 0) for s in carried(layer)))  # (a dead ReLU layer carries zeros)
    given_states = random_states(layer, n, rng) if mode.startswith("h0") else ()
    init = given_states or (carried(layer) if mode == "stateful" else
                            tuple(np.zeros((n, h)) for _ in layer.state_names))
    if kind == "rnn-relu":  # finite differences across ReLU's kink are meaningless
        assume(np.min(np.abs(relu_preacts(layer, xs, init[0]))) > 1e-4)

    report = gradcheck(layer, xs, *given_states)
    assert report.ok, str(report)
    state_args = {"h0", "c0"} if kind == "lstm" else {"h0"}
    assert names(report) == {"xs", *layer.params} | (state_args if given_states else set())
    for s in state_args & names(report):  # the gradient flowing into the initial state
        assert report[s].kind == "input" and report[s].shape == (n, h)

    # layer.dh (and .dc) hold the returned dh0 (dc0) and equal the numerical gradient
    # w.r.t. the initial state actually used (given, carried or zeros)
    dhs = rng.standard_normal((n, t, h))
    layer.forward(xs, *given_states)
    back = layer.backward(dhs)
    if given_states:
        assert isinstance(back, tuple) and len(back) == 1 + len(layer.state_names)
        for sname, d_ret in zip(layer.state_names, back[1:]):
            np.testing.assert_array_equal(getattr(layer, "d" + sname), d_ret)
    else:
        assert isinstance(back, np.ndarray) and back.shape == xs.shape
    for sname, num in zip(layer.state_names, numeric_state_grads(layer, xs, init, dhs)):
        np.testing.assert_allclose(getattr(layer, "d" + sname), num, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{kind} {mode}: d{sname}")


@SETTINGS
@given(n=st.integers(1, 4), t=st.integers(1, 5), d=st.integers(1, 4), h=st.integers(1, 5),
       seed=seeds)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn-tanh"])
def test_gradcheck_bidirectional(kind, n, t, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = Bidirectional(make_time(kind, d, h, rng), make_time(kind, d, h, rng))
    report = gradcheck(layer, rng.standard_normal((n, t, d)))
    assert report.ok, str(report)
    params = list(layer.fw.params)
    assert names(report) == {"xs"} | {f"fw.{k}" for k in params} | {f"bw.{k}" for k in params}


def test_gradcheck_bidirectional_mixed_layers_and_sizes(rng):
    """The split of dhs uses fw's hidden size; bw may be another layer with another H."""
    layer = Bidirectional(make_time("lstm", 3, 2, rng), make_time("gru", 3, 4, rng))
    xs = rng.standard_normal((2, 4, 3))
    assert layer.forward(xs).shape == (2, 4, 6)
    report = gradcheck(layer, xs)
    assert report.ok, str(report)
    assert names(report) == {"xs", "fw.Wx", "fw.Wh", "fw.b", "bw.Wx", "bw.Wh", "bw.bx", "bw.bh"}


def test_gradcheck_catches_bidirectional_not_reversing_gradient(rng):
    """Forgetting to reverse the backward direction's gradient must fail the check
    (guards the Bidirectional checks from being vacuous)."""

    class NoReverse(Bidirectional):
        def backward(self, dhs):
            H = self.fw.hidden_size
            return self.fw.backward(dhs[:, :, :H]) + self.bw.backward(dhs[:, :, H:])[:, ::-1]

    layer = NoReverse(make_time("gru", 2, 3, rng), make_time("gru", 2, 3, rng))
    report = gradcheck(layer, rng.standard_normal((2, 4, 2)))
    assert not report.ok
    assert not report["xs"].ok and not report["bw.Wx"].ok
    assert report["fw.Wx"].ok


@SETTINGS
@given(n=st.integers(1, 4), t=st.integers(1, 5), h=st.integers(1, 5), seed=seeds,
       p=st.sampled_from([0.0, 0.3, 0.5, 0.8]))
def test_gradcheck_time_dropout_train(n, t, h, seed, p):
    rng = np.random.default_rng(seed)
    layer = TimeDropout(p, rng=np.random.default_rng(seed + 1))
    assert layer.training
    report = gradcheck(layer, rng.standard_normal((n, t, h)))
    assert report.ok, str(report)
    assert names(report) == {"x"}


def cell_for(kind: str, params: dict[str, np.ndarray]):
    """The one-step cell of ``kind`` sharing ``params``' arrays."""
    base, _, act = kind.partition("-")
    if base == "rnn":
        return RNN(*params.values(), activation=act)
    return (LSTM if base == "lstm" else GRU)(*params.values())


def unrolled(kind: str, params, xs, init, dhs, *, bptt: bool = True):
    """Run the cell step by step (public cell API only) and back-propagate through
    time; with ``bptt=False`` each step's recurrent gradient is dropped (the classic
    mistake of not carrying dh/dc from step t+1 back into step t)."""
    steps, states, hs = [], list(init), []
    for t in range(xs.shape[1]):
        cell = cell_for(kind, params)
        out = cell.forward(xs[:, t], *states)
        states = list(out) if isinstance(out, tuple) else [out]
        hs.append(states[0])
        steps.append(cell)
    dstates = [np.zeros_like(s) for s in init]
    dxs = np.empty_like(xs)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for t in reversed(range(xs.shape[1])):
        up = dstates if bptt else [np.zeros_like(s) for s in init]
        back = steps[t].backward(up[0] + dhs[:, t], *up[1:])
        dxs[:, t], dstates = back[0], list(back[1:])
        for k in grads:
            grads[k] += steps[t].grads[k]
    return np.stack(hs, axis=1), dxs, dstates, grads


@pytest.mark.parametrize("init_given", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_time_layer_is_the_cell_unrolled(rng, kind, init_given):
    """What the Time layer fuses over time equals the cell run step by step."""
    n, t, d, h = 3, 5, 4, 5
    layer = make_time(kind, d, h, rng)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    init = random_states(layer, n, rng) if init_given else ()
    hs = layer.forward(xs, *init)
    back = layer.backward(dhs)
    back = back if isinstance(back, tuple) else (back,)
    ref_init = init or tuple(np.zeros((n, h)) for _ in layer.state_names)
    hs_ref, dxs_ref, dstates_ref, grads_ref = unrolled(kind, layer.params, xs, ref_init, dhs)
    tol = dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(hs, hs_ref, **tol)
    np.testing.assert_allclose(back[0], dxs_ref, **tol)
    for sname, ref in zip(layer.state_names, dstates_ref):
        np.testing.assert_allclose(getattr(layer, "d" + sname), ref, **tol)
    for d_ret, ref in zip(back[1:], dstates_ref):
        np.testing.assert_allclose(d_ret, ref, **tol)
    for k in layer.grads:
        np.testing.assert_allclose(layer.grads[k], grads_ref[k], **tol, err_msg=k)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_catches_missing_backprop_through_time(rng, kind):
    """A Time layer whose backward does not carry the gradient from step t+1 back
    into step t must fail the check for T > 1 (guards the checks above)."""

    base = TimeLSTM if kind == "lstm" else TimeGRU

    class NoBPTT(base):
        def forward(self, xs):
            self.seen = xs
            return super().forward(xs)

        def backward(self, dhs):
            xs = self.seen
            init = tuple(np.zeros((xs.shape[0], self.hidden_size)) for _ in self.state_names)
            _, dxs, _, grads = unrolled(kind, self.params, xs, init, dhs, bptt=False)
            for k, g in grads.items():
                self.grads[k][...] = g
            return dxs

    layer = NoBPTT(*make_time(kind, 3, 4, rng).params.values())
    report = gradcheck(layer, rng.standard_normal((2, 4, 3)))
    assert not report.ok
    assert not report["xs"].ok and not report["Wh"].ok
    # with a single step there is nothing to carry back: the same code passes
    assert gradcheck(layer, rng.standard_normal((2, 1, 3))).ok


# ---------------------------------------------------------------------------
# 2. parity with PyTorch (float64, batch_first)
# ---------------------------------------------------------------------------


def torch_layer(kind: str, layers, rng: np.random.Generator):
    """torch.nn.RNN/LSTM/GRU holding our weights; two layers -> bidirectional."""
    base, _, act = kind.partition("-")
    d, h = layers[0].params["Wx"].shape[0], layers[0].hidden_size
    kw = dict(batch_first=True, bidirectional=len(layers) == 2, dtype=torch.float64)
    if base == "rnn":
        mod = torch.nn.RNN(d, h, nonlinearity=act, **kw)
    else:
        mod = (torch.nn.LSTM if base == "lstm" else torch.nn.GRU)(d, h, **kw)
    for layer, suffix in zip(layers, ("_l0", "_l0_reverse")):
        p = layer.params
        if "bx" in p:  # GRU keeps torch's two biases
            b_ih, b_hh = p["bx"], p["bh"]
        else:  # our single b is bias_ih + bias_hh: split it at random
            b_hh = rng.standard_normal(p["b"].shape)
            b_ih = p["b"] - b_hh
        with torch.no_grad():
            getattr(mod, "weight_ih" + suffix).copy_(to_torch(p["Wx"].T))
            getattr(mod, "weight_hh" + suffix).copy_(to_torch(p["Wh"].T))
            getattr(mod, "bias_ih" + suffix).copy_(to_torch(b_ih))
            getattr(mod, "bias_hh" + suffix).copy_(to_torch(b_hh))
    return mod


def assert_grads_match(layer, mod, suffix: str = "_l0") -> None:
    g = layer.grads
    assert_close(g["Wx"], getattr(mod, "weight_ih" + suffix).grad.T)
    assert_close(g["Wh"], getattr(mod, "weight_hh" + suffix).grad.T)
    if "bx" in g:
        assert_close(g["bx"], getattr(mod, "bias_ih" + suffix).grad)
        assert_close(g["bh"], getattr(mod, "bias_hh" + suffix).grad)
    else:
        assert_close(g["b"], getattr(mod, "bias_ih" + suffix).grad)
        assert_close(g["b"], getattr(mod, "bias_hh" + suffix).grad)


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@pytest.mark.parametrize("kind", TORCH_KINDS)
def test_time_matches_torch_over_chunks_with_carried_state(rng, kind):
    """Truncated BPTT: a stateful layer fed 3 consecutive chunks vs torch fed the same
    chunks with its returned state passed on (detached between chunks)."""
    n, d, h = 3, 4, 5
    layer = make_time(kind, d, h, rng, stateful=True, scale=0.7)
    mod = torch_layer(kind, [layer], rng)
    state = None
    for t in (4, 3, 5):
        xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
        hs = layer.forward(xs)
        dxs = layer.backward(dhs)

        mod.zero_grad()
        xt = to_torch(xs, grad=True)
        out, state = mod(xt, state)
        out.backward(to_torch(dhs))
        state = detach(state)

        assert isinstance(dxs, np.ndarray)  # no initial state given: only dxs
        assert_close(hs, out)
        finals = state if isinstance(state, tuple) else (state,)
        for sname, s in zip(layer.state_names, finals):
            assert_close(getattr(layer, sname), s[0])
        assert_close(dxs, xt.grad)
        assert_grads_match(layer, mod)
    if kind == "rnn-relu":
        assert np.any(hs == 0) and np.any(hs > 0)  # both sides of the kink exercised


@pytest.mark.parametrize("kind", TORCH_KINDS)
def test_time_matches_torch_with_initial_state_gradient(rng, kind):
    n, t, d, h = 3, 5, 4, 5
    layer = make_time(kind, d, h, rng, scale=0.7)
    mod = torch_layer(kind, [layer], rng)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    init = random_states(layer, n, rng)
    hs = layer.forward(xs, *init)
    back = layer.backward(dhs)

    xt = to_torch(xs, grad=True)
    init_t = [to_torch(s[None], grad=True) for s in init]  # torch's (layers, N, H)
    out, _ = mod(xt, tuple(init_t) if kind == "lstm" else init_t[0])
    out.backward(to_torch(dhs))

    assert len(back) == 1 + len(init)
    assert_close(hs, out)
    assert_close(back[0], xt.grad)
    for sname, d_ret, s_t in zip(layer.state_names, back[1:], init_t):
        assert_close(d_ret, s_t.grad[0])
        assert_close(getattr(layer, "d" + sname), s_t.grad[0])
    assert_grads_match(layer, mod)


@pytest.mark.parametrize("h", [5, 32])
def test_time_lstm_matches_torch_float64_sizes(rng, h):
    """h = 32 in float64 puts Wh's rows 1 KiB apart, the case where TimeLSTM
    multiplies by a copy of Wh with padded rows (forward) and transposes Wh through
    one (backward)."""
    n, t, d = 3, 4, 6
    layer = make_time("lstm", d, h, rng, scale=0.3)
    assert (layer.params["Wh"].strides[0] % 1024 == 0) == (h == 32)
    mod = torch_layer("lstm", [layer], rng)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)
    xt = to_torch(xs, grad=True)
    out, _ = mod(xt)
    out.backward(to_torch(dhs))
    assert_close(hs, out)
    assert_close(dxs, xt.grad)
    assert_grads_match(layer, mod)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("block", [None, 1, 2])
def test_time_lstm_both_ways_of_sending_the_gradient_back(rng, big, block):
    """backward multiplies by Wh one way round for a small Wh and the other way
    for a large one (TimeLSTM.big_Wh), and goes through the steps in blocks
    (TimeLSTM.block_bytes; here all 5 steps, 1 at a time, or 2 + 2 + 1): each
    agrees with torch, dh0 and dc0 included."""
    n, t, d, h = 3, 5, 4, 6
    layer = make_time("lstm", d, h, rng, scale=0.7)
    if big:
        layer.big_Wh = 0
    if block:
        layer.block_bytes = block * n * 4 * h * 8  # float64
    assert (layer.params["Wh"].nbytes > layer.big_Wh) == big
    mod = torch_layer("lstm", [layer], rng)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    init = random_states(layer, n, rng)
    hs = layer.forward(xs, *init)
    dxs, dh0, dc0 = layer.backward(dhs)
    xt = to_torch(xs, grad=True)
    init_t = [to_torch(s[None], grad=True) for s in init]
    out, _ = mod(xt, tuple(init_t))
    out.backward(to_torch(dhs))
    assert_close(hs, out)
    assert_close(dxs, xt.grad)
    assert_close(dh0, init_t[0].grad[0])
    assert_close(dc0, init_t[1].grad[0])
    assert dh0.flags.c_contiguous
    assert_grads_match(layer, mod)


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn-tanh"])
def test_bidirectional_matches_torch(rng, kind):
    n, t, d, h = 3, 5, 4, 5
    fw, bw = make_time(kind, d, h, rng, scale=0.7), make_time(kind, d, h, rng, scale=0.7)
    layer = Bidirectional(fw, bw)
    mod = torch_layer(kind, [fw, bw], rng)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, 2 * h))
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)

    xt = to_torch(xs, grad=True)
    out, _ = mod(xt)
    out.backward(to_torch(dhs))

    assert hs.shape == (n, t, 2 * h)
    assert_close(hs, out)
    assert_close(dxs, xt.grad)
    assert_grads_match(fw, mod, "_l0")
    assert_grads_match(bw, mod, "_l0_reverse")


# ---------------------------------------------------------------------------
# 3. bad input -> InputError naming layer, argument, expected and received
# ---------------------------------------------------------------------------

TIME_CLASSES = [TimeRNN, TimeLSTM, TimeGRU]


def _layer32(cls, d=3, h=5, **kw):
    return cls.create(d, h, np.random.default_rng(0), **kw)


def test_time_lstm_2d_input():
    with pytest.raises(InputError) as e:
        _layer32(TimeLSTM).forward(np.zeros((2, 3), np.float32))
    msg = str(e.value)
    assert msg.startswith("TimeLSTM:") and " xs " in msg
    assert "(N, T, 3)" in msg and "(2, 3)" in msg


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_wrong_rank(cls):
    with pytest.raises(InputError, match=rf"^{cls.__name__}: xs expected shape \(N, T, 3\), "
                                         r"got \(2, 4, 1, 3\)$"):
        _layer32(cls).forward(np.zeros((2, 4, 1, 3), np.float32))


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_wrong_last_dim(cls):
    with pytest.raises(InputError) as e:
        _layer32(cls).forward(np.zeros((2, 4, 6), np.float32))
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and " xs " in msg
    assert "(N, T, 3)" in msg and "(2, 4, 6)" in msg


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_float64_into_float32_layer(cls):
    with pytest.raises(InputError) as e:
        _layer32(cls).forward(np.zeros((2, 4, 3), np.float64))
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and " xs " in msg
    assert "float32" in msg and "float64" in msg


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_int_and_empty_and_non_array(cls):
    layer = _layer32(cls)
    name = cls.__name__
    with pytest.raises(InputError, match=rf"{name}: xs expected a float array, got dtype int64"):
        layer.forward(np.zeros((2, 4, 3), np.int64))
    with pytest.raises(InputError, match=rf"{cls.__name__}: xs is an empty batch .*\(0, 4, 3\)"):
        layer.forward(np.zeros((0, 4, 3), np.float32))
    with pytest.raises(InputError, match=rf"{cls.__name__}: xs must be a numpy array, got list"):
        layer.forward([[[0.0] * 3]])


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_stateful_batch_size_change_needs_reset_state(cls):
    layer = _layer32(cls, stateful=True)
    layer.forward(np.ones((4, 2, 3), np.float32))
    xs = np.ones((3, 2, 3), np.float32)
    with pytest.raises(InputError) as e:
        layer.forward(xs)
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and "initial h" in msg
    assert "(3, 5)" in msg and "(4, 5)" in msg and "reset_state()" in msg
    layer.reset_state()
    hs = layer.forward(xs)  # the same call works after reset_state()
    fresh = _layer32(cls).forward(xs)
    np.testing.assert_array_equal(hs, fresh)
    assert layer.h.shape == (3, 5)


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_wrong_h0_shape(cls):
    layer = _layer32(cls)
    xs = np.zeros((2, 4, 3), np.float32)
    states = [np.zeros((2, 4), np.float32), np.zeros((2, 5), np.float32)]
    with pytest.raises(InputError) as e:
        layer.forward(xs, *states[: len(layer.state_names)])
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}:") and "initial h" in msg
    assert "(2, 5)" in msg and "(2, 4)" in msg
    assert "reset_state" not in msg  # the caller passed it: no hint about carried state


def test_time_lstm_wrong_c0_shape():
    xs, h0 = np.zeros((2, 4, 3), np.float32), np.zeros((2, 5), np.float32)
    msg = r"TimeLSTM: initial c expected shape \(2, 5\), got \(1, 5\)"
    with pytest.raises(InputError, match=msg):
        _layer32(TimeLSTM).forward(xs, h0, np.zeros((1, 5), np.float32))


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_h0_not_an_array(cls):
    layer = _layer32(cls)
    states = [[[0.0] * 5] * 2, np.zeros((2, 5), np.float32)][: len(layer.state_names)]
    with pytest.raises(InputError, match=rf"^{cls.__name__}: .*h"):
        layer.forward(np.zeros((2, 4, 3), np.float32), *states)


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_time_empty_sequence(cls):
    layer = _layer32(cls)
    xs = np.zeros((2, 0, 3), np.float32)
    try:
        hs = layer.forward(xs)
    except InputError as e:
        assert str(e).startswith(f"{cls.__name__}:") and "xs" in str(e) and "(2, 0, 3)" in str(e)
        return
    assert hs.shape == (2, 0, 5)
    dxs = layer.backward(np.zeros((2, 0, 5), np.float32))
    assert dxs.shape == (2, 0, 3)
    for g in layer.grads.values():
        np.testing.assert_array_equal(g, 0)


@pytest.mark.parametrize("make", [
    lambda: TimeRNN.create(3, 4, np.random.default_rng(0), activation="gelu"),
    lambda: TimeRNN(np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4), activation="gelu"),
], ids=["create", "init"])
def test_time_rnn_unknown_activation(make):
    with pytest.raises(InputError) as e:
        make()
    msg = str(e.value)
    assert "RNN:" in msg and "activation" in msg and "'gelu'" in msg
    for ok in ("tanh", "sigmoid", "relu"):
        assert ok in msg


def test_time_rnn_unknown_activation_names_time_rnn():
    with pytest.raises(InputError, match=r"^TimeRNN: activation expected one of .*got 'gelu'"):
        TimeRNN(np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4), activation="gelu")


def test_bidirectional_bad_input_names_inner_layer():
    layer = Bidirectional(_layer32(TimeGRU), _layer32(TimeGRU))
    with pytest.raises(InputError, match=r"TimeGRU: xs expected shape \(N, T, 3\), got \(2, 3\)"):
        layer.forward(np.zeros((2, 3), np.float32))


# ---------------------------------------------------------------------------
# 4. behaviour: carried state, reset, explicit state, pure backward, create, names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_chunks_equal_one_long_run(kind):
    n, d, h = 3, 4, 5
    xs = np.random.default_rng(1).standard_normal((n, 6, d))
    long = make_time(kind, d, h, np.random.default_rng(0), stateful=True)
    chunked = make_time(kind, d, h, np.random.default_rng(0), stateful=True)
    full = long.forward(xs)
    a = chunked.forward(xs[:, :3])
    b = chunked.forward(xs[:, 3:])
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), full, rtol=1e-12, atol=1e-14)
    for sname in long.state_names:
        np.testing.assert_allclose(getattr(chunked, sname), getattr(long, sname),
                                   rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(chunked.h, full[:, -1], rtol=1e-12, atol=1e-14)

    # a stateless layer starts every call from zeros, so its second chunk differs
    stateless = make_time(kind, d, h, np.random.default_rng(0))
    np.testing.assert_allclose(stateless.forward(xs[:, :3]), full[:, :3], rtol=1e-12, atol=1e-14)
    assert not np.allclose(stateless.forward(xs[:, 3:]), full[:, 3:])
    assert stateless.h is None


@pytest.mark.parametrize("kind", KINDS)
def test_reset_state_starts_from_zeros(kind):
    n, d, h = 2, 3, 4
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((n, 3, d))
    layer = make_time(kind, d, h, np.random.default_rng(0), stateful=True)
    first = layer.forward(xs)
    second = layer.forward(xs)
    assert not np.allclose(first, second)  # the state was carried
    layer.reset_state()
    assert all(getattr(layer, s) is None for s in layer.state_names)
    np.testing.assert_array_equal(layer.forward(xs), first)
    zeros = tuple(np.zeros((n, h)) for _ in layer.state_names)
    np.testing.assert_allclose(make_time(kind, d, h, np.random.default_rng(0)).forward(xs, *zeros),
                               first, rtol=1e-15, atol=0)


@pytest.mark.parametrize("kind", ["rnn-tanh", "lstm", "gru"])
def test_explicit_state_overrides_carried_state(kind):
    n, d, h = 2, 3, 4
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((n, 4, d))
    layer = make_time(kind, d, h, np.random.default_rng(0), stateful=True)
    layer.forward(rng.standard_normal((n, 2, d)))
    init = random_states(layer, n, rng)
    hs = layer.forward(xs, *init)
    ref = make_time(kind, d, h, np.random.default_rng(0))
    np.testing.assert_array_equal(hs, ref.forward(xs, *init))
    np.testing.assert_array_equal(layer.h, hs[:, -1])  # and the new final state is carried on
    back = layer.backward(rng.standard_normal(hs.shape))
    assert isinstance(back, tuple) and len(back) == 1 + len(init)
    # the next call without a state is stateful again and returns dxs only
    layer.forward(xs)
    assert isinstance(layer.backward(rng.standard_normal(hs.shape)), np.ndarray)


def _snapshot(mod) -> dict[str, object]:
    """Copies of every array (also inside tuples, e.g. the cache) in the module tree."""
    out: dict[str, object] = {}
    for prefix, m in mod.named_modules():
        for k, v in vars(m).items():
            if k in ("params", "grads", "dh", "dc"):  # dh, dc: set by backward itself
                continue
            if isinstance(v, np.ndarray):
                out[f"{prefix}.{k}"] = v.copy()
            elif isinstance(v, tuple):
                for i, a in enumerate(v):
                    if isinstance(a, np.ndarray):
                        out[f"{prefix}.{k}[{i}]"] = a.copy()
    return out


def _all_grads(mod) -> dict[str, np.ndarray]:
    return {k: g.copy() for k, g in mod.gradients().items()}


def _pure_cases():
    def time(kind, stateful=False, init=False):
        def make(rng, n, d, h):
            layer = make_time(kind, d, h, rng, stateful=stateful)
            if stateful:
                layer.forward(rng.standard_normal((n, 2, d)))
            return layer, random_states(layer, n, rng) if init else ()
        return make

    cases = {k: time(k) for k in KINDS}
    cases.update({f"{k}-stateful": time(k, stateful=True) for k in ("lstm", "gru", "rnn-tanh")})
    cases.update({f"{k}-h0": time(k, init=True) for k in ("lstm", "gru", "rnn-relu")})
    cases["bidirectional-lstm"] = lambda rng, n, d, h: (
        Bidirectional(make_time("lstm", d, h, rng), make_time("lstm", d, h, rng)), ())
    cases["bidirectional-gru"] = lambda rng, n, d, h: (
        Bidirectional(make_time("gru", d, h, rng), make_time("gru", d, h, rng)), ())
    cases["time-dropout"] = lambda rng, n, d, h: (
        TimeDropout(0.5, rng=np.random.default_rng(0)), ())
    cases["time-dropout-eval"] = lambda rng, n, d, h: (
        TimeDropout(0.5, rng=np.random.default_rng(0)).eval(), ())
    return cases


PURE = _pure_cases()


@pytest.mark.parametrize("name", list(PURE))
def test_backward_twice_same_result_and_inputs_untouched(rng, name):
    n, t, d, h = 3, 4, 4, 4  # d == h so TimeDropout fits the same xs
    layer, init = PURE[name](rng, n, d, h)
    xs = rng.standard_normal((n, t, d))
    ins_before = [a.copy() for a in (xs, *init)]
    out = layer.forward(xs, *init)
    dhs = rng.standard_normal(out.shape)
    dhs_before = dhs.copy()
    state_before = _snapshot(layer)

    r1 = layer.backward(dhs)
    r1 = r1 if isinstance(r1, tuple) else (r1,)
    r1_copy = [a.copy() for a in r1]
    grads1 = _all_grads(layer)
    r2 = layer.backward(dhs)
    r2 = r2 if isinstance(r2, tuple) else (r2,)

    np.testing.assert_array_equal(dhs, dhs_before)
    for a, b in zip((xs, *init), ins_before):
        np.testing.assert_array_equal(a, b)
    assert len(r1) == len(r2) == 1 + len(init)
    for a, b, c in zip(r1, r1_copy, r2):
        np.testing.assert_array_equal(a, b)  # the second call did not overwrite the first
        np.testing.assert_array_equal(c, b)
    for k, g in _all_grads(layer).items():
        np.testing.assert_array_equal(g, grads1[k], err_msg=k)
    after = _snapshot(layer)
    assert after.keys() == state_before.keys()
    for k, v in state_before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=f"{name}: {k} changed")


@pytest.mark.parametrize("cls, cell, biases", [(TimeRNN, RNN, ["b"]), (TimeLSTM, LSTM, ["b"]),
                                               (TimeGRU, GRU, ["bx", "bh"])])
def test_time_create_defaults(cls, cell, biases):
    d, h = 3, 5
    g = cell.gates
    layer = cls.create(d, h, np.random.default_rng(0))
    assert list(layer.params) == ["Wx", "Wh", *biases]
    assert layer.params["Wx"].shape == (d, g * h) and layer.params["Wh"].shape == (h, g * h)
    for k in biases:
        assert layer.params[k].shape == (g * h,)
        np.testing.assert_array_equal(layer.params[k], 0)
    for k, v in layer.params.items():
        assert v.dtype == np.float32, k
        assert layer.grads[k].shape == v.shape and layer.grads[k].dtype == np.float32
    assert layer.hidden_size == h and layer.stateful is False
    assert all(getattr(layer, s) is None for s in layer.state_names)
    # the weights are drawn as the cell's create draws them
    ref = cell.create(d, h, np.random.default_rng(0))
    for k in layer.params:
        np.testing.assert_array_equal(layer.params[k], ref.params[k])

    hs = layer.forward(np.ones((2, 4, d), np.float32))
    assert hs.shape == (2, 4, h) and hs.dtype == np.float32
    assert cls.create(d, h, np.random.default_rng(0), stateful=True).stateful is True
    layer64 = cls.create(d, h, np.random.default_rng(0), dtype=np.float64)
    assert all(v.dtype == np.float64 for v in layer64.params.values())


def test_time_rnn_create_passes_activation():
    layer = TimeRNN.create(3, 4, np.random.default_rng(0), activation="relu")
    assert layer.activation == "relu"
    xs = np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32) * 3
    hs = layer.forward(xs)
    assert hs.min() == 0 and hs.max() > 0  # ReLU, not tanh


@pytest.mark.parametrize("kind", ["rnn-sigmoid", "lstm", "gru"])
def test_time_float32_agrees_with_float64(rng, kind):
    n, t, d, h = 3, 5, 4, 5
    l64 = make_time(kind, d, h, rng)
    l32 = copy.deepcopy(l64).astype(np.float32)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    hs64, hs32 = l64.forward(xs), l32.forward(xs.astype(np.float32))
    dx64, dx32 = l64.backward(dhs), l32.backward(dhs.astype(np.float32))
    assert hs32.dtype == dx32.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in l64.grads:
        assert l32.grads[k].dtype == np.float32
        np.testing.assert_allclose(l32.grads[k], l64.grads[k], rtol=1e-4, atol=1e-4)


def test_bidirectional_parameter_names_and_repr():
    rng = np.random.default_rng(0)
    layer = Bidirectional(TimeLSTM.create(3, 4, rng), TimeLSTM.create(3, 4, rng))
    want = ["fw.Wx", "fw.Wh", "fw.b", "bw.Wx", "bw.Wh", "bw.b"]
    assert list(layer.parameters()) == want
    assert layer.parameters()["bw.Wh"] is layer.bw.params["Wh"]
    assert not np.array_equal(layer.parameters()["fw.Wx"], layer.parameters()["bw.Wx"])
    xs = np.ones((2, 3, 3), np.float32)
    layer.backward(np.ones(layer.forward(xs).shape, np.float32))
    assert list(layer.gradients()) == want
    r = repr(layer)
    assert r.startswith("Bidirectional(") and "(fw): TimeLSTM(" in r and "(bw): TimeLSTM(" in r


def test_bidirectional_reset_state_resets_both():
    rng = np.random.default_rng(0)
    layer = Bidirectional(TimeGRU.create(3, 4, rng, stateful=True),
                          TimeLSTM.create(3, 4, rng, stateful=True))
    layer.forward(np.ones((2, 3, 3), np.float32))
    assert layer.fw.h is not None and layer.bw.c is not None
    layer.reset_state()
    assert layer.fw.h is None and layer.bw.h is None and layer.bw.c is None


@pytest.mark.parametrize("cls", TIME_CLASSES)
def test_repr_shows_stateful(cls):
    stateful = repr(_layer32(cls, stateful=True))
    assert stateful.startswith(f"{cls.__name__}(Wx: (3, ") and "stateful" in stateful
    assert "stateful" not in repr(_layer32(cls))


def test_time_dropout_eval_is_identity(rng):
    layer = TimeDropout(0.5, rng=np.random.default_rng(0)).eval()
    xs, dhs = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    np.testing.assert_array_equal(layer.forward(xs), xs)
    np.testing.assert_array_equal(layer.backward(dhs), dhs)


def test_time_dropout_train_masks_every_element_independently():
    p = 0.5
    layer = TimeDropout(p, rng=np.random.default_rng(5))
    xs = np.ones((4, 50, 60))
    out = layer.forward(xs)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-15)
    assert abs(kept.mean() - (1 - p)) < 0.02
    # not one mask shared over time steps, nor over the batch
    assert not np.array_equal(kept[:, 0], kept[:, 1])
    assert not np.array_equal(kept[0], kept[1])
    dhs = np.random.default_rng(6).standard_normal(xs.shape)
    dx = layer.backward(dhs)
    np.testing.assert_array_equal(dx[~kept], 0)
    np.testing.assert_allclose(dx[kept], dhs[kept] / (1 - p), rtol=1e-15)
    assert layer.forward(np.ones((2, 3, 4), np.float32)).dtype == np.float32


def test_time_lstm_outputs_and_grads_survive_later_calls(rng):
    """TimeLSTM reuses scratch arrays between calls: what it hands out (outputs,
    input and state gradients) must not change when it is called again, and its
    grads stay the same arrays (trainers may hold them), also in a copied layer
    whose gradient arrays no longer share one buffer."""
    n, t, d, h = 3, 4, 5, 6
    layer = make_time("lstm", d, h, rng)
    ref = copy.deepcopy(layer)
    assert ref.grads["Wx"].base is None  # the copy's grads are separate arrays
    grads = dict(layer.grads)
    kept = []
    for _ in range(3):
        xs, h0, c0 = rng.standard_normal((n, t, d)), *random_states(layer, n, rng)
        dhs = rng.standard_normal((n, t, h))
        out = layer.forward(xs, h0, c0)
        back = layer.backward(dhs)
        kept.append((xs, h0, c0, dhs, out, back, {k: v.copy() for k, v in layer.grads.items()}))
    for xs, h0, c0, dhs, out, back, g in kept:
        ref_out = ref.forward(xs, h0, c0)
        ref_back = ref.backward(dhs)
        np.testing.assert_array_equal(out, ref_out)
        for a, b in zip(back, ref_back):
            np.testing.assert_array_equal(a, b)
        for k in g:
            np.testing.assert_array_equal(g[k], ref.grads[k], err_msg=k)
    assert all(layer.grads[k] is grads[k] for k in grads)
    np.testing.assert_array_equal(kept[-1][-1]["b"], layer.grads["b"])
