"""Shared fixtures and helpers for the layer, check, optim and init tests."""

from __future__ import annotations

import numpy as np
import pytest


def pytest_collection_modifyitems(config, items):
    """Tests marked ``book`` train a model with a book's full settings (minutes to tens of
    minutes each): they run under ``make test-book`` (ZEROKARA_BOOK_RUNS=1) and are
    skipped, saying so, in ``make test``."""
    import os

    if os.environ.get("ZEROKARA_BOOK_RUNS") == "1":
        return
    skip = pytest.mark.skip(reason="a full book-settings run: make test-book (ZEROKARA_BOOK_RUNS=1) runs it")
    for item in items:
        if "book" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test (tests stay reproducible)."""
    return np.random.default_rng(12345)


def to_torch(a, *, grad: bool = False):
    """A float64 torch tensor holding a copy of ``a`` (optionally requiring grad)."""
    import torch

    t = torch.tensor(np.asarray(a), dtype=torch.float64)
    return t.requires_grad_(grad)


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(actual, expected, *, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Tight float64 comparison; accepts numpy arrays, torch tensors or floats."""
    if hasattr(actual, "detach"):
        actual = to_numpy(actual)
    if hasattr(expected, "detach"):
        expected = to_numpy(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def assert_backward_is_pure(mod, x: np.ndarray, rng: np.random.Generator, name: str) -> None:
    """One forward, then backward twice on the same dout: the same dx and gradients both
    times, and neither call writes into x, dout, the first dx or what forward cached."""

    def cached() -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in vars(mod).items() if isinstance(v, np.ndarray)}

    x_before = x.copy()
    out = mod.forward(x)
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()
    cache = cached()

    dx1 = mod.backward(dout)
    dx1_copy = dx1.copy()
    grads1 = {k: g.copy() for k, g in mod.grads.items()}
    dx2 = mod.backward(dout)

    np.testing.assert_array_equal(dout, dout_before)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dx1, dx1_copy)  # the second call did not overwrite the first
    np.testing.assert_array_equal(dx2, dx1_copy)
    for k, g in mod.grads.items():
        np.testing.assert_array_equal(g, grads1[k])
    after = cached()
    assert after.keys() == cache.keys()
    for k in cache:
        np.testing.assert_array_equal(after[k], cache[k], err_msg=f"{name}.{k} changed")
