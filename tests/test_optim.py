"""Optimizers equal torch.optim step by step in float64; clipping equals
torch.nn.utils.clip_grad_norm_; optimizer state survives a round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import assert_close, to_numpy, to_torch
from zerokara.errors import InputError
from zerokara.optim import (OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop,
                            clip_grads, make_optimizer)

# (ours, torch) with the same hyper-parameters passed explicitly on both sides
CASES = {
    "sgd": (lambda: SGD(lr=0.1),
            lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "momentum": (lambda: Momentum(lr=0.05, momentum=0.8),
                 lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8)),
    "nesterov": (lambda: Nesterov(lr=0.05, momentum=0.9),
                 lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    "adagrad": (lambda: AdaGrad(lr=0.1, eps=1e-7),
                lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-7, initial_accumulator_value=0)),
    "rmsprop": (lambda: RMSprop(lr=0.01, alpha=0.9, eps=1e-7),
                lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7)),
    "adam": (lambda: Adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-8),
             lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-8)),
}
STEPS = 6


def _problem(rng):
    params = {"affine1.W": rng.standard_normal((4, 3)), "affine1.b": rng.standard_normal(3)}
    grads = []
    for _ in range(2 * STEPS):
        g = {k: rng.standard_normal(v.shape) * 0.5 for k, v in params.items()}
        g["affine1.b"][0] = 0.0  # a zero gradient (AdaGrad/RMSprop: 0 / (0 + eps))
        g["affine1.b"][1] *= 1e-8  # tiny: where eps goes (outside the sqrt) matters
        grads.append(g)
    return params, grads


@pytest.mark.parametrize("name", list(CASES))
def test_optimizer_matches_torch(rng, name):
    make_ours, make_theirs = CASES[name]
    params, grads = _problem(rng)
    start = {k: v.copy() for k, v in params.items()}
    arrays = dict(params)
    tparams = {k: to_torch(v, grad=True) for k, v in params.items()}
    ours, theirs = make_ours(), make_theirs(list(tparams.values()))

    for g in grads[:STEPS]:
        ours.update(params, g)
        for k, p in tparams.items():
            p.grad = to_torch(g[k])
        theirs.step()
        for k in params:
            assert_close(params[k], tparams[k], rtol=1e-12, atol=1e-14)
    assert ours.t == STEPS
    for k in params:
        assert params[k] is arrays[k]  # updated in place
        assert not np.allclose(params[k], start[k])


def test_defaults_and_hyper_parameters():
    assert AdaGrad().eps == 1e-7 and RMSprop().eps == 1e-7 and RMSprop().alpha == 0.99
    a = Adam()
    assert (a.lr, a.beta1, a.beta2, a.eps) == (0.001, 0.9, 0.999, 1e-8)
    assert Momentum().momentum == 0.9
    assert "lr=0.001" in repr(a) and repr(a).startswith("Adam(")


@pytest.mark.parametrize("lr", [0, -0.1, float("nan")])
def test_bad_learning_rate(lr):
    with pytest.raises(InputError, match="SGD: lr expected > 0"):
        SGD(lr=lr)


def test_sgd_first_step_by_hand():
    p = {"w": np.array([1.0, 2.0])}
    SGD(lr=0.5).update(p, {"w": np.array([2.0, -4.0])})
    np.testing.assert_array_equal(p["w"], [0.0, 4.0])


# ---------------------------------------------------------------------------
# clipping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grads_matches_torch(rng, max_norm):
    grads = {"a.W": rng.standard_normal((4, 3)), "a.b": rng.standard_normal(3),
             "b.W": rng.standard_normal((2, 2))}
    before = {k: v.copy() for k, v in grads.items()}
    arrays = dict(grads)
    tps = [to_torch(np.zeros_like(v), grad=True) for v in grads.values()]
    for p, g in zip(tps, grads.values()):
        p.grad = to_torch(g)

    total = clip_grads(grads, max_norm)
    total_t = torch.nn.utils.clip_grad_norm_(tps, max_norm)

    assert isinstance(total, float)
    assert_close(total, total_t.item())
    expected_norm = np.sqrt(sum(np.sum(g * g) for g in before.values()))
    assert_close(total, expected_norm)
    for (k, g), p in zip(grads.items(), tps):
        assert g is arrays[k]  # clipped in place
        assert_close(g, to_numpy(p.grad), rtol=1e-12, atol=1e-15)
    new_norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    if expected_norm > max_norm:
        assert new_norm == pytest.approx(max_norm, rel=1e-5)
    else:
        for k in grads:
            np.testing.assert_array_equal(grads[k], before[k])


# ---------------------------------------------------------------------------
# state dict
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip(rng, name):
    make = CASES[name][0]
    params, grads = _problem(rng)
    first = make()
    for g in grads[:3]:
        first.update(params, g)
    state = first.state_dict()
    assert state["t"].tolist() == [3]
    assert set(state) == {"t"} | {f"{s}.{k}" for s in first.slots for k in params}

    params2 = {k: v.copy() for k, v in params.items()}
    second = make()
    second.load_state_dict(state)
    fresh, params3 = make(), {k: v.copy() for k, v in params.items()}
    for g in grads[3:]:
        first.update(params, g)
        second.update(params2, g)
        fresh.update(params3, g)
    assert second.t == first.t == 3 + len(grads[3:])
    for k in params:
        np.testing.assert_array_equal(params2[k], params[k])
    if first.slots:  # stateful: forgetting the state would show
        assert any(not np.allclose(params3[k], params[k]) for k in params)


def test_load_state_dict_unknown_slot():
    with pytest.raises(InputError, match=r"SGD: unknown state 'v.w'"):
        SGD(lr=0.1).load_state_dict({"t": np.array([1]), "v.w": np.zeros(2)})


# ---------------------------------------------------------------------------
# make_optimizer
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, cls", [("sgd", SGD), ("Momentum", Momentum), ("nesterov", Nesterov),
                                       ("adagrad", AdaGrad), ("RMSprop", RMSprop), ("ADAM", Adam)])
def test_make_optimizer(name, cls):
    opt = make_optimizer(name, lr=0.02)
    assert type(opt) is cls and opt.lr == 0.02


def test_make_optimizer_unknown_name():
    with pytest.raises(InputError) as e:
        make_optimizer("adamw", lr=0.1)
    msg = str(e.value)
    assert "'adamw'" in msg
    for name in OPTIMIZERS:
        assert name in msg
    assert set(OPTIMIZERS) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
