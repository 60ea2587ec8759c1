"""Run a layer's forward and backward under the tracer and name what comes in and out.

:func:`trace_layer` works on a deep copy of the layer (the user's object is not
touched) and returns a :class:`Trace`: the graph with the results of the traced
run, which are the same numbers an untraced run gives (:func:`run_plain`
computes those, for comparison).

Named ``layer_trace`` (a layer's trace, the :class:`Trace` it returns) to keep
it apart from the machinery it drives: :mod:`~zerokara.explain.traced_array`
(the array), :mod:`~zerokara.explain.recorder` and :mod:`~zerokara.explain.ops`
(the graph it writes), :mod:`~zerokara.explain.tracing` (switching it on).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerokara.explain.graph import Graph, Node
from zerokara.explain.traced_array import TracedArray, plain
from zerokara.explain.tracing import Tracer, tracing
from zerokara.introspect import arg_names, modules_of, param_slots


def output_names(module: Any, count: int, scalar: bool) -> list[str]:
    """Forward's outputs, named after backward's arguments without the d (dhs -> hs)."""
    if scalar:
        return ["loss"]
    names = arg_names(module.backward, count)
    return [n[1:] if n.startswith("d") and len(n) > 1 else "out" for n in names]


def make_douts(outs: tuple, seed: int) -> tuple:
    """dout for each output: 1.0 for a scalar loss, else standard normal (as gradcheck)."""
    if len(outs) == 1 and np.ndim(outs[0]) == 0:
        return (1.0,)
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(np.shape(o)) for o in outs)


def set_input_grad(module: Any) -> None:
    for _, sub in modules_of(module):
        if hasattr(sub, "input_grad"):
            sub.input_grad = True  # every input's gradient is shown


@dataclass
class Trace:
    """A traced run: the graph, and the forward outputs, input and parameter gradients."""

    graph: Graph
    outputs: tuple
    input_grads: dict[str, Any] = field(default_factory=dict)
    param_grads: dict[str, Any] = field(default_factory=dict)
    input_names: list[str] = field(default_factory=list)


def _dense(g: Any) -> Any:
    if g is None:
        return None
    return np.array(plain(np.asarray(g)), dtype=np.float64, copy=True)


def run_plain(module: Any, inputs: tuple, seed: int = 0) -> Trace:
    """The same run without tracing (on a deep copy), for comparison."""
    m = copy.deepcopy(module)
    set_input_grad(m)
    xs = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
    out = m.forward(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    back = m.backward(*make_douts(outs, seed))
    return _collect(Graph(), m, inputs, outs, back)


def _collect(graph: Graph, m: Any, inputs: tuple, outs: tuple, back: Any) -> Trace:
    names = arg_names(m.forward, len(inputs))
    grads = list(back) if isinstance(back, (tuple, list)) else [back]
    floats = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    tr = Trace(graph, tuple(_dense(o) for o in outs), input_names=names)
    for i in floats:
        if i < len(grads):
            tr.input_grads[names[i]] = _dense(grads[i])
    for name, mod, key in param_slots(m):
        g = getattr(mod, "grads", {}).get(key)
        tr.param_grads[name] = _dense(g)
    return tr


def _wrap_attributes(t: Tracer, m: Any) -> None:
    """Replace the float arrays a layer holds by traced views: parameters as Param leaves,
    gradient buffers and other attributes as State leaves (created when first read)."""
    done: dict[int, TracedArray] = {}
    for name, mod, key in param_slots(m):
        arr = mod.params[key]
        if id(arr) not in done:
            done[id(arr)] = t.traced(arr, "Param", name)
        mod.params[key] = done[id(arr)]

    def wrap(v: Any, label: str) -> Any:
        if isinstance(v, np.ndarray) and not isinstance(v, TracedArray) and v.dtype.kind == "f":
            if id(v) not in done:
                done[id(v)] = t.traced(v, "State", label, eager=False)
            return done[id(v)]
        if isinstance(v, dict):
            return {k: wrap(x, f"{label}[{k!r}]") for k, x in v.items()}
        if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
            return type(v)(wrap(x, f"{label}[{i}]") for i, x in enumerate(v))
        return v

    for prefix, mod in modules_of(m):
        for attr, v in list(vars(mod).items()):
            if attr == "params":
                continue
            if attr == "grads" and isinstance(v, dict):
                mod.grads = {k: wrap(g, f"d{k} (before backward)") for k, g in v.items()}
            else:
                setattr(mod, attr, wrap(v, f"{prefix}.{attr}" if prefix else attr))


def trace_layer(module: Any, inputs: tuple, *, seed: int = 0, steps: int | None = None) -> Trace:
    """Trace ``module.forward(*inputs)`` then ``module.backward(dout)`` on a deep copy.

    Args:
        module: a layer following the protocol (``forward``, ``backward``, ``params``/``grads``).
        inputs: forward's arguments; float arrays become Input leaves named after
            forward's parameters, integer arrays (ids, labels) too.
        seed: seed of the random ``dout`` for a non-scalar output.
        steps: the sequence length T, to annotate the nodes of recurrent layers with steps.
    """
    m = copy.deepcopy(module)
    set_input_grad(m)
    names = arg_names(m.forward, len(inputs))
    t = Tracer(steps)
    with tracing(t):
        _wrap_attributes(t, m)
        xs = [
            t.traced(x.copy(), "Input", n) if isinstance(x, np.ndarray) else x
            for x, n in zip(inputs, names, strict=True)
        ]
        out = m.forward(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        scalar = len(outs) == 1 and np.ndim(outs[0]) == 0
        for o, n in zip(outs, output_names(m, len(outs), scalar), strict=True):
            _name_steps(_store(t, o, n), n, steps)
        _name_attributes(t, m)
        t.phase = "backward"
        douts = make_douts(outs, seed)
        dnames = arg_names(m.backward, len(douts))
        ups = [
            t.traced(d, "Dout", n) if isinstance(d, np.ndarray) else d
            for d, n in zip(douts, dnames, strict=True)
        ]
        back = m.backward(*ups)
        grads = list(back) if isinstance(back, (tuple, list)) else [back]
        floats = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
        for i in floats:
            if i < len(grads) and isinstance(grads[i], np.ndarray):
                _store(t, grads[i], "d" + names[i])
        for name, mod, key in param_slots(m):
            g = getattr(mod, "grads", {}).get(key)
            arr = getattr(g, "rows", g)  # a sparse RowGrad keeps its values in .rows
            if isinstance(arr, np.ndarray):
                head, _, short = name.rpartition(".")
                rows = " (rows)" if arr is not g else ""  # only the rows that were looked up
                gname = f"{head}.d{short}" if head else f"d{short}"
                node = _store(t, arr, gname + rows)
                if node is not None:
                    node.attrs.setdefault("grad_of", []).append(name)
                    _name_step_terms(node, gname)
    return _collect(t.graph, m, inputs, outs, back)


def _store(t: Tracer, value: Any, name: str) -> Node | None:
    """Mark the node holding ``value`` as stored under ``name`` (out, loss, dx, db)."""
    if isinstance(value, np.ndarray):
        node = t.read(value)
    elif isinstance(value, (float, np.floating)) and float(value) in t.scalars:
        node = t.scalars[float(value)]
    else:
        return None
    node.stores.append(name)
    return node


def _name_steps(node: Node | None, name: str, steps: int | None) -> None:
    """An output stacked from one value per time step: name the steps h(t=1), h(t=2), ..."""
    if node is None or node.op != "Concat" or not steps or len(node.inputs) != steps:
        return
    base = name[:-1] if name.endswith("s") and len(name) > 1 else name
    for k, part in enumerate(node.inputs, 1):
        if not part.label and not part.stores:
            part.label = f"{base}(t={k})"


def _name_step_terms(node: Node, name: str) -> None:
    """A gradient added up step by step (``grads["b"] += layer.grads["b"]`` in book 2's loop):
    name its terms db(t=3), db(t=2), ... so that the sum over time reads as one."""
    terms, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.op == "Add" and n.phase == "backward" and not (n.stores and n is not node):
            stack.extend(n.inputs)
        else:
            terms.append(n)
    steps = [n.step for n in terms]
    if len(terms) < 2 or None in steps or len(set(steps)) != len(steps):
        return
    for n in terms:
        if not n.label and not n.stores:
            n.label = f"{name}(t={n.step})"


def _name_attributes(t: Tracer, m: Any) -> None:
    """Label forward values a layer keeps as attributes (``self.mask``, ``self.out``)."""
    for prefix, mod in modules_of(m):
        for attr, v in vars(mod).items():
            if isinstance(v, np.ndarray) and attr not in ("params", "grads"):
                node = t.mem.peek(v)
                if node is not None and not node.label and not node.stores:
                    node.label = f"{prefix}.{attr}" if prefix else attr
