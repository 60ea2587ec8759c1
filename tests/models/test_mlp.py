"""TwoLayerNet and MultiLayerNet: gradient check, PyTorch parity, real MNIST accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.realdata import real_mnist  # noqa: F401  (fixture)
from zerokara.check import gradcheck
from zerokara.models import MultiLayerNet, TwoLayerNet
from zerokara.optim import SGD, Adam
from zerokara.train import ClassifierTrainer


def data(n=5, d=6, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


@pytest.mark.parametrize("act", ["sigmoid", "relu", "tanh"])
def test_two_layer_net_gradcheck(act):
    x, t = data()
    net = TwoLayerNet(6, 5, 4, activation_name=act, weight_init_std=1.0, rng=np.random.default_rng(1),
                      dtype=np.float64)
    rep = gradcheck(net, x, t)
    assert rep.ok, rep
    assert {e.name for e in rep.entries} == {"x", "affine1.W", "affine1.b", "affine2.W", "affine2.b"}


@pytest.mark.parametrize("bn,drop,init", [(False, 0.0, "he"), (True, 0.0, "xavier"), (True, 0.4, 0.5)])
def test_multi_layer_net_gradcheck(bn, drop, init):
    x, t = data(n=6)
    net = MultiLayerNet(6, (5, 4, 3), 4, batchnorm=bn, dropout=drop, init=init,
                        rng=np.random.default_rng(2), dtype=np.float64)
    rep = gradcheck(net, x, t)
    assert rep.ok, rep
    assert ("batchnorm1.gamma" in {e.name for e in rep.entries}) == bn


def test_multi_layer_net_matches_torch():
    """Same weights, same batch: loss, input gradient and every parameter gradient agree."""
    x, t = data(n=8, d=6, c=4)
    net = MultiLayerNet(6, (5, 7), 4, batchnorm=True, rng=np.random.default_rng(3), dtype=np.float64)
    loss = net.forward(x, t)
    dx = net.backward()
    grads = net.gradients()

    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.parameters().items()}
    xt = torch.tensor(x, requires_grad=True)
    h = xt
    for i in (1, 2):
        h = h @ p[f"affine{i}.W"] + p[f"affine{i}.b"]
        h = F.batch_norm(h, None, None, p[f"batchnorm{i}.gamma"], p[f"batchnorm{i}.beta"], training=True,
                         eps=1e-5)
        h = F.relu(h)
    out = F.cross_entropy(h @ p["affine3.W"] + p["affine3.b"], torch.tensor(t))
    out.backward()
    np.testing.assert_allclose(loss, out.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for k, v in p.items():
        np.testing.assert_allclose(grads[k], v.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_accuracy_uses_eval_mode_and_restores_training():
    x, t = data(n=10)
    net = MultiLayerNet(6, (5,), 4, dropout=0.5, batchnorm=True, rng=np.random.default_rng(0))
    x = x.astype(np.float32)
    a1, a2 = net.accuracy(x, t), net.accuracy(x, t)
    assert a1 == a2 and net.training  # deterministic (no dropout) and back in training mode


def train_mnist(model, opt, *, epochs=None, iters=None, batch=100, seed=0):
    from zerokara.data import load_mnist

    (x, t), (xt, tt) = load_mnist()
    tr = ClassifierTrainer(model, opt, rng=np.random.default_rng(seed))
    per_epoch = len(x) // batch
    ep = epochs if epochs is not None else -(-iters // per_epoch)
    return tr.fit(x, t, epochs=ep, batch_size=batch, max_iters=iters, x_test=xt, t_test=tt,
                  eval_train=1000)


@pytest.mark.slow
def test_two_layer_net_reaches_book1_accuracy(real_mnist):
    """book 1, chapter 5: TwoLayerNet 784-50-10 (ReLU), SGD lr 0.1, batch 100,
    10,000 iterations; the book reports test accuracy about 0.97."""
    net = TwoLayerNet(784, 50, 10, activation_name="relu", rng=np.random.default_rng(0))
    m = train_mnist(net, SGD(0.1), iters=10_000)
    assert m["iterations"] == 10_000
    assert m["test_accuracy"] >= 0.969, m


@pytest.mark.slow
def test_two_layer_sigmoid_net_reaches_chapter4_accuracy(real_mnist):
    """book 1, chapter 4's sigmoid TwoLayerNet, same settings: about 0.95 in the book."""
    net = TwoLayerNet(784, 50, 10, activation_name="sigmoid", rng=np.random.default_rng(0))
    m = train_mnist(net, SGD(0.1), iters=10_000)
    assert m["test_accuracy"] >= 0.94, m


@pytest.mark.slow
def test_multi_layer_net_reaches_98_percent(real_mnist):
    """MultiLayerNet 784-256-256-10, ReLU, He init, dropout 0.2, Adam lr 0.001,
    batch 100, 12 epochs (the CLI's multi-layer defaults)."""
    net = MultiLayerNet(784, (256, 256), 10, activation_name="relu", init="he", dropout=0.2,
                        rng=np.random.default_rng(0))
    m = train_mnist(net, Adam(0.001), epochs=12)
    assert m["test_accuracy"] >= 0.98, m
