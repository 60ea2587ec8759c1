"""Recurrent layers over whole sequences: TimeRNN, TimeLSTM, TimeGRU (book 2's
Time* layers), Bidirectional, TimeDropout and TimeAffine.

Sequences are batch-first, ``xs (N, T, D) -> hs (N, T, H)``. Each layer runs
the cell of :mod:`zerokara.layers.recurrent` step by step, but does the work
that does not depend on the recurrence at once over all N*T rows: ``xs @ Wx``
before the loop, and dWx, dWh, db and dxs after it as single matrix products
(TimeLSTM, in :mod:`zerokara.layers.time_lstm`: dWx, dWh and db together as
one). Only ``h @ Wh`` (forward) and ``dA @ Wh.T`` (backward) stay inside the
loop. State handling (stateful, reset_state, an explicit h0) is shared, in
:mod:`zerokara.layers.time_base`; the same layers written as book 2's plain loop
over cells are in :mod:`zerokara.layers.reference`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError, check_array, check_input, check_positive_int, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.core import Dropout
from zerokara.layers.recurrent import (
    GRU,
    check_activation,
    gru_cell,
    gru_cell_backward,
    rnn_act,
    rnn_act_grad,
)
from zerokara.layers.time_base import TimeGrads, TimeRecurrent, time_major
from zerokara.layers.time_lstm import TimeLSTM

__all__ = ["TimeRecurrent", "TimeRNN", "TimeLSTM", "TimeGRU", "Bidirectional", "TimeDropout", "TimeAffine"]


class TimeRNN(TimeRecurrent):
    """RNN over a sequence: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)``.

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0 (N, H) if h0 was given]
    Parameters: Wx (D, H), Wh (H, H), b (H,).
    """

    def __init__(
        self, Wx: Array, Wh: Array, b: Array, *, stateful: bool = False, activation: str = "tanh"
    ) -> None:
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful)
        self.activation = check_activation("TimeRNN", activation)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}"

    def forward(self, xs: Array, h0: Array | None = None) -> Array:
        (h,) = self._initial(xs, (h0,))
        N, T, _ = xs.shape
        p, X = self.params, time_major(xs)
        A = (X @ p["Wx"] + p["b"]).reshape(T, N, -1)
        hs = np.empty((T + 1, N, h.shape[1]), dtype=xs.dtype)  # hs[0] is h0; time-major inside
        hs[0] = h
        for t in range(T):
            A[t] += hs[t] @ p["Wh"]
            hs[t + 1] = rnn_act(A[t], self.activation)
        if self.stateful:
            self.h = hs[-1].copy()
        self.cache = (X, xs.shape, hs)
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))  # a copy: editing it cannot corrupt backward

    def backward(self, dhs: Array) -> TimeGrads:
        assert self.cache is not None
        X, shape, hs = self.cache
        N, T, _ = shape
        p, grads = self.params, self.grads
        dA = np.empty_like(hs[1:])
        dh = np.zeros_like(hs[0])
        WhT = np.ascontiguousarray(p["Wh"].T)  # contiguous: the step product reads it T times
        for t in reversed(range(T)):
            dA[t] = rnn_act_grad(hs[t + 1], dhs[:, t] + dh, self.activation)
            dh = dA[t] @ WhT
        dA2 = dA.reshape(T * N, -1)
        np.matmul(X.T, dA2, out=grads["Wx"])
        np.matmul(hs[:-1].reshape(T * N, -1).T, dA2, out=grads["Wh"])
        np.sum(dA2, axis=0, out=grads["b"])  # b was repeated over batch and time
        return self._finish(dA2, shape, [dh])


class TimeGRU(TimeRecurrent):
    """GRU over a sequence, torch's formulation (see :class:`~zerokara.layers.recurrent.GRU`).

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0 (N, H) if h0 was given]
    Parameters: Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,).
    """

    cell = GRU

    def __init__(
        self, Wx: Array, Wh: Array, bx: Array, bh: Array | None = None, *, stateful: bool = False
    ) -> None:
        bh = np.zeros_like(bx) if bh is None else bh
        super().__init__({"Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}, stateful)

    def forward(self, xs: Array, h0: Array | None = None) -> Array:
        (h,) = self._initial(xs, (h0,))
        N, T, _ = xs.shape
        H, p, X = h.shape[1], self.params, time_major(xs)
        Ax = (X @ p["Wx"] + p["bx"]).reshape(T, N, 3 * H)
        Ah = np.empty_like(Ax)
        hs = np.empty((T + 1, N, H), dtype=xs.dtype)
        gates = np.empty((3, T, N, H), dtype=xs.dtype)  # r, z, n per step
        hs[0] = h
        for t in range(T):
            np.matmul(hs[t], p["Wh"], out=Ah[t])
            Ah[t] += p["bh"]
            hs[t + 1], gates[0, t], gates[1, t], gates[2, t] = gru_cell(Ax[t], Ah[t], hs[t], H)
        if self.stateful:
            self.h = hs[-1].copy()
        self.cache = (X, xs.shape, hs, Ah, gates)
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))  # a copy: editing it cannot corrupt backward

    def backward(self, dhs: Array) -> TimeGrads:
        assert self.cache is not None
        X, shape, hs, Ah, (r, z, n) = self.cache
        N, T, _ = shape
        H, p, grads = hs.shape[2], self.params, self.grads
        dAx, dAh = np.empty_like(Ah), np.empty_like(Ah)
        dh = np.zeros_like(hs[0])
        WhT = np.ascontiguousarray(p["Wh"].T)  # contiguous: the step product reads it T times
        for t in reversed(range(T)):
            direct = gru_cell_backward(Ah[t], hs[t], r[t], z[t], n[t], dhs[:, t] + dh, dAx[t], dAh[t], H)
            dh = direct + dAh[t] @ WhT
        dAx2, dAh2 = dAx.reshape(T * N, -1), dAh.reshape(T * N, -1)
        np.matmul(X.T, dAx2, out=grads["Wx"])
        np.matmul(hs[:-1].reshape(T * N, H).T, dAh2, out=grads["Wh"])
        np.sum(dAx2, axis=0, out=grads["bx"])
        np.sum(dAh2, axis=0, out=grads["bh"])
        return self._finish(dAx2, shape, [dh])


class Bidirectional(Module):
    """Run one layer forward in time and another over the reversed sequence;
    concatenate their outputs: ``hs = [fw(xs), reverse(bw(reverse(xs)))]``.

    Shapes: xs (N, T, D) -> hs (N, T, 2H); dhs (N, T, 2H) -> dxs (N, T, D).
    The input feeds both directions, so dxs is the sum of both gradients.
    """

    def __init__(self, fw: TimeRecurrent, bw: TimeRecurrent) -> None:
        super().__init__()
        self.fw, self.bw = fw, bw

    def forward(self, xs: Array) -> Array:
        hf = self.fw.forward(xs)
        hb = self.bw.forward(xs[:, ::-1])
        return np.concatenate([hf, hb[:, ::-1]], axis=2)

    def backward(self, dhs: Array) -> Array:
        H = self.fw.hidden_size
        dxf = self.fw.backward(dhs[:, :, :H])
        dxb = self.bw.backward(np.ascontiguousarray(dhs[:, ::-1, H:]))
        return dxf + dxb[:, ::-1]

    def reset_state(self) -> None:
        self.fw.reset_state()
        self.bw.reset_state()


class TimeDropout(Dropout):
    """Dropout over a sequence (book 2's name): an independent inverted-dropout
    mask for every element of xs (N, T, H); identity in eval mode."""


class TimeAffine(Module):
    """Affine applied at every time step, as one matrix product over N*T rows
    (book 2's TimeAffine).

    Shapes:
        W (D, H), b (H,); or, with ``transpose_W=True``, W (H, D) used as W.T --
        weight tying with an Embedding whose (V, D) matrix is the same array.
        forward:  xs (N, T, D) -> (N, T, H)
        backward: dout (N, T, H) -> dxs (N, T, D); dW; db summed over batch and time
    """

    def __init__(self, W: Array, b: Array, *, transpose_W: bool = False) -> None:
        super().__init__()
        check_array("TimeAffine", "W", W, ndim=2, expected="(H, D)" if transpose_W else "(D, H)")
        check_array("TimeAffine", "b", b, expected="(H,)")
        H = W.shape[0] if transpose_W else W.shape[1]
        if b.shape != (H,):
            raise InputError(
                f"TimeAffine: W {shape_str(W.shape)} and b {shape_str(b.shape)} do not fit "
                f"(transpose_W={transpose_W})"
            )
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.transpose_W = transpose_W
        self.x2: Array | None = None

    @classmethod
    def create(
        cls,
        D: int,
        H: int,
        rng: np.random.Generator,
        *,
        init: str | float = "xavier",
        dtype: DTypeLike = np.float32,
    ) -> TimeAffine:
        D, H = (
            check_positive_int("TimeAffine.create", "D", D),
            check_positive_int("TimeAffine.create", "H", H),
        )
        return cls(initlib.weight((D, H), rng, init, dtype=dtype), np.zeros(H, dtype=dtype))

    def forward(self, xs: Array) -> Array:
        W, b = self.params["W"], self.params["b"]
        D = W.shape[1] if self.transpose_W else W.shape[0]
        check_input("TimeAffine", "xs", xs, ndim=3, last=D, expected=f"(N, T, {D})")
        N, T, _ = xs.shape
        self.x2 = xs.reshape(N * T, D)
        out = self.x2 @ (W.T if self.transpose_W else W)
        out += b  # b is repeated over batch and time
        return out.reshape(N, T, -1)

    def backward(self, dout: Array) -> Array | None:
        W, x2 = self.params["W"], self.x2
        assert x2 is not None
        d2 = dout.reshape(x2.shape[0], -1)
        if self.transpose_W:
            np.matmul(d2.T, x2, out=self.grads["W"])
        else:
            np.matmul(x2.T, d2, out=self.grads["W"])
        np.sum(d2, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        dx = d2 @ W if self.transpose_W else d2 @ W.T
        return dx.reshape(*dout.shape[:2], -1)
