"""The recorder: builds the :class:`~zerokara.explain.graph.Graph` that traced arrays report into.

A :class:`Recorder` owns the graph being written, the owner tables of every
buffer (:class:`~zerokara.explain.memory.Memory`: which node wrote each element)
and the few node-making rules every operation shares: reading an array's
current node, a broadcast as an explicit ``Repeat``, a reshape, a store into a
buffer. It does not know numpy's functions; :mod:`zerokara.explain.ops` turns
those into nodes, and :class:`zerokara.explain.tracing.Tracer` joins the two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from zerokara.explain.graph import LEAVES, Graph, Node
from zerokara.explain.memory import Memory, describe_view, root_of, step_of
from zerokara.explain.traced_array import TracedArray, return_out


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


class Recorder:
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
        self.flowing: set[int] = set()  # ids of the backward nodes that carry a gradient

    # -- nodes -----------------------------------------------------------------------
    def node(
        self,
        op: str,
        inputs: list[Node],
        shape: tuple[int, ...],
        *,
        label: str = "",
        step: int | None = None,
        **attrs: Any,
    ) -> Node:
        flowing = [i for i in inputs if i.id in self.flowing]
        if step is None and op in ("Concat", "Merge"):  # parts of one step (the four gates)
            steps = {i.step for i in inputs}
            step = steps.pop() if len(steps) == 1 else None  # else a stack over time: hs
        elif step is None and op not in LEAVES:
            # forward moves up in time, backward down; in backward the step is that of the
            # gradient flowing in (ds at t), not of a cached forward value it meets (c_prev at t-1)
            known = [i.step for i in flowing if i.step is not None] or [
                i.step for i in inputs if i.step is not None
            ]
            if known:
                step = max(known) if self.phase == "forward" else min(known)
        node = self.graph.add(op, self.phase, inputs, shape, label=label, step=step, **attrs)
        if self.phase == "backward" and (op == "Dout" or flowing):
            self.flowing.add(node.id)  # a gradient: it descends from dout
        return node

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
            self.mem.register(
                v, self._lazy("Const", a.shape, format(fill, "g") if np.isscalar(fill) else "const")
            )
        return v

    def constant(self, value: Any, shape: tuple[int, ...]) -> Node:
        if np.ndim(value) == 0 and value == 0:
            return self.node("Zeros", [], shape, label="0")
        return self.node("Const", [], shape, label=format(value, "g") if np.isscalar(value) else "const")

    def read(self, a: np.ndarray) -> Node:
        """The node holding ``a``'s current value (a plain array never seen is a Const leaf)."""
        if id(root_of(a)) not in self.mem.roots:
            known = self.mem.find(a)
            self.mem.register(a, self._lazy("Const", root_of(a).shape))
            if known is not None:  # a plain copy of a traced value: the same node
                self.mem.write(a, known)
        return self.mem.read(a)

    def repeat(
        self, n: Node, shape: tuple[int, ...], axes: tuple[int, ...] | None = None, *, no_grad: bool = False
    ) -> Node:
        """``n`` broadcast to ``shape``: an explicit Repeat node (backward: Sum over ``axes``).
        ``no_grad``: ``n`` is a bool mask, which has no gradient, so no Sum undoes this one."""
        if n.op == "Zeros":
            return self.node("Zeros", [], shape, label="0")
        if axes is None:
            lead = len(shape) - len(n.shape)
            axes = tuple(range(lead)) + tuple(
                lead + i for i, s in enumerate(n.shape) if s == 1 and shape[lead + i] != 1
            )
        src = n.shape
        if n.op == "Reshape" and not n.label and _squeezed(n.shape) == _squeezed(n.inputs[0].shape):
            n = n.inputs[0]  # dout[:, None] repeated: one Repeat node, not Reshape + Repeat
        key = ("repeat", n.id, tuple(shape), axes)
        if key not in self._memo:
            flag: dict[str, Any] = {"no_grad": True} if no_grad else {}
            self._memo[key] = self.node("Repeat", [n], shape, src=src, axes=axes, **flag)
        return self._memo[key]

    def fit(
        self, n: Node, value_shape: tuple[int, ...], shape: tuple[int, ...], reshape: bool = False
    ) -> Node:
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

    def _transpose(
        self, n: Node, grid: tuple[int, ...], axes: tuple[int, ...], shape: tuple[int, ...]
    ) -> Node:
        """``n.reshape(grid).transpose(axes).reshape(shape)`` as one node per step that is not
        a no-op: splitting (N, T, d) into heads shows the Reshape to (N, T, h, dk) and the
        Transpose of those four axes, and the backward undoes each in turn."""
        if grid != n.shape:
            n = self._reshape(n, grid)
        moved = tuple(grid[a] for a in axes)
        key = ("transpose", n.id, axes)
        if key not in self._memo:
            self._memo[key] = self.node("Transpose", [n], moved, axes=axes, src=grid)
        return self._memo[key] if moved == shape else self._reshape(self._memo[key], shape)

    def _view_node(self, src: Node, wshape: tuple[int, ...], pos: np.ndarray) -> Node:
        op, attrs = describe_view(pos, wshape)
        if src.op == "Zeros":
            return self.node("Zeros", [], pos.shape, label="0")
        if op == "Reshape":
            return src if src.shape == pos.shape else self._reshape(src, pos.shape)
        if op == "Transpose":
            return self._transpose(src, attrs["grid"], attrs["axes"], pos.shape)
        step = None
        if op == "Slice":
            step = step_of(attrs.get("coords", ()), attrs.get("grid", wshape), self.steps)
        attrs.pop("coords", None)
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
