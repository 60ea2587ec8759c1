"""The misuse guard of zerokara's layers: backward only after a forward has returned,
and each dout shaped as the forward output it is the gradient of.

:meth:`zerokara.layers.base.Module.__init_subclass__` wraps the ``forward`` and
``backward`` of every class defined in zerokara with :func:`guard_forward` and
:func:`guard_backward`; a reader's own classes run as written (``zerokara check``
must see their mistakes). Without it NumPy would broadcast a wrong dout silently,
or the layer would fail deep inside on a cache that is still None.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from zerokara.errors import InputError, shape_str

# the layers are zerokara.layers.base.Module instances, typed Any here: base imports
# this module, so this one does not import base
Module = Any


def _shape(out: Any) -> tuple[int, ...] | None:
    """The shape a gradient of ``out`` must have: an array's shape, () for a number (a
    loss), None where nothing can be said."""
    shape = getattr(out, "shape", None)
    if shape is not None:
        return tuple(shape)
    return () if isinstance(out, (int, float)) else None


def _out_shapes(out: Any) -> tuple[tuple[int, ...] | None, ...]:
    return tuple(_shape(o) for o in out) if isinstance(out, tuple) else (_shape(out),)


def guard_forward(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a forward), keeping in ``self._forward_shapes`` the shapes of what it returned
    (False while it runs: a forward that raised leaves nothing for backward to use)."""

    @functools.wraps(fn)
    def forward(self: Module, *inputs: Any, **kwargs: Any) -> Any:
        self._forward_shapes = False
        out = fn(self, *inputs, **kwargs)
        self._forward_shapes = (out.shape,) if type(out) is np.ndarray else _out_shapes(out)
        return out

    return forward


def guard_backward(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a backward), refusing to run before a forward has returned, or with a dout
    whose shape differs from the forward output's. The usual call (one array dout of the
    right shape) costs an attribute read and a tuple comparison."""
    params = list(inspect.signature(fn).parameters.values())[1:]

    @functools.wraps(fn)
    def backward(self: Module, *douts: Any, **kwargs: Any) -> Any:
        want = self._forward_shapes
        if not want:
            raise InputError(_no_forward(self, want))
        if kwargs or len(douts) != 1 or len(want) != 1 or getattr(douts[0], "shape", None) != want[0]:
            _check_douts(self, params, douts, kwargs, want)
        return fn(self, *douts, **kwargs)

    backward.__zerokara_unguarded__ = fn  # type: ignore[attr-defined]
    return backward


def _no_forward(module: Module, want: Any) -> str:
    name = type(module).__name__
    try:  # the arguments a call must give: forward(x), forward(xs), forward(x, t)
        params = list(inspect.signature(type(module).forward).parameters.values())[1:]
        args = ", ".join(
            "*" + p.name if p.kind == p.VAR_POSITIONAL else p.name
            for p in params
            if p.kind != p.VAR_KEYWORD and (p.default is p.empty or p.kind == p.VAR_POSITIONAL)
        )
    except (TypeError, ValueError):
        args = "..."
    if want is False:
        return (
            f"{name}.backward: the last forward({args}) raised an error; expected a forward that "
            "returned before backward, got none since"
        )
    return (
        f"{name}.backward: called before forward; expected forward({args}) to run first "
        "(backward uses what it caches), got no forward call"
    )


def _check_douts(
    module: Module, params: list[inspect.Parameter], douts: tuple, kwargs: dict, want: tuple
) -> None:
    """Raise InputError for the first dout that does not fit its forward output."""
    name = type(module).__name__
    for i, shape in enumerate(want):
        if i >= len(params):
            break
        p = params[i]
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        whose = (
            "the forward output's" if len(want) == 1 else f"that of forward's output {i + 1} of {len(want)}"
        )
        if i < len(douts):
            d = douts[i]
        elif p.name in kwargs:
            d = kwargs[p.name]
        elif p.default is p.empty and shape is not None:
            raise InputError(
                f"{name}.backward: {p.name} expected shape {shape_str(shape)} ({whose}), got nothing"
            )
        else:
            continue  # its default (a loss's dout = 1.0)
        if shape is None:
            continue
        got = getattr(d, "shape", None)
        if got is not None:
            if tuple(got) == shape:
                continue
            got_text = shape_str(got) if shape else f"an array of shape {shape_str(got)}"
        elif isinstance(d, (int, float, np.number)) and not isinstance(d, bool):
            # a number: the gradient of a loss; or 0 for a carried state's gradient, where
            # nothing came back yet (book 2 starts BPTT with ``dh, dc = 0, 0``)
            if shape == () or (i > 0 and d == 0):
                continue
            got_text = f"the number {d!r}"
        else:
            got_text = f"a {type(d).__name__}, not a numpy array"
        if shape:
            raise InputError(
                f"{name}.backward: {p.name} expected shape {shape_str(shape)} ({whose}), got {got_text}"
            )
        raise InputError(
            f"{name}.backward: {p.name} expected a number (forward returned one, the loss), got {got_text}"
        )
