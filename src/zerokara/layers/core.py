"""Core layers of book 1, chapters 5-6: Affine, ReLU, Sigmoid, Tanh, Dropout, BatchNorm.

Each ``backward`` returns a new array and never writes into ``dout`` or into
what ``forward`` cached, so calling it twice gives the same answer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import (
    InputError,
    check_array,
    check_dtype,
    check_generator,
    check_input,
    check_positive_float,
    check_positive_int,
    check_probability,
    shape_str,
)
from zerokara.layers.base import Array, Module


def sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))``, computed as ``0.5 (1 + tanh(x / 2))``: the same
    function, but exp(-x) overflows for large negative x and tanh never does.
    The one sigmoid of the library (layers, losses, cells, models)."""
    out = np.tanh(0.5 * x)
    out += 1
    out *= 0.5
    return out


class Affine(Module):
    """Fully connected layer ``out = x @ W + b``.

    Shapes:
        W: (D, H), b: (H,)
        forward:  x (N, D) -> out (N, H)
        backward: dout (N, H) -> dx (N, D) (None if ``input_grad`` is off); dW (D, H); db (H,)

    Why ``db = dout.sum(axis=0)``: forward adds the one bias vector to every
    row of the batch, i.e. it broadcasts b from (H,) to (N, H) (a "Repeat"
    node). Each of the N copies passes its own gradient back to the same b, and
    a value used N times receives the sum of the N gradients.
    """

    def __init__(self, W: Array, b: Array) -> None:
        super().__init__()
        check_array("Affine", "W", W, expected="(D, H)")
        check_array("Affine", "b", b, expected="(H,)")
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise InputError(
                f"Affine: expected W (D, H) and b (H,), got W {shape_str(W.shape)}, b {shape_str(b.shape)}"
            )
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.x: Array | None = None

    @classmethod
    def create(
        cls,
        D: int,
        H: int,
        rng: np.random.Generator,
        *,
        init: str | float = "std",
        std: float = 0.01,
        dtype: DTypeLike = np.float32,
    ) -> Affine:
        """A new layer with W (D, H) drawn by :func:`zerokara.init.weight` and b = 0."""
        D, H = check_positive_int("Affine.create", "D", D), check_positive_int("Affine.create", "H", H)
        W = initlib.weight((D, H), rng, init, std=std, dtype=dtype)
        return cls(W, np.zeros(H, dtype=dtype))

    def forward(self, x: Array) -> Array:
        W, b = self.params["W"], self.params["b"]
        check_input("Affine", "x", x, ndim=2, last=W.shape[0], expected=f"(N, {W.shape[0]})")
        check_dtype("Affine", "x", x, W.dtype)
        self.x = x
        out = x @ W
        out += b  # broadcast (H,) -> (N, H)
        return out

    def backward(self, dout: Array) -> Array | None:
        W, x = self.params["W"], self.x
        assert x is not None
        np.matmul(x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])  # undo the broadcast of b over the batch
        return dout @ W.T if self.input_grad else None


class ReLU(Module):
    """``out = max(x, 0)``. Shapes: x (*) -> out (*), dout (*) -> dx (*).

    Gradient 1 where x > 0, else 0: the mask from forward gates dout.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mask: np.ndarray | None = None

    def forward(self, x: Array) -> Array:
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: Array) -> Array:
        # a new array: book 1's ReLU wrote zeros into dout itself, which whoever
        # else holds dout (a second backward, a branch) then sees
        assert self.mask is not None
        return dout * self.mask


class Sigmoid(Module):
    """``y = 1 / (1 + exp(-x))``. Shapes: x (*) -> y (*).

    dy/dx = y (1 - y): backward needs only forward's *output* y, not dout
    (``dout * (1 - dout)`` is the slip to avoid: the derivative lives in y).
    """

    def __init__(self) -> None:
        super().__init__()
        self.out: Array | None = None

    def forward(self, x: Array) -> Array:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: Array) -> Array:
        y = self.out
        assert y is not None
        return dout * (1 - y) * y


class Tanh(Module):
    """``y = tanh(x)``; dy/dx = 1 - y**2. Shapes: x (*) -> y (*)."""

    def __init__(self) -> None:
        super().__init__()
        self.out: Array | None = None

    def forward(self, x: Array) -> Array:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: Array) -> Array:
        assert self.out is not None
        return dout * (1 - self.out**2)


class Dropout(Module):
    """Inverted dropout: in training keep each unit with probability 1 - p and
    scale the kept ones by 1/(1 - p); in eval mode pass x through unchanged.

    The scaling in training keeps the expected activation equal in both modes,
    so nothing needs rescaling at test time (book 1 scaled at test time instead).

    Shapes: x (*) -> out (*).
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        check_probability(type(self).__name__, "p", p)
        check_generator(type(self).__name__, "rng", rng)
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()
        self.mask: Array | None = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Array) -> Array:
        if not self.training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
        self.mask = (keep >= self.p).astype(x.dtype)
        self.mask *= 1.0 / (1.0 - self.p)
        return x * self.mask

    def backward(self, dout: Array) -> Array:
        return dout if self.mask is None else dout * self.mask


class BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015): per feature, or per channel of a feature map.

    Shapes: gamma, beta, running_mean, running_var (C,);
        forward:  x (N, C) -> out (N, C)                after Affine (torch's BatchNorm1d)
                  x (N, C, H, W) -> out (N, C, H, W)    after a convolution (torch's BatchNorm2d)
        backward: dout (shape of x) -> dx (shape of x); dgamma, dbeta (C,)

    Why per channel for (N, C, H, W): a channel is one feature map, the same
    filter applied at every position, so each of its N*H*W values is one more
    sample of one feature and all of them share that channel's gamma and beta.
    A 4-D x is therefore read as N*H*W rows of C features (C moved last), the
    (N, C) math runs on those rows, and the result is put back in (N, C, H, W).
    Since gamma and beta were broadcast over N, H and W, the sums in backward
    run over all three (axis 0 of the rows).

    Training normalises with the batch mean and (biased) variance and updates
    running statistics as PyTorch does: ``running = (1 - momentum) * running +
    momentum * batch``, the running variance with the unbiased M/(M-1) factor
    (M = N, or N*H*W, values per feature). Eval mode normalises with the
    running statistics.
    """

    buffer_names = ("running_mean", "running_var")

    def __init__(
        self, size: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype: DTypeLike = np.float32
    ) -> None:
        super().__init__()
        size = check_positive_int("BatchNorm", "size", size)
        check_probability("BatchNorm", "momentum", momentum, allow_one=True)
        check_positive_float("BatchNorm", "eps", eps)
        self.params = {"gamma": np.ones(size, dtype=dtype), "beta": np.zeros(size, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(size, dtype=dtype)
        self.running_var = np.ones(size, dtype=dtype)
        self.momentum, self.eps = momentum, eps
        self.xn: Array | None = None  # (M, C): one row per sample (N) or per position (N*H*W)
        self.inv_std: Array | None = None
        self.batch_stats = True  # whether the last forward normalised with batch statistics

    def _astype_extra(self, dtype: DTypeLike) -> None:
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)

    @staticmethod
    def _rows(a: Array) -> Array:
        """(N, C) as it is; (N, C, H, W) -> (N*H*W, C), one row per position of every map."""
        return a if a.ndim == 2 else a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])

    @staticmethod
    def _unrows(rows: Array, shape: tuple[int, ...]) -> Array:
        """Undo :meth:`_rows` for an array of ``shape``."""
        if len(shape) == 2:
            return rows
        N, C, H, W = shape
        return np.ascontiguousarray(rows.reshape(N, H, W, C).transpose(0, 3, 1, 2))

    def _check(self, x: Array) -> None:
        C = self.params["gamma"].shape[0]
        if isinstance(x, np.ndarray) and x.ndim == 4:
            if x.shape[1] != C:
                raise InputError(f"BatchNorm: x expected shape (N, {C}, H, W), got {shape_str(x.shape)}")
            check_input("BatchNorm", "x", x, ndim=4)
        else:
            two_d = isinstance(x, np.ndarray) and x.ndim == 2
            expected = f"(N, {C})" if two_d else f"(N, {C}) or (N, {C}, H, W)"
            check_input("BatchNorm", "x", x, ndim=2, last=C, expected=expected)
        check_dtype("BatchNorm", "x", x, self.params["gamma"].dtype)

    def forward(self, x: Array) -> Array:
        self._check(x)
        self.batch_stats = self.training
        rows = self._rows(x)  # (M, C)
        if self.training:
            M = rows.shape[0]
            if M < 2:
                need = "a batch of at least 2 rows (N >= 2)"
                if x.ndim == 4:
                    need = "at least 2 values per channel (N*H*W >= 2)"
                raise InputError(
                    f"BatchNorm: x in training mode expected {need}, got shape {shape_str(x.shape)}"
                )
            mu = rows.mean(axis=0)
            xc = rows - mu
            var = np.mean(xc * xc, axis=0)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mu
            self.running_var = (1 - m) * self.running_var + m * var * (M / (M - 1))
        else:
            xc = rows - self.running_mean
            var = self.running_var
        self.inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        self.xn = xc * self.inv_std
        return self._unrows(self.params["gamma"] * self.xn + self.params["beta"], x.shape)

    def backward(self, dout: Array) -> Array:
        xn, inv_std, gamma = self.xn, self.inv_std, self.params["gamma"]
        assert xn is not None and inv_std is not None
        drows = self._rows(dout)  # (M, C), as forward's rows
        # gamma and beta were broadcast over the rows (N, or N, H and W): their gradients sum over axis 0
        np.sum(drows, axis=0, out=self.grads["beta"])
        np.sum(xn * drows, axis=0, out=self.grads["gamma"])
        dxn = drows * gamma
        if not self.batch_stats:  # running statistics are constants
            return self._unrows(dxn * inv_std, dout.shape)
        # mean and variance depend on every row, so each row's gradient has two
        # correction terms: dx = (dxn - mean(dxn) - xn * mean(dxn * xn)) / std
        dx = (dxn - dxn.mean(axis=0) - xn * np.mean(dxn * xn, axis=0)) * inv_std
        return self._unrows(dx, dout.shape)
