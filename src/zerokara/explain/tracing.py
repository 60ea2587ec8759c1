"""A trace in progress: the :class:`Tracer`, and :func:`tracing`, which switches it on.

A :class:`Tracer` is a :class:`~zerokara.explain.recorder.Recorder` (the graph
and the owner tables) that also answers the traced arrays' numpy calls, by
handing them to :mod:`zerokara.explain.ops`.

While tracing, numpy's array constructors and converters hand out traced arrays:
``np.empty`` / ``np.zeros`` / ``np.full`` (and the ``*_like`` forms) create
scratch buffers without any traced argument, so no protocol sees them; wrapped
here, they return TracedArrays whose elements start as a Zeros/Const leaf.
``np.ascontiguousarray``, ``np.asarray`` and ``np.array`` take no part in
``__array_function__``; wrapped, a copy they make keeps its source's node.
Everything is restored when the trace ends (also on error). Not thread-safe.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from zerokara.explain import ops
from zerokara.explain.memory import root_of
from zerokara.explain.recorder import Recorder
from zerokara.explain.traced_array import TracedArray, activate, copied, deactivate


class Tracer(Recorder):
    """Records the operations of the traced arrays into ``graph`` while :func:`tracing` is on.

    ``steps`` is the sequence length T, used to annotate nodes with time steps.
    """

    def ufunc(self, uf: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
        """A ufunc call on a traced array (``+``, ``@``, ``np.tanh``, ``.sum``, ``np.add.at``)."""
        return ops.ufunc(self, uf, method, inputs, kwargs)

    def function(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        """An array function on a traced array (``np.take``, ``np.einsum``, ``np.concatenate``)."""
        return ops.function(self, func, args, kwargs)


@contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    """Make ``tracer`` active and numpy's array constructors return traced buffers."""
    fills = {  # constructor -> initial value (arg1: the fill_value argument)
        "empty": None,
        "zeros": 0.0,
        "ones": 1.0,
        "full": "arg1",
        "empty_like": None,
        "zeros_like": 0.0,
        "ones_like": 1.0,
        "full_like": "arg1",
    }
    saved = {name: getattr(np, name) for name in fills}

    def wrap(orig: Callable, fill: Any) -> Callable:
        @functools.wraps(orig)
        def make(*args: Any, **kwargs: Any) -> Any:
            res = orig(*args, **kwargs)
            if isinstance(res, np.ndarray) and not isinstance(res, TracedArray) and res.dtype.kind == "f":
                value = (args[1] if len(args) > 1 else kwargs.get("fill_value")) if fill == "arg1" else fill
                return tracer.buffer(res, value)
            return res

        return make

    def copier(orig: Callable) -> Callable:
        @functools.wraps(orig)
        def convert(*args: Any, **kwargs: Any) -> Any:
            res = orig(*args, **kwargs)
            src = args[0] if args else None
            if (
                isinstance(src, np.ndarray)
                and isinstance(res, np.ndarray)
                and res.dtype.kind in "fb"
                and id(root_of(src)) in tracer.mem.roots
            ):
                # these do not take part in __array_function__: follow the copy here
                return res.view(TracedArray) if root_of(res) is root_of(src) else copied(src, res)
            return res

        return convert

    copiers = ("ascontiguousarray", "asfortranarray", "asarray", "asanyarray", "array", "require")
    saved.update({name: getattr(np, name) for name in copiers})
    activate(tracer)
    try:
        for name, fill in fills.items():
            setattr(np, name, wrap(saved[name], fill))
        for name in copiers:
            setattr(np, name, copier(saved[name]))
        yield tracer
    finally:
        for name, f in saved.items():
            setattr(np, name, f)
        deactivate(tracer)
