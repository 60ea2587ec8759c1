"""Local gradient rules: what each forward operation sends back to its inputs.

``rule(node)`` gives the rule of a forward node written with the node's own
names, e.g. for ``#3 = x @ W``: ``dx = d#3 @ W.T`` and ``dW = x.T @ d#3``.
``dY`` is the gradient arriving at the node's output Y. A value used by
several operations (fan-out) receives the *sum* of what each sends back.

:func:`pairs` finds the broadcast/sum pairs of a traced graph: a forward
Repeat (``b (H,) -> (N, H)``) and the backward Sum over the same axes that
undoes it (``db = sum(dout, axis=0)``), and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from zerokara.explain.graph import Graph, Node


def name(n: Node) -> str:
    return n.name


def _axes(n: Node) -> str:
    ax: Sequence[int] = n.attrs.get("axis") or n.attrs.get("axes") or ()
    return str(ax[0]) if len(ax) == 1 else str(tuple(ax))


def _binary(n: Node) -> tuple[str, str]:
    """The two operand names, a constant operand written as its value."""
    ins = [name(i) for i in n.inputs]
    if "const" in n.attrs:
        ins.insert(n.attrs["const_pos"], _num(n.attrs["const"]))
    ins += ["?", "?"]  # a missing operand reads as "?"
    return ins[0], ins[1]


def _num(v: object) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) else "c"


def _grads(n: Node, parts: list[str]) -> list[str]:
    """Drop the rules for constant operands (they have no gradient)."""
    if "const" not in n.attrs:
        return parts
    keep = [i for i in range(len(parts)) if i != n.attrs["const_pos"]]
    return [parts[i] for i in keep if i < len(parts)]


def _back_to(n: Node) -> str:
    """``.reshape(...)`` when summing a Repeat's axes does not give its input's shape."""
    axes = set(n.attrs.get("axes", ()))
    reduced = tuple(s for i, s in enumerate(n.shape) if i not in axes)
    src = n.inputs[0].shape
    return "" if reduced == src else f".reshape{src}"


def _regrid(n: Node) -> str:
    """``.reshape(grid)`` when a Slice indexes its input reshaped to ``grid``."""
    grid = n.attrs.get("grid")
    return "" if grid in (None, n.attrs.get("src")) else f".reshape{grid}"


def _unmove(n: Node) -> str:
    """A Transpose's backward: transpose back (a reshape around it is a node of its own)."""
    return f".transpose{tuple(np.argsort(n.attrs['axes']).tolist())}"


def _repeat(n: Node, dy: str) -> list[str]:
    src = name(n.inputs[0])
    if n.attrs.get("no_grad"):
        return [f"(none: {src} is bool and has no gradient, so backward has no Sum for this Repeat)"]
    return [f"d{src} = sum({dy}, axis={_axes(n)})" + _back_to(n)]


def _where(n: Node, dy: str) -> list[str]:
    """``where(cond, a, b)``: a's gradient where cond holds, b's elsewhere, cond's none."""
    args = [name(i) for i in n.inputs]
    if "const" in n.attrs:
        args.insert(n.attrs["const_pos"], _num(n.attrs["const"]))
    if len(args) != 3:
        return []
    cond, a, b = args
    out = [f"d{a} = where({cond}, {dy}, 0)", f"d{b} = where({cond}, 0, {dy})"]
    return _grads(n, [f"(none for {cond}: a condition has no gradient)", *out])


def _matmul(n: Node, dy: str) -> list[str]:
    a, b = _binary(n)
    return [f"d{a} = {dy} @ {b}.T", f"d{b} = {a}.T @ {dy}"]


RULES: dict[str, Callable[[Node, str], list[str]]] = {
    "MatMul": _matmul,
    "Add": lambda n, dy: _grads(n, [f"d{_binary(n)[0]} = {dy}", f"d{_binary(n)[1]} = {dy}"]),
    "Sub": lambda n, dy: _grads(n, [f"d{_binary(n)[0]} = {dy}", f"d{_binary(n)[1]} = -{dy}"]),
    "Mul": lambda n, dy: _grads(
        n, [f"d{_binary(n)[0]} = {dy} * {_binary(n)[1]}", f"d{_binary(n)[1]} = {dy} * {_binary(n)[0]}"]
    ),
    "Div": lambda n, dy: _grads(
        n,
        [
            f"d{_binary(n)[0]} = {dy} / {_binary(n)[1]}",
            f"d{_binary(n)[1]} = -{dy} * {name(n)} / {_binary(n)[1]}",
        ],
    ),
    "Repeat": _repeat,
    "Where": _where,
    "Sum": lambda n, dy: [f"d{name(n.inputs[0])} = repeat({dy}, axis={_axes(n)})"],
    "Mean": lambda n, dy: [f"d{name(n.inputs[0])} = repeat({dy}, axis={_axes(n)}) / n"],
    "Max": lambda n, dy: [
        f"d{name(n.inputs[0])} = repeat({dy}, axis={_axes(n)}) * ({name(n.inputs[0])} == {name(n)})"
    ],
    "Tanh": lambda n, dy: [f"d{name(n.inputs[0])} = {dy} * (1 - {name(n)}**2)"],
    "Exp": lambda n, dy: [f"d{name(n.inputs[0])} = {dy} * {name(n)}"],
    "Log": lambda n, dy: [f"d{name(n.inputs[0])} = {dy} / {name(n.inputs[0])}"],
    "Sqrt": lambda n, dy: [f"d{name(n.inputs[0])} = {dy} / (2 * {name(n)})"],
    "Square": lambda n, dy: [f"d{name(n.inputs[0])} = 2 * {name(n.inputs[0])} * {dy}"],
    "Neg": lambda n, dy: [f"d{name(n.inputs[0])} = -{dy}"],
    "Maximum": lambda n, dy: [f"d{name(n.inputs[0])} = {dy} * ({name(n.inputs[0])} > {_binary(n)[1]})"],
    "LogAddExp": lambda n, dy: [f"d{a} = {dy} * sigmoid({a} - other)" for a in _binary(n) if a[0] != "0"][:1],
    "Gather": lambda n, dy: [
        (
            f"d{name(n.inputs[0])} = zeros; np.add.at(d{name(n.inputs[0])}, "
            f"{n.attrs.get('index', '[ids]')[1:-1]}, {dy})"
        )
    ],
    "ScatterAdd": lambda n, dy: [f"d{name(n.inputs[-1])} = {dy}[{n.attrs.get('index', 'ids')}]"],
    "Slice": lambda n, dy: [
        f"d{name(n.inputs[0])} = zeros; d{name(n.inputs[0])}{_regrid(n)}{n.attrs.get('index', '')} += {dy}"
    ],
    "Reshape": lambda n, dy: [f"d{name(n.inputs[0])} = {dy}.reshape{n.attrs['src']}"],
    "Transpose": lambda n, dy: [f"d{name(n.inputs[0])} = {dy}{_unmove(n)}"],
    "Reverse": lambda n, dy: [f"d{name(n.inputs[0])} = {dy}{n.attrs.get('index', '')}"],
    "Concat": lambda n, dy: [
        (
            f"{', '.join('d' + name(i) for i in n.inputs)} = "
            f"split({dy}, {len(n.inputs)}, axis={n.attrs.get('axis')})"
        )
    ],
    "Merge": lambda n, dy: [f"{', '.join('d' + name(i) for i in n.inputs)} = their elements of {dy}"],
    "Greater": lambda n, dy: ["(none: a comparison)"],
}


def rule(node: Node) -> list[str]:
    """The local gradient rule of a forward node, or [] if it has none recorded."""
    fn = RULES.get(node.op)
    if fn is None:
        return []
    try:
        return fn(node, "d" + name(node))
    except (IndexError, KeyError):
        return []


def pairs(graph: Graph) -> list[tuple[Node, Node]]:
    """(forward node, backward node) pairs where backward undoes a broadcast of forward:
    a Repeat and a Sum over the same axes between the same shapes (either way round)."""
    summed = _summed_into(graph)
    out = []
    for f in graph.forward:
        for b in graph.backward:
            if _undoes(f, b, summed) or _undoes(b, f, summed):
                out.append((f, b))
    return out


def _summed_into(graph: Graph) -> dict[str, set[int]]:
    """Parameter -> ids of the Sum nodes that add up to its gradient: the gradient itself,
    or one Sum per step when a layer sums each step's db and adds the steps (book 2's loop)."""
    out: dict[str, set[int]] = {}
    for n in graph.backward:
        for param in n.attrs.get("grad_of", ()):
            ids, stack = out.setdefault(param, set()), [n]
            while stack:
                m = stack.pop()
                if m.op == "Sum":
                    ids.add(m.id)
                elif m.op == "Add" and m.phase == "backward":
                    stack.extend(m.inputs)
    return out


def _undoes(rep: Node, s: Node, summed: dict[str, set[int]]) -> bool:
    """Whether Sum ``s`` adds up exactly the copies Repeat ``rep`` made: a parameter's
    gradient summing what its repeat spread (maybe over batch and time flattened to one
    axis, or step by step), or a Sum over the same axes between the same shapes."""
    if rep.op != "Repeat" or s.op != "Sum" or not s.inputs or not rep.inputs or rep.attrs.get("no_grad"):
        return False
    src = rep.inputs[0]
    while src.op == "Reshape" and src.inputs:
        src = src.inputs[0]
    if src.op in ("Const", "Zeros"):
        return False  # a constant repeated: nothing flows back to it
    if src.op == "Param" and any(s.id in ids for ids in summed.values()):
        return s.id in summed.get(src.label, ()) and int(np.prod(s.inputs[0].shape)) == int(
            np.prod(rep.shape)
        )
    axes = tuple(rep.attrs.get("axes", ()))
    return bool(
        axes
        and s.inputs[0].shape == rep.shape
        and tuple(s.attrs.get("axis", ())) == axes
        and int(np.prod(s.shape)) == int(np.prod(rep.attrs["src"]))
    )


INFIX = {"MatMul": "@", "Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}
CALLS = {
    "Tanh": "tanh",
    "Exp": "exp",
    "Log": "log",
    "Sqrt": "sqrt",
    "Abs": "abs",
    "Square": "square",
    "Maximum": "maximum",
    "Minimum": "minimum",
    "LogAddExp": "logaddexp",
}


def _view_text(n: Node) -> str | None:
    """A view written as numpy would (``x.T``, ``dhs[:, 2]``), or None for other ops."""
    if not n.inputs or n.op not in ("Transpose", "Slice", "Reshape", "Reverse"):
        return None
    inner = operand(n.inputs[0])
    if n.op == "Transpose":
        axes = tuple(n.attrs.get("axes", ()))
        return inner + (".T" if axes == (1, 0) else f".transpose{axes}")
    if n.op == "Slice" and n.attrs.get("grid") not in (None, n.attrs.get("src")):
        return f"{inner}{_regrid(n)}{n.attrs.get('index', '')}"
    if n.op in ("Slice", "Reverse"):
        return f"{inner}{n.attrs.get('index', '')}"
    return f"{inner}.reshape{n.shape}"


def operand(n: Node) -> str:
    """How an input reads in a formula: its name, or a view of a named value inlined (x.T)."""
    if not n.label and not n.stores:
        return _view_text(n) or name(n)
    return name(n)


def formula(n: Node) -> str:
    """What the node computes, with its operands' names: ``x.T @ dout``, ``sum(dout, axis=0)``."""
    args = [operand(i) for i in n.inputs]
    if "const" in n.attrs:
        args.insert(n.attrs["const_pos"], _num(n.attrs["const"]))
    if n.op in INFIX and len(args) == 2:
        return f"{args[0]} {INFIX[n.op]} {args[1]}"
    if n.op in CALLS:
        return f"{CALLS[n.op]}({', '.join(args)})"
    if n.op in ("Sum", "Mean", "Max", "Min"):
        return f"{n.op.lower()}({args[0]}, axis={_axes(n)})"
    if n.op == "Repeat":
        return f"repeat({args[0]} {n.attrs['src']} -> {n.shape})"
    if n.op == "Neg":
        return f"-{args[0]}"
    view = _view_text(n)
    if view is not None:
        return view
    if n.op == "Gather" and args:
        return f"{args[0]}{n.attrs.get('index', '')}"
    if n.op == "ScatterAdd" and len(args) == 2:
        return f"np.add.at({args[0]}, {n.attrs.get('index', '[ids]')[1:-1]}, {args[1]})"
    if n.op == "Concat":
        return f"concatenate([{', '.join(args)}], axis={n.attrs.get('axis')})"
    return f"{n.op.lower()}({', '.join(args)})"
