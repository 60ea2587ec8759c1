"""Reference layers: the recurrent layers written to be read, not to be fast.

One module a reader opens to see every recurrent algorithm plainly, line for
line as book 2 writes it: the cells RNN, LSTM and GRU, and their Time versions
as a Python loop over one cell per step (book 2's TimeRNN and TimeLSTM). Book 2
keeps such "clearer rather than faster" layers under their own banner in
time_layers.py, and DeZero keeps ``linear_simple`` beside ``linear``; here they
sit beside :mod:`zerokara.layers.time` and :mod:`zerokara.layers.time_lstm`,
whose TimeLSTM rearranges the same arithmetic for speed beyond recognition.

Each Simple* layer computes the same function as its fast twin, with the same
constructor, parameter names and layout, ``create``, ``stateful``, explicit
initial state, state attributes (``h``, ``c``, ``dh``, ``dc``) and backward
return values, so any model can use either (tests/layers/test_reference.py
holds each pair equal to 1e-10 in float64, and each to PyTorch).

Gate order: the LSTM's blocks of Wx (D, 4H), Wh (H, 4H), b (4H,) are i, f, g, o
(torch.nn.LSTM's order, so torch's weights map by a transpose). Book 2 slices
them f, g, i, o; only which slice is which differs, every line is the book's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from zerokara.layers.base import Array, Module
from zerokara.layers.recurrent import cell_weights, check_activation, check_sizes, check_step, check_weights
from zerokara.layers.time_base import TimeGrads, TimeRecurrent


def sigmoid(x: Array) -> Array:
    # the book's form; the library's core.sigmoid uses 0.5 (1 + tanh(x/2)) so exp(-x) cannot overflow
    return 1 / (1 + np.exp(-x))


#: activation -> (f, f' written with the output h = f(a), as backward has h at hand)
_ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "tanh": (np.tanh, lambda h: 1 - h**2),
    "sigmoid": (sigmoid, lambda h: h * (1 - h)),
    "relu": (lambda a: np.maximum(a, 0), lambda h: (h > 0).astype(h.dtype)),
}


class _Cell(Module):
    """What the cells share: named parameters and grads, ``create``."""

    gates = 1  # blocks of H columns in Wx, Wh, b

    def __init__(self, **params: Array) -> None:
        super().__init__()
        check_weights(type(self).__name__, params, self.gates)
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}
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
    ) -> _Cell:
        """Weights drawn as the fast cell's ``create`` draws them; biases zero."""
        check_sizes(f"{cls.__name__}.create", D, H)
        Wx, Wh = cell_weights(D, H, cls.gates, rng, init, dtype)
        # the cells' own __init__ take (Wx, Wh, b, ...) positionally; _Cell's takes them by name
        return cls(Wx, Wh, np.zeros(cls.gates * H, dtype=dtype), **kw)  # type: ignore[call-arg]


# -- cells: one time step ------------------------------------------------------------
class SimpleRNN(_Cell):
    """Book 2's RNN: ``h_next = f(h_prev @ Wh + x @ Wx + b)``, f = tanh, sigmoid or relu.

    Shapes:
        Wx (D, H), Wh (H, H), b (H,)
        forward:  x (N, D), h_prev (N, H) -> h_next (N, H)
        backward: dh_next (N, H) -> (dx (N, D), dh_prev (N, H)); dWx, dWh, db
    """

    def __init__(self, Wx: Array, Wh: Array, b: Array, activation: str = "tanh") -> None:
        super().__init__(Wx=Wx, Wh=Wh, b=b)
        self.activation = check_activation(type(self).__name__, activation)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}"

    def forward(self, x: Array, h_prev: Array) -> Array:
        check_step(type(self).__name__, self.params, x, ("h_prev", h_prev))
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        f, _ = _ACTIVATIONS[self.activation]
        t = h_prev @ Wh + x @ Wx + b  # b is broadcast over the N rows
        h_next = f(t)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        Wx, Wh = self.params["Wx"], self.params["Wh"]
        assert self.cache is not None
        x, h_prev, h_next = self.cache
        _, f_prime = _ACTIVATIONS[self.activation]
        dt = dh_next * f_prime(h_next)  # tanh: dh_next * (1 - h_next ** 2)
        self.grads["b"][...] = dt.sum(axis=0)  # undo b's broadcast: sum over the rows
        self.grads["Wh"][...] = h_prev.T @ dt
        self.grads["Wx"][...] = x.T @ dt
        dh_prev = dt @ Wh.T
        dx = dt @ Wx.T
        return dx, dh_prev


class SimpleLSTM(_Cell):
    """Book 2's LSTM, gate blocks in the order i, f, g, o:

        A = x @ Wx + h_prev @ Wh + b                     (N, 4H)
        i, f, o = sigmoid(.), g = tanh(.)  of A's four blocks
        c_next = f * c_prev + g * i;  h_next = o * tanh(c_next)

    Shapes:
        Wx (D, 4H), Wh (H, 4H), b (4H,)
        forward:  x (N, D), h_prev (N, H), c_prev (N, H) -> (h_next (N, H), c_next (N, H))
        backward: dh_next, dc_next (N, H) -> (dx (N, D), dh_prev (N, H), dc_prev (N, H))
    """

    gates = 4

    def __init__(self, Wx: Array, Wh: Array, b: Array) -> None:
        super().__init__(Wx=Wx, Wh=Wh, b=b)

    def forward(self, x: Array, h_prev: Array, c_prev: Array) -> tuple[Array, Array]:
        check_step(type(self).__name__, self.params, x, ("h_prev", h_prev), ("c_prev", c_prev))
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        H = h_prev.shape[1]
        A = x @ Wx + h_prev @ Wh + b  # b is broadcast over the N rows
        i = sigmoid(A[:, :H])  # input gate
        f = sigmoid(A[:, H : 2 * H])  # forget gate
        g = np.tanh(A[:, 2 * H : 3 * H])  # the candidate: new memory
        o = sigmoid(A[:, 3 * H :])  # output gate
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next: Array, dc_next: Array) -> tuple[Array, Array, Array]:
        Wx, Wh = self.params["Wx"], self.params["Wh"]
        assert self.cache is not None
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        tanh_c_next = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next**2)  # c_next's two paths: to h_next, to step t+1
        dc_prev = ds * f
        di = ds * g
        df = ds * c_prev
        do = dh_next * tanh_c_next
        dg = ds * i
        di *= i * (1 - i)  # through each gate's activation: sigmoid' = y (1 - y)
        df *= f * (1 - f)
        do *= o * (1 - o)
        dg *= 1 - g**2  # tanh' = 1 - y**2
        dA = np.hstack((di, df, dg, do))  # the order of A's blocks (book 2: df, dg, di, do)
        self.grads["Wh"][...] = h_prev.T @ dA
        self.grads["Wx"][...] = x.T @ dA
        self.grads["b"][...] = dA.sum(axis=0)  # undo b's broadcast: sum over the rows
        dx = dA @ Wx.T
        dh_prev = dA @ Wh.T
        return dx, dh_prev, dc_prev


class SimpleGRU(_Cell):
    """GRU in torch.nn.GRU's formulation (blocks r, z, n), as the fast GRU:

        r = sigmoid(x Wxr + bxr + h_prev Whr + bhr)      reset gate
        z = sigmoid(x Wxz + bxz + h_prev Whz + bhz)      update gate
        n = tanh(x Wxn + bxn + r * (h_prev Whn + bhn))   candidate
        h_next = (1 - z) * n + z * h_prev

    (Book 2, appendix C, applies r before the product and swaps z and 1 - z: a
    different function; torch's is the one we can prove parity with.)

    Shapes:
        Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,)
        forward:  x (N, D), h_prev (N, H) -> h_next (N, H)
        backward: dh_next (N, H) -> (dx (N, D), dh_prev (N, H)); dWx, dWh, dbx, dbh
    """

    gates = 3

    def __init__(self, Wx: Array, Wh: Array, bx: Array, bh: Array | None = None) -> None:
        super().__init__(Wx=Wx, Wh=Wh, bx=bx, bh=np.zeros_like(bx) if bh is None else bh)

    def forward(self, x: Array, h_prev: Array) -> Array:
        check_step(type(self).__name__, self.params, x, ("h_prev", h_prev))
        p, H = self.params, h_prev.shape[1]
        ax = x @ p["Wx"] + p["bx"]  # (N, 3H): the input's part of r, z, n
        ah = h_prev @ p["Wh"] + p["bh"]  # (N, 3H): h_prev's part
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
        n = np.tanh(ax[:, 2 * H :] + r * ah[:, 2 * H :])
        h_next = (1 - z) * n + z * h_prev
        self.cache = (x, h_prev, ah, r, z, n)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        p = self.params
        assert self.cache is not None
        x, h_prev, ah, r, z, n = self.cache
        H = h_prev.shape[1]
        dn = dh_next * (1 - z)
        dz = dh_next * (h_prev - n)
        dn *= 1 - n**2  # through tanh
        dr = dn * ah[:, 2 * H :]
        dr *= r * (1 - r)  # through the sigmoids
        dz *= z * (1 - z)
        dax = np.hstack((dr, dz, dn))
        dah = np.hstack((dr, dz, dn * r))  # r multiplied h_prev's part of n
        self.grads["Wx"][...] = x.T @ dax
        self.grads["Wh"][...] = h_prev.T @ dah
        self.grads["bx"][...] = dax.sum(axis=0)  # both biases were broadcast over the rows
        self.grads["bh"][...] = dah.sum(axis=0)
        dx = dax @ p["Wx"].T
        dh_prev = dh_next * z + dah @ p["Wh"].T  # h_prev reaches h_next directly and through r, z, n
        return dx, dh_prev


# -- Time layers: one cell per step, book 2's loop ----------------------------------
class _TimeLoop(TimeRecurrent):
    """Book 2's TimeRNN, for any cell whose only state is h (RNN, GRU).

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0 (N, H) if h0 was given]
    """

    def new_cell(self) -> Module:
        raise NotImplementedError

    def forward(self, xs: Array, h0: Array | None = None) -> Array:
        (h,) = self._initial(xs, (h0,))  # given, carried (stateful) or zeros
        N, T, D = xs.shape
        hs = np.empty((N, T, self.hidden_size), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = self.new_cell()  # every step's cell holds the same Wx, Wh, b
            h = layer.forward(xs[:, t, :], h)
            hs[:, t, :] = h
            self.layers.append(layer)
        if self.stateful:
            self.h = h
        return hs

    def backward(self, dhs: Array) -> TimeGrads:
        N, T, H = dhs.shape
        dxs = np.empty((N, T, self.params["Wx"].shape[0]), dtype=dhs.dtype)
        dh: Any = 0  # book 2's start: nothing comes back from after the last step; then an array
        grads: dict[str, Array | float] = dict.fromkeys(self.grads, 0)
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)  # from the output at t, plus from step t+1
            dxs[:, t, :] = dx
            for k in grads:
                grads[k] += layer.grads[k]  # the same weights at every step: their gradients add up
        for k in grads:
            self.grads[k][...] = grads[k]
        return self._returns(dxs if self.input_grad else None, [dh])


class SimpleTimeRNN(_TimeLoop):
    """TimeRNN written as book 2 writes it: a loop over :class:`SimpleRNN` cells.
    Same signature and results as :class:`~zerokara.layers.time.TimeRNN`."""

    cell = SimpleRNN

    def __init__(
        self, Wx: Array, Wh: Array, b: Array, *, stateful: bool = False, activation: str = "tanh"
    ) -> None:
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful)
        self.activation = check_activation(type(self).__name__, activation)
        self.layers: list[Module] = []

    def extra_repr(self) -> str:
        return super().extra_repr() + f", activation={self.activation}"

    def new_cell(self) -> SimpleRNN:
        p = self.params
        return SimpleRNN(p["Wx"], p["Wh"], p["b"], activation=self.activation)


class SimpleTimeGRU(_TimeLoop):
    """TimeGRU as a loop over :class:`SimpleGRU` cells. Same signature and
    results as :class:`~zerokara.layers.time.TimeGRU`."""

    cell = SimpleGRU

    def __init__(
        self, Wx: Array, Wh: Array, bx: Array, bh: Array | None = None, *, stateful: bool = False
    ) -> None:
        bh = np.zeros_like(bx) if bh is None else bh
        super().__init__({"Wx": Wx, "Wh": Wh, "bx": bx, "bh": bh}, stateful)
        self.layers: list[Module] = []

    def new_cell(self) -> SimpleGRU:
        return SimpleGRU(*self.params.values())


class SimpleTimeLSTM(TimeRecurrent):
    """Book 2's TimeLSTM: a loop over :class:`SimpleLSTM` cells. The same
    function as :class:`~zerokara.layers.time_lstm.TimeLSTM`, which is arranged for speed.

    Shapes:
        forward:  xs (N, T, D) [, h0 (N, H), c0 (N, H)] -> hs (N, T, H)
        backward: dhs (N, T, H) -> dxs (N, T, D) [, dh0, dc0 (N, H) if h0/c0 were given]
    Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,).
    """

    cell = SimpleLSTM
    state_names = ("h", "c")

    def __init__(self, Wx: Array, Wh: Array, b: Array, *, stateful: bool = False) -> None:
        super().__init__({"Wx": Wx, "Wh": Wh, "b": b}, stateful)
        self.c: Array | None = None
        self.dc: Array | None = None
        self.layers: list[SimpleLSTM] = []

    def forward(self, xs: Array, h0: Array | None = None, c0: Array | None = None) -> Array:
        h, c = self._initial(xs, (h0, c0))  # given, carried (stateful) or zeros
        N, T, D = xs.shape
        hs = np.empty((N, T, self.hidden_size), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = SimpleLSTM(*self.params.values())  # every step's cell holds the same Wx, Wh, b
            h, c = layer.forward(xs[:, t, :], h, c)
            hs[:, t, :] = h
            self.layers.append(layer)
        if self.stateful:
            self.h, self.c = h, c
        return hs

    def backward(self, dhs: Array) -> TimeGrads:
        N, T, H = dhs.shape
        dxs = np.empty((N, T, self.params["Wx"].shape[0]), dtype=dhs.dtype)
        dh: Any = 0  # book 2's start: nothing comes back from after the last step; then arrays
        dc: Any = 0
        grads: dict[str, Array | float] = dict.fromkeys(self.grads, 0)
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)  # dh: from the output at t, plus from t+1
            dxs[:, t, :] = dx
            for k in grads:
                grads[k] += layer.grads[k]  # the same weights at every step: their gradients add up
        for k in grads:
            self.grads[k][...] = grads[k]
        return self._returns(dxs if self.input_grad else None, [dh, dc])


__all__ = ["SimpleRNN", "SimpleLSTM", "SimpleGRU", "SimpleTimeRNN", "SimpleTimeLSTM", "SimpleTimeGRU"]
