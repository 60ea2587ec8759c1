"""Recurrent layers over whole sequences: TimeRNN, TimeLSTM, TimeGRU (book 2's
Time* layers), Bidirectional and TimeDropout.

Sequences are batch-first, ``xs (N, T, D) -> hs (N, T, H)``. Each layer runs
the cell of :mod:`zerokara.layers.recurrent` step by step, but does the work
that does not depend on the recurrence at once over all N*T rows: ``xs @ Wx``
before the loop, and dWx, dWh, db and dxs after it as single matrix products
(TimeLSTM: dWx, dWh and db together as one). Only ``h @ Wh`` (forward) and
``dA @ Wh.T`` (backward) stay inside the loop.

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

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.core import Dropout
from zerokara.layers.recurrent import (GRU, LSTM, RNN, check_activation, gru_cell,
                                       gru_cell_backward, lstm_cell, lstm_gate_affine, lstm_split,
                                       rnn_act, rnn_act_grad)


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

    def _ws_rows(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> Array:
        """A 2-D scratch array as ``_ws``, whose rows are 64 bytes longer than
        they need be when their length is a multiple of 1 KiB (H = 64, 128, 256,
        ... in float32). BLAS reads such a matrix with every row at the same cache
        set, which thrashes: at H=256 the step product h @ Wh is 15 % faster from
        the padded copy at N=64, 40 % at N=20; float64 and other sizes are within 5 %."""
        rows, cols = shape
        itemsize = np.dtype(dtype).itemsize
        pad = 64 // itemsize if (cols * itemsize) % 1024 == 0 else 0
        return self._ws(name, (rows, cols + pad), dtype)[:, :cols]

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


def _lstm_backward_constants(G: Array, c_prev: Array, tc: Array, K: Array, P: Array,
                             H: int) -> None:
    """What TimeLSTM's backward needs that does not depend on the gradient
    flowing back, for a block of steps (..., N, 4H): K holds, per gate,
    d(gate)/d(pre-activation) times what the gate multiplies (g, c_prev, i for
    i, f, g; tanh c for o), and P = o (1 - tanh(c)^2), the path from h to c."""
    i, f, gg, o = lstm_split(G, H)
    np.subtract(1, G, out=K)
    K *= G  # sigmoid' = y (1 - y) on i, f, o
    Ki, Kf, Kg, Ko = lstm_split(K, H)
    np.multiply(gg, gg, out=Kg)
    np.subtract(1, Kg, out=Kg)  # tanh' on g
    Ki *= gg
    Kf *= c_prev
    Kg *= i
    Ko *= tc
    np.multiply(tc, tc, out=P)
    np.subtract(1, P, out=P)
    P *= o


class TimeLSTM(_TimeRecurrent):
    """LSTM over a sequence (gate order i, f, g, o; see :class:`~zerokara.layers.recurrent.LSTM`).

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H), c0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0, dc0 (N, H) if h0/c0 were given]
    Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,).
    """

    cell = LSTM
    state_names = ("h", "c")
    big_Wh = 512 * 1024  # bytes: above this, backward multiplies by Wh the other way round
    block_bytes = 512 * 1024  # backward works through the steps in blocks of this many bytes of gates

    def __init__(self, Wx: Array, Wh: Array, b: Array, *, stateful: bool = False) -> None:
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful)
        self.c: Array | None = None
        self.dc: Array | None = None
        self._stack_grads(Wx.dtype)

    def _stack_grads(self, dtype: DTypeLike) -> None:
        """db, dWx, dWh as the rows of one array dW (1+D+H, 4H): backward fills all
        three with one matrix product (see forward), and the grads are views of it."""
        (D, H4), H = self.params["Wx"].shape, self.hidden_size
        dW = np.zeros((1 + D + H, H4), dtype=dtype)
        self.grads = {"Wx": dW[1:1 + D], "Wh": dW[1 + D:], "b": dW[0]}

    def _astype_extra(self, dtype: DTypeLike) -> None:
        self._stack_grads(dtype)

    def forward(self, xs: Array, h0: Array | None = None, c0: Array | None = None) -> Array:
        h, c = self._initial(xs, (h0, c0))
        N, T, D = xs.shape
        H, p, dt = h.shape[1], self.params, xs.dtype
        # The step loop is the hot path, so the cell's arithmetic is arranged for
        # as few whole-array operations per step as possible: sigmoid(a) =
        # 0.5 tanh(a/2) + 0.5, so the pre-activations are scaled once (the weights,
        # once per call) and each step does one tanh.
        scale, shift, _ = lstm_gate_affine(H, dt.str)
        scale_n, shift_n, _ = lstm_gate_affine(H, dt.str, N)
        # Z[t] holds the rows [1, x_t, h_{t-1}] (time-major): [1, x] @ [b; Wx] is the
        # input side of every step in one product, bias included; the h part is
        # each step's input to h @ Wh; and backward gets db, dWx, dWh as one product
        # Z.T @ dA (one large product uses the BLAS threads better than three).
        Z = self._ws("Z", (T + 1, N, 1 + D + H), dt)
        Z[..., 0] = 1
        np.copyto(Z[:T, :, 1:1 + D], xs.transpose(1, 0, 2))
        hs = Z[:, :, 1 + D:]  # h_0 .. h_T (T+1, N, H); Z[T] only holds h_T
        hs[0] = h
        W = self._ws("W", (1 + D, 4 * H), dt)
        np.multiply(p["b"], scale, out=W[0])
        np.multiply(p["Wx"], scale, out=W[1:])
        G = self._ws("G", (T, N, 4 * H), dt)  # pre-activations, turned into gates in place
        np.matmul(Z[:T, :, :1 + D].reshape(T * N, 1 + D), W, out=G.reshape(T * N, 4 * H))
        Whs = np.multiply(p["Wh"], scale, out=self._ws_rows("Whs", p["Wh"].shape, dt))
        Gh = self._ws("Gh", (N, 4 * H), dt)
        cs = self._ws("cs", (T + 1, N, H), dt)
        tcs = self._ws("tcs", (T, N, H), dt)
        ig = self._ws("ig", (N, H), dt)
        cs[0] = c
        zero_start = not h.any()  # h_0 = 0, an encoder's usual start: step 0's h @ Wh is 0
        # zip hands out each step's views; indexing in the loop would build them one by one
        for Gt, gates, h_prev, h_next, c_prev, c_next, tc in zip(
                G, zip(*lstm_split(G, H)), hs[:-1], hs[1:], cs[:-1], cs[1:], tcs):
            if zero_start:
                zero_start = False
            else:
                Gt += np.matmul(h_prev, Whs, out=Gh)
            np.tanh(Gt, out=Gt)
            Gt *= scale_n
            Gt += shift_n
            lstm_cell(gates, c_prev, c_next, tc, h_next, ig)
        if self.stateful:
            self.h, self.c = hs[-1].copy(), cs[-1].copy()
        self.cache = (Z, xs.shape, cs, tcs, G)
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))  # a copy: editing it cannot corrupt backward

    def _backprop_h(self, N: int, H: int, dt: np.dtype) -> tuple[Array, Callable[[Array], Array]]:
        """The step loop's ``dh_{t-1} = dA_t @ Wh.T``, set up the faster way for
        this Wh: returns ``(back, step)``; ``step(dA_t)`` writes the product into
        ``back`` (N, H), which starts at zero.

        Which way round BLAS is asked matters. For a large Wh (over 512 KiB),
        ``Wh @ dA_t.T`` into an (H, N) array is 15-25 % faster and needs no
        transposed copy of Wh (6.8 MB at H = 650); for a small one the copy is
        cheap and ``dA_t @ Wh.T`` with Wh.T contiguous is faster.
        """
        Wh = self.params["Wh"]
        if Wh.nbytes > self.big_Wh:
            out = self._ws("backT", (H, N), dt)
            out[...] = 0
            return out.T, lambda dA: np.matmul(Wh, dA.T, out=out)
        # Reading the columns of a matrix whose rows are a multiple of 1 KiB apart
        # (H = 128 in float32) thrashes the cache; through a copy with padded rows
        # the transpose is ~5x faster.
        if Wh.strides[0] % 1024 == 0:
            Wh = self._ws_rows("Whpad", Wh.shape, dt)
            np.copyto(Wh, self.params["Wh"])
        WhT = self._ws("WhT", (4 * H, H), dt)
        np.copyto(WhT, Wh.T)
        out = self._ws("back", (N, H), dt)
        out[...] = 0
        return out, lambda dA: np.matmul(dA, WhT, out=out)

    def backward(self, dhs: Array) -> Array | tuple[Array, ...] | None:
        Z, shape, cs, tcs, G = self.cache
        N, T, D = shape
        H, g, dt = cs.shape[2], self.grads, G.dtype
        f = G[..., H:2 * H]
        dA = self._ws("dA", G.shape, dt)
        dhs_t = self._ws("dhs", (T, N, H), dt)
        np.copyto(dhs_t, dhs.transpose(1, 0, 2))  # time-major: contiguous rows per step
        dh, dc, ds = (self._ws(name, (N, H), dt) for name in ("dh", "dc", "ds"))
        dc[...] = 0
        ds3 = ds[:, None]  # ds broadcast over the gates i, f, g
        back, send_back = self._backprop_h(N, H, dt)
        dA4 = dA.reshape(T, N, 4, H)
        # The steps go backwards in blocks of about block_bytes of gates: what does
        # not depend on the gradient flowing back is computed for a whole block at
        # once, just before the loop reads it, while it is still in the CPU's cache
        # (at N=128, H=256 that halves its cost against doing all T steps at once).
        # (K and P are one block's worth, reused from block to block.)
        block = min(T, max(1, self.block_bytes // (N * 4 * H * G.itemsize)))
        Kb, Pb = self._ws("K", (block, N, 4 * H), dt), self._ws("P", (block, N, H), dt)
        for stop in range(T, 0, -block):
            s = slice(max(stop - block, 0), stop)
            K, P = Kb[:s.stop - s.start], Pb[:s.stop - s.start]
            _lstm_backward_constants(G[s], cs[s], tcs[s], K, P, H)
            K4 = K.reshape(-1, N, 4, H)
            for dh_out, Pt, K3, Kot, ft, dA3, dAo, dAt in zip(*(a[::-1] for a in (
                    dhs_t[s], P, K4[:, :, :3], K4[:, :, 3], f[s], dA4[s, :, :3], dA4[s, :, 3], dA[s]))):
                np.add(back, dh_out, out=dh)  # dL/dh_t: from the output at t, plus from step t+1
                np.multiply(dh, Pt, out=ds)  # dL/dc_t: through h_t, plus what step t+1 sent back
                ds += dc
                np.multiply(ds3, K3, out=dA3)  # i, f, g
                np.multiply(dh, Kot, out=dAo)
                np.multiply(ds, ft, out=dc)
                send_back(dAt)  # dh_{t-1} = dA_t @ Wh.T
        dh = back.copy()  # C order
        dc = dc.copy()  # returned and kept: not the next call's scratch
        dA2 = dA.reshape(T * N, -1)
        # rows [db; dWx; dWh] = [1, x, h_prev].T @ dA: b was repeated over batch
        # and time, so db sums dA over both
        dW = g["b"].base
        if dW is None or dW.dtype != dt or any(a.base is not dW for a in g.values()):
            dW = self._ws("dW", (1 + D + H, 4 * H), dt)  # grads are separate arrays (a copied layer)
        np.matmul(Z[:T].reshape(T * N, -1).T, dA2, out=dW)
        for name, part in (("b", dW[0]), ("Wx", dW[1:1 + D]), ("Wh", dW[1 + D:])):
            if g[name].base is not dW:
                g[name][...] = part
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
