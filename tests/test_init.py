"""Weight initialisers: the stated standard deviations, statistically."""

from __future__ import annotations

import numpy as np
import pytest

from zerokara.errors import InputError
from zerokara.init import init_std, weight
from zerokara.layers import Affine

FAN_IN, FAN_OUT = 50, 2000  # 100 000 draws: the sample std is within ~0.7% (3 sigma)


@pytest.mark.parametrize("kind, expected", [
    ("std", 0.01),
    ("normal", 0.01),
    ("xavier", np.sqrt(1 / FAN_IN)),
    ("sigmoid", np.sqrt(1 / FAN_IN)),
    ("tanh", np.sqrt(1 / FAN_IN)),
    ("he", np.sqrt(2 / FAN_IN)),
    ("ReLU", np.sqrt(2 / FAN_IN)),
    (0.3, 0.3),
])
def test_weight_std(kind, expected):
    W = weight((FAN_IN, FAN_OUT), np.random.default_rng(0), kind, dtype=np.float64)
    assert W.shape == (FAN_IN, FAN_OUT) and W.dtype == np.float64
    assert init_std(kind, FAN_IN) == pytest.approx(expected, rel=1e-12)
    assert W.std() == pytest.approx(expected, rel=0.01)
    assert abs(W.mean()) < 4 * expected / np.sqrt(W.size)


def test_fan_in_is_first_dimension():
    rng = np.random.default_rng(1)
    a = weight((8, 20000), rng, "he", dtype=np.float64)
    b = weight((200, 800), rng, "he", dtype=np.float64)
    assert a.std() == pytest.approx(np.sqrt(2 / 8), rel=0.02)
    assert b.std() == pytest.approx(np.sqrt(2 / 200), rel=0.02)


def test_std_keyword():
    W = weight((100, 1000), np.random.default_rng(2), "std", std=0.05, dtype=np.float64)
    assert W.std() == pytest.approx(0.05, rel=0.02)


def test_uniform():
    W = weight((100, 1000), np.random.default_rng(3), "uniform", scale=0.2, dtype=np.float64)
    assert W.min() >= -0.2 and W.max() < 0.2
    assert W.std() == pytest.approx(0.2 / np.sqrt(3), rel=0.02)


def test_dtype_and_determinism():
    a = weight((3, 4), np.random.default_rng(5))
    b = weight((3, 4), np.random.default_rng(5))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    layer = Affine.create(30, 400, np.random.default_rng(6), init="xavier", dtype=np.float64)
    assert layer.params["W"].dtype == np.float64
    assert layer.params["W"].std() == pytest.approx(np.sqrt(1 / 30), rel=0.03)
    np.testing.assert_array_equal(layer.params["b"], 0)


@pytest.mark.parametrize("kind", ["glorot", "kaiming", ""])
def test_unknown_kind(kind):
    with pytest.raises(InputError) as e:
        weight((3, 4), np.random.default_rng(0), kind)
    msg = str(e.value)
    assert repr(kind) in msg
    for name in ("std", "xavier", "he"):
        assert name in msg
