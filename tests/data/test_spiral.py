"""The spiral data set of book 2, chapter 1."""

from __future__ import annotations

import numpy as np
import pytest

from zerokara.data import load_spiral
from zerokara.errors import InputError


def test_shapes_and_classes():
    x, t = load_spiral()
    assert x.shape == (300, 2) and x.dtype == np.float32
    assert t.shape == (300,) and t.dtype == np.int64
    assert np.bincount(t).tolist() == [100, 100, 100]
    np.testing.assert_array_equal(t[:100], 0)  # class j holds rows j*100 .. j*100+99
    assert np.all(np.linalg.norm(x, axis=1) < 1.0)  # radius = i / n < 1


def test_radius_follows_the_book():
    x, t = load_spiral(50, 4, dtype=np.float64)
    assert x.shape == (200, 2) and np.bincount(t).tolist() == [50] * 4
    radius = np.tile(np.arange(50) / 50, 4)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), radius, atol=1e-12)


def test_noise_free_angle():
    """With zero noise, theta = 4 j + 4 rate exactly."""

    class ZeroNoise:
        def standard_normal(self, shape):
            return np.zeros(shape)

    x, _ = load_spiral(10, 2, rng=ZeroNoise(), dtype=np.float64)
    rate = np.arange(10) / 10
    theta = np.concatenate([4.0 * rate, 4.0 + 4.0 * rate])
    r = np.tile(rate, 2)
    np.testing.assert_allclose(x, np.stack([r * np.sin(theta), r * np.cos(theta)], 1), atol=1e-15)


def test_seed_reproducible():
    a, ta = load_spiral(seed=7)
    b, tb = load_spiral(seed=7)
    c, _ = load_spiral(seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ta, tb)
    assert not np.array_equal(a, c)


def test_explicit_generator():
    a, _ = load_spiral(rng=np.random.default_rng(3))
    b, _ = load_spiral(rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, load_spiral(rng=np.random.default_rng(4))[0])


@pytest.mark.parametrize("kwargs", [{"n_per_class": 0}, {"classes": 0}, {"n_per_class": 2.5},
                                    {"classes": "3"}])
def test_bad_sizes(kwargs):
    with pytest.raises(InputError):
        load_spiral(**kwargs)
