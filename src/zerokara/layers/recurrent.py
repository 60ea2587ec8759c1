"""Recurrent cells for one time step: RNN, LSTM, GRU (book 2, chapters 5-6 and
appendix C; 深層学習 Day 3, sections 1-3).

Each cell computes one step for a batch, written to be read; the Time versions
in :mod:`zerokara.layers.time` compute the same functions over a sequence,
sharing these step helpers where that costs nothing and rearranging the
arithmetic where the step loop is hot (TimeLSTM). The gradient checks and
PyTorch parity tests hold both to the same numbers, and
:mod:`zerokara.layers.reference` writes every one of them out plainly, as book 2 does.

Weight layout, chosen so that torch's weights map by a transpose only:
    RNN:  Wx (D, H),  Wh (H, H),  b (H,)
    LSTM: Wx (D, 4H), Wh (H, 4H), b (4H,); gate blocks in the order i, f, g, o
          (input, forget, candidate, output) as torch.nn.LSTM. book 2 orders
          them f, g, i, o; only the slicing differs.
    GRU:  Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,); blocks r, z, n as
          torch.nn.GRU, and torch's formulation (see :class:`GRU`).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError, check_array, check_dtype, check_input, check_positive_int, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.core import sigmoid

# -- RNN ---------------------------------------------------------------------------
ACTIVATIONS = ("tanh", "sigmoid", "relu")


def rnn_act(a: Array, kind: str) -> Array:
    if kind == "tanh":
        return np.tanh(a)
    if kind == "sigmoid":
        return sigmoid(a)
    return np.maximum(a, 0)


def rnn_act_grad(h: Array, dh: Array, kind: str) -> Array:
    """dL/da from dL/dh, written with the activation's *output* h = f(a)."""
    if kind == "tanh":
        return dh * (1 - h * h)
    if kind == "sigmoid":
        return dh * h * (1 - h)
    return dh * (h > 0)


def check_activation(layer: str, kind: str) -> str:
    if kind not in ACTIVATIONS:
        raise InputError(f"{layer}: activation expected one of {ACTIVATIONS}, got {kind!r}")
    return kind


def cell_weights(
    D: int, H: int, gates: int, rng: np.random.Generator, init: str | float, dtype: DTypeLike
) -> tuple[Array, Array]:
    """Wx (D, gates*H), Wh (H, gates*H); "xavier" by default as book 2 does for RNNs."""
    Wx = initlib.weight((D, gates * H), rng, init, dtype=dtype)
    Wh = initlib.weight((H, gates * H), rng, init, dtype=dtype)
    return Wx, Wh


def check_weights(layer: str, params: dict[str, Array], gates: int) -> None:
    """A cell's weights as its constructor gets them: Wx (D, gH), Wh (H, gH) and each bias
    (gH,), for ``gates`` blocks of H columns (1 RNN, 3 GRU, 4 LSTM), D and H at least 1."""
    for k, v in params.items():
        check_array(layer, k, v)
    Wx, Wh = params["Wx"], params["Wh"]
    biases = [k for k in params if k not in ("Wx", "Wh")]
    H = Wh.shape[0] if Wh.ndim == 2 else 0
    fits = (
        Wx.ndim == 2
        and H >= 1
        and Wx.shape[0] >= 1
        and Wh.shape[1] == Wx.shape[1] == gates * H
        and all(params[k].shape == (gates * H,) for k in biases)
    )
    if not fits:
        g = f"{gates}H" if gates > 1 else "H"
        want = ", ".join([f"Wx (D, {g})", f"Wh (H, {g})", *(f"{k} ({g},)" for k in biases)])
        got = ", ".join(f"{k} {shape_str(v.shape)}" for k, v in params.items())
        raise InputError(f"{layer}: expected {want} with D, H >= 1, got {got}")


def check_sizes(layer: str, D: int, H: int) -> None:
    """``create``'s sizes: D inputs and H hidden units, each a positive integer."""
    check_positive_int(layer, "D", D)
    check_positive_int(layer, "H", H)


def check_step(layer: str, params: dict[str, Array], x: Array, *states: tuple[str, Array]) -> None:
    """One step's input x (N, D) and states (name, (N, H)) against the cell's weights."""
    D, H = params["Wx"].shape[0], params["Wh"].shape[0]
    check_input(layer, "x", x, ndim=2, last=D, expected=f"(N, {D})")
    check_dtype(layer, "x", x, params["Wx"].dtype)
    for arg, s in states:
        if not isinstance(s, np.ndarray) or s.shape != (x.shape[0], H):
            got = shape_str(s.shape) if isinstance(s, np.ndarray) else type(s).__name__
            raise InputError(f"{layer}: {arg} expected shape {shape_str((x.shape[0], H))}, got {got}")


class RNN(Module):
    """Simple RNN step ``h_next = f(x @ Wx + h_prev @ Wh + b)``, f = tanh (default),
    sigmoid or relu.

    Shapes:
        forward:  x (N, D), h_prev (N, H) -> h_next (N, H)
        backward: dh_next (N, H) -> (dx (N, D), dh_prev (N, H)); dWx, dWh, db

    ``db = da.sum(axis=0)``: forward adds b to every row of the batch (a broadcast
    from (H,) to (N, H)), so backward sums the rows' gradients (why? docs/bias-gradient.md).
    """

    gates = 1

    def __init__(self, Wx: Array, Wh: Array, b: Array, activation: str = "tanh") -> None:
        super().__init__()
        self.activation = check_activation(type(self).__name__, activation)
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        check_weights(type(self).__name__, self.params, self.gates)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache: tuple | None = None

    @classmethod
    def create(
        cls,
        D: int,
        H: int,
        rng: np.random.Generator,
        *,
        init: str | float = "xavier",
        dtype: DTypeLike = np.float32,
        **kw,
    ) -> RNN:
        check_sizes(f"{cls.__name__}.create", D, H)
        Wx, Wh = cell_weights(D, H, cls.gates, rng, init, dtype)
        return cls(Wx, Wh, np.zeros(cls.gates * H, dtype=dtype), **kw)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}"

    def _check(self, x: Array, *states: tuple[str, Array]) -> None:
        check_step(type(self).__name__, self.params, x, *states)

    def forward(self, x: Array, h_prev: Array) -> Array:
        self._check(x, ("h_prev", h_prev))
        p = self.params
        h_next = rnn_act(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"], self.activation)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        assert self.cache is not None
        x, h_prev, h_next = self.cache
        da = rnn_act_grad(h_next, dh_next, self.activation)
        self.grads["Wx"][...] = x.T @ da
        self.grads["Wh"][...] = h_prev.T @ da
        self.grads["b"][...] = da.sum(axis=0)  # b was broadcast over the batch
        return da @ self.params["Wx"].T, da @ self.params["Wh"].T


# -- LSTM --------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def lstm_gate_affine(H: int, dtype: str, rows: int = 0) -> tuple[Array, ...]:
    """Per-column (scale, shift, scale**2) for lstm_gates: 0.5, 0.5 on the
    sigmoid blocks i, f, o; 1, 0 on the tanh block g. Shape (4H,), or with
    ``rows`` repeated to (rows, 4H): NumPy runs an operation between two arrays
    of the same shape faster than one that broadcasts a row (docs/speed.md)."""
    scale = np.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H : 3 * H] = 1.0
    shift = np.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H : 3 * H] = 0.0
    out: tuple[Array, ...] = (scale, shift, scale * scale)
    if rows:
        out = tuple(np.tile(a, (rows, 1)) for a in out)
    for a in out:
        a.flags.writeable = False
    return out


def lstm_gates(A: Array, H: int, dgates: Array) -> None:
    """Pre-activations A (N, 4H) -> gate values [i, f, g, o] in place, and their
    derivatives d(gate)/d(pre-activation) into dgates (N, 4H).

    Not a second sigmoid but the identity behind :func:`~zerokara.layers.core.sigmoid`,
    sigmoid(a) = 0.5 tanh(a/2) + 0.5, fused over the four blocks: one tanh of
    the scaled pre-activations, scaled and shifted back per column (0.5, 0.5 on
    i, f, o; 1, 0 on g), a few whole-array operations instead of a set per gate.
    With u = tanh(scale a) the derivative is scale**2 (1 - u**2): y(1 - y) for
    a sigmoid, 1 - y**2 for tanh.
    """
    scale, shift, scale2 = lstm_gate_affine(H, A.dtype.str)
    A *= scale
    np.tanh(A, out=A)
    np.multiply(A, A, out=dgates)
    dgates *= scale2
    np.subtract(scale2, dgates, out=dgates)
    A *= scale
    A += shift


def lstm_split(G: Array, H: int) -> tuple[Array, Array, Array, Array]:
    """The gate blocks (i, f, g, o) of G (..., 4H) as views (..., H)."""
    return G[..., :H], G[..., H : 2 * H], G[..., 2 * H : 3 * H], G[..., 3 * H :]


def lstm_cell(
    gates: tuple[Array, ...],
    c_prev: Array,
    c_next: Array,
    tc: Array,
    h_next: Array,
    scratch: Array | None = None,
) -> None:
    """Gates (i, f, g, o) and c_prev, each (N, H) -> c_next, tanh(c_next), h_next (N, H),
    written into the given arrays: c_next = f c_prev + i g, h_next = o tanh(c_next).
    ``scratch`` (N, H), if given, holds i g (no new array per step)."""
    i, f, g, o = gates
    np.multiply(f, c_prev, out=c_next)
    c_next += np.multiply(i, g, out=scratch)
    np.tanh(c_next, out=tc)
    np.multiply(o, tc, out=h_next)


def lstm_cell_backward(
    G: Array, dgates: Array, c_prev: Array, tc: Array, dh: Array, dc: Array, dA: Array, H: int
) -> Array:
    """Fill dA (N, 4H) with dL/d(pre-activations); return dL/dc_prev.

    c_next = f c_prev + i g and h = o tanh(c_next), so the cell state's gradient
    ds collects both the path through h and the path from the next step. Each
    gate's gradient is (what multiplied it) * ds, times its derivative dgates.
    """
    i, f, g, o = G[:, :H], G[:, H : 2 * H], G[:, 2 * H : 3 * H], G[:, 3 * H :]
    ds = tc * tc
    np.subtract(1, ds, out=ds)
    ds *= o
    ds *= dh
    ds += dc
    np.multiply(ds, g, out=dA[:, :H])
    np.multiply(ds, c_prev, out=dA[:, H : 2 * H])
    np.multiply(ds, i, out=dA[:, 2 * H : 3 * H])
    np.multiply(dh, tc, out=dA[:, 3 * H :])
    dA *= dgates
    return ds * f


class LSTM(RNN):
    """LSTM step (gate order i, f, g, o):

        i, f, o = sigmoid(.), g = tanh(.)  of  x @ Wx + h_prev @ Wh + b (split in 4)
        c_next = f * c_prev + i * g;  h_next = o * tanh(c_next)

    Shapes:
        forward:  x (N, D), h_prev (N, H), c_prev (N, H) -> (h_next (N, H), c_next (N, H))
        backward: dh_next, dc_next (N, H) -> (dx (N, D), dh_prev (N, H), dc_prev (N, H))
    """

    gates = 4

    def __init__(self, Wx: Array, Wh: Array, b: Array) -> None:
        super().__init__(Wx, Wh, b)

    def extra_repr(self) -> str:
        return Module.extra_repr(self)

    # LSTM shares RNN's parameters, create and checks, but a step has two states (h, c):
    # forward and backward take one more argument than RNN's, so they do not substitute
    def forward(self, x: Array, h_prev: Array, c_prev: Array) -> tuple[Array, Array]:  # type: ignore[override]
        self._check(x, ("h_prev", h_prev), ("c_prev", c_prev))
        p, H = self.params, h_prev.shape[1]
        G = x @ p["Wx"] + h_prev @ p["Wh"] + p["b"]
        dgates = np.empty_like(G)
        lstm_gates(G, H, dgates)
        c_next, tc, h_next = (np.empty_like(h_prev) for _ in range(3))
        lstm_cell(lstm_split(G, H), c_prev, c_next, tc, h_next)
        self.cache = (x, h_prev, c_prev, G, dgates, tc)
        return h_next, c_next

    def backward(self, dh_next: Array, dc_next: Array) -> tuple[Array, Array, Array]:  # type: ignore[override]
        assert self.cache is not None
        x, h_prev, c_prev, G, dgates, tc = self.cache
        dA = np.empty_like(G)
        dc_prev = lstm_cell_backward(G, dgates, c_prev, tc, dh_next, dc_next, dA, h_prev.shape[1])
        self.grads["Wx"][...] = x.T @ dA
        self.grads["Wh"][...] = h_prev.T @ dA
        self.grads["b"][...] = dA.sum(axis=0)
        return dA @ self.params["Wx"].T, dA @ self.params["Wh"].T, dc_prev


# -- GRU ---------------------------------------------------------------------------
def gru_cell(Ax: Array, Ah: Array, h_prev: Array, H: int) -> tuple[Array, Array, Array, Array]:
    """Ax = x Wx + bx, Ah = h_prev Wh + bh (N, 3H) -> (h_next, r, z, n)."""
    rz = sigmoid(Ax[:, : 2 * H] + Ah[:, : 2 * H])
    r, z = rz[:, :H], rz[:, H:]
    n = np.tanh(Ax[:, 2 * H :] + r * Ah[:, 2 * H :])
    return n + z * (h_prev - n), r, z, n


def gru_cell_backward(
    Ah: Array, h_prev: Array, r: Array, z: Array, n: Array, dh: Array, dAx: Array, dAh: Array, H: int
) -> Array:
    """Fill dAx, dAh (N, 3H); return the direct part of dL/dh_prev (dh * z)."""
    dn = dh * (1 - z) * (1 - n * n)
    dz = dh * (h_prev - n) * z * (1 - z)
    dr = dn * Ah[:, 2 * H :] * r * (1 - r)
    dAx[:, :H] = dr
    dAx[:, H : 2 * H] = dz
    dAx[:, 2 * H :] = dn
    dAh[:, : 2 * H] = dAx[:, : 2 * H]
    dAh[:, 2 * H :] = dn * r  # the reset gate scales h_prev @ Whn (+ bhn), after the product
    return dh * z


class GRU(RNN):
    """GRU step in torch.nn.GRU's formulation (blocks r, z, n):

        r = sigmoid(x Wxr + bxr + h Whr + bhr),  z = sigmoid(x Wxz + bxz + h Whz + bhz)
        n = tanh(x Wxn + bxn + r * (h Whn + bhn))
        h_next = (1 - z) * n + z * h_prev

    book 2 (appendix C) applies the reset gate *before* the product,
    tanh(x Wx + (r * h) Wh + b), and swaps the roles of z and 1 - z; the two
    are different functions, so we follow torch to be able to prove parity.

    Shapes:
        forward:  x (N, D), h_prev (N, H) -> h_next (N, H)
        backward: dh_next (N, H) -> (dx (N, D), dh_prev (N, H))
    """

    gates = 3

    def __init__(self, Wx: Array, Wh: Array, bx: Array, bh: Array | None = None) -> None:
        Module.__init__(self)
        bh = np.zeros_like(bx) if bh is None else bh
        self.params = {"Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}
        check_weights(type(self).__name__, self.params, self.gates)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def extra_repr(self) -> str:
        return Module.extra_repr(self)

    def forward(self, x: Array, h_prev: Array) -> Array:
        self._check(x, ("h_prev", h_prev))
        p, H = self.params, h_prev.shape[1]
        Ah = h_prev @ p["Wh"] + p["bh"]
        h_next, r, z, n = gru_cell(x @ p["Wx"] + p["bx"], Ah, h_prev, H)
        self.cache = (x, h_prev, Ah, r, z, n)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        assert self.cache is not None
        x, h_prev, Ah, r, z, n = self.cache
        dAx, dAh = np.empty_like(Ah), np.empty_like(Ah)
        dh_prev = gru_cell_backward(Ah, h_prev, r, z, n, dh_next, dAx, dAh, h_prev.shape[1])
        grads, p = self.grads, self.params
        grads["Wx"][...] = x.T @ dAx
        grads["Wh"][...] = h_prev.T @ dAh
        grads["bx"][...] = dAx.sum(axis=0)  # both biases were broadcast over the batch
        grads["bh"][...] = dAh.sum(axis=0)
        return dAx @ p["Wx"].T, dh_prev + dAh @ p["Wh"].T
