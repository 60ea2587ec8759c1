"""The spiral toy data set of book 2, chapter 1: ``classes`` interleaved arms in 2-D.

No straight line separates the arms, which is why a network with a hidden
layer is needed to classify them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError


def load_spiral(
    n_per_class: int = 100,
    classes: int = 3,
    *,
    seed: int = 1984,
    rng: np.random.Generator | None = None,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate the spiral data set.

    For class j and point i (rate = i / n_per_class):
        radius = rate,  theta = 4 j + 4 rate + 0.2 * noise,  noise ~ N(0, 1)
        x = (radius * sin(theta), radius * cos(theta))

    Returns:
        x: (classes * n_per_class, 2) of ``dtype``; class j occupies rows
           j * n_per_class ... (j + 1) * n_per_class - 1, as in the book.
        t: (classes * n_per_class,) int64 class ids (the book returns one-hot).

    ``rng`` (an explicit ``np.random.Generator``) is used if given; otherwise a
    fresh ``np.random.default_rng(seed)``, so the same seed gives the same data.
    The values differ from the book's, which used the legacy global
    ``np.random.seed``; the shape of the problem is the same.
    """
    for arg, value in (("n_per_class", n_per_class), ("classes", classes)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise InputError(f"load_spiral: {arg} must be a positive integer, got {value!r}")
    n, k = int(n_per_class), int(classes)
    if rng is None:
        rng = np.random.default_rng(seed)
    rate = np.arange(n) / n  # (n,)
    # noise drawn as (classes, n): the same order as the book's j-outer, i-inner loops
    theta = 4.0 * np.arange(k)[:, None] + 4.0 * rate + 0.2 * rng.standard_normal((k, n))
    radius = np.broadcast_to(rate, (k, n))
    x = np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=-1)  # (k, n, 2)
    t = np.repeat(np.arange(k, dtype=np.int64), n)
    return x.reshape(k * n, 2).astype(dtype), t
