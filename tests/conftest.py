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
