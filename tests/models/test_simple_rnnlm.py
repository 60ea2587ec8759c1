"""SimpleRnnlm (book 2, chapter 5): gradient check (fresh and carried state),
parity with the same model in PyTorch (nn.Embedding -> nn.RNN tanh -> nn.Linear)
over consecutive truncated-BPTT chunks, book 2's initialisation, state handling,
generation, and bad sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_close
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import TimeRNN
from zerokara.models import SimpleRnnlm

V, D, H, N, T = 7, 3, 4, 2, 3
NAMES = {"embed.W", "rnn.Wx", "rnn.Wh", "rnn.b", "affine.W", "affine.b"}


def ids(rng, n=N, t=T, v=V):
    return rng.integers(0, v, (n, t))


@pytest.mark.parametrize("carried", [False, True])
def test_gradcheck(rng, carried):
    model = SimpleRnnlm(V, D, H, rng=rng, init=0.5, dtype=np.float64)
    model.layers["rnn"].params["b"][...] = rng.standard_normal(H)  # a non-zero bias is checked too
    if carried:  # a non-zero state carried in from a previous batch, as in truncated BPTT
        model.forward(ids(rng), ids(rng))
        assert np.any(model.layers["rnn"].h != 0)
    rep = gradcheck(model, ids(rng), ids(rng))
    assert rep.ok, str(rep)
    assert {e.name for e in rep.entries} == NAMES


def test_layers_are_the_books():
    m = SimpleRnnlm(V, D, H, rng=np.random.default_rng(0))
    assert list(m.layers) == ["embed", "rnn", "affine"]
    rnn = m.layers["rnn"]
    assert isinstance(rnn, TimeRNN) and rnn.stateful and rnn.activation == "tanh"
    assert set(m.parameters()) == NAMES


def torch_lm(model: SimpleRnnlm):
    """The same model in torch, float64: nn.RNN's two biases are our b and 0."""
    p = {k: torch.tensor(v) for k, v in model.parameters().items()}
    emb = torch.nn.Embedding(V, D).double()
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True).double()
    lin = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        emb.weight.copy_(p["embed.W"])
        rnn.weight_ih_l0.copy_(p["rnn.Wx"].T)
        rnn.weight_hh_l0.copy_(p["rnn.Wh"].T)
        rnn.bias_ih_l0.copy_(p["rnn.b"])
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(p["affine.W"].T)
        lin.bias.copy_(p["affine.b"])
    return emb, rnn, lin


def test_matches_torch_over_consecutive_chunks(rng):
    """Three truncated-BPTT chunks: the state is carried, the gradient is not."""
    model = SimpleRnnlm(V, D, H, rng=rng, init=0.5, dtype=np.float64)
    model.layers["rnn"].params["b"][...] = rng.standard_normal(H)
    emb, rnn, lin = torch_lm(model)
    state = None
    for _ in range(3):
        x, t = ids(rng, t=4), ids(rng, t=4)
        loss = model.forward(x, t)
        model.backward()
        grads = {k: np.asarray(g) for k, g in model.gradients().items()}
        for prm in (*emb.parameters(), *rnn.parameters(), *lin.parameters()):
            prm.grad = None
        hs, state = rnn(emb(torch.from_numpy(x)), state)
        lt = F.cross_entropy(lin(hs).reshape(-1, V), torch.from_numpy(t.reshape(-1)))
        lt.backward()
        state = state.detach()  # truncated: no gradient across chunks
        assert_close(loss, lt.item())
        assert_close(model.layers["rnn"].h, state[0])
        assert_close(grads["embed.W"], emb.weight.grad)
        assert_close(grads["rnn.Wx"], rnn.weight_ih_l0.grad.T)
        assert_close(grads["rnn.Wh"], rnn.weight_hh_l0.grad.T)
        assert_close(grads["rnn.b"], rnn.bias_ih_l0.grad)
        assert_close(grads["affine.W"], lin.weight.grad.T)
        assert_close(grads["affine.b"], lin.bias.grad)


def test_book_init_and_dtype():
    """book 2's ch05/simple_rnnlm.py: embedding randn / 100, Wx randn / sqrt(D),
    Wh randn / sqrt(H), affine randn / sqrt(H), zero biases, float32."""
    m = SimpleRnnlm(1000, 50, 40, rng=np.random.default_rng(0))
    p = m.parameters()
    assert all(a.dtype == np.float32 for a in p.values())
    assert p["embed.W"].shape == (1000, 50) and p["embed.W"].std() == pytest.approx(0.01, rel=0.05)
    assert p["rnn.Wx"].shape == (50, 40) and p["rnn.Wx"].std() == pytest.approx(1 / np.sqrt(50), rel=0.05)
    assert p["rnn.Wh"].shape == (40, 40) and p["rnn.Wh"].std() == pytest.approx(1 / np.sqrt(40), rel=0.05)
    assert p["affine.W"].shape == (40, 1000)
    assert p["affine.W"].std() == pytest.approx(1 / np.sqrt(40), rel=0.05)
    assert not p["rnn.b"].any() and not p["affine.b"].any()
    a = SimpleRnnlm(50, 8, 8, rng=np.random.default_rng(3)).parameters()
    b = SimpleRnnlm(50, 8, 8, rng=np.random.default_rng(3)).parameters()
    assert all(np.array_equal(a[k], b[k]) for k in a)  # the seed decides


def test_state_is_carried_reset_and_restored(rng):
    model = SimpleRnnlm(V, D, H, rng=rng, init=0.5, dtype=np.float64)
    x = ids(rng)
    a = model.predict(x)
    b = model.predict(x)  # starts from the state a left
    assert not np.allclose(a, b)
    saved = {k: v.copy() for k, v in model.get_state().items()}
    assert set(saved) == {"rnn.h"} and saved["rnn.h"].shape == (N, H)
    c = model.predict(x)
    model.set_state(saved)
    np.testing.assert_array_equal(model.predict(x), c)
    model.reset_state()
    assert model.get_state() == {}
    np.testing.assert_array_equal(model.predict(x), a)


def test_generate(rng):
    model = SimpleRnnlm(V, D, H, rng=rng, init=1.0)
    out = model.generate([1, 2], 20, np.random.default_rng(5))
    assert out[:2] == [1, 2] and len(out) == 22 and all(0 <= i < V for i in out)
    assert model.generate([1, 2], 20, np.random.default_rng(5)) == out
    assert model.layers["rnn"].h is None  # the state is left reset


def test_bad_sizes():
    with pytest.raises(InputError, match="SimpleRnnlm: hidden_size expected a positive integer, got 0"):
        SimpleRnnlm(V, D, 0)
    with pytest.raises(InputError, match="SimpleRnnlm: vocab_size expected a positive integer"):
        SimpleRnnlm(0, D, H)
