"""SimpleConvNet and DeepConvNet: book 1's shapes, a float64 gradient check of tiny versions,
parity with the same network in PyTorch, and a clear error for images of another size."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import assert_close, to_numpy, to_torch
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.models import DeepConvNet, SimpleConvNet

TINY_DEEP = ((2, 1), (2, 1), (3, 1), (3, 2), (4, 1), (4, 1))


def test_simple_conv_net_has_book1s_shapes():
    m = SimpleConvNet()
    shapes = {k: v.shape for k, v in m.parameters().items()}
    assert shapes == {
        "convolution1.W": (30, 1, 5, 5),
        "convolution1.b": (30,),
        "affine1.W": (4320, 100),  # 30 filters x 12 x 12 after the 2x2 pooling
        "affine1.b": (100,),
        "affine2.W": (100, 10),
        "affine2.b": (10,),
    }
    assert all(v.dtype == np.float32 for v in m.parameters().values())


def test_deep_conv_net_has_book1s_shapes_and_he_init():
    m = DeepConvNet()
    p = m.parameters()
    assert [p[f"convolution{i}.W"].shape[0] for i in range(1, 7)] == [16, 16, 32, 32, 64, 64]
    assert p["affine1.W"].shape == (1024, 50)  # 64 x 4 x 4: 28 -> 14 -> 16 -> 8 -> 4
    assert p["affine2.W"].shape == (50, 10)
    w = p["convolution3.W"]
    assert abs(float(w.std()) - np.sqrt(2 / (16 * 9))) < 0.02  # He: fan-in C * FH * FW
    assert sum(v.size for v in p.values()) == 123552
    assert [type(layer).__name__ for layer in m.net.layers.values()].count("Dropout") == 2


def test_tiny_simple_conv_net_gradcheck(rng):
    m = SimpleConvNet((2, 8, 6), filter_num=3, filter_size=3, hidden_size=5, output_size=4,
                      weight_init_std=0.3, rng=rng, dtype=np.float64)
    x = rng.standard_normal((3, 2, 8, 6))
    t = rng.integers(0, 4, 3)
    report = gradcheck(m, x, t)
    assert report.ok, str(report)
    assert {e.name for e in report.entries} >= {"x", "convolution1.W", "convolution1.b", "affine2.W"}


def test_tiny_deep_conv_net_gradcheck_with_dropout(rng):
    m = DeepConvNet((1, 12, 12), convs=TINY_DEEP, hidden_size=6, output_size=3, rng=rng, dtype=np.float64)
    for name, p in m.parameters().items():
        if name.endswith(".b"):
            # conv4's pad of 2 makes border outputs b alone: at b = 0 they sit on ReLU's kink
            p[...] = rng.uniform(0.1, 0.5, p.shape)
    x = rng.standard_normal((2, 1, 12, 12))
    report = gradcheck(m, x, rng.integers(0, 3, 2))
    assert report.ok, str(report)
    assert len([e for e in report.entries if e.kind == "param"]) == 16


def test_simple_conv_net_matches_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m = SimpleConvNet((1, 10, 10), filter_num=4, filter_size=3, hidden_size=6, output_size=5,
                      weight_init_std=0.2, rng=rng, dtype=np.float64)
    x, t = rng.standard_normal((4, 1, 10, 10)), rng.integers(0, 5, 4)
    loss = m.forward(x, t)
    dx = m.backward()
    p = {k: to_torch(v, grad=True) for k, v in m.parameters().items()}
    xt = to_torch(x, grad=True)
    h = F.relu(F.conv2d(xt, p["convolution1.W"], p["convolution1.b"]))
    h = F.max_pool2d(h, 2, 2).flatten(1)
    h = F.relu(h @ p["affine1.W"] + p["affine1.b"])
    lt = F.cross_entropy(h @ p["affine2.W"] + p["affine2.b"], torch.tensor(t))
    lt.backward()
    assert_close(loss, to_numpy(lt), rtol=1e-6)  # the books' log(y + 1e-7) floor
    assert_close(dx, xt.grad, rtol=1e-5, atol=1e-9)
    for name, g in m.gradients().items():
        assert_close(g, p[name].grad, rtol=1e-5, atol=1e-9)


def test_images_of_another_size_are_refused():
    m = SimpleConvNet()
    with pytest.raises(InputError, match=r"SimpleConvNet: x expected images \(N, 1, 28, 28\).*\(2, 1, 32, 32\)"):
        m.predict(np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(InputError, match="input_dim"):
        DeepConvNet((28, 28))
    with pytest.raises(InputError, match="not divisible by stride"):
        SimpleConvNet((1, 27, 27))  # 27 - 5 + 1 = 23 cannot be pooled by 2 with stride 2


def test_accuracy_in_eval_mode(rng):
    m = DeepConvNet((1, 12, 12), convs=TINY_DEEP, hidden_size=6, output_size=3, rng=rng)
    x = rng.standard_normal((5, 1, 12, 12)).astype(np.float32)
    a = m.accuracy(x, rng.integers(0, 3, 5))
    assert 0.0 <= a <= 1.0 and m.training  # evaluation leaves the mode as it was
