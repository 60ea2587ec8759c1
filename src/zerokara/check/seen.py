"""What a layer saw in a checked run (its inputs, outputs and the ``dout`` it was given), the
book's letters for its sizes, and how closely two gradients must agree: what the rules of
:mod:`zerokara.check.diagnose` relate a wrong gradient to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Seen:
    """What the layer saw in the checked run: for the rules that relate a gradient to it."""

    inputs: list[Any]
    input_names: list[str]
    outs: tuple
    douts: tuple
    letters: dict[int, str] = field(default_factory=dict)  # size -> the book's letter (N, D, H)
    loose: bool = False  # the layer computes in float32 inside: compare loosely
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)  # every parameter's shape

    @property
    def batch(self) -> int | None:
        return next((x.shape[0] for x in self.inputs if isinstance(x, np.ndarray) and x.ndim >= 1), None)

    def shape(self, shape: tuple[int, ...]) -> str:
        """``(N, H) = (3, 5)`` when every size has a letter, else ``(3, 5)``."""
        nums = "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        if shape and all(int(s) in self.letters for s in shape):
            lets = ", ".join(self.letters[int(s)] for s in shape) + ("," if len(shape) == 1 else "")
            return f"({lets}) = {nums}"
        return nums

    def close(self, a: np.ndarray, n: np.ndarray) -> bool:
        if a.shape != n.shape:
            return False
        tol = 1e-2 if self.loose else 1e-6
        return bool(np.linalg.norm(a - n) <= tol * max(float(np.linalg.norm(n)), 1e-12))


def broadcast_axes(param_shape: tuple[int, ...], grad_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Axes of grad_shape over which an array of param_shape was broadcast, or None if
    param_shape does not broadcast to grad_shape."""
    lead = len(grad_shape) - len(param_shape)
    if lead < 0:
        return None
    axes = list(range(lead))
    for i, (p, g) in enumerate(zip(param_shape, grad_shape[lead:], strict=True)):
        if p == g:
            continue
        if p != 1:
            return None
        axes.append(lead + i)
    return tuple(axes)


def axes_text(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else str(axes)
