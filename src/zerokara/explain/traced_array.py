"""The traced array: an ndarray subclass whose every operation is reported to the active tracer.

How tracing works: every array the layer can reach (its parameters, gradient
buffers, other array attributes, the inputs and ``dout``) is replaced, in a
deep copy of the layer, by a view of class :class:`TracedArray`. That ndarray
subclass takes part in numpy's ``__array_ufunc__`` / ``__array_function__``
protocols, so every ufunc (``+``, ``*``, ``@``, ``np.tanh``, ``.sum(axis=0)``,
``np.add.at``) and array function (``np.take``, ``np.einsum``,
``np.concatenate``) that touches one is computed by numpy as usual *and*
handed to the active tracer, which records it as a node. Results are
TracedArrays again, so tracing spreads through the whole computation; the
layer's class is not changed and ``isinstance(x, np.ndarray)`` still holds.
Numbers are never changed: each operation runs on plain views of the same memory.

This module is the bottom of the tracing stack and knows no tracer class: the
array calls whatever object :func:`activate` made active (in practice a
:class:`zerokara.explain.tracing.Tracer`) through its methods ``ufunc``,
``function``, ``read``, ``node``, ``fit``, ``constant`` and its ``mem`` (owner
tables, :mod:`zerokara.explain.memory`). That is what keeps the imports one-way:
``traced_array`` <- ``recorder`` <- ``ops`` <- ``tracing`` <- ``layer_trace``.
Not thread-safe (one active tracer per process at a time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from zerokara.explain.memory import root_of

_ACTIVE: list[Any] = []  # the tracers switched on, innermost last

Order = Literal["K", "A", "C", "F"]  # the memory orders ndarray.copy, ravel and flatten take


def activate(tracer: Any) -> None:
    """Make ``tracer`` the one traced arrays report to (until :func:`deactivate`)."""
    _ACTIVE.append(tracer)


def deactivate(tracer: Any) -> None:
    _ACTIVE.remove(tracer)


def active() -> Any | None:
    """The tracer traced arrays report to now, or None (then they act as plain arrays)."""
    return _ACTIVE[-1] if _ACTIVE else None


def plain(x: Any) -> Any:
    """``x`` with every TracedArray (also inside tuples, lists, dicts) as a plain ndarray view."""
    if isinstance(x, TracedArray):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(plain(v) for v in x)
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


class TracedArray(np.ndarray):
    """An ndarray whose operations are recorded by the active tracer (see the module docstring)."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        t = active()
        if t is None:
            res = getattr(ufunc, method)(*plain(inputs), **plain(kwargs))
            return return_out(res, kwargs.get("out"))
        return t.ufunc(ufunc, method, inputs, kwargs)

    # NumPy passes a tuple and a dict (its stubs say any iterable and mapping); the overrides
    # below return a traced copy, not ndarray's Self, and take the same orders as ndarray's
    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:  # type: ignore[override]
        t = active()
        if t is None:
            return func(*plain(args), **plain(kwargs))
        return t.function(func, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        res = np.ndarray.__getitem__(self, plain(key))
        t = active()
        if (
            t is None
            or not isinstance(res, np.ndarray)
            or root_of(res) is root_of(self)
            or res.dtype.kind not in "fcb"
        ):
            return res  # a view (or one element, or ids): the owner table already describes it
        idx = {id(k): t.read(k) for k in _key_arrays(key) if isinstance(k, TracedArray)}
        node = t.node(
            "Gather",
            [t.read(self), *idx.values()],
            res.shape,
            index=key_text(key, {k: n.name for k, n in idx.items()}),
        )
        t.mem.write(res, node)
        return res

    def __setitem__(self, key: Any, value: Any) -> None:
        t = active()
        vnode = t.read(value) if t is not None and isinstance(value, np.ndarray) else None
        np.ndarray.__setitem__(self, plain(key), plain(value))
        if t is None:
            return
        sel_shape = t.mem.elements(self)[plain(key)].shape
        node = t.fit(vnode, np.shape(value), sel_shape) if vnode is not None else t.constant(value, sel_shape)
        t.mem.write(self, node, key=plain(key))

    # methods that copy without passing through the protocols
    def copy(self, order: Order = "C") -> np.ndarray:  # type: ignore[override]
        return copied(self, np.ndarray.copy(self.view(np.ndarray), order))

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        res = np.ndarray.astype(self.view(np.ndarray), dtype, *args, **kwargs)
        return res.view(TracedArray) if root_of(res) is root_of(self) else copied(self, res)

    def reshape(self, *shape: Any, **kwargs: Any) -> np.ndarray:  # type: ignore[override]
        res = np.ndarray.reshape(self, *shape, **kwargs)
        return res if root_of(res) is root_of(self) else copied(self, res)

    def ravel(self, order: Order = "C") -> np.ndarray:  # type: ignore[override]
        return self.reshape(-1, order=order)

    def flatten(self, order: Order = "C") -> np.ndarray:  # type: ignore[override]
        return copied(self, np.ndarray.flatten(self.view(np.ndarray), order))

    def fill(self, value: Any) -> None:
        self[...] = value

    def dot(self, b: Any, out: Any = None) -> Any:
        return np.dot(self, b) if out is None else np.dot(self, b, out=out)


def copied(src: np.ndarray, res: np.ndarray) -> np.ndarray:
    """``res`` is a new array holding ``src``'s values (maybe reshaped): the same node."""
    t = active()
    res = res.view(TracedArray)
    if t is not None and res.dtype.kind in "fb":
        t.mem.write(res, t.fit(t.read(src), src.shape, res.shape, reshape=True))
    return res


def return_out(res: Any, out: tuple | None) -> Any:
    """What a ufunc called with ``out=`` returns: the output array itself (or the tuple)."""
    if out is None:
        return res
    return out[0] if len(out) == 1 else out


def _key_arrays(key: Any) -> list:
    return [k for k in (key if isinstance(key, tuple) else (key,)) if isinstance(k, np.ndarray)]


def key_text(key: Any, names: dict[int, str] | None = None) -> str:
    """``[arange(3), t]``, ``[:, 2]``: an index as the layer wrote it, arrays by name."""
    names = names or {}
    parts = []
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, slice):
            parts.append(":" if k == slice(None) else f"{k.start or ''}:{k.stop or ''}")
        elif isinstance(k, np.ndarray) and id(k) in names:
            parts.append(names[id(k)])
        elif isinstance(k, np.ndarray) and k.ndim == 1 and np.array_equal(plain(k), np.arange(k.size)):
            parts.append(f"arange({k.size})")
        elif isinstance(k, np.ndarray):
            parts.append("ids" if k.dtype.kind in "iu" else "mask")
        elif k is None:
            parts.append("None")
        elif k is Ellipsis:
            parts.append("...")
        else:
            parts.append(str(k))
    return "[" + ", ".join(parts) + "]"
