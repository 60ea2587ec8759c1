"""Shared fixtures and helpers for the layer, check, optim and init tests."""

from __future__ import annotations

import numpy as np
import pytest


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
