"""Loss layers: SoftmaxWithLoss and SigmoidWithLoss.

A loss layer's ``forward(x, t)`` returns the mean loss (a Python float) and
``backward(dout=1.0)`` returns dL/dx. Both fold the activation into the loss,
which makes the gradient the famously simple ``(y - t) / N``.
"""

from __future__ import annotations

import numpy as np

from zerokara.errors import InputError, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.core import sigmoid


def softmax(x: Array) -> Array:
    """Softmax over the last axis; subtracting the row max keeps exp from overflowing."""
    z = x - x.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def check_labels(layer: str, t: np.ndarray, n: int, classes: int) -> np.ndarray:
    """Class-id labels (N,) in [0, classes); returns them as intp."""
    if not isinstance(t, np.ndarray) or t.dtype.kind not in "iu":
        got = t.dtype if isinstance(t, np.ndarray) else type(t).__name__
        raise InputError(f"{layer}: t expected integer class ids or one-hot floats, got {got}")
    if t.shape != (n,):
        raise InputError(f"{layer}: t expected shape ({n},) to match x, got {shape_str(t.shape)}")
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= classes:
        bad = lo if lo < 0 else hi
        raise InputError(f"{layer}: t has label {bad} out of range; expected class ids in [0, {classes - 1}]")
    return t.astype(np.intp, copy=False)


class SoftmaxWithLoss(Module):
    """Softmax followed by mean cross-entropy.

    Shapes:
        forward: x (N, C) scores; t (N,) integer class ids or (N, C) one-hot -> loss ()
        backward: dout () -> dx (N, C) = (softmax(x) - t) * dout / N

    The loss is computed from log-softmax (x - max - log sum exp), so it never
    takes log(0) (book 1 added 1e-7 inside the log instead).
    """

    def __init__(self) -> None:
        super().__init__()
        self.y: Array | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: Array, t: np.ndarray) -> float:
        check_input("SoftmaxWithLoss", "x", x, ndim=2, expected="(N, C)")
        N, C = x.shape
        z = x - x.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        self.y = e / s
        log_s = np.log(s)
        if isinstance(t, np.ndarray) and t.dtype.kind == "f":
            if t.shape != x.shape:
                raise InputError(
                    f"SoftmaxWithLoss: one-hot t expected shape {shape_str(x.shape)}, "
                    f"got {shape_str(t.shape)}"
                )
            # backward's (y - t) is the gradient only when each row of t is a distribution
            if not np.allclose(t.sum(axis=1), 1.0, atol=1e-4) or t.min() < 0:
                raise InputError(
                    "SoftmaxWithLoss: one-hot/probability t expected non-negative rows summing to 1"
                )
            self.t = t
            return float(-np.sum(t * (z - log_s)) / N)
        self.t = check_labels("SoftmaxWithLoss", t, N, C)
        return float(-np.mean(z[np.arange(N), self.t] - log_s[:, 0]))

    def backward(self, dout: float = 1.0) -> Array:
        y, t = self.y, self.t
        assert y is not None and t is not None
        N = y.shape[0]
        if t.ndim == 2:
            dx = y - t
        else:
            dx = y.copy()
            dx[np.arange(N), t] -= 1
        dx *= dout / N
        return dx


class SigmoidWithLoss(Module):
    """Sigmoid followed by mean binary cross-entropy (over every element).

    Shapes:
        forward: x (*) logits; t (*) 0/1 targets (same shape) -> loss ()
        backward: dout () -> dx (*) = (sigmoid(x) - t) * dout / x.size

    loss = log(1 + exp(x)) - t x, computed with logaddexp so large |x| is exact.
    """

    def __init__(self) -> None:
        super().__init__()
        self.y: Array | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: Array, t: np.ndarray) -> float:
        check_input("SigmoidWithLoss", "x", x, expected="(N, ...)")
        if not isinstance(t, np.ndarray) or t.shape != x.shape:
            got = shape_str(t.shape) if isinstance(t, np.ndarray) else type(t).__name__
            raise InputError(f"SigmoidWithLoss: t expected shape {shape_str(x.shape)}, got {got}")
        if t.size and (t.min() < 0 or t.max() > 1):
            raise InputError(
                f"SigmoidWithLoss: t expected targets in [0, 1], got values in [{t.min()}, {t.max()}]"
            )
        self.t = t.astype(x.dtype, copy=False)
        self.y = sigmoid(x)
        return float(np.mean(np.logaddexp(0, x) - self.t * x))

    def backward(self, dout: float = 1.0) -> Array:
        assert self.y is not None and self.t is not None
        return (self.y - self.t) * (dout / self.y.size)


class TimeSoftmaxWithLoss(Module):
    """Softmax + cross-entropy at every time step (book 2's TimeSoftmaxWithLoss),
    averaged over the counted positions.

    Shapes:
        forward:  xs (N, T, V) scores; ts (N, T) integer ids -> loss ()
        backward: dout () -> dxs (N, T, V) = (softmax(xs) - onehot(ts)) * dout / count

    ``ignore_label``: positions whose target equals it (padding) add nothing to
    the loss and get a zero gradient; ``count`` is the number of the others.
    This is the language models' hot path (V = 10,000): one exp over the
    scores, and the probabilities kept for backward without another copy.
    """

    def __init__(self, ignore_label: int | None = None) -> None:
        super().__init__()
        if ignore_label is not None and (
            not isinstance(ignore_label, (int, np.integer)) or isinstance(ignore_label, bool)
        ):
            raise InputError(
                f"TimeSoftmaxWithLoss: ignore_label expected an integer label or None, got {ignore_label!r}"
            )
        self.ignore_label = ignore_label
        self.y: Array | None = None
        self.ts: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        self.shape: tuple[int, ...] = ()

    def forward(self, xs: Array, ts: np.ndarray) -> float:
        check_input("TimeSoftmaxWithLoss", "xs", xs, ndim=3, expected="(N, T, V)")
        N, T, V = xs.shape
        if not isinstance(ts, np.ndarray) or ts.shape != (N, T):
            got = shape_str(ts.shape) if isinstance(ts, np.ndarray) else type(ts).__name__
            raise InputError(f"TimeSoftmaxWithLoss: ts expected shape ({N}, {T}), got {got}")
        t = ts.reshape(-1)
        mask = None if self.ignore_label is None else t != self.ignore_label
        valid = t if mask is None else t[mask]
        if valid.size == 0:
            raise InputError("TimeSoftmaxWithLoss: every target equals ignore_label; nothing to learn")
        check_labels("TimeSoftmaxWithLoss", valid.astype(np.intp, copy=False), valid.size, V)
        t = np.where(mask, t, 0) if mask is not None else t
        z = xs.reshape(N * T, V) - xs.reshape(N * T, V).max(axis=1, keepdims=True)
        picked = z[np.arange(N * T), t]  # log-softmax at the target, before z is overwritten
        np.exp(z, out=z)
        s = z.sum(axis=1)
        z /= s[:, None]
        self.y, self.ts, self.mask, self.shape = z, t, mask, xs.shape
        nll = np.log(s) - picked
        if mask is not None:
            return float(nll[mask].mean())
        return float(nll.mean())

    def backward(self, dout: float = 1.0) -> Array:
        y, t, mask = self.y, self.ts, self.mask
        assert y is not None and t is not None
        count = y.shape[0] if mask is None else int(mask.sum())
        scale = dout / count
        dx = y * scale  # a new array: the cached y stays valid for a second backward
        dx[np.arange(len(t)), t] -= scale
        if mask is not None:
            dx[~mask] = 0
        return dx.reshape(self.shape)
