"""Transformer attention (Vaswani et al., 2017, "Attention Is All You Need"); what the
Transformer does at each position on its own (LayerNorm, GELU, the positional encoding,
the feed-forward network) is in :mod:`zerokara.layers.position_wise`.

Book 2's attention asks "which encoder states matter to this decoder state?" with
one dot product per pair. The Transformer asks the same question with learned
projections, many heads at once, and no recurrence:

    Softmax                       the attention weights, kept as a node of its own
    ScaledDotProductAttention     softmax(q k^T / sqrt(dk)) v, with a mask
    MultiHeadAttention            project, split into heads, attend, merge, project

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
    check_positive_int,
    shape_str,
)
from zerokara.layers.base import Array, Module


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


# -- the attention weights ---------------------------------------------------------------------------
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


__all__ = [
    "Softmax",
    "ScaledDotProductAttention",
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
]
