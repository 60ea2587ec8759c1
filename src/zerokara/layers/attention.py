"""Attention (book 2, chapter 8; 深層学習 Day 3, section 6).

The decoder's hidden state h asks "which encoder states matter now?":

    s = hs @ h            dot-product scores, one per encoder step   (AttentionWeight)
    a = softmax(s)        the attention weights, summing to 1
    c = sum_t a_t hs_t    the context vector: a weighted sum          (WeightSum)

:class:`AttentionWeight` and :class:`WeightSum` are book 2's two halves for one
decoder step, :class:`Attention` chains them. :class:`TimeAttention` does the
same for every decoder step at once, as three batched matrix products
(book 2 loops over the decoder steps; the arithmetic is identical).

Each broadcast is undone by a sum in backward (why a sum? docs/bias-gradient.md):
``hs * h[:, None, :]`` repeats h over the T encoder steps, so dh sums over
axis 1; ``hs * a[:, :, None]`` repeats a over the H features, so da sums over
axis 2.
"""

from __future__ import annotations

import numpy as np

from zerokara.errors import InputError, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.losses import softmax


def _softmax_backward(a: Array, da: Array) -> Array:
    """d(softmax)^T da over the last axis: a * (da - sum(a * da))."""
    ds = a * da
    ds -= a * ds.sum(axis=-1, keepdims=True)
    return ds


def _check_pair(layer: str, hs: Array, other: Array, name: str, ndim: int) -> None:
    check_input(layer, "hs", hs, ndim=3, expected="(N, T, H)")
    N, _, H = hs.shape
    want = f"({N}, {H})" if ndim == 2 else f"({N}, Ty, {H})"
    check_input(layer, name, other, ndim=ndim, expected=want)
    if other.shape[0] != N or other.shape[-1] != H:
        raise InputError(
            f"{layer}: {name} expected shape {want} to match hs "
            f"{shape_str(hs.shape)}, got {shape_str(other.shape)}"
        )


class AttentionWeight(Module):
    """Attention weights of one decoder state over the encoder states.

    Shapes:
        forward:  hs (N, T, H), h (N, H) -> a (N, T) = softmax_T(sum_H(hs * h))
        backward: da (N, T) -> (dhs (N, T, H), dh (N, H))
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache: tuple | None = None

    def forward(self, hs: Array, h: Array) -> Array:
        _check_pair("AttentionWeight", hs, h, "h", 2)
        s = np.sum(hs * h[:, None, :], axis=2)  # h repeated over the T steps
        a = softmax(s)
        self.cache = (hs, h, a)
        return a

    def backward(self, da: Array) -> tuple[Array, Array]:
        assert self.cache is not None
        hs, h, a = self.cache
        ds = _softmax_backward(a, da)
        dt = ds[:, :, None] * hs  # the gradient of each product hs_t * h
        dhs = ds[:, :, None] * h[:, None, :]
        dh = dt.sum(axis=1)  # undo the repeat of h over T
        return dhs, dh


class WeightSum(Module):
    """Context vector: the encoder states weighted by the attention weights.

    Shapes:
        forward:  hs (N, T, H), a (N, T) -> c (N, H) = sum_T(hs * a)
        backward: dc (N, H) -> (dhs (N, T, H), da (N, T))
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache: tuple | None = None

    def forward(self, hs: Array, a: Array) -> Array:
        check_input("WeightSum", "hs", hs, ndim=3, expected="(N, T, H)")
        if not isinstance(a, np.ndarray) or a.shape != hs.shape[:2]:
            got = shape_str(a.shape) if isinstance(a, np.ndarray) else type(a).__name__
            raise InputError(f"WeightSum: a expected shape {shape_str(hs.shape[:2])} to match hs, got {got}")
        self.cache = (hs, a)
        return np.sum(hs * a[:, :, None], axis=1)  # a repeated over the H features

    def backward(self, dc: Array) -> tuple[Array, Array]:
        assert self.cache is not None
        hs, a = self.cache
        dhs = dc[:, None, :] * a[:, :, None]  # c summed over T: dc repeats over T
        da = np.sum(hs * dc[:, None, :], axis=2)  # undo the repeat of a over H
        return dhs, da


class Attention(Module):
    """AttentionWeight then WeightSum, for one decoder step (book 2's Attention).

    Shapes:
        forward:  hs (N, T, H), h (N, H) -> c (N, H); the weights stay in
                  ``attention_weight`` (N, T)
        backward: dc (N, H) -> (dhs (N, T, H), dh (N, H))

    hs feeds both halves, so dhs is the sum of both halves' gradients.
    """

    def __init__(self) -> None:
        super().__init__()
        self.weight = AttentionWeight()
        self.sum = WeightSum()
        self.attention_weight: Array | None = None

    def forward(self, hs: Array, h: Array) -> Array:
        a = self.weight.forward(hs, h)
        self.attention_weight = a
        return self.sum.forward(hs, a)

    def backward(self, dc: Array) -> tuple[Array, Array]:
        dhs0, da = self.sum.backward(dc)
        dhs1, dh = self.weight.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention(Module):
    """Attention for every decoder step (book 2's TimeAttention), batched.

    Shapes:
        forward:  hs_enc (N, Tx, H), hs_dec (N, Ty, H) -> cs (N, Ty, H);
                  the weights stay in ``attention_weights`` (N, Ty, Tx)
        backward: dcs (N, Ty, H) -> (dhs_enc (N, Tx, H), dhs_dec (N, Ty, H))

    Step t of book 2's loop is row t of three matrix products:
    S = hs_dec @ hs_enc^T (scores), A = softmax(S) over Tx, cs = A @ hs_enc.
    Backward is the transposed products; hs_enc is used twice (scores and
    sum), so its gradient adds both.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache: tuple | None = None
        self.attention_weights: Array | None = None

    def forward(self, hs_enc: Array, hs_dec: Array) -> Array:
        _check_pair("TimeAttention", hs_enc, hs_dec, "hs_dec", 3)
        S = hs_dec @ hs_enc.transpose(0, 2, 1)
        A = softmax(S)
        self.cache = (hs_enc, hs_dec, A)
        self.attention_weights = A
        return A @ hs_enc

    def backward(self, dcs: Array) -> tuple[Array, Array]:
        assert self.cache is not None
        hs_enc, hs_dec, A = self.cache
        dA = dcs @ hs_enc.transpose(0, 2, 1)
        dS = _softmax_backward(A, dA)
        dhs_enc = A.transpose(0, 2, 1) @ dcs
        dhs_enc += dS.transpose(0, 2, 1) @ hs_dec
        dhs_dec = dS @ hs_enc
        return dhs_enc, dhs_dec


__all__ = ["AttentionWeight", "WeightSum", "Attention", "TimeAttention"]
