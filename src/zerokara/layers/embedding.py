"""Embedding layers and their sparse gradient (book 2, chapters 4-6).

An embedding's forward is a row lookup ``W[idx]``; its gradient touches only
the rows that were looked up. :class:`RowGrad` keeps just those rows, so a step
never builds (or zeroes) a dense V x D gradient, and the optimizers update just
those rows (see :mod:`zerokara.optim`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError, check_array, check_positive_int, shape_str
from zerokara.layers.base import Array, Module


class RowGrad:
    """The gradient of a (V, D) parameter that is zero except on some rows.

    Attributes:
        idx: (K,) distinct row ids, sorted.
        rows: (K, D) the gradient of those rows.
        shape: the full shape (V, D).

    It behaves like the dense array where that is needed: ``np.asarray(g)``
    gives the dense (V, D) array, ``dense + g`` adds the rows in, ``g *= c``
    scales (gradient clipping).
    """

    __slots__ = ("idx", "rows", "shape")

    def __init__(self, idx: np.ndarray, rows: Array, shape: tuple[int, ...]) -> None:
        self.idx, self.rows, self.shape = idx, rows, tuple(shape)

    @classmethod
    def accumulate(cls, ids: np.ndarray, grads: Array, shape: tuple[int, ...]) -> RowGrad:
        """Sum the gradients of repeated ids: ids (M,), grads (M, D) -> distinct rows.

        A row looked up twice in forward was used twice, so it receives the sum
        of both gradients (book 2 does this with ``np.add.at`` into a dense dW).
        """
        uniq, inverse = np.unique(ids, return_inverse=True)
        D = grads.shape[1]
        rows = np.zeros((len(uniq), D), dtype=grads.dtype)
        # np.add.at is fast only into a 1-D target: add each element at row * D + column
        flat = (inverse.reshape(-1, 1) * D + np.arange(D)).reshape(-1)
        np.add.at(rows.reshape(-1), flat, np.ascontiguousarray(grads).reshape(-1))
        return cls(uniq, rows, shape)

    @property
    def dtype(self) -> np.dtype:
        return self.rows.dtype

    def dense(self) -> Array:
        out = np.zeros(self.shape, dtype=self.rows.dtype)
        out[self.idx] = self.rows
        return out

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> Array:
        d = self.dense()
        return d if dtype is None else d.astype(dtype)

    def __add__(self, other: object) -> Array | RowGrad:
        if isinstance(other, RowGrad):
            return RowGrad.accumulate(
                np.concatenate([self.idx, other.idx]), np.concatenate([self.rows, other.rows]), self.shape
            )
        if isinstance(other, np.ndarray):
            out = other.copy()
            out[self.idx] += self.rows  # idx is distinct: plain fancy-index add is exact
            return out
        return NotImplemented

    __radd__ = __add__

    def __imul__(self, scale: float) -> RowGrad:
        self.rows *= scale
        return self

    def sq_norm(self) -> float:
        return float(np.vdot(self.rows, self.rows))

    def astype(self, dtype: DTypeLike) -> RowGrad:
        return RowGrad(self.idx, self.rows.astype(dtype), self.shape)

    def __repr__(self) -> str:
        return f"RowGrad({len(self.idx)} of {self.shape[0]} rows, shape={self.shape})"


def check_ids(layer: str, ids: object, vocab: int, ndim: int | None = None) -> np.ndarray:
    if not isinstance(ids, np.ndarray) or ids.dtype.kind not in "iu":
        got = ids.dtype if isinstance(ids, np.ndarray) else type(ids).__name__
        raise InputError(f"{layer}: ids expected an integer array, got {got}")
    if ndim is not None and ids.ndim != ndim:
        want = "(N,)" if ndim == 1 else "(N, T)"
        raise InputError(f"{layer}: ids expected shape {want}, got {shape_str(ids.shape)}")
    if ids.size == 0:
        raise InputError(f"{layer}: ids is empty (shape {shape_str(ids.shape)})")
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= vocab:
        bad = lo if lo < 0 else hi
        raise InputError(
            f"{layer}: token id {bad} out of range; expected ids in [0, {vocab - 1}] "
            f"(vocabulary size {vocab})"
        )
    return ids


class Embedding(Module):
    """Row lookup ``out = W[ids]``.

    Shapes: W (V, D); forward ids (*) integers -> out (*, D);
    backward dout (*, D) -> None (ids have no gradient); dW as a :class:`RowGrad`.

    Why the gradient *adds* into dW rather than assigning: if id 3 appears twice
    in the batch, W[3] was used twice, and each use sends back its own gradient;
    assigning would keep only the last one (book 2's first, wrong version).
    """

    # dW is a RowGrad, which stands in for the dense (V, D) array wherever one is read
    # (np.asarray, +, *=) and whose rows alone the optimizers update: duck typing on purpose
    grads: dict[str, RowGrad]  # type: ignore[assignment]

    def __init__(self, W: Array) -> None:
        super().__init__()
        check_array(type(self).__name__, "W", W, ndim=2, expected="(V, D)")
        self.params = {"W": W}
        self.grads = {"W": RowGrad(np.zeros(0, dtype=np.intp), W[:0].copy(), W.shape)}
        self.ids: np.ndarray | None = None

    @classmethod
    def create(
        cls,
        V: int,
        D: int,
        rng: np.random.Generator,
        *,
        init: str | float = 0.01,
        dtype: DTypeLike = np.float32,
    ) -> Embedding:
        """W (V, D) ~ N(0, 0.01^2) as book 2 (or any :func:`zerokara.init.weight` kind)."""
        V = check_positive_int(f"{cls.__name__}.create", "V", V)
        D = check_positive_int(f"{cls.__name__}.create", "D", D)
        return cls(initlib.weight((V, D), rng, init, dtype=dtype))

    def forward(self, ids: np.ndarray) -> Array:
        W = self.params["W"]
        self.ids = check_ids(type(self).__name__, ids, W.shape[0])
        return np.take(W, ids, axis=0)  # W[ids], by the faster row gather

    def backward(self, dout: Array) -> None:
        W = self.params["W"]
        assert self.ids is not None
        self.grads["W"] = RowGrad.accumulate(self.ids.reshape(-1), dout.reshape(-1, W.shape[1]), W.shape)
        return None


class TimeEmbedding(Embedding):
    """Embedding over a batch of sequences (book 2's name).

    Shapes: ids (N, T) -> out (N, T, D); backward dout (N, T, D) -> None; dW rows.
    """

    def forward(self, ids: np.ndarray) -> Array:
        check_ids("TimeEmbedding", ids, self.params["W"].shape[0], ndim=2)
        return super().forward(ids)
