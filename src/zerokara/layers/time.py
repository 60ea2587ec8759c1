"""Recurrent layers over whole sequences: TimeRNN, TimeLSTM, TimeGRU (book 2's
Time* layers), Bidirectional and TimeDropout.

Sequences are batch-first, ``xs (N, T, D) -> hs (N, T, H)``. Each layer runs
the cell of :mod:`zerokara.layers.recurrent` step by step, but does the work
that does not depend on the recurrence at once over all N*T rows: ``xs @ Wx``
before the loop, and dWx, dWh, db and dxs after it as single matrix products.
Only ``h @ Wh`` (forward) and ``dA @ Wh.T`` (backward) stay inside the loop.

State: with ``stateful=True`` the last hidden (and cell) state of one call is
the first state of the next, as truncated BPTT needs; ``reset_state()`` starts
again from zeros. The gradient never flows across that boundary (that is what
"truncated" means). An initial state can also be passed explicitly
(``forward(xs, h0)``); then ``backward`` also returns its gradient, which is
always kept in ``self.dh`` (and ``self.dc``) for an encoder-decoder.

BPTT: the gradient reaching ``h_t`` is the sum of what the output at step t
sends (``dhs[:, t]``) and what step t+1 sends back through ``Wh``; db and dWh
are sums over the batch *and* over time, because the same b and Wh are used at
every step.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.core import Dropout
from zerokara.layers.recurrent import (GRU, LSTM, RNN, check_activation, gru_cell,
                                       gru_cell_backward, lstm_cell, lstm_gate_affine, rnn_act,
                                       rnn_act_grad)


class _TimeRecurrent(Module):
    """Shared state handling and checks; subclasses implement _run and _run_backward."""

    cell: type[RNN] = RNN
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, params: dict[str, Array], stateful: bool) -> None:
        super().__init__()
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}
        self.stateful = stateful
        self.h: Array | None = None
        self.dh: Array | None = None
        self.explicit_state = False
        self.cache: tuple | None = None
        self._workspace: dict[str, Array] = {}

    def _ws(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> Array:
        """A scratch array kept from call to call. A fresh large array costs a
        page fault per 4 KiB on first touch, every call; at H=100 that was a
        third of TimeLSTM's time. Contents are garbage until written."""
        a = self._workspace.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._workspace[name] = np.empty(shape, dtype=dtype)
        return a

    @classmethod
    def create(cls, D: int, H: int, rng: np.random.Generator, *, init: str | float = "xavier",
               dtype: DTypeLike = np.float32, stateful: bool = False, **kw) -> _TimeRecurrent:
        """A new layer with weights drawn as ``cell.create`` draws them (biases zero)."""
        c = cls.cell.create(D, H, rng, init=init, dtype=dtype)
        return cls(*c.params.values(), stateful=stateful, **kw)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", stateful" if self.stateful else "")

    @property
    def hidden_size(self) -> int:
        return self.params["Wh"].shape[0]

    def reset_state(self) -> None:
        for name in self.state_names:
            setattr(self, name, None)

    def set_state(self, h: Array, c: Array | None = None) -> None:
        self.h = h
        if "c" in self.state_names:
            self.c = c

    def _initial(self, xs: Array, given: tuple[Array | None, ...]) -> list[Array]:
        name, H = type(self).__name__, self.hidden_size
        D = self.params["Wx"].shape[0]
        check_input(name, "xs", xs, ndim=3, last=D, expected=f"(N, T, {D})")
        if xs.dtype != self.params["Wx"].dtype:
            raise InputError(f"{name}: xs expected dtype {self.params['Wx'].dtype} (the layer's "
                             f"dtype), got {xs.dtype}")
        N, T = xs.shape[:2]
        if T == 0:
            raise InputError(f"{name}: xs is an empty sequence (T = 0, shape {shape_str(xs.shape)})")
        self.explicit_state = any(g is not None for g in given)
        states = []
        for sname, g in zip(self.state_names, given):
            if g is not None and (not isinstance(g, np.ndarray) or g.dtype != xs.dtype):
                got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
                raise InputError(f"{name}: {sname}0 expected a {xs.dtype} array (N, {H}), got {got}")
            s = g if g is not None else (getattr(self, sname) if self.stateful else None)
            if s is None:
                s = np.zeros((N, H), dtype=xs.dtype)
            elif s.shape != (N, H):
                hint = ("" if g is not None else
                        "; the stateful layer carries the previous batch's state: call reset_state() "
                        "when the batch size changes")
                raise InputError(f"{name}: initial {sname} expected shape {shape_str((N, H))}, "
                                 f"got {shape_str(s.shape)}{hint}")
            states.append(s)
        return states

    def _finish(self, dA2: Array, xs_shape: tuple[int, ...],
                dstates: list[Array]) -> Array | tuple[Array, ...] | None:
        """dxs from the time-major input-side gradients dA2 (T*N, kH), and the states' gradients."""
        dxs = None
        if self.input_grad:
            N, T, D = xs_shape
            dxs = (dA2 @ self.params["Wx"].T).reshape(T, N, D).transpose(1, 0, 2)
        for sname, d in zip(self.state_names, dstates):
            setattr(self, "d" + sname, d)
        return (dxs, *dstates) if self.explicit_state else dxs


def _time_major(xs: Array) -> Array:
    """(N, T, D) -> (T*N, D) rows ordered by time, so that each step's rows are
    one contiguous block (the step loop reads and writes them T times)."""
    N, T, D = xs.shape
    return np.ascontiguousarray(xs.transpose(1, 0, 2)).reshape(T * N, D)


class TimeRNN(_TimeRecurrent):
    """RNN over a sequence: ``h_t = f(x_t @ Wx + h_{t-1} @ Wh + b)``.

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0 (N, H) if h0 was given]
    Parameters: Wx (D, H), Wh (H, H), b (H,).
    """

    def __init__(self, Wx: Array, Wh: Array, b: Array, *, stateful: bool = False,
                 activation: str = "tanh") -> None:
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful)
        self.activation = check_activation("TimeRNN", activation)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}"

    def forward(self, xs: Array, h0: Array | None = None) -> Array:
        (h,) = self._initial(xs, (h0,))
        N, T, _ = xs.shape
        p, X = self.params, _time_major(xs)
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

    def backward(self, dhs: Array) -> Array | tuple[Array, ...] | None:
        X, shape, hs = self.cache
        N, T, _ = shape
        p, g = self.params, self.grads
        dA = np.empty_like(hs[1:])
        dh = np.zeros_like(hs[0])
        WhT = np.ascontiguousarray(p["Wh"].T)  # see TimeLSTM.backward
        for t in reversed(range(T)):
            dA[t] = rnn_act_grad(hs[t + 1], dhs[:, t] + dh, self.activation)
            dh = dA[t] @ WhT
        dA2 = dA.reshape(T * N, -1)
        np.matmul(X.T, dA2, out=g["Wx"])
        np.matmul(hs[:-1].reshape(T * N, -1).T, dA2, out=g["Wh"])
        np.sum(dA2, axis=0, out=g["b"])  # b was repeated over batch and time
        return self._finish(dA2, shape, [dh])


class TimeLSTM(_TimeRecurrent):
    """LSTM over a sequence (gate order i, f, g, o; see :class:`~zerokara.layers.recurrent.LSTM`).

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H), c0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0, dc0 (N, H) if h0/c0 were given]
    Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,).
    """

    cell = LSTM
    state_names = ("h", "c")

    def __init__(self, Wx: Array, Wh: Array, b: Array, *, stateful: bool = False) -> None:
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful)
        self.c: Array | None = None
        self.dc: Array | None = None

    def forward(self, xs: Array, h0: Array | None = None, c0: Array | None = None) -> Array:
        h, c = self._initial(xs, (h0, c0))
        N, T, D = xs.shape
        H, p, dt = h.shape[1], self.params, xs.dtype
        # The step loop is the hot path, so the cell's arithmetic is arranged for
        # as few whole-array operations per step as possible: sigmoid(a) =
        # 0.5 tanh(a/2) + 0.5, so the pre-activations are scaled once (the x part
        # for all steps at once, Wh once per call) and each step does one tanh.
        scale, shift, _ = lstm_gate_affine(H, dt.str)
        X = self._ws("X", (T, N, D), dt)
        np.copyto(X, xs.transpose(1, 0, 2))  # time-major: each step's rows are contiguous
        X = X.reshape(T * N, D)
        G = self._ws("G", (T, N, 4 * H), dt)  # pre-activations, turned into gates in place
        np.matmul(X, p["Wx"], out=G.reshape(T * N, 4 * H))
        G += p["b"]
        G *= scale
        Whs = np.multiply(p["Wh"], scale, out=self._ws("Whs", p["Wh"].shape, dt))
        hs = self._ws("hs", (T + 1, N, H), dt)
        cs = self._ws("cs", (T + 1, N, H), dt)
        tcs = self._ws("tcs", (T, N, H), dt)
        hs[0], cs[0] = h, c
        for t in range(T):
            Gt = G[t]
            Gt += hs[t] @ Whs
            np.tanh(Gt, out=Gt)
            Gt *= scale
            Gt += shift
            lstm_cell(Gt, cs[t], H, cs[t + 1], tcs[t], hs[t + 1])
        if self.stateful:
            self.h, self.c = hs[-1].copy(), cs[-1].copy()
        self.cache = (X, xs.shape, hs, cs, tcs, G)
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))  # a copy: editing it cannot corrupt backward

    def backward(self, dhs: Array) -> Array | tuple[Array, ...] | None:
        X, shape, hs, cs, tcs, G = self.cache
        N, T, _ = shape
        H, p, g, dt = hs.shape[2], self.params, self.grads, G.dtype
        i, f, gg, o = (G[..., k * H:(k + 1) * H] for k in range(4))
        # Everything that does not depend on the gradient flowing back is computed
        # for all steps at once: K holds, per gate, d(gate)/d(pre-activation)
        # times what the gate multiplies (g, c_prev, i for i, f, g; tanh c for o),
        # and P = o (1 - tanh(c)^2), the path from h to c.
        K = np.subtract(1, G, out=self._ws("K", G.shape, dt))
        K *= G  # sigmoid' = y (1 - y) on i, f, o
        Kg = K[..., 2 * H:3 * H]
        np.multiply(gg, gg, out=Kg)
        np.subtract(1, Kg, out=Kg)  # tanh' on g
        K[..., :H] *= gg
        K[..., H:2 * H] *= cs[:-1]
        Kg *= i
        K[..., 3 * H:] *= tcs
        P = np.multiply(tcs, tcs, out=self._ws("P", tcs.shape, dt))
        np.subtract(1, P, out=P)
        P *= o
        dA = self._ws("dA", G.shape, dt)
        dh = np.zeros_like(hs[0])
        dc = np.zeros_like(dh)
        # a contiguous copy: the step loop multiplies by Wh.T T times, and BLAS is
        # markedly faster on a row-major operand than on a transposed view
        WhT = self._ws("WhT", p["Wh"].shape[::-1], dt)
        np.copyto(WhT, p["Wh"].T)
        for t in reversed(range(T)):
            dh += dhs[:, t]
            ds = dh * P[t]  # dL/dc_t: through h_t, plus what step t+1 sent back
            ds += dc
            dAt = dA[t].reshape(N, 4, H)
            np.multiply(ds[:, None, :], K[t].reshape(N, 4, H)[:, :3], out=dAt[:, :3])
            np.multiply(dh, K[t, :, 3 * H:], out=dAt[:, 3])
            dc = ds * f[t]
            dh = dA[t] @ WhT
        dA2 = dA.reshape(T * N, -1)
        np.matmul(X.T, dA2, out=g["Wx"])
        np.matmul(hs[:-1].reshape(T * N, H).T, dA2, out=g["Wh"])
        np.sum(dA2, axis=0, out=g["b"])  # b was repeated over batch and time
        return self._finish(dA2, shape, [dh, dc])


class TimeGRU(_TimeRecurrent):
    """GRU over a sequence, torch's formulation (see :class:`~zerokara.layers.recurrent.GRU`).

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0 (N, H) if h0 was given]
    Parameters: Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,).
    """

    cell = GRU

    def __init__(self, Wx: Array, Wh: Array, bx: Array, bh: Array | None = None, *,
                 stateful: bool = False) -> None:
        bh = np.zeros_like(bx) if bh is None else bh
        super().__init__({"Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}, stateful)

    def forward(self, xs: Array, h0: Array | None = None) -> Array:
        (h,) = self._initial(xs, (h0,))
        N, T, _ = xs.shape
        H, p, X = h.shape[1], self.params, _time_major(xs)
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

    def backward(self, dhs: Array) -> Array | tuple[Array, ...] | None:
        X, shape, hs, Ah, (r, z, n) = self.cache
        N, T, _ = shape
        H, p, g = hs.shape[2], self.params, self.grads
        dAx, dAh = np.empty_like(Ah), np.empty_like(Ah)
        dh = np.zeros_like(hs[0])
        WhT = np.ascontiguousarray(p["Wh"].T)  # see TimeLSTM.backward
        for t in reversed(range(T)):
            direct = gru_cell_backward(Ah[t], hs[t], r[t], z[t], n[t], dhs[:, t] + dh,
                                       dAx[t], dAh[t], H)
            dh = direct + dAh[t] @ WhT
        dAx2, dAh2 = dAx.reshape(T * N, -1), dAh.reshape(T * N, -1)
        np.matmul(X.T, dAx2, out=g["Wx"])
        np.matmul(hs[:-1].reshape(T * N, H).T, dAh2, out=g["Wh"])
        np.sum(dAx2, axis=0, out=g["bx"])
        np.sum(dAh2, axis=0, out=g["bh"])
        return self._finish(dAx2, shape, [dh])


class Bidirectional(Module):
    """Run one layer forward in time and another over the reversed sequence;
    concatenate their outputs: ``hs = [fw(xs), reverse(bw(reverse(xs)))]``.

    Shapes: xs (N, T, D) -> hs (N, T, 2H); dhs (N, T, 2H) -> dxs (N, T, D).
    The input feeds both directions, so dxs is the sum of both gradients.
    """

    def __init__(self, fw: _TimeRecurrent, bw: _TimeRecurrent) -> None:
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
        H = W.shape[0] if transpose_W else W.shape[1]
        if W.ndim != 2 or b.shape != (H,):
            raise InputError(f"TimeAffine: W {shape_str(W.shape)} and b {shape_str(b.shape)} do not fit "
                             f"(transpose_W={transpose_W})")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.transpose_W = transpose_W
        self.x2: Array | None = None

    @classmethod
    def create(cls, D: int, H: int, rng: np.random.Generator, *, init: str | float = "xavier",
               dtype: DTypeLike = np.float32) -> TimeAffine:
        from zerokara import init as initlib

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
