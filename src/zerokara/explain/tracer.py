"""Trace a layer's forward and backward into a :class:`~zerokara.explain.graph.Graph`.

How: every array the layer can reach (its parameters, gradient buffers, other
array attributes, the inputs and ``dout``) is replaced, in a deep copy of the
layer, by a view of class :class:`TracedArray`. That ndarray subclass takes
part in numpy's ``__array_ufunc__`` / ``__array_function__`` protocols, so
every ufunc (``+``, ``*``, ``@``, ``np.tanh``, ``.sum(axis=0)``, ``np.add.at``)
and array function (``np.take``, ``np.einsum``, ``np.concatenate``) that
touches one is computed by numpy as usual *and* recorded as a node. Results
are TracedArrays again, so tracing spreads through the whole computation; the
layer's class is not changed and ``isinstance(x, np.ndarray)`` still holds.

Scratch buffers (``np.empty`` and friends called while tracing) are made
TracedArrays too, and :mod:`zerokara.explain.memory` keeps, per buffer, which
node wrote each element, so writes through ``out=``, ``hs[t + 1] = h`` and
views of them keep their provenance. Numbers are never changed: each operation
runs on plain views of the same memory. Not thread-safe (numpy's array
constructors are wrapped while a trace runs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from zerokara.explain.graph import LEAVES, Graph, Node
from zerokara.explain.memory import Memory, describe_view, root_of, step_of

_ACTIVE: list[Tracer] = []

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


def active() -> Tracer | None:
    return _ACTIVE[-1] if _ACTIVE else None


class TracedArray(np.ndarray):
    """An ndarray whose operations are recorded by the active :class:`Tracer`."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        t = active()
        if t is None:
            res = getattr(ufunc, method)(*plain(inputs), **plain(kwargs))
            return return_out(res, kwargs.get("out"))
        from zerokara.explain.ops import ufunc as record

        return record(t, ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        from zerokara.explain.ops import function

        t = active()
        if t is None:
            return func(*plain(args), **plain(kwargs))
        return function(t, func, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        res = np.ndarray.__getitem__(self, plain(key))
        t = active()
        if (t is None or not isinstance(res, np.ndarray) or root_of(res) is root_of(self)
                or res.dtype.kind not in "fcb"):
            return res  # a view (or one element, or ids): the owner table already describes it
        idx = {id(k): t.read(k) for k in _key_arrays(key) if isinstance(k, TracedArray)}
        node = t.node("Gather", [t.read(self), *idx.values()], res.shape,
                      index=key_text(key, {k: n.name for k, n in idx.items()}))
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
    def copy(self, order: str = "C") -> np.ndarray:
        return _copied(self, np.ndarray.copy(self.view(np.ndarray), order))

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        res = np.ndarray.astype(self.view(np.ndarray), dtype, *args, **kwargs)
        return res.view(TracedArray) if root_of(res) is root_of(self) else _copied(self, res)

    def reshape(self, *shape: Any, **kwargs: Any) -> np.ndarray:
        res = np.ndarray.reshape(self, *shape, **kwargs)
        return res if root_of(res) is root_of(self) else _copied(self, res)

    def ravel(self, order: str = "C") -> np.ndarray:
        return self.reshape(-1, order=order)

    def flatten(self, order: str = "C") -> np.ndarray:
        return _copied(self, np.ndarray.flatten(self.view(np.ndarray), order))

    def fill(self, value: Any) -> None:
        self[...] = value

    def dot(self, b: Any, out: Any = None) -> Any:
        return np.dot(self, b) if out is None else np.dot(self, b, out=out)


def _copied(src: np.ndarray, res: np.ndarray) -> np.ndarray:
    """``res`` is a new array holding ``src``'s values (maybe reshaped): the same node."""
    t = active()
    res = res.view(TracedArray)
    if t is not None and res.dtype.kind in "fb":
        t.mem.write(res, t.fit(t.read(src), src.shape, res.shape, reshape=True))
    return res


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def return_out(res: Any, out: tuple | None) -> Any:
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


class Tracer:
    """Records nodes into ``graph``; ``phase`` is "forward" or "backward".

    ``steps`` is the sequence length T, used to annotate nodes with time steps.
    """

    def __init__(self, steps: int | None = None) -> None:
        self.graph = Graph()
        self.phase = "forward"
        self.steps = steps
        self.mem = Memory(self._view_node, self._concat_node)
        self.scalars: dict[float, Node] = {}
        self._memo: dict[tuple, Node] = {}

    # -- nodes -----------------------------------------------------------------------
    def node(self, op: str, inputs: list[Node], shape: tuple[int, ...], *, label: str = "",
             step: int | None = None, **attrs: Any) -> Node:
        if step is None and op not in LEAVES and op not in ("Concat", "Merge"):
            steps = [i.step for i in inputs if i.step is not None]
            if steps:  # forward moves up in time, backward down
                step = max(steps) if self.phase == "forward" else min(steps)
        return self.graph.add(op, self.phase, inputs, shape, label=label, step=step, **attrs)

    def traced(self, a: np.ndarray, op: str, label: str, *, eager: bool = True, **attrs: Any) -> TracedArray:
        """A traced view of ``a`` whose initial value is a leaf node (Param, Input, Dout, State)."""
        v = a.view(TracedArray)
        if eager:
            n = self.node(op, [], a.shape, label=label, **attrs)
            self.mem.register(v, lambda: n)
            self.read(v)  # owns its elements from now on
        else:
            self.mem.register(v, self._lazy(op, a.shape, label, **attrs))
        return v

    def _lazy(self, op: str, shape: tuple[int, ...], label: str = "", **attrs: Any) -> Callable[[], Node]:
        return functools.lru_cache(maxsize=1)(lambda: self.node(op, [], shape, label=label, **attrs))

    def buffer(self, a: np.ndarray, fill: Any) -> TracedArray:
        """A new array made while tracing (``np.zeros``, ``np.empty_like``, ...)."""
        v = a.view(TracedArray)
        if fill is None:
            self.mem.register(v, self._lazy("Const", a.shape, "untraced"))
        elif np.all(np.asarray(fill) == 0):
            self.mem.register(v, self._lazy("Zeros", a.shape, "0"))
        else:
            self.mem.register(v, self._lazy("Const", a.shape, f"{fill:g}" if np.isscalar(fill) else "const"))
        return v

    def constant(self, value: Any, shape: tuple[int, ...]) -> Node:
        if np.ndim(value) == 0 and value == 0:
            return self.node("Zeros", [], shape, label="0")
        return self.node("Const", [], shape, label=f"{value:g}" if np.isscalar(value) else "const")

    def read(self, a: np.ndarray) -> Node:
        """The node holding ``a``'s current value (a plain array never seen is a Const leaf)."""
        if id(root_of(a)) not in self.mem.roots:
            known = self.mem.find(a)
            self.mem.register(a, self._lazy("Const", root_of(a).shape))
            if known is not None:  # a plain copy of a traced value: the same node
                self.mem.write(a, known)
        return self.mem.read(a)

    def repeat(self, n: Node, shape: tuple[int, ...], axes: tuple[int, ...] | None = None) -> Node:
        """``n`` broadcast to ``shape``: an explicit Repeat node (backward: Sum over ``axes``)."""
        if n.op == "Zeros":
            return self.node("Zeros", [], shape, label="0")
        if axes is None:
            lead = len(shape) - len(n.shape)
            axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(n.shape)
                                              if s == 1 and shape[lead + i] != 1)
        src = n.shape
        if n.op == "Reshape" and not n.label and _squeezed(n.shape) == _squeezed(n.inputs[0].shape):
            n = n.inputs[0]  # dout[:, None] repeated: one Repeat node, not Reshape + Repeat
        key = ("repeat", n.id, tuple(shape), axes)
        if key not in self._memo:
            self._memo[key] = self.node("Repeat", [n], shape, src=src, axes=axes)
        return self._memo[key]

    def fit(self, n: Node, value_shape: tuple[int, ...], shape: tuple[int, ...],
            reshape: bool = False) -> Node:
        """``n`` (the value of an array of ``value_shape``) stored into ``shape``: a Repeat
        when it broadcasts, a Reshape when asked and the element count stays."""
        shape, value_shape = tuple(shape), tuple(value_shape)
        if shape == n.shape or (shape == value_shape and not reshape):
            return n
        if int(np.prod(shape)) == int(np.prod(n.shape)):
            return self.node("Zeros", [], shape, label="0") if n.op == "Zeros" else self._reshape(n, shape)
        return self.repeat(n, shape)

    def _reshape(self, n: Node, shape: tuple[int, ...]) -> Node:
        key = ("reshape", n.id, tuple(shape))
        if key not in self._memo:
            self._memo[key] = self.node("Reshape", [n], shape, src=n.shape)
        return self._memo[key]

    def _view_node(self, src: Node, wshape: tuple[int, ...], pos: np.ndarray) -> Node:
        op, attrs = describe_view(pos, wshape)
        if src.op == "Zeros":
            return self.node("Zeros", [], pos.shape, label="0")
        step = None
        if op == "Slice":
            step = step_of(attrs.get("coords", ()), attrs.get("grid", wshape), self.steps)
        attrs.pop("coords", None)
        if op == "Reshape" and src.shape == pos.shape:
            return src
        return self.node(op, [src], pos.shape, step=step, **attrs)

    def _concat_node(self, parts: list[Node], shape: tuple[int, ...], axis: int | None) -> Node:
        parts = [p for p in parts if p.op != "Zeros"] or parts[:1]
        if len(parts) == 1:
            return self.fit(parts[0], parts[0].shape, shape)
        if axis is None:
            return self.node("Merge", parts, shape)
        return self.node("Concat", parts, shape, axis=axis)

    def output(self, res: Any, out: tuple | None, node: Node) -> Any:
        """Store ``node`` as the value of the result (or of ``out``) and return it traced."""
        if out is not None:
            for o in out:
                self.mem.write(o, node)
            return return_out(res, out)
        arr = np.asarray(res) if not isinstance(res, np.ndarray) else res
        if arr.dtype.kind not in "fcb":
            return res
        v = arr.view(TracedArray)
        self.mem.write(v, node)
        if v.ndim == 0:
            self.scalars[float(v)] = node  # a loss comes back as a Python float
        return v
