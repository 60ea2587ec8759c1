"""Transformer layers (Vaswani et al., 2017, "Attention Is All You Need").

Book 2's attention asks "which encoder states matter to this decoder state?" with
one dot product per pair. The Transformer asks the same question with learned
projections, many heads at once, and no recurrence:

    Softmax                       the attention weights, kept as a node of its own
    LayerNorm                     normalise each position's features (not the batch's)
    GELU                          the smooth ReLU of BERT and GPT (tanh approximation)
    ScaledDotProductAttention     softmax(q k^T / sqrt(dk)) v, with a mask
    MultiHeadAttention            project, split into heads, attend, merge, project
    PositionalEncoding            add where each token is (attention alone cannot tell)
    FeedForward                   Affine -> ReLU/GELU -> Affine at every position

Masks are bool arrays, True = hidden (the position may not be looked at), broadcast
to the scores' shape (N, h, Tq, Tk): :func:`causal_mask` (T, T) hides the future,
:func:`padding_mask` (N, 1, 1, Tk) hides padding keys; ``a | b`` combines them.

A query row whose keys are *all* hidden attends to nothing: its weights are all 0 and
its attention output is 0 (so MultiHeadAttention gives ``bo`` there), and no gradient
flows through it. Softmax of a row of -inf would be 0 / 0 = NaN; :class:`Softmax`
defines it as 0 instead, as torch's ``F.scaled_dot_product_attention`` does
(``nn.MultiheadAttention`` gives NaN there).
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


# -- masks ----------------------------------------------------------------------------------------
def causal_mask(T: int) -> np.ndarray:
    """(T, T) bool, True above the diagonal: position t may not see any t' > t."""
    T = check_positive_int("causal_mask", "T", T)
    return np.triu(np.ones((T, T), dtype=bool), k=1)


def padding_mask(ids: np.ndarray, pad_id: int) -> np.ndarray:
    """ids (N, T) -> (N, 1, 1, T) bool, True where ids == pad_id: padding keys are hidden
    from every head (axis 1) and every query (axis 2)."""
    if not isinstance(ids, np.ndarray) or ids.ndim != 2 or ids.dtype.kind not in "iu":
        got = f"{ids.dtype} {shape_str(ids.shape)}" if isinstance(ids, np.ndarray) else type(ids).__name__
        raise InputError(f"padding_mask: ids expected integer token ids of shape (N, T), got {got}")
    return (ids == pad_id)[:, None, None, :]


def _check_mask(layer: str, mask: object, scores: tuple[int, ...]) -> np.ndarray:
    """Refuse a mask that is not bool or does not broadcast to the scores' shape (a float
    0/1 mask would be read the wrong way round by half the readers, and NumPy would
    broadcast a transposed one silently when Tq == Tk does not hold by luck)."""
    want = f"a bool array broadcastable to (N, h, Tq, Tk) = {shape_str(scores)}"
    if not isinstance(mask, np.ndarray):
        raise InputError(f"{layer}: mask expected {want}, got a {type(mask).__name__}")
    if mask.dtype != np.bool_:
        raise InputError(f"{layer}: mask expected {want}, got dtype {mask.dtype} {shape_str(mask.shape)}")
    try:
        fits = np.broadcast_shapes(mask.shape, scores) == scores
    except ValueError:
        fits = False
    if not fits:
        raise InputError(f"{layer}: mask expected {want}, got {shape_str(mask.shape)}")
    return mask


# -- element-wise and per-row layers -----------------------------------------------------------------
class Softmax(Module):
    """``y = exp(x) / sum(exp(x))`` along ``axis``. Shapes: x (*) -> y (*), dy (*) -> dx (*).

    A row whose entries are all -inf (every key hidden) gives y = 0, not 0 / 0 = NaN.
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis
        self.out: Array | None = None

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, x: Array) -> Array:
        check_input("Softmax", "x", x)
        m = x.max(axis=self.axis, keepdims=True)
        m[m == -np.inf] = 0  # a fully hidden row: -inf - (-inf) would be NaN
        e = np.exp(x - m)  # minus the row max: exp never overflows; hidden entries give exp(-inf) = 0
        total = e.sum(axis=self.axis, keepdims=True)
        total[total == 0] = 1  # only a fully hidden row sums to 0 (the max entry gives exp(0) = 1)
        self.out = e / total
        return self.out

    def backward(self, dy: Array) -> Array:
        # dy_i/dx_j = y_i (delta_ij - y_j), so
        #   dx_j = sum_i dy_i y_i (delta_ij - y_j) = y_j (dy_j - sum_i y_i dy_i)
        # (a hidden entry has y = 0, so it gets no gradient)
        y = self.out
        assert y is not None
        return y * (dy - np.sum(y * dy, axis=self.axis, keepdims=True))


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


# -- attention -------------------------------------------------------------------------------------
class ScaledDotProductAttention(Module):
    """``softmax(q k^T / sqrt(dk)) v`` for every head at once, with an optional mask.

    Shapes:
        forward:  q (N, h, Tq, dk), k (N, h, Tk, dk), v (N, h, Tk, dv),
                  mask bool, broadcastable to (N, h, Tq, Tk), True = hidden
                  -> out (N, h, Tq, dv); the weights stay in ``weights`` (N, h, Tq, Tk)
        backward: dout (N, h, Tq, dv) -> (dq, dk, dv), shaped as q, k, v

    Why divide by sqrt(dk): a dot product of dk unit-variance terms has variance dk; left
    large, it pushes the softmax into saturation, where its gradient vanishes. Book 2's
    TimeAttention is this with h = 1, q = hs_dec, k = v = hs_enc and no scaling. A query
    whose keys are all hidden gets weights 0 and output 0 (see the module docstring).
    """

    def __init__(self) -> None:
        super().__init__()
        self.softmax = Softmax(axis=-1)
        self.cache: tuple[Array, Array, Array, float] | None = None
        self.weights: Array | None = None

    def forward(self, q: Array, k: Array, v: Array, mask: np.ndarray | None = None) -> Array:
        name = "ScaledDotProductAttention"
        check_input(name, "q", q, ndim=4, expected="(N, h, Tq, dk)")
        N, h, Tq, dk = q.shape
        check_input(name, "k", k, ndim=4, expected=f"({N}, {h}, Tk, {dk})")
        if k.shape[:2] != (N, h) or k.shape[3] != dk:
            raise InputError(f"{name}: k expected shape ({N}, {h}, Tk, {dk}), got {shape_str(k.shape)}")
        Tk = k.shape[2]
        check_input(name, "v", v, ndim=4, expected=f"({N}, {h}, {Tk}, dv)")
        if v.shape[:3] != (N, h, Tk):
            raise InputError(f"{name}: v expected shape ({N}, {h}, {Tk}, dv), got {shape_str(v.shape)}")
        check_dtype(name, "k", k, q.dtype)
        check_dtype(name, "v", v, q.dtype)
        scale = 1.0 / float(np.sqrt(dk))
        scores = (q @ k.swapaxes(-1, -2)) * scale  # (N, h, Tq, Tk)
        if mask is not None:
            _check_mask(name, mask, (N, h, Tq, Tk))
            scores = np.where(mask, -np.inf, scores)  # exp(-inf) = 0: a hidden key gets weight 0
        self.weights = self.softmax.forward(scores)
        self.cache = (q, k, v, scale)
        return self.weights @ v

    def backward(self, dout: Array) -> tuple[Array, Array, Array]:
        # S = scale * q k^T (hidden entries set to -inf), A = softmax(S), out = A v:
        #   dA = dout v^T                  dv = A^T dout
        #   dS = softmax'(dA)              (0 at hidden entries: A = 0 there)
        #   dq = scale * dS k              dk = scale * dS^T q
        assert self.cache is not None and self.weights is not None
        q, k, v, scale = self.cache
        A = self.weights
        dv = A.swapaxes(-1, -2) @ dout
        dA = dout @ v.swapaxes(-1, -2)
        dS = self.softmax.backward(dA) * scale
        dq = dS @ k
        dk = dS.swapaxes(-1, -2) @ q
        return dq, dk, dv


class MultiHeadAttention(Module):
    """Multi-head attention: project, split into ``heads``, attend in each, merge, project.

    Shapes: Wq, Wk, Wv, Wo (d_model, d_model) used as ``x @ W`` (book style; torch stores
        the transpose); bq, bk, bv, bo (d_model,); dk = d_model // heads.
        forward:  query (N, Tq, d_model), key_value (N, Tk, d_model),
                  mask bool, broadcastable to (N, heads, Tq, Tk), True = hidden
                  -> out (N, Tq, d_model); the weights in ``weights`` (N, heads, Tq, Tk)
        backward: dout (N, Tq, d_model) -> (dquery (N, Tq, d_model), dkey_value (N, Tk, d_model))

    The queries come from ``query``; keys and values both from ``key_value`` (the encoder's
    output in cross-attention). For self-attention pass the same x twice,
    ``forward(x, x, mask)``, and add the two gradients: ``dq, dkv = backward(dout);
    dx = dq + dkv`` (x fans out to both arguments, so its gradients add up).

    Heads: (N, T, d_model) is reshaped to (N, T, heads, dk) and transposed to
    (N, heads, T, dk), so head j reads features j*dk ... (j+1)*dk - 1 of each projection;
    the heads' outputs are merged back the same way, transposed and reshaped.
    """

    def __init__(
        self, d_model: int, heads: int, rng: np.random.Generator | None = None, dtype: DTypeLike = np.float32
    ) -> None:
        super().__init__()
        d_model = check_positive_int("MultiHeadAttention", "d_model", d_model)
        heads = check_positive_int("MultiHeadAttention", "heads", heads)
        if d_model % heads:
            raise InputError(
                f"MultiHeadAttention: d_model expected a multiple of heads={heads} "
                f"(each head gets d_model // heads features), got d_model={d_model}"
            )
        check_generator("MultiHeadAttention", "rng", rng)
        rng = rng if rng is not None else np.random.default_rng()
        self.heads = heads
        for p in ("q", "k", "v", "o"):  # Xavier: keeps the variance of x through x @ W
            self.params[f"W{p}"] = initlib.weight((d_model, d_model), rng, "xavier", dtype=dtype)
        for p in ("q", "k", "v", "o"):
            self.params[f"b{p}"] = np.zeros(d_model, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.attention = ScaledDotProductAttention()
        self.cache: tuple[Array, Array, Array] | None = None

    @property
    def weights(self) -> Array | None:
        """The attention weights of the last forward, (N, heads, Tq, Tk)."""
        return self.attention.weights

    def extra_repr(self) -> str:
        return f"d_model={self.params['Wq'].shape[0]}, heads={self.heads}"

    def _split(self, x: Array) -> Array:
        """(N, T, d_model) -> (N, heads, T, dk)."""
        N, T, D = x.shape
        return x.reshape(N, T, self.heads, D // self.heads).transpose(0, 2, 1, 3)

    @staticmethod
    def _merge(x: Array) -> Array:
        """(N, heads, T, dk) -> (N, T, d_model): :meth:`_split` undone."""
        N, h, T, dk = x.shape
        return x.transpose(0, 2, 1, 3).reshape(N, T, h * dk)

    def forward(self, query: Array, key_value: Array, mask: np.ndarray | None = None) -> Array:
        name, p = "MultiHeadAttention", self.params
        D = p["Wq"].shape[0]
        check_input(name, "query", query, ndim=3, last=D, expected=f"(N, Tq, {D})")
        N, Tq, _ = query.shape
        check_input(name, "key_value", key_value, ndim=3, last=D, expected=f"({N}, Tk, {D})")
        if key_value.shape[0] != N:
            got = shape_str(key_value.shape)
            raise InputError(f"{name}: key_value expected shape ({N}, Tk, {D}) (N as query's), got {got}")
        check_dtype(name, "query", query, p["Wq"].dtype)
        check_dtype(name, "key_value", key_value, p["Wq"].dtype)
        if mask is not None:
            _check_mask(name, mask, (N, self.heads, Tq, key_value.shape[1]))
        q = self._split(query @ p["Wq"] + p["bq"])  # each bias repeated over N and T
        k = self._split(key_value @ p["Wk"] + p["bk"])
        v = self._split(key_value @ p["Wv"] + p["bv"])
        c = self._merge(self.attention.forward(q, k, v, mask))  # (N, Tq, d_model)
        self.cache = (query, key_value, c)
        return c @ p["Wo"] + p["bo"]

    def backward(self, dout: Array) -> tuple[Array, Array]:
        # out = c Wo + bo, c = merge(attention(split(Q), split(K), split(V))),
        # Q = query Wq + bq, K = kv Wk + bk, V = kv Wv + bv. Each x @ W over (N, T, D) is one
        # product over the N*T rows: dW = rows(x)^T rows(dY), db = the sum over the rows.
        # split and merge only move numbers around: each one's backward is the other.
        # kv feeds both K and V, so dkey_value = dK Wk^T + dV Wv^T.
        assert self.cache is not None
        query, key_value, c = self.cache
        p, g = self.params, self.grads
        D = p["Wq"].shape[0]

        def rows(a: Array) -> Array:
            return a.reshape(-1, D)

        np.matmul(rows(c).T, rows(dout), out=g["Wo"])
        np.sum(rows(dout), axis=0, out=g["bo"])
        dq, dk, dv = self.attention.backward(self._split(dout @ p["Wo"].T))
        dQ, dK, dV = self._merge(dq), self._merge(dk), self._merge(dv)
        for name, x, dY in (("q", query, dQ), ("k", key_value, dK), ("v", key_value, dV)):
            np.matmul(rows(x).T, rows(dY), out=g[f"W{name}"])
            np.sum(rows(dY), axis=0, out=g[f"b{name}"])
        dquery = dQ @ p["Wq"].T
        dkey_value = dK @ p["Wk"].T + dV @ p["Wv"].T
        return dquery, dkey_value


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


__all__ = [
    "Softmax",
    "LayerNorm",
    "GELU",
    "ScaledDotProductAttention",
    "MultiHeadAttention",
    "PositionalEncoding",
    "FeedForward",
    "causal_mask",
    "padding_mask",
    "sinusoidal_table",
]
