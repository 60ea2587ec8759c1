"""TimeLSTM: the LSTM over a sequence, arranged for speed.

It computes the same function as :class:`zerokara.layers.reference.SimpleTimeLSTM`
(a test holds the two equal to 1e-10 in float64); read that one to learn the
algorithm, and this one to see what a NumPy LSTM does to be fast. What each
arrangement buys, and what was tried and dropped, is measured in docs/speed.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from zerokara.layers.base import Array
from zerokara.layers.recurrent import LSTM, lstm_cell, lstm_gate_affine, lstm_split
from zerokara.layers.time_base import TimeGrads, TimeRecurrent


def _lstm_backward_constants(G: Array, c_prev: Array, tc: Array, K: Array, P: Array, H: int) -> None:
    """What TimeLSTM's backward needs that does not depend on the gradient
    flowing back, for a block of steps (..., N, 4H): K holds, per gate,
    d(gate)/d(pre-activation) times what the gate multiplies (g, c_prev, i for
    i, f, g; tanh c for o), and P = o (1 - tanh(c)^2), the path from h to c."""
    i, f, g, o = lstm_split(G, H)
    np.subtract(1, G, out=K)
    K *= G  # sigmoid' = y (1 - y) on i, f, o
    Ki, Kf, Kg, Ko = lstm_split(K, H)
    np.multiply(g, g, out=Kg)
    np.subtract(1, Kg, out=Kg)  # tanh' on g
    Ki *= g
    Kf *= c_prev
    Kg *= i
    Ko *= tc
    np.multiply(tc, tc, out=P)
    np.subtract(1, P, out=P)
    P *= o


class TimeLSTM(TimeRecurrent):
    """LSTM over a sequence, gate blocks in the order i, f, g, o (torch.nn.LSTM's):

        A_t = x_t @ Wx + h_{t-1} @ Wh + b                      (N, 4H)
        i, f, o = sigmoid(A_t blocks 0, 1, 3),  g = tanh(A_t block 2)
        c_t = f * c_{t-1} + g * i,  h_t = o * tanh(c_t)

    The same function as :class:`~zerokara.layers.reference.SimpleTimeLSTM`,
    the book's loop over LSTM cells, arranged for speed: rows [1, x_t, h_{t-1}]
    in one array Z (so the input side, and db, dWx, dWh, are one product each),
    the sigmoid as a scaled tanh over all four gates at once, scratch arrays kept
    from call to call, a padded copy of Wh at sizes where the cache thrashes, and
    a backward that precomputes per block of steps what does not depend on the
    gradient flowing back (docs/speed.md says what each is worth).

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
        self._workspace: dict[str, Array] = {}
        self._stack_grads(Wx.dtype)

    def _stack_grads(self, dtype: DTypeLike) -> None:
        """db, dWx, dWh as the rows of one array dW (1+D+H, 4H): backward fills all
        three with one matrix product (see forward), and the grads are views of it."""
        (D, H4), H = self.params["Wx"].shape, self.hidden_size
        dW = np.zeros((1 + D + H, H4), dtype=dtype)
        self.grads = {"Wx": dW[1 : 1 + D], "Wh": dW[1 + D :], "b": dW[0]}

    def _astype_extra(self, dtype: DTypeLike) -> None:
        self._stack_grads(dtype)

    def _ws(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> Array:
        """A scratch array kept from call to call: a fresh large array costs a page
        fault per 4 KiB on first touch, on every call. Contents are garbage until written."""
        a = self._workspace.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._workspace[name] = np.empty(shape, dtype=dtype)
        return a

    def _ws_rows(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> Array:
        """A 2-D scratch array as ``_ws``, whose rows are 64 bytes longer than
        they need be when their length is a multiple of 1 KiB (H = 64, 128, 256,
        ... in float32). BLAS reads such a matrix with every row at the same cache
        set, which thrashes; the padding spreads the rows over the sets."""
        rows, cols = shape
        itemsize = np.dtype(dtype).itemsize
        pad = 64 // itemsize if (cols * itemsize) % 1024 == 0 else 0
        return self._ws(name, (rows, cols + pad), dtype)[:, :cols]

    def forward(self, xs: Array, h0: Array | None = None, c0: Array | None = None) -> Array:
        h, c = self._initial(xs, (h0, c0))
        N, T, D = xs.shape
        H, p, dtype = h.shape[1], self.params, xs.dtype
        # The step loop is the hot path, so the cell's arithmetic is arranged for
        # as few whole-array operations per step as possible: sigmoid(a) =
        # 0.5 tanh(a/2) + 0.5, so the pre-activations are scaled once (the weights,
        # once per call) and each step does one tanh.
        scale, shift, _ = lstm_gate_affine(H, dtype.str)
        scale_n, shift_n, _ = lstm_gate_affine(H, dtype.str, N)
        # Z[t] holds the rows [1, x_t, h_{t-1}] (time-major): [1, x] @ [b; Wx] is the
        # input side of every step in one product, bias included; the h part is
        # each step's input to h @ Wh; and backward gets db, dWx, dWh as one product
        # Z.T @ dA (one large product uses the BLAS threads better than three).
        Z = self._ws("Z", (T + 1, N, 1 + D + H), dtype)
        Z[..., 0] = 1
        np.copyto(Z[:T, :, 1 : 1 + D], xs.transpose(1, 0, 2))
        hs = Z[:, :, 1 + D :]  # h_0 .. h_T (T+1, N, H); Z[T] only holds h_T
        hs[0] = h
        W = self._ws("W", (1 + D, 4 * H), dtype)
        np.multiply(p["b"], scale, out=W[0])
        np.multiply(p["Wx"], scale, out=W[1:])
        G = self._ws("G", (T, N, 4 * H), dtype)  # pre-activations, turned into gates in place
        np.matmul(Z[:T, :, : 1 + D].reshape(T * N, 1 + D), W, out=G.reshape(T * N, 4 * H))
        Whs = np.multiply(p["Wh"], scale, out=self._ws_rows("Whs", p["Wh"].shape, dtype))
        Gh = self._ws("Gh", (N, 4 * H), dtype)
        cs = self._ws("cs", (T + 1, N, H), dtype)
        tcs = self._ws("tcs", (T, N, H), dtype)
        ig = self._ws("ig", (N, H), dtype)
        cs[0] = c
        zero_start = not h.any()  # h_0 = 0, an encoder's usual start: step 0's h @ Wh is 0
        # zip hands out each step's views; indexing in the loop would build them one by one
        for Gt, gates, h_prev, h_next, c_prev, c_next, tc in zip(
            G, zip(*lstm_split(G, H), strict=True), hs[:-1], hs[1:], cs[:-1], cs[1:], tcs, strict=True
        ):
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

    def _backprop_h(self, N: int, H: int, dtype: np.dtype) -> tuple[Array, Callable[[Array], Array]]:
        """The step loop's ``dh_{t-1} = dA_t @ Wh.T``, set up the faster way for
        this Wh: returns ``(back, step)``; ``step(dA_t)`` writes the product into
        ``back`` (N, H), which starts at zero.

        Which way round BLAS is asked matters. For a large Wh (over ``big_Wh``
        bytes), ``Wh @ dA_t.T`` into an (H, N) array is faster and needs no
        transposed copy of Wh; for a small one the copy is cheap and
        ``dA_t @ Wh.T`` with Wh.T contiguous is faster.
        """
        Wh = self.params["Wh"]
        if Wh.nbytes > self.big_Wh:
            out = self._ws("backT", (H, N), dtype)
            out[...] = 0
            return out.T, lambda dA: np.matmul(Wh, dA.T, out=out)
        # Reading the columns of a matrix whose rows are a multiple of 1 KiB apart
        # (H = 128 in float32) thrashes the cache; through a copy with padded rows
        # the transpose does not.
        if Wh.strides[0] % 1024 == 0:
            Wh = self._ws_rows("Whpad", Wh.shape, dtype)
            np.copyto(Wh, self.params["Wh"])
        WhT = self._ws("WhT", (4 * H, H), dtype)
        np.copyto(WhT, Wh.T)
        out = self._ws("back", (N, H), dtype)
        out[...] = 0
        return out, lambda dA: np.matmul(dA, WhT, out=out)

    def backward(self, dhs: Array) -> TimeGrads:
        assert self.cache is not None
        Z, shape, cs, tcs, G = self.cache
        N, T, D = shape
        H, grads, dtype = cs.shape[2], self.grads, G.dtype
        f = G[..., H : 2 * H]
        dA = self._ws("dA", G.shape, dtype)
        dhs_t = self._ws("dhs", (T, N, H), dtype)
        np.copyto(dhs_t, dhs.transpose(1, 0, 2))  # time-major: contiguous rows per step
        dh, dc, ds = (self._ws(name, (N, H), dtype) for name in ("dh", "dc", "ds"))
        dc[...] = 0
        ds3 = ds[:, None]  # ds broadcast over the gates i, f, g
        back, send_back = self._backprop_h(N, H, dtype)
        dA4 = dA.reshape(T, N, 4, H)
        # The steps go backwards in blocks of about block_bytes of gates: what does
        # not depend on the gradient flowing back is computed for a whole block at
        # once, just before the loop reads it, while it is still in the CPU's cache.
        # (K and P are one block's worth, reused from block to block.)
        block = min(T, max(1, self.block_bytes // (N * 4 * H * G.itemsize)))
        Kb, Pb = self._ws("K", (block, N, 4 * H), dtype), self._ws("P", (block, N, H), dtype)
        for stop in range(T, 0, -block):
            s = slice(max(stop - block, 0), stop)
            K, P = Kb[: s.stop - s.start], Pb[: s.stop - s.start]
            _lstm_backward_constants(G[s], cs[s], tcs[s], K, P, H)
            K4 = K.reshape(-1, N, 4, H)
            for dh_out, Pt, K3, Kot, ft, dA3, dAo, dAt in zip(
                *(
                    a[::-1]
                    for a in (
                        dhs_t[s],
                        P,
                        K4[:, :, :3],
                        K4[:, :, 3],
                        f[s],
                        dA4[s, :, :3],
                        dA4[s, :, 3],
                        dA[s],
                    )
                ),
                strict=True,
            ):
                np.add(back, dh_out, out=dh)  # dL/dh_t: from the output at t, plus from step t+1
                np.multiply(dh, Pt, out=ds)  # dL/dc_t: through h_t, plus what step t+1 sent back
                ds += dc
                np.multiply(ds3, K3, out=dA3)  # i, f, g: ds * (g, c_prev, i), each times its gate's slope
                np.multiply(dh, Kot, out=dAo)  # o: dh * tanh(c_t) times its slope
                np.multiply(ds, ft, out=dc)  # dc_prev = ds * f
                send_back(dAt)  # dh_{t-1} = dA_t @ Wh.T
        dh = back.copy()  # C order
        dc = dc.copy()  # returned and kept: not the next call's scratch
        dA2 = dA.reshape(T * N, -1)
        # rows [db; dWx; dWh] = [1, x, h_prev].T @ dA: b was repeated over batch
        # and time, so db sums dA over both
        dW = grads["b"].base
        if dW is None or dW.dtype != dtype or any(a.base is not dW for a in grads.values()):
            dW = self._ws("dW", (1 + D + H, 4 * H), dtype)  # grads are separate arrays (a copied layer)
        np.matmul(Z[:T].reshape(T * N, -1).T, dA2, out=dW)
        for name, part in (("b", dW[0]), ("Wx", dW[1 : 1 + D]), ("Wh", dW[1 + D :])):
            if grads[name].base is not dW:
                grads[name][...] = part
        return self._finish(dA2, shape, [dh, dc])
