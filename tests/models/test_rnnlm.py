"""Rnnlm and BetterRnnlm: gradient checks (weight tying included), parity with the
same model in PyTorch over consecutive truncated-BPTT chunks, names, state,
generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_close
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import RowGrad
from zerokara.models import BetterRnnlm, Rnnlm

V, D, H, N, T = 7, 3, 4, 2, 3


def ids(rng, n=N, t=T, v=V):
    return rng.integers(0, v, (n, t))


def names(rep) -> set[str]:
    return {e.name for e in rep.entries}


@pytest.mark.parametrize("carried", [False, True])
def test_rnnlm_gradcheck(rng, carried):
    model = Rnnlm(V, D, H, rng=rng, init=0.5, dtype=np.float64)
    if carried:  # a non-zero state carried in from a previous batch, as in truncated BPTT
        model.forward(ids(rng), ids(rng))
        assert np.any(model.layers["lstm"].h != 0)
    rep = gradcheck(model, ids(rng), ids(rng))
    assert rep.ok, str(rep)
    assert names(rep) == {"embed.W", "lstm.Wx", "lstm.Wh", "lstm.b", "affine.W", "affine.b"}


@pytest.mark.parametrize("layers,dropout", [(2, 0.0), (2, 0.4), (3, 0.3)])
def test_better_rnnlm_gradcheck_with_tying(rng, layers, dropout):
    model = BetterRnnlm(V, H, H, num_layers=layers, dropout=dropout, rng=rng, init=0.5,
                        dtype=np.float64)
    model.forward(ids(rng), ids(rng))  # carry a state in
    rep = gradcheck(model, ids(rng), ids(rng))  # dropout masks are replayed by gradcheck
    assert rep.ok, str(rep)
    lstm = {f"lstm{k}.{p}" for k in range(1, layers + 1) for p in ("Wx", "Wh", "b")}
    assert names(rep) == {"embed.W", "affine.b", *lstm}  # the tied W is one parameter


def test_tied_matrix_gets_the_sum_of_both_gradients(rng):
    model = BetterRnnlm(V, H, H, dropout=0.0, rng=rng, init=0.5, dtype=np.float64)
    W = model.layers["embed"].params["W"]
    assert model.layers["affine"].params["W"] is W
    model.forward(ids(rng), ids(rng))
    model.backward()
    lookup = model.layers["embed"].grads["W"]
    output = model.layers["affine"].grads["W"]
    assert isinstance(lookup, RowGrad) and output.shape == W.shape
    total = model.gradients()["embed.W"]
    np.testing.assert_allclose(np.asarray(total), np.asarray(lookup) + output, rtol=1e-12)
    # and each path alone is not the whole gradient
    assert not np.allclose(np.asarray(total), output) and not np.allclose(np.asarray(total), np.asarray(lookup))
    assert list(model.parameters()).count("embed.W") == 1 and "affine.W" not in model.parameters()


def test_untied_better_rnnlm_and_tying_size_error(rng):
    m = BetterRnnlm(V, D, H, tie_weights=False, rng=rng, dtype=np.float64)
    assert m.parameters()["affine.W"].shape == (H, V)
    with pytest.raises(InputError, match="weight tying needs wordvec_size == hidden_size"):
        BetterRnnlm(V, D, H)
    with pytest.raises(InputError, match="num_layers expected a positive integer"):
        BetterRnnlm(V, H, H, num_layers=0)


def torch_lm(model, layers: int):
    """The same model in torch: nn.Embedding, nn.LSTM (b_hh = 0), nn.Linear, float64."""
    p = {k: torch.tensor(v) for k, v in model.parameters().items()}
    emb = torch.nn.Embedding(V, p["embed.W"].shape[1]).double()
    lstm = torch.nn.LSTM(p["embed.W"].shape[1], H, num_layers=layers, batch_first=True).double()
    lin = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        emb.weight.copy_(p["embed.W"])
        names = ["lstm"] if layers == 1 else [f"lstm{k}" for k in range(1, layers + 1)]
        for k, n in enumerate(names):
            getattr(lstm, f"weight_ih_l{k}").copy_(p[f"{n}.Wx"].T)
            getattr(lstm, f"weight_hh_l{k}").copy_(p[f"{n}.Wh"].T)
            getattr(lstm, f"bias_ih_l{k}").copy_(p[f"{n}.b"])
            getattr(lstm, f"bias_hh_l{k}").zero_()
        lin.bias.copy_(p["affine.b"])
        if "affine.W" in p:
            lin.weight.copy_(p["affine.W"].T)
    if "affine.W" not in p:
        lin.weight = emb.weight  # tied in torch too: one Parameter, its .grad sums both uses
    return emb, lstm, lin, names


@pytest.mark.parametrize("kind", ["rnnlm", "better-untied", "better-tied"])
def test_matches_torch_over_consecutive_chunks(rng, kind):
    """Two truncated-BPTT chunks: the state is carried, the gradient is not."""
    if kind == "rnnlm":
        model, layers = Rnnlm(V, D, H, rng=rng, init=0.5, dtype=np.float64), 1
    else:
        tie = kind == "better-tied"
        model, layers = BetterRnnlm(V, H if tie else D, H, tie_weights=tie, dropout=0.0, rng=rng,
                                    init=0.5, dtype=np.float64), 2
    emb, lstm, lin, lstm_names = torch_lm(model, layers)
    state = None
    for _ in range(2):
        x, t = ids(rng, t=4), ids(rng, t=4)
        loss = model.forward(x, t)
        model.backward()
        grads = {k: np.asarray(g) for k, g in model.gradients().items()}
        for prm in (*emb.parameters(), *lstm.parameters(), *lin.parameters()):
            prm.grad = None  # zerokara sets its gradients each step; torch would accumulate
        hs, state = lstm(emb(torch.from_numpy(x)), state)
        lt = F.cross_entropy(lin(hs).reshape(-1, V), torch.from_numpy(t.reshape(-1)))
        lt.backward()
        state = tuple(s.detach() for s in state)  # truncated: no gradient across chunks
        assert_close(loss, lt.item())
        assert_close(grads["embed.W"], emb.weight.grad)
        if "affine.W" in grads:
            assert_close(grads["affine.W"], lin.weight.grad.T)
        assert_close(grads["affine.b"], lin.bias.grad)
        for k, n in enumerate(lstm_names):
            assert_close(grads[f"{n}.Wx"], getattr(lstm, f"weight_ih_l{k}").grad.T)
            assert_close(grads[f"{n}.Wh"], getattr(lstm, f"weight_hh_l{k}").grad.T)
            assert_close(grads[f"{n}.b"], getattr(lstm, f"bias_ih_l{k}").grad)


def test_book_init_and_dtype():
    m = Rnnlm(1000, 50, 40, rng=np.random.default_rng(0))
    p = m.parameters()
    assert all(a.dtype == np.float32 for a in p.values())
    assert p["embed.W"].std() == pytest.approx(0.01, rel=0.05)
    assert p["lstm.Wx"].std() == pytest.approx(1 / np.sqrt(50), rel=0.05)
    assert p["lstm.Wh"].std() == pytest.approx(1 / np.sqrt(40), rel=0.05)
    assert p["affine.W"].std() == pytest.approx(1 / np.sqrt(40), rel=0.05)
    assert not p["lstm.b"].any() and not p["affine.b"].any()
    u = BetterRnnlm(1000, 40, 40, init="uniform", init_scale=0.1, rng=np.random.default_rng(0))
    for name, a in u.parameters().items():
        if name.endswith("W") or name.endswith("Wx") or name.endswith("Wh"):
            assert -0.1 <= a.min() < -0.09 and 0.09 < a.max() <= 0.1, name


def test_state_is_carried_reset_and_restored(rng):
    model = BetterRnnlm(V, H, H, dropout=0.0, rng=rng, dtype=np.float64)
    x = ids(rng)
    a = model.predict(x)
    b = model.predict(x)  # starts from the state a left
    assert not np.allclose(a, b)
    saved = {k: v.copy() for k, v in model.get_state().items()}
    assert set(saved) == {"lstm1.h", "lstm1.c", "lstm2.h", "lstm2.c"}
    c = model.predict(x)
    model.set_state(saved)
    np.testing.assert_array_equal(model.predict(x), c)
    model.reset_state()
    np.testing.assert_array_equal(model.predict(x), a)


def test_generate_is_reproducible_and_respects_options(rng):
    model = Rnnlm(V, D, H, rng=rng, init=1.0)
    g = lambda seed, **kw: model.generate([1, 2], 30, np.random.default_rng(seed), **kw)  # noqa: E731
    a = g(5)
    assert a[:2] == [1, 2] and len(a) == 32 and all(0 <= i < V for i in a)
    assert g(5) == a  # same seed, same text
    assert g(6) != a
    assert not {3, 4} & set(g(5, skip_ids=[3, 4])[2:])
    greedy = g(1, top_k=1)
    assert greedy == g(2, top_k=1)  # k=1 is argmax, whatever the seed
    assert greedy == g(3, temperature=1e-4)
    assert model.training and model.layers["lstm"].h is None  # mode and state left as found
    with pytest.raises(InputError, match="temperature expected > 0"):
        g(0, temperature=0)
    with pytest.raises(InputError, match="top_k expected in"):
        g(0, top_k=V + 1)


@pytest.mark.parametrize("kind", ["rnnlm", "better-tied"])
def test_training_steps_match_torch(rng, kind):
    """Three truncated-BPTT steps with clipping and SGD: zerokara's sparse embedding
    update (and the tied matrix's summed gradient) land on torch's weights."""
    from zerokara.optim import SGD, clip_grads

    if kind == "rnnlm":
        model, layers = Rnnlm(V, D, H, rng=rng, init=0.5, dtype=np.float64), 1
    else:
        model, layers = BetterRnnlm(V, H, H, dropout=0.0, rng=rng, init=0.5, dtype=np.float64), 2
    emb, lstm, lin, lstm_names = torch_lm(model, layers)
    for k in range(layers):
        getattr(lstm, f"bias_hh_l{k}").requires_grad_(False)  # zerokara's LSTM has one bias
    # the tied matrix is one Parameter reached twice: list it once
    params = list(dict.fromkeys(q for m in (emb, lstm, lin) for q in m.parameters() if q.requires_grad))
    topt, opt, state = torch.optim.SGD(params, lr=3.0), SGD(3.0), None
    for _ in range(3):
        x, t = ids(rng, t=4), ids(rng, t=4)
        model.forward(x, t)
        model.backward()
        grads = model.gradients()
        clip_grads(grads, 0.3)
        opt.update(model.parameters(), grads)
        topt.zero_grad(set_to_none=True)
        hs, state = lstm(emb(torch.from_numpy(x)), state)
        state = tuple(s.detach() for s in state)
        F.cross_entropy(lin(hs).reshape(-1, V), torch.from_numpy(t.reshape(-1))).backward()
        torch.nn.utils.clip_grad_norm_(params, 0.3)
        topt.step()
    p = model.parameters()
    assert_close(p["embed.W"], emb.weight, rtol=1e-9)
    assert_close(p["affine.b"], lin.bias, rtol=1e-9)
    if "affine.W" in p:
        assert_close(p["affine.W"], lin.weight.T, rtol=1e-9)
    for k, n in enumerate(lstm_names):
        assert_close(p[f"{n}.Wh"], getattr(lstm, f"weight_hh_l{k}").T, rtol=1e-9)
