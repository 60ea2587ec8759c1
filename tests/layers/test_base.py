"""Module containers: naming, shared (tied) parameters, state dicts, dtype,
train/eval, repr."""

from __future__ import annotations

import numpy as np
import pytest

from zerokara.check import gradcheck
from zerokara.errors import CheckpointError
from zerokara.layers import (Affine, BatchNorm, Dropout, Module, ReLU, Sequential, Sigmoid,
                             SoftmaxWithLoss, Tanh)


def _affine(rng, d, h, dtype=np.float64):
    return Affine(rng.standard_normal((d, h)).astype(dtype), rng.standard_normal(h).astype(dtype))


def mlp(rng, dtype=np.float64):
    return Sequential(_affine(rng, 4, 3, dtype), ReLU(), _affine(rng, 3, 2, dtype))


def tied(rng):
    """x -> affine1 (W, b1) -> tanh -> affine2 (the same W array, b2)."""
    a1 = _affine(rng, 3, 3)
    a2 = Affine(a1.params["W"], rng.standard_normal(3))
    return Sequential(a1, Tanh(), a2), a1, a2


# ---------------------------------------------------------------------------
# naming
# ---------------------------------------------------------------------------


def test_sequential_names(rng):
    model = Sequential(_affine(rng, 4, 3), ReLU(), _affine(rng, 3, 3), ReLU(), _affine(rng, 3, 2))
    assert list(model.layers) == ["affine1", "relu1", "affine2", "relu2", "affine3"]
    assert len(model) == 5
    assert model["relu2"] is model.layers["relu2"]
    assert list(model.parameters()) == ["affine1.W", "affine1.b", "affine2.W", "affine2.b",
                                        "affine3.W", "affine3.b"]
    assert list(model.gradients()) == list(model.parameters())
    assert model.parameters()["affine2.W"] is model["affine2"].params["W"]


def test_sequential_keyword_names_and_nesting(rng):
    inner = Sequential(_affine(rng, 4, 3), Sigmoid())
    model = Sequential(inner, _affine(rng, 3, 2), head=SoftmaxWithLoss())
    assert list(model.layers) == ["sequential1", "affine1", "head"]
    assert list(model.parameters()) == ["sequential1.affine1.W", "sequential1.affine1.b",
                                        "affine1.W", "affine1.b"]
    assert [n for n, _ in model.named_modules()] == [
        "", "sequential1", "sequential1.affine1", "sequential1.sigmoid1", "affine1", "head"]


def test_custom_module_children_from_attributes(rng):
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.enc = _affine(rng, 4, 3)
            self.act = ReLU()
            self.dec = _affine(rng, 3, 4)
            self.scale = 2.0  # not a module

        def forward(self, x):
            return self.dec(self.act(self.enc(x))) * self.scale

        def backward(self, dout):
            return self.enc.backward(self.act.backward(self.dec.backward(dout * self.scale)))

    net = Net()
    assert list(net.children()) == ["enc", "act", "dec"]
    assert list(net.parameters()) == ["enc.W", "enc.b", "dec.W", "dec.b"]
    report = gradcheck(net, rng.standard_normal((3, 4)))
    assert report.ok, str(report)


def test_generators_by_dotted_name(rng):
    d = Dropout(0.5, rng=np.random.default_rng(0))
    model = Sequential(_affine(rng, 2, 2), d)
    assert model.generators() == {"dropout1.rng": d.rng}


def test_forward_backward_chain_in_order(rng):
    model = mlp(rng)
    x = rng.standard_normal((5, 4))
    a1, a2 = model["affine1"], model["affine2"]
    expected = np.maximum(x @ a1.params["W"] + a1.params["b"], 0) @ a2.params["W"] + a2.params["b"]
    np.testing.assert_allclose(model(x), expected, rtol=1e-13)
    dx = model.backward(np.ones((5, 2)))
    assert dx.shape == (5, 4)


# ---------------------------------------------------------------------------
# shared parameters
# ---------------------------------------------------------------------------


def test_shared_weight_listed_once(rng):
    model, a1, a2 = tied(rng)
    params = model.parameters()
    assert list(params) == ["affine1.W", "affine1.b", "affine2.b"]
    assert params["affine1.W"] is a1.params["W"] is a2.params["W"]
    assert model.state_dict().keys() == params.keys()


def test_shared_weight_gradient_is_sum_of_both_uses(rng):
    model, a1, a2 = tied(rng)
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 3))
    model.forward(x)
    model.backward(dout)
    g1, g2 = a1.grads["W"].copy(), a2.grads["W"].copy()
    assert not np.allclose(g1, 0) and not np.allclose(g2, 0)
    grads = model.gradients()
    assert list(grads) == ["affine1.W", "affine1.b", "affine2.b"]
    np.testing.assert_allclose(grads["affine1.W"], g1 + g2, rtol=1e-15)
    # summing made a new array: each layer keeps its own gradient
    np.testing.assert_array_equal(a1.grads["W"], g1)
    np.testing.assert_array_equal(a2.grads["W"], g2)
    # unshared gradients are returned without a copy
    assert grads["affine1.b"] is a1.grads["b"]
    assert grads["affine2.b"] is a2.grads["b"]

    # numerically: d/dW sum(model(x) * dout), nudging the one shared array
    W = a1.params["W"]
    eps = 1e-6
    num = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        v = W[idx]
        W[idx] = v + eps
        fp = np.sum(model.forward(x) * dout)
        W[idx] = v - eps
        fm = np.sum(model.forward(x) * dout)
        W[idx] = v
        num[idx] = (fp - fm) / (2 * eps)
    np.testing.assert_allclose(grads["affine1.W"], num, rtol=1e-6, atol=1e-9)
    assert not np.allclose(g1, num, rtol=1e-3)  # one use alone is not the gradient


def test_shared_weight_gradcheck(rng):
    model, _, _ = tied(rng)
    report = gradcheck(model, rng.standard_normal((4, 3)))
    assert report.ok, str(report)
    assert [e.name for e in report.entries] == ["x", "affine1.W", "affine1.b", "affine2.b"]


def test_gradients_missing_raises(rng):
    class NoGrad(Module):
        def __init__(self):
            super().__init__()
            self.params = {"w": np.zeros(2)}

    with pytest.raises(RuntimeError, match=r"NoGrad: no gradient for parameter 'nograd1\.w'"):
        Sequential(NoGrad()).gradients()


# ---------------------------------------------------------------------------
# state dicts
# ---------------------------------------------------------------------------


def _snapshot(model):
    return {k: v.copy() for k, v in model.parameters().items()}


def test_state_dict_round_trip(rng):
    a, b = mlp(rng), mlp(rng)
    x = rng.standard_normal((3, 4))
    assert not np.allclose(a(x), b(x))
    arrays = dict(b.parameters())
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(a(x), b(x))
    for k, v in b.parameters().items():
        assert v is arrays[k]  # copied in place


def test_load_state_dict_keeps_sharing(rng):
    model, a1, a2 = tied(rng)
    new = {k: np.full_like(v, 7.0) for k, v in model.state_dict().items()}
    model.load_state_dict(new)
    assert a1.params["W"] is a2.params["W"]
    np.testing.assert_array_equal(a2.params["W"], 7.0)


def test_load_state_dict_missing_name(rng):
    model = mlp(rng)
    before = _snapshot(model)
    state = {k: np.zeros_like(v) for k, v in model.state_dict().items()}
    del state["affine2.b"]
    with pytest.raises(CheckpointError) as e:
        model.load_state_dict(state, source="ckpt.safetensors")
    msg = str(e.value)
    assert "ckpt.safetensors" in msg and "missing" in msg and "affine2.b" in msg
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_extra_name(rng):
    model = mlp(rng)
    before = _snapshot(model)
    state = {k: np.zeros_like(v) for k, v in model.state_dict().items()}
    state["affine3.W"] = np.zeros((2, 2))
    with pytest.raises(CheckpointError) as e:
        model.load_state_dict(state)
    assert "unexpected" in str(e.value) and "affine3.W" in str(e.value)
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_wrong_shape_changes_nothing(rng):
    model = mlp(rng)
    before = _snapshot(model)
    state = {k: np.zeros_like(v) for k, v in model.state_dict().items()}
    state["affine2.W"] = np.zeros((2, 3))  # transposed; affine1.* come first and are fine
    with pytest.raises(CheckpointError) as e:
        model.load_state_dict(state)
    msg = str(e.value)
    assert "affine2.W" in msg and "(3, 2)" in msg and "(2, 3)" in msg
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_checkpoint_error_is_oserror():
    assert issubclass(CheckpointError, OSError)


# ---------------------------------------------------------------------------
# dtype, train/eval, repr
# ---------------------------------------------------------------------------


def test_astype_keeps_shared_arrays_shared(rng):
    model, a1, a2 = tied(rng)
    model.eval()
    x = rng.standard_normal((2, 3))
    y64 = model(x)
    assert model.astype(np.float32) is model
    assert a1.params["W"] is a2.params["W"]
    assert a1.params["W"].dtype == np.float32
    for g in model.gradients().values():
        assert g.dtype == np.float32
    np.testing.assert_allclose(model(x.astype(np.float32)), y64, rtol=1e-5, atol=1e-6)
    model.astype(np.float64)
    assert a1.params["W"] is a2.params["W"]
    assert all(v.dtype == np.float64 for v in model.parameters().values())
    assert list(model.parameters()) == ["affine1.W", "affine1.b", "affine2.b"]


def test_astype_converts_batchnorm_statistics():
    model = Sequential(BatchNorm(3))
    model.astype(np.float64)
    bn = model["batchnorm1"]
    assert bn.running_mean.dtype == np.float64 and bn.running_var.dtype == np.float64
    assert bn.params["gamma"].dtype == np.float64 and bn.grads["gamma"].dtype == np.float64


def test_train_eval_propagate(rng):
    inner = Sequential(Dropout(0.5, rng=np.random.default_rng(0)), BatchNorm(3, dtype=np.float64))
    model = Sequential(_affine(rng, 3, 3), inner)
    assert all(m.training for _, m in model.named_modules())
    assert model.eval() is model
    assert not any(m.training for _, m in model.named_modules())
    x = rng.standard_normal((1, 3))
    y = model(x)  # eval: no dropout, running statistics (batch of 1 is fine)
    np.testing.assert_allclose(y, model(x))
    model.train()
    assert all(m.training for _, m in model.named_modules())
    model.train(False)
    assert not inner["dropout1"].training


def test_repr_readable(rng):
    model = Sequential(_affine(rng, 4, 3), ReLU(), Dropout(0.25), BatchNorm(3))
    text = repr(model)
    assert text.splitlines()[0] == "Sequential("
    assert "(affine1): Affine(W: (4, 3), b: (3,))" in text
    assert "(relu1): ReLU()" in text
    assert "(dropout1): Dropout(p=0.25)" in text
    assert "(batchnorm1): BatchNorm(gamma: (3,), beta: (3,))" in text
    assert text.endswith(")")
    nested = repr(Sequential(Sequential(ReLU())))
    assert "  (sequential1): Sequential(\n    (relu1): ReLU()\n  )" in nested
