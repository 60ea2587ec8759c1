"""What every recurrent Time layer shares: initial and carried state, input
checks, ``create``, and the gradient of the initial state.

Sequences are batch-first, ``xs (N, T, D) -> hs (N, T, H)``.

State: with ``stateful=True`` the last hidden (and cell) state of one call is
the first state of the next, as truncated BPTT needs; ``reset_state()`` starts
again from zeros. The gradient never flows across that boundary (that is what
"truncated" means). An initial state can also be passed explicitly
(``forward(xs, h0)``); then ``backward`` also returns its gradient, which is
always kept in ``self.dh`` (and ``self.dc``) for an encoder-decoder.

BPTT: the gradient reaching ``h_t`` is the sum of what the output at step t
sends (``dhs[:, t]``) and what step t+1 sends back through ``Wh``; db and dWh
are sums over the batch *and* over time, because the same b and Wh are used at
every step (docs/bptt.md).
"""

from __future__ import annotations

from typing import Any, Protocol, Self, TypeAlias

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError, check_dtype, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.recurrent import RNN, check_sizes, check_weights

#: what a Time layer's backward returns: dxs (None with ``input_grad`` off) or, when forward
#: was given the initial state, ``(dxs, dh0[, dc0])``. Which of the two depends on the call,
#: not on a type, so it is Any: a caller that passed h0 unpacks a tuple.
TimeGrads: TypeAlias = Any


class _Cell(Protocol):
    """What ``cell`` must be: a one-step layer class with ``create`` and ``gates``."""

    gates: int

    def create(
        self, D: int, H: int, rng: np.random.Generator, *, init: str | float = ..., dtype: DTypeLike = ...
    ) -> Module: ...


class TimeRecurrent(Module):
    """Base of TimeRNN, TimeLSTM, TimeGRU and their references in
    :mod:`zerokara.layers.reference`; subclasses write forward and backward."""

    cell: _Cell = RNN  # the one-step layer whose ``create`` draws the weights
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, params: dict[str, Array], stateful: bool) -> None:
        super().__init__()
        check_weights(type(self).__name__, params, self.cell.gates)
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}
        self.stateful = stateful
        self.h: Array | None = None
        self.dh: Array | None = None
        self.explicit_state = False
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
        stateful: bool = False,
        **kw,
    ) -> Self:
        """A new layer with weights drawn as ``cell.create`` draws them (biases zero)."""
        check_sizes(f"{cls.__name__}.create", D, H)
        c = cls.cell.create(D, H, rng, init=init, dtype=dtype)
        # each subclass's __init__ takes its cell's parameters in order (Wx, Wh, b[, bh]),
        # which a type checker cannot count in *values()
        return cls(*c.params.values(), stateful=stateful, **kw)  # type: ignore[arg-type, misc]

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
        """Check xs and return the initial states: given, else carried (stateful), else zeros."""
        name, H = type(self).__name__, self.hidden_size
        D = self.params["Wx"].shape[0]
        check_input(name, "xs", xs, ndim=3, last=D, expected=f"(N, T, {D})")
        check_dtype(name, "xs", xs, self.params["Wx"].dtype)
        N, T = xs.shape[:2]
        if T == 0:
            raise InputError(f"{name}: xs is an empty sequence (T = 0, shape {shape_str(xs.shape)})")
        self.explicit_state = any(g is not None for g in given)
        states = []
        for sname, g in zip(self.state_names, given, strict=True):
            if g is not None:
                if not isinstance(g, np.ndarray):
                    raise InputError(
                        f"{name}: {sname}0 expected a {xs.dtype} array (N, {H}), got {type(g).__name__}"
                    )
                check_dtype(name, f"{sname}0", g, xs.dtype)
            s = g if g is not None else (getattr(self, sname) if self.stateful else None)
            if s is None:
                s = np.zeros((N, H), dtype=xs.dtype)
            elif s.shape != (N, H):
                hint = (
                    ""
                    if g is not None
                    else "; the stateful layer carries the previous batch's state: call reset_state() "
                    "when the batch size changes"
                )
                raise InputError(
                    f"{name}: initial {sname} expected shape {shape_str((N, H))}, "
                    f"got {shape_str(s.shape)}{hint}"
                )
            states.append(s)
        return states

    def _finish(self, dA2: Array, xs_shape: tuple[int, ...], dstates: list[Array]) -> TimeGrads:
        """dxs from the time-major input-side gradients dA2 (T*N, kH), and the states' gradients."""
        dxs = None
        if self.input_grad:
            N, T, D = xs_shape
            dxs = (dA2 @ self.params["Wx"].T).reshape(T, N, D).transpose(1, 0, 2)
        return self._returns(dxs, dstates)

    def _returns(self, dxs: Array | None, dstates: list[Array]) -> TimeGrads:
        """Keep the initial states' gradients in ``dh`` (``dc``); return them after dxs
        only when the initial state was given."""
        for sname, d in zip(self.state_names, dstates, strict=True):
            setattr(self, "d" + sname, d)
        return (dxs, *dstates) if self.explicit_state else dxs


def time_major(xs: Array) -> Array:
    """(N, T, D) -> (T*N, D) rows ordered by time, so that each step's rows are
    one contiguous block (the step loop reads and writes them T times)."""
    N, T, D = xs.shape
    return np.ascontiguousarray(xs.transpose(1, 0, 2)).reshape(T * N, D)
