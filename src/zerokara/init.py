"""Weight initialisers, with book 1's definitions.

book 1 (section 6.2) scales a normal distribution by the number of inputs n
of the layer: Xavier uses std = sqrt(1/n) (for sigmoid/tanh), He uses
std = sqrt(2/n) (for ReLU). A plain float is a fixed std, as book 1's
``weight_init_std=0.01``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

from zerokara.errors import InputError

INITS = ("std", "xavier", "he", "uniform")


def init_std(kind: str | float, fan_in: int, std: float = 0.01) -> float:
    """The std a named init gives a layer with ``fan_in`` inputs."""
    if isinstance(kind, (int, float)):
        return float(kind)
    name = kind.lower()
    if name in ("std", "normal"):
        return std
    if name in ("xavier", "sigmoid", "tanh"):
        return float(np.sqrt(1.0 / fan_in))
    if name in ("he", "relu"):
        return float(np.sqrt(2.0 / fan_in))
    raise InputError(
        f"init: unknown kind {kind!r}; expected one of {INITS[:3]} or a number "
        "(uniform has a range, not a std)"
    )


def weight(
    shape: tuple[int, ...],
    rng: np.random.Generator,
    kind: str | float = "std",
    *,
    std: float = 0.01,
    scale: float = 0.1,
    dtype: DTypeLike = np.float32,
) -> NDArray[np.floating]:
    """A weight matrix of ``shape`` (fan_in = shape[0]).

    kind: "std" (normal * std), "xavier", "he", "uniform" (U(-scale, scale),
    Zaremba et al.'s init) or a float std.
    """
    if isinstance(kind, str) and kind.lower() == "uniform":
        return rng.uniform(-scale, scale, size=shape).astype(dtype)
    s = init_std(kind, shape[0], std)
    return (s * rng.standard_normal(shape)).astype(dtype)
