"""The reference layers (zerokara.layers.reference): SimpleRNN, SimpleLSTM,
SimpleGRU and their Time versions.

Each computes the same function as its fast twin: forward outputs, every input
and parameter gradient, the carried state (h, c) and the initial state's
gradient (dh, dc) agree in float64 to 1e-10 on random shapes (including H = 32,
where TimeLSTM multiplies through padded copies of Wh), stateful over two calls
or not, with and without an explicit initial state. Each passes the numerical
gradient check and matches torch.nn.RNN / LSTM / GRU with the same weights.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_close, to_torch
from tests.layers.test_time import (KINDS, TORCH_KINDS, assert_grads_match, carried, detach,
                                    make_time, numeric_state_grads, random_states, relu_preacts,
                                    torch_layer)
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import (GRU, LSTM, RNN, SimpleGRU, SimpleLSTM, SimpleRNN, SimpleTimeGRU,
                             SimpleTimeLSTM, SimpleTimeRNN, TimeGRU, TimeLSTM, TimeRNN)

SETTINGS = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2**32 - 1)
hidden = st.one_of(st.integers(1, 5), st.just(32))  # 32: 4H float64s are 1 KiB, TimeLSTM pads
PAIRS = [(RNN, SimpleRNN), (LSTM, SimpleLSTM), (GRU, SimpleGRU),
         (TimeRNN, SimpleTimeRNN), (TimeLSTM, SimpleTimeLSTM), (TimeGRU, SimpleTimeGRU)]


def twin(fast, *, stateful: bool | None = None):
    """The reference layer holding copies of ``fast``'s parameters."""
    ref_cls = dict(PAIRS)[type(fast)]
    params = [p.copy() for p in fast.params.values()]
    kw = {"activation": fast.activation} if ref_cls in (SimpleRNN, SimpleTimeRNN) else {}
    if hasattr(fast, "stateful"):
        kw["stateful"] = fast.stateful if stateful is None else stateful
    return ref_cls(*params, **kw)


def make_ref(kind: str, d: int, h: int, rng: np.random.Generator, **kw):
    return twin(make_time(kind, d, h, rng, **kw))


def as_tuple(out) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def assert_same_layer_state(fast, ref, what: str) -> None:
    for k in fast.grads:
        np.testing.assert_allclose(ref.grads[k], fast.grads[k], rtol=1e-10, atol=1e-12,
                                   err_msg=f"{what}: d{k}")
    for s in fast.state_names:
        for name in (s, "d" + s):
            a, b = getattr(fast, name), getattr(ref, name)
            assert (a is None) == (b is None), f"{what}: {name}"
            if a is not None:
                np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12, err_msg=f"{what}: {name}")


# ---------------------------------------------------------------------------
# 1. the reference and the fast layer compute the same function
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 4), t=st.integers(1, 5), d=st.integers(1, 4), h=hidden, seed=seeds,
       stateful=st.booleans(), given_state=st.booleans())
@pytest.mark.parametrize("kind", KINDS)
def test_reference_time_layer_equals_fast(kind, n, t, d, h, seed, stateful, given_state):
    rng = np.random.default_rng(seed)
    fast = make_time(kind, d, h, rng, stateful=stateful)
    ref = twin(fast)
    for call in range(2):  # the second call starts from the carried state when stateful
        xs = rng.standard_normal((n, t + call, d))
        dhs = rng.standard_normal((n, t + call, h))
        init = random_states(fast, n, rng) if given_state else ()
        hs_f, hs_r = fast.forward(xs, *init), ref.forward(xs, *init)
        assert hs_r.shape == (n, t + call, h) and hs_r.dtype == hs_f.dtype
        assert_close(hs_r, hs_f)
        back_f, back_r = as_tuple(fast.backward(dhs)), as_tuple(ref.backward(dhs))
        assert len(back_r) == len(back_f) == 1 + len(init)
        for a, b in zip(back_f, back_r):
            assert_close(b, a)
        assert_same_layer_state(fast, ref, f"{kind} call {call}")
        assert (ref.h is not None) == stateful


@pytest.mark.parametrize("big, block", [(False, None), (True, None), (False, 1), (True, 2)])
def test_reference_lstm_equals_every_path_of_the_fast_one(rng, big, block):
    """TimeLSTM's padded Wh (H = 32 in float64), its other way round for a large Wh
    and its blocks of steps, each against the one plain loop."""
    n, t, d, h = 3, 5, 4, 32
    fast = make_time("lstm", d, h, rng, scale=0.3)
    if big:
        fast.big_Wh = 0
    if block:
        fast.block_bytes = block * n * 4 * h * 8
    ref = twin(fast)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    init = random_states(fast, n, rng)
    assert_close(ref.forward(xs, *init), fast.forward(xs, *init))
    for a, b in zip(fast.backward(dhs), ref.backward(dhs)):
        assert_close(b, a)
    assert_same_layer_state(fast, ref, "lstm")


@SETTINGS
@given(n=st.integers(1, 4), d=st.integers(1, 4), h=hidden, seed=seeds)
@pytest.mark.parametrize("kind", KINDS)
def test_reference_cell_equals_fast(kind, n, d, h, seed):
    rng = np.random.default_rng(seed)
    base, _, act = kind.partition("-")
    fast_time = make_time(kind, d, h, rng)
    fast = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[base](
        *fast_time.params.values(), **({"activation": act} if act else {}))
    ref = twin(fast)
    states = random_states(fast_time, n, rng)
    x = rng.standard_normal((n, d))
    out_f, out_r = as_tuple(fast.forward(x, *states)), as_tuple(ref.forward(x, *states))
    for a, b in zip(out_f, out_r):
        assert_close(b, a)
    douts = [rng.standard_normal(o.shape) for o in out_f]
    back_f, back_r = fast.backward(*douts), ref.backward(*douts)
    assert len(back_r) == len(back_f) == 1 + len(states)
    for a, b in zip(back_f, back_r):
        assert_close(b, a)
    for k in fast.grads:
        assert_close(ref.grads[k], fast.grads[k])


@pytest.mark.parametrize("fast_cls, ref_cls", PAIRS)
def test_reference_create_draws_the_same_weights(fast_cls, ref_cls):
    kw = {"stateful": True} if "Time" in fast_cls.__name__ else {}
    fast = fast_cls.create(3, 5, np.random.default_rng(0), **kw)
    ref = ref_cls.create(3, 5, np.random.default_rng(0), **kw)
    assert list(ref.params) == list(fast.params)
    for k, v in fast.params.items():
        assert ref.params[k].dtype == np.float32 and ref.grads[k].shape == v.shape
        np.testing.assert_array_equal(ref.params[k], v)
    if kw:
        assert ref.stateful and ref.hidden_size == 5 and ref.state_names == fast.state_names
    ref64 = ref_cls.create(3, 5, np.random.default_rng(0), dtype=np.float64)
    assert all(v.dtype == np.float64 for v in ref64.params.values())


# ---------------------------------------------------------------------------
# 2. numerical gradient check (float64)
# ---------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(1, 3), h=st.integers(1, 4),
       seed=seeds)
@pytest.mark.parametrize("mode", ["stateless", "stateful", "h0"])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_reference_time(kind, mode, n, t, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = make_ref(kind, d, h, rng, stateful=mode == "stateful")
    xs = rng.standard_normal((n, t, d))
    if layer.stateful:  # one forward first, so a non-zero state is carried in
        layer.forward(rng.standard_normal((n, 2, d)))
        assume(all(np.any(s != 0) for s in carried(layer)))
    given_states = random_states(layer, n, rng) if mode == "h0" else ()
    init = given_states or (carried(layer) if layer.stateful else
                            tuple(np.zeros((n, h)) for _ in layer.state_names))
    if kind == "rnn-relu":  # finite differences across ReLU's kink are meaningless
        assume(np.min(np.abs(relu_preacts(layer, xs, init[0]))) > 1e-4)
    report = gradcheck(layer, xs, *given_states)
    assert report.ok, str(report)
    state_args = {"h0", "c0"} if kind == "lstm" else {"h0"}
    assert {e.name for e in report.entries} == (
        {"xs", *layer.params} | (state_args if given_states else set()))
    # dh (and dc) equal the numerical gradient w.r.t. the initial state actually used
    dhs = rng.standard_normal((n, t, h))
    layer.forward(xs, *given_states)
    layer.backward(dhs)
    for sname, num in zip(layer.state_names, numeric_state_grads(layer, xs, init, dhs)):
        np.testing.assert_allclose(getattr(layer, "d" + sname), num, rtol=1e-6, atol=1e-8)


@SETTINGS
@given(n=st.integers(1, 4), d=st.integers(1, 4), h=st.integers(1, 5), seed=seeds)
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_reference_cell(kind, n, d, h, seed):
    rng = np.random.default_rng(seed)
    base, _, act = kind.partition("-")
    p = make_time(kind, d, h, rng).params
    cell = {"rnn": SimpleRNN, "lstm": SimpleLSTM, "gru": SimpleGRU}[base](
        *p.values(), **({"activation": act} if act else {}))
    x = rng.standard_normal((n, d))
    states = [rng.standard_normal((n, h)) for _ in range(2 if base == "lstm" else 1)]
    if act == "relu":
        a = x @ p["Wx"] + states[0] @ p["Wh"] + p["b"]
        assume(np.min(np.abs(a)) > 1e-4)
    report = gradcheck(cell, x, *states)
    assert report.ok, str(report)
    inputs = {"x", "h_prev", "c_prev"} if base == "lstm" else {"x", "h_prev"}
    assert {e.name for e in report.entries} == inputs | set(p)


# ---------------------------------------------------------------------------
# 3. parity with PyTorch (float64, batch_first; torch's gate order is ours)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TORCH_KINDS)
def test_reference_matches_torch_over_chunks_with_carried_state(rng, kind):
    n, d, h = 3, 4, 5
    layer = make_ref(kind, d, h, rng, stateful=True, scale=0.7)
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
        assert isinstance(dxs, np.ndarray)
        assert_close(hs, out)
        for sname, s in zip(layer.state_names, as_tuple(state)):
            assert_close(getattr(layer, sname), s[0])
        assert_close(dxs, xt.grad)
        assert_grads_match(layer, mod)


@pytest.mark.parametrize("kind", TORCH_KINDS)
def test_reference_matches_torch_with_initial_state_gradient(rng, kind):
    n, t, d, h = 3, 5, 4, 5
    layer = make_ref(kind, d, h, rng, scale=0.7)
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


# ---------------------------------------------------------------------------
# 4. the same contract as the fast layers: errors, state, pure backward
# ---------------------------------------------------------------------------

REF_TIME = [SimpleTimeRNN, SimpleTimeLSTM, SimpleTimeGRU]


@pytest.mark.parametrize("cls", REF_TIME)
def test_reference_bad_input_names_layer_argument_expected_received(cls):
    layer = cls.create(3, 5, np.random.default_rng(0))
    name = cls.__name__
    with pytest.raises(InputError, match=rf"^{name}: xs expected shape \(N, T, 3\), got \(2, 4, 6\)"):
        layer.forward(np.zeros((2, 4, 6), np.float32))
    with pytest.raises(InputError, match=rf"^{name}: xs expected dtype float32 .*got float64"):
        layer.forward(np.zeros((2, 4, 3), np.float64))
    states = [np.zeros((2, 4), np.float32), np.zeros((2, 5), np.float32)][: len(layer.state_names)]
    with pytest.raises(InputError, match=rf"^{name}: initial h expected shape \(2, 5\), got \(2, 4\)"):
        layer.forward(np.zeros((2, 4, 3), np.float32), *states)
    cell = cls.cell.create(3, 5, np.random.default_rng(0))
    cell_states = [np.zeros((2, 5), np.float32)] * len(layer.state_names)
    with pytest.raises(InputError, match=rf"^{cls.cell.__name__}: x expected shape \(N, 3\)"):
        cell.forward(np.zeros((2, 4), np.float32), *cell_states)


def test_reference_rnn_unknown_activation():
    with pytest.raises(InputError, match=r"^SimpleTimeRNN: activation expected one of .*'gelu'"):
        SimpleTimeRNN.create(3, 4, np.random.default_rng(0), activation="gelu")


@pytest.mark.parametrize("cls", REF_TIME)
def test_reference_stateful_reset_and_repr(cls):
    layer = cls.create(3, 5, np.random.default_rng(0), stateful=True)
    xs = np.random.default_rng(1).standard_normal((2, 3, 3)).astype(np.float32)
    first = layer.forward(xs)
    assert not np.allclose(layer.forward(xs), first)  # the state was carried
    layer.reset_state()
    assert all(getattr(layer, s) is None for s in layer.state_names)
    np.testing.assert_array_equal(layer.forward(xs), first)
    with pytest.raises(InputError, match="reset_state()"):  # the batch size changed
        layer.forward(xs[:1])
    assert repr(layer).startswith(f"{cls.__name__}(Wx: (3, ") and "stateful" in repr(layer)


@pytest.mark.parametrize("kind", ["rnn-tanh", "lstm", "gru"])
@pytest.mark.parametrize("init_given", [False, True])
def test_reference_backward_twice_same_result_inputs_untouched(rng, kind, init_given):
    n, t, d, h = 3, 4, 3, 4
    layer = make_ref(kind, d, h, rng)
    xs, dhs = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, h))
    init = random_states(layer, n, rng) if init_given else ()
    before = [a.copy() for a in (xs, dhs, *init)]
    layer.forward(xs, *init)
    r1 = [a.copy() for a in as_tuple(layer.backward(dhs))]
    g1 = {k: g.copy() for k, g in layer.grads.items()}
    r2 = as_tuple(layer.backward(dhs))
    for a, b in zip(r1, r2):
        np.testing.assert_array_equal(a, b)
    for k in g1:
        np.testing.assert_array_equal(layer.grads[k], g1[k])
    for a, b in zip((xs, dhs, *init), before):
        np.testing.assert_array_equal(a, b)


def test_reference_input_grad_off_returns_none_as_the_fast_layer(rng):
    fast = make_time("lstm", 3, 4, rng)
    ref = twin(fast)
    xs, dhs = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 4))
    for layer in (fast, ref):
        layer.input_grad = False
        layer.forward(xs)
        assert layer.backward(dhs) is None
    assert_same_layer_state(fast, ref, "input_grad off")


def test_reference_float32_agrees_with_float64(rng):
    """A float32 copy (astype) computes in float32, close to float64."""
    l64 = make_ref("lstm", 3, 4, rng)
    l32 = copy.deepcopy(l64).astype(np.float32)
    xs, dhs = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    hs64, hs32 = l64.forward(xs), l32.forward(xs.astype(np.float32))
    dx64, dx32 = l64.backward(dhs), l32.backward(dhs.astype(np.float32))
    assert hs32.dtype == dx32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in l32.grads.values())
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)



def test_reference_and_fast_time_layers_share_one_state_and_check_base():
    """TimeRecurrent holds the state handling and input checks both versions use,
    so the two cannot drift apart in what they accept or carry."""
    from zerokara.layers.reference import SimpleTimeLSTM, SimpleTimeRNN
    from zerokara.layers.time import TimeLSTM, TimeRNN
    from zerokara.layers.time_base import TimeRecurrent

    for cls in (SimpleTimeRNN, SimpleTimeLSTM, SimpleTimeGRU, TimeRNN, TimeLSTM):
        assert issubclass(cls, TimeRecurrent)
