"""What the Transformer (Vaswani et al., 2017) does at each position on its own; the
attention that mixes positions is in :mod:`zerokara.layers.transformer`.

    LayerNorm                     normalise each position's features (not the batch's)
    GELU                          the smooth ReLU of BERT and GPT (tanh approximation)
    PositionalEncoding            add where each token is (attention alone cannot tell)
    FeedForward                   Affine -> ReLU/GELU -> Affine at every position
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import (
    InputError,
    check_dtype,
    check_generator,
    check_input,
    check_positive_float,
    check_positive_int,
    shape_str,
)
from zerokara.layers.base import Array, Module
from zerokara.layers.core import ReLU


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over the last axis: each position's d features
    are normalised by their own mean and variance (BatchNorm uses the batch's instead), so it
    behaves the same in training and eval and for any batch size or sequence length.

    Shapes: gamma, beta (d,);
        forward:  x (..., d) -> y (..., d) = gamma * (x - mean) / sqrt(var + eps) + beta
        backward: dy (..., d) -> dx (..., d); dgamma, dbeta (d,)
    """

    def __init__(self, d: int, eps: float = 1e-5, dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        d = check_positive_int("LayerNorm", "d", d)
        self.eps = check_positive_float("LayerNorm", "eps", eps)
        self.params = {"gamma": np.ones(d, dtype=dtype), "beta": np.zeros(d, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.xhat: Array | None = None
        self.inv_sigma: Array | None = None  # (..., 1)

    def forward(self, x: Array) -> Array:
        gamma, beta = self.params["gamma"], self.params["beta"]
        d = gamma.shape[0]
        check_input("LayerNorm", "x", x, last=d, expected=f"(..., {d})")
        check_dtype("LayerNorm", "x", x, gamma.dtype)
        xc = x - x.mean(axis=-1, keepdims=True)
        var = np.mean(xc * xc, axis=-1, keepdims=True)  # biased (1/d), as the paper and torch
        self.inv_sigma = 1.0 / np.sqrt(var + self.eps)
        self.xhat = xc * self.inv_sigma
        return self.xhat * gamma + beta  # gamma, beta broadcast over every position

    def backward(self, dy: Array) -> Array:
        # Per row of d features: mu = mean(x), sigma = sqrt(mean((x - mu)^2) + eps),
        # xhat = (x - mu) / sigma, y = gamma * xhat + beta; dxhat = dy * gamma.
        # x_j reaches every xhat_i along three paths:
        #   1. directly:        d xhat_j / d x_j = 1 / sigma
        #   2. through mu:      d xhat_i / d mu = -1 / sigma,          d mu / d x_j = 1 / d
        #   3. through sigma:   d xhat_i / d sigma = -xhat_i / sigma,  d sigma / d x_j = xhat_j / d
        # Summing them over i:
        #   dx_j = (1 / sigma) * (dxhat_j - mean(dxhat) - xhat_j * mean(dxhat * xhat))
        xhat, inv_sigma, gamma = self.xhat, self.inv_sigma, self.params["gamma"]
        assert xhat is not None and inv_sigma is not None
        rows = tuple(range(dy.ndim - 1))  # gamma and beta were repeated over these: sum them out
        np.sum(dy, axis=rows, out=self.grads["beta"])
        np.sum(dy * xhat, axis=rows, out=self.grads["gamma"])
        dxhat = dy * gamma
        direct = dxhat
        via_mean = dxhat.mean(axis=-1, keepdims=True)
        via_sigma = xhat * np.mean(dxhat * xhat, axis=-1, keepdims=True)
        return inv_sigma * (direct - via_mean - via_sigma)


class GELU(Module):
    """Gaussian error linear unit, ``x * Phi(x)``, in the tanh approximation of the paper
    (Hendrycks & Gimpel, 2016) that BERT and GPT use; torch's ``F.gelu(approximate="tanh")``:

        y = 0.5 x (1 + tanh(u)),   u = sqrt(2 / pi) (x + 0.044715 x^3)

    Shapes: x (*) -> y (*), dy (*) -> dx (*).
    """

    C = float(np.sqrt(2.0 / np.pi))
    A = 0.044715

    def __init__(self) -> None:
        super().__init__()
        self.x: Array | None = None
        self.t: Array | None = None  # tanh(u)

    def forward(self, x: Array) -> Array:
        check_input("GELU", "x", x)
        self.x = x
        self.t = np.tanh(self.C * (x + self.A * x**3))
        return 0.5 * x * (1 + self.t)

    def backward(self, dy: Array) -> Array:
        # y = 0.5 x (1 + t), t = tanh(u), u = C (x + A x^3):
        #   dy/dx = 0.5 (1 + t)  +  0.5 x * (1 - t^2) * C (1 + 3 A x^2)
        #           (x outside)     (x inside tanh: tanh' = 1 - t^2, then du/dx)
        x, t = self.x, self.t
        assert x is not None and t is not None
        outside = 0.5 * (1 + t)
        inside = 0.5 * x * (1 - t * t) * self.C * (1 + 3 * self.A * x * x)
        return dy * (outside + inside)


# -- position and the position-wise network ----------------------------------------------------------
def sinusoidal_table(max_len: int, d_model: int, dtype: DTypeLike = np.float32) -> Array:
    """The paper's table (max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i / d_model)),
    PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model)). Each pair of features is a clock of its
    own period, from 2 pi to 10000 * 2 pi steps, so nearby positions get nearby codes."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    two_i = np.arange(0, d_model, 2, dtype=np.float64)
    angle = pos / 10000.0 ** (two_i / d_model)  # (max_len, ceil(d_model / 2))
    table = np.empty((max_len, d_model))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : d_model // 2])  # an odd d_model has one sin more than cos
    return table.astype(dtype)


class PositionalEncoding(Module):
    """Add to each token's vector a code of its position: attention treats its inputs as
    a set, so without it "dog bites man" and "man bites dog" look the same.

    Shapes: the table (max_len, d_model): fixed sinusoids (:func:`sinusoidal_table`), or, with
        ``learned=True``, the parameter ``P`` (BERT's position embeddings, normal with std 0.02);
        forward:  x (N, T, d_model) -> x + table[:T], T <= max_len
        backward: dout (N, T, d_model) -> dx = dout; dP (max_len, d_model): rows :T get
                  dout summed over N (the rows were repeated over the batch), the rest 0

    The paper also scales the embeddings by sqrt(d_model) before this; that belongs to the
    model, not here.
    """

    def __init__(
        self,
        max_len: int,
        d_model: int,
        learned: bool = False,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        max_len = check_positive_int("PositionalEncoding", "max_len", max_len)
        d_model = check_positive_int("PositionalEncoding", "d_model", d_model)
        check_generator("PositionalEncoding", "rng", rng)
        self.learned = bool(learned)
        self.sinusoids: Array | None = None  # the fixed table (learned=False)
        if self.learned:
            rng = rng if rng is not None else np.random.default_rng()
            self.params = {"P": (0.02 * rng.standard_normal((max_len, d_model))).astype(dtype)}
            self.grads = {"P": np.zeros_like(self.params["P"])}
        else:
            self.sinusoids = sinusoidal_table(max_len, d_model, dtype)

    def _astype_extra(self, dtype: DTypeLike) -> None:
        if self.sinusoids is not None:
            self.sinusoids = self.sinusoids.astype(dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() if self.learned else f"table: {shape_str(self.table.shape)}, sinusoidal"

    @property
    def table(self) -> Array:
        """What is added, (max_len, d_model): the parameter P (learned) or the sinusoids."""
        if self.sinusoids is not None:
            return self.sinusoids
        return self.params["P"]

    def forward(self, x: Array) -> Array:
        P = self.table
        max_len, D = P.shape
        check_input("PositionalEncoding", "x", x, ndim=3, last=D, expected=f"(N, T, {D})")
        check_dtype("PositionalEncoding", "x", x, P.dtype)
        T = x.shape[1]
        if max_len < T:
            raise InputError(
                f"PositionalEncoding: x expected at most max_len={max_len} steps (T <= max_len), got T={T}"
            )
        return x + P[:T]  # (T, d_model) repeated over the batch

    def backward(self, dout: Array) -> Array:
        if self.learned:
            dP = self.grads["P"]
            dP[...] = 0  # rows past T were not used
            dP[: dout.shape[1]] = dout.sum(axis=0)  # undo the repeat over the batch
        return dout


class FeedForward(Module):
    """The position-wise feed-forward network: ``Affine -> ReLU (or GELU) -> Affine`` applied
    to every position alike (book 2's TimeAffine twice: N*T rows, one matrix product each).

    Shapes: W1 (d_model, d_ff), b1 (d_ff,), W2 (d_ff, d_model), b2 (d_model,);
        forward:  x (N, T, d_model) -> out (N, T, d_model)
        backward: dout (N, T, d_model) -> dx (N, T, d_model)

    W1 is drawn with He's std (ReLU and GELU pass about half the variance), W2 with
    Xavier's (its output is added to the residual stream), the biases are 0.
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        activation: str = "relu",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        d_model = check_positive_int("FeedForward", "d_model", d_model)
        d_ff = check_positive_int("FeedForward", "d_ff", d_ff)
        if activation not in ("relu", "gelu"):
            raise InputError(f"FeedForward: activation expected 'relu' or 'gelu', got {activation!r}")
        check_generator("FeedForward", "rng", rng)
        rng = rng if rng is not None else np.random.default_rng()
        self.params = {
            "W1": initlib.weight((d_model, d_ff), rng, "he", dtype=dtype),
            "b1": np.zeros(d_ff, dtype=dtype),
            "W2": initlib.weight((d_ff, d_model), rng, "xavier", dtype=dtype),
            "b2": np.zeros(d_model, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.activation: Module = ReLU() if activation == "relu" else GELU()
        self.cache: tuple[Array, Array] | None = None

    def forward(self, x: Array) -> Array:
        p = self.params
        D = p["W1"].shape[0]
        check_input("FeedForward", "x", x, ndim=3, last=D, expected=f"(N, T, {D})")
        check_dtype("FeedForward", "x", x, p["W1"].dtype)
        N, T, _ = x.shape
        rows = x.reshape(N * T, D)  # every position is one row: the same weights for all
        a = self.activation.forward(rows @ p["W1"] + p["b1"])
        self.cache = (rows, a)
        return (a @ p["W2"] + p["b2"]).reshape(N, T, D)

    def backward(self, dout: Array) -> Array:
        # two Affines around the activation, each over the N*T rows (book 1's Affine backward):
        # dW = x^T dy, db = dy summed over the rows (b was repeated over them), dx = dy W^T
        assert self.cache is not None
        rows, a = self.cache
        p, g = self.params, self.grads
        dy = dout.reshape(rows.shape[0], -1)
        np.matmul(a.T, dy, out=g["W2"])
        np.sum(dy, axis=0, out=g["b2"])
        dh = self.activation.backward(dy @ p["W2"].T)
        np.matmul(rows.T, dh, out=g["W1"])
        np.sum(dh, axis=0, out=g["b1"])
        return (dh @ p["W1"].T).reshape(dout.shape)


__all__ = ["LayerNorm", "GELU", "PositionalEncoding", "FeedForward", "sinusoidal_table"]
