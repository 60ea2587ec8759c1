"""numpy ufuncs (``__array_ufunc__``) and array functions (``__array_function__``) as graph nodes.

Views (``np.reshape``, ``np.transpose``) make no node: they share memory, and
the owner tables describe what they read. Copies (``np.ascontiguousarray``)
keep the node of what they copy. ``np.einsum`` is spelled out as what it does
(Repeat the operands to a common shape, Mul, Sum over the contracted axes),
so EmbeddingDot's ``einsum("nmd,nd->nm")`` shows the product and the sum.

Each function takes the :class:`~zerokara.explain.recorder.Recorder` to write
into; :class:`zerokara.explain.tracing.Tracer` calls them for its traced arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from zerokara.explain.graph import Node
from zerokara.explain.memory import root_of
from zerokara.explain.recorder import Recorder
from zerokara.explain.traced_array import TracedArray, key_text, plain, return_out

UFUNC_OPS = {
    "add": "Add",
    "subtract": "Sub",
    "multiply": "Mul",
    "divide": "Div",
    "true_divide": "Div",
    "matmul": "MatMul",
    "negative": "Neg",
    "power": "Pow",
    "square": "Square",
    "sqrt": "Sqrt",
    "exp": "Exp",
    "log": "Log",
    "tanh": "Tanh",
    "maximum": "Maximum",
    "minimum": "Minimum",
    "greater": "Greater",
    "greater_equal": "GreaterEqual",
    "less": "Less",
    "logaddexp": "LogAddExp",
    "absolute": "Abs",
    "reciprocal": "Reciprocal",
    "sign": "Sign",
    "equal": "Equal",
}
REDUCE_OPS = {"add": "Sum", "maximum": "Max", "minimum": "Min", "multiply": "Prod"}
VIEWS = {
    "reshape",
    "transpose",
    "squeeze",
    "expand_dims",
    "ravel",
    "swapaxes",
    "moveaxis",
    "broadcast_to",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "flip",
    "real",
}
COPIES = {"ascontiguousarray", "asarray", "array", "copy", "asfortranarray", "require", "asanyarray"}
CREATE = {"empty_like": None, "zeros_like": 0.0, "ones_like": 1.0, "full_like": "arg1"}
NAMES = {
    "take": "Gather",
    "sum": "Sum",
    "mean": "Mean",
    "max": "Max",
    "amax": "Max",
    "min": "Min",
    "amin": "Min",
    "dot": "MatMul",
    "concatenate": "Concat",
    "stack": "Stack",
    "where": "Where",
    "clip": "Clip",
    "var": "Var",
    "std": "Std",
    "tensordot": "TensorDot",
    "outer": "Outer",
    "cumsum": "CumSum",
    "prod": "Prod",
    "einsum": "Einsum",
    "split": "Split",
}
#: position of the ``axis`` argument when given positionally
AXIS_POS = {
    "sum": 1,
    "mean": 1,
    "max": 1,
    "amax": 1,
    "min": 1,
    "amin": 1,
    "take": 2,
    "concatenate": 1,
    "stack": 1,
    "var": 1,
    "std": 1,
    "cumsum": 1,
    "prod": 1,
}


def ufunc(t: Recorder, uf: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """A ufunc call (``+``, ``@``, ``np.tanh``), reduction (``.sum(axis=0)``) or ``np.add.at``."""
    out = kwargs.get("out")
    arrays = [x for x in (*inputs, *(out or ())) if isinstance(x, np.ndarray)]
    floaty = any(x.dtype.kind in "fc" for x in arrays)
    if not floaty or uf.nout != 1 or method not in ("__call__", "reduce", "at"):
        return return_out(getattr(uf, method)(*plain(inputs), **plain(kwargs)), out)
    # read before computing: an in-place op overwrites its input; add.at's index is no value
    nodes = [
        t.read(x) if isinstance(x, np.ndarray) and not (method == "at" and i == 1) else None
        for i, x in enumerate(inputs)
    ]
    res = getattr(uf, method)(*plain(inputs), **plain(kwargs))
    name = uf.__name__
    first = nodes[0]  # add.at's target, a reduction's operand: the traced array
    if method == "at":
        assert first is not None
        target = inputs[0]
        ins = [first] + ([nodes[2]] if len(inputs) > 2 and nodes[2] is not None else [])
        node = t.node(
            "ScatterAdd" if name == "add" else f"{name}.at", ins, target.shape, index=key_text(inputs[1])
        )
        t.mem.write(target, node)
        return None
    shape = np.shape(res)
    if method == "reduce":
        assert first is not None
        x = inputs[0]
        axis = kwargs.get("axis", 0)
        axes = (
            tuple(range(x.ndim))
            if axis is None
            else tuple(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
        )
        node = t.node(
            REDUCE_OPS.get(name, f"{name}.reduce"),
            [first],
            shape,
            axis=axes,
            keepdims=bool(kwargs.get("keepdims", False)),
        )
    else:
        node = _elementwise(t, uf, inputs, nodes, shape)
    return t.output(res, out, node)


def _elementwise(t: Recorder, uf: np.ufunc, inputs: tuple, nodes: list, shape: tuple[int, ...]) -> Node:
    """An element-wise op; an input broadcast to the output shape goes through a Repeat node."""
    op = UFUNC_OPS.get(uf.__name__, uf.__name__.capitalize())
    ins, attrs = [], {}
    for i, (x, n) in enumerate(zip(inputs, nodes, strict=True)):
        if n is None:
            attrs["const"], attrs["const_pos"] = x, i
            continue
        if op != "MatMul" and tuple(np.shape(x)) != shape:
            n = t.repeat(n, shape, no_grad=x.dtype.kind == "b")
        ins.append(n)
    if op in ("Mul", "MatMul") and any(i.op == "Zeros" for i in ins):
        return t.node("Zeros", [], shape, label="0")  # h0 = 0 @ Wh: nothing flows
    if (
        op in ("Add", "Sub")
        and len(ins) == 1
        and np.ndim(attrs.get("const")) == 0  # type: ignore[arg-type]  # np.ndim(None) is 0; the stubs want an array-like
        and attrs.get("const") == 0
        and ins[0].shape == shape
        and (op == "Add" or attrs["const_pos"] == 1)
    ):
        return ins[0]  # dh = 0; dh + dhs[:, t]: adding the number 0 changes nothing
    if op in ("Add", "Sub") and len(ins) == 2:  # adding a zeros buffer changes nothing
        a, b = ins
        if b.op == "Zeros" and a.shape == shape:
            return a
        if op == "Add" and a.op == "Zeros" and b.shape == shape:
            return b
    return t.node(op, ins, shape, **attrs)


def _arrays(args: Any) -> list[np.ndarray]:
    """The ndarrays among the arguments (also inside lists, as for np.concatenate)."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(x for x in a if isinstance(x, np.ndarray))
    return out


def function(t: Recorder, func: Callable, args: tuple, kwargs: dict) -> Any:
    name = func.__name__
    if name == "copyto":
        dst, src = args[0], args[1]
        node = t.read(src) if isinstance(src, np.ndarray) else t.constant(src, dst.shape)
        func(*plain(args), **plain(kwargs))
        t.mem.write(dst, t.fit(node, np.shape(src), dst.shape))
        return None
    if name in CREATE:
        res = func(*plain(args), **plain(kwargs))
        fill = CREATE[name]
        if fill == "arg1":
            fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
        return t.buffer(res, fill) if res.dtype.kind == "f" else res
    if name == "einsum":
        return _einsum(t, args, kwargs)
    if name in ("repeat", "broadcast_to") and isinstance(args[0], np.ndarray):
        return _repeat(t, func, args, kwargs)
    if name == "where" and _where_fits(args, kwargs):
        return _where(t, args)
    arrays = _arrays(args)
    floaty = [a for a in arrays if a.dtype.kind in "fcb"]
    # with out= the call may overwrite an input: read first; else only if the result is a value
    nodes = [t.read(a) for a in floaty] if "out" in kwargs else None
    res = func(*plain(args), **plain(kwargs))
    if (
        not isinstance(res, (np.ndarray, np.generic))
        or res.dtype.kind not in "fcb"
        or not floaty
        or name in ("ndim", "shape", "size")
    ):
        return res  # index arithmetic (np.unique, argmax), np.shape: not part of the graph
    nodes = nodes or [t.read(a) for a in floaty]
    idx = [t.read(a) for a in arrays if a.dtype.kind in "iu" and isinstance(a, TracedArray)]
    if name in VIEWS or name in COPIES:
        if isinstance(res, np.ndarray) and any(root_of(res) is root_of(a) for a in arrays):
            return res.view(TracedArray)  # a view: no node
        return t.output(res, None, t.fit(nodes[0], floaty[0].shape, np.shape(res), reshape=True))
    attrs: dict[str, Any] = {}
    if name in AXIS_POS:
        axis = kwargs.get("axis", args[AXIS_POS[name]] if len(args) > AXIS_POS[name] else None)
        if name in ("concatenate", "stack", "take"):
            attrs["axis"] = axis if axis is None else int(axis)
        elif axis is not None:
            attrs["axis"] = tuple(axis) if isinstance(axis, (tuple, list)) else (int(axis),)
        elif name in ("sum", "mean", "max", "amax", "min", "amin", "prod"):
            attrs["axis"] = tuple(range(floaty[0].ndim))
    if name == "take":
        attrs["index"] = "[ids]"
    if name in ("hstack", "vstack") and floaty[0].ndim >= 2:  # concatenate along columns / rows
        name, attrs["axis"] = "concatenate", 1 if name == "hstack" else 0
    node = t.node(NAMES.get(name, name), [*nodes, *idx], np.shape(res), **attrs)
    out = kwargs.get("out")
    return t.output(res, None if out is None else (out,), node)


def _einsum(t: Recorder, args: tuple, kwargs: dict) -> Any:
    """A two-operand explicit einsum as Repeat/Transpose, Mul and Sum nodes (size-1 axes dropped)."""
    spec, ops = args[0], args[1:]
    nodes = [t.read(o) if isinstance(o, np.ndarray) else None for o in ops]
    res = np.einsum(*plain(args), **plain(kwargs))
    if (
        not isinstance(spec, str)
        or "->" not in spec
        or "..." in spec
        or len(ops) not in (1, 2)
        or any(n is None for n in nodes)
    ):
        return t.output(res, None, t.node("Einsum", [n for n in nodes if n], np.shape(res), spec=spec))
    known = [n for n in nodes if n is not None]  # all of them, as checked above
    lhs, out_labels = spec.replace(" ", "").split("->")
    in_labels = lhs.split(",")
    size: dict[str, int] = {}
    for labels, o in zip(in_labels, ops, strict=True):
        size.update(zip(labels, o.shape, strict=True))
    keep = [c for c in out_labels if size[c] > 1]
    summed = [c for c in dict.fromkeys("".join(in_labels)) if c not in out_labels and size[c] > 1]
    full = keep + summed
    parts = []
    for labels, n, o in zip(in_labels, known, ops, strict=True):
        own = [c for c in labels if size[c] > 1]
        cur = t.fit(n, o.shape, tuple(size[c] for c in own), reshape=True)  # drop size-1 axes
        order = [c for c in full if c in own]
        if order != own:
            cur = t.node(
                "Transpose",
                [cur],
                tuple(size[c] for c in order),
                axes=tuple(own.index(c) for c in order),
                src=cur.shape,
            )
        if len(order) < len(full):
            cur = t.repeat(
                cur, tuple(size[c] for c in full), axes=tuple(i for i, c in enumerate(full) if c not in own)
            )
        parts.append(cur)
    node: Node = parts[0] if len(parts) == 1 else t.node("Mul", parts, tuple(size[c] for c in full))
    if summed:
        node = t.node(
            "Sum",
            [node],
            tuple(size[c] for c in keep),
            axis=tuple(range(len(keep), len(full))),
            keepdims=False,
        )
    return t.output(res, None, node)


def _where_fits(args: tuple, kwargs: dict) -> bool:
    """``np.where(cond, a, b)`` on values (not ids), at most one of a, b a plain number."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    return (
        len(args) == 3
        and not kwargs
        and len(arrays) >= 2
        and all(a.dtype.kind in "fcb" for a in arrays)
        and any(a.dtype.kind in "fc" for a in arrays)
    )


def _where(t: Recorder, args: tuple) -> Any:
    """``np.where(cond, a, b)``: an operand broadcast to the result goes through a Repeat, as
    in an element-wise op (a padding mask (N, 1, 1, Tk) over the scores (N, h, Tq, Tk)); the
    condition's Repeat is marked ``no_grad``, a number operand is kept as the node's constant."""
    nodes = [t.read(a) if isinstance(a, np.ndarray) else None for a in args]
    res = np.where(*plain(args))
    shape = np.shape(res)
    ins, attrs = [], {}
    for i, (a, n) in enumerate(zip(args, nodes, strict=True)):
        if n is None:
            attrs["const"], attrs["const_pos"] = a, i
            continue
        if a.shape != shape:
            n = t.repeat(n, shape, no_grad=a.dtype.kind == "b")
        ins.append(n)
    return t.output(res, None, t.node("Where", ins, shape, **attrs))


def _repeat(t: Recorder, func: Callable, args: tuple, kwargs: dict) -> Any:
    """``np.broadcast_to`` and ``np.repeat`` of a size-1 axis (a vector repeated over time)
    as a Repeat node; other repeats (interleaving copies) as a plain node."""
    src = t.read(args[0])
    res = func(*plain(args), **plain(kwargs))
    shape = np.shape(res)
    if func.__name__ == "repeat":
        axis = kwargs.get("axis", args[2] if len(args) > 2 else None)
        if axis is None or args[0].shape[axis] != 1:
            node = t.node("Repeat.interleave", [src], shape, axis=axis)
            return t.output(res, None, node)
        node = t.repeat(src, shape, axes=(axis % len(shape),))
    else:
        node = t.repeat(src, shape)
    # a broadcast view has repeated elements: give it memory of its own to own them
    # (a plain copy: np.array and TracedArray.copy would record one)
    return t.output(res.view(np.ndarray).copy() if root_of(res) is root_of(args[0]) else res, None, node)
