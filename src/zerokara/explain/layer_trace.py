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
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerokara.check import adapt
from zerokara.explain.graph import Graph, Node
from zerokara.explain.params import ParamSlot, after_run, needs_a_run, slots
from zerokara.explain.traced_array import TracedArray, plain
from zerokara.explain.tracing import Tracer, tracing
from zerokara.introspect import arg_names, modules_of


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
    #: each parameter's shape, by the name its gradient is reported under
    param_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _dense(g: Any) -> Any:
    if g is None:
        return None
    return np.array(plain(np.asarray(g)), dtype=np.float64, copy=True)


def run_plain(module: Any, inputs: tuple, seed: int = 0, *, names: dict[int, str] | None = None) -> Trace:
    """The same run without tracing (on a deep copy), for comparison.

    ``names``: ``id(array) -> constructor argument`` for ``module``'s arrays (book 2's
    params list; see :func:`zerokara.explain.params.slots`).
    """
    m = copy.deepcopy(module)
    set_input_grad(m)
    xs = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
    state = np.random.get_state()  # noqa: NPY002 -- book 1's Dropout draws from the global generator
    with _given_back(state):
        out = m.forward(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        back = m.backward(*make_douts(outs, seed))
    return _collect(Graph(), m, inputs, outs, back, slots(module, names, after=m))


def _collect(graph: Graph, m: Any, inputs: tuple, outs: tuple, back: Any, params: list[ParamSlot]) -> Trace:
    names = arg_names(m.forward, len(inputs))
    grads = list(back) if isinstance(back, (tuple, list)) else [back]
    floats = [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    tr = Trace(graph, tuple(_dense(o) for o in outs), input_names=names)
    for i in floats:
        if i < len(grads):
            tr.input_grads[names[i]] = _dense(grads[i])
    for p in params:
        tr.param_grads[p.name] = _dense(p.gradient(m))
        tr.param_shapes[p.name] = tuple(np.shape(p.value(m)))
    return tr


def _wrap_attributes(t: Tracer, m: Any, params: list[ParamSlot]) -> None:
    """Replace the float arrays a layer holds by traced views: parameters as Param leaves,
    gradient buffers and other attributes as State leaves (created when first read).

    A book-style layer's parameters are replaced wherever they are held (``self.params``,
    ``self.W``, the lists and sub-layers of a book 2 model), each array by one traced view.
    """
    done: dict[int, TracedArray] = {}
    for p in params:
        arr = p.value(m)
        if id(arr) not in done:
            done[id(arr)] = t.traced(arr, "Param", p.name)
        if p.style == "module":
            dict(modules_of(m))[p.owner].params[p.key] = done[id(arr)]
    book = adapt.style_of(m) != "module"
    # containers and sub-layers already wrapped (each shared one stays shared), with the
    # original kept alive so that its id is not reused while the walk goes on
    seen: dict[int, tuple[Any, Any]] = {id(m): (m, m)}

    def once(v: Any, make: Any) -> Any:
        if id(v) not in seen:
            seen[id(v)] = (v, make())
        return seen[id(v)][1]

    def wrap(v: Any, label: str) -> Any:
        if isinstance(v, np.ndarray) and not isinstance(v, TracedArray) and v.dtype.kind == "f":
            if id(v) not in done:
                done[id(v)] = t.traced(v, "State", label, eager=False)
            return done[id(v)]
        if isinstance(v, dict):
            return once(v, lambda: {k: wrap(x, f"{label}[{k!r}]") for k, x in v.items()})
        if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
            return once(v, lambda: type(v)(wrap(x, f"{label}[{i}]") for i, x in enumerate(v)))
        if book and _is_layer(v) and id(v) not in seen:  # a sub-layer of a book 2 model
            seen[id(v)] = (v, v)
            for attr, x in list(vars(v).items()):
                setattr(v, attr, wrap(x, f"{label}.{attr}"))
        return v

    def grads_list(v: list | tuple) -> Any:  # book 2's grads[0] is dWx, named as the parameter
        named = {i: f"d{p.name} (before backward)" for p in params for i in p.places}
        return type(v)(wrap(g, named.get(i, f"grads[{i}]")) for i, g in enumerate(v))

    for prefix, mod in modules_of(m):
        attrs = list(vars(mod).items())
        if book:  # the model's own lists first: their names (dW1) win over a sub-layer's (grads[0])
            attrs.sort(key=lambda kv: kv[0] not in ("params", "grads"))
        for attr, v in attrs:
            if attr == "params" and not book:
                continue
            if attr == "grads" and isinstance(v, dict):
                mod.grads = {k: wrap(g, f"d{k} (before backward)") for k, g in v.items()}
            elif attr == "grads" and isinstance(v, (list, tuple)) and book:
                mod.grads = once(v, functools.partial(grads_list, v))
            else:
                setattr(mod, attr, wrap(v, f"{prefix}.{attr}" if prefix else attr))


def _is_layer(v: Any) -> bool:
    return hasattr(v, "__dict__") and callable(getattr(v, "forward", None)) and not isinstance(v, type)


def trace_layer(
    module: Any,
    inputs: tuple,
    *,
    seed: int = 0,
    steps: int | None = None,
    names: dict[int, str] | None = None,
) -> Trace:
    """Trace ``module.forward(*inputs)`` then ``module.backward(dout)`` on a deep copy.

    Args:
        module: a layer in any of the three styles (:mod:`zerokara.explain.params`): a
            Module (``params``/``grads`` dicts), book 2's (``params``/``grads`` lists) or
            book 1's (``self.W``, with ``self.dW`` set by backward).
        inputs: forward's arguments; float arrays become Input leaves named after
            forward's parameters, integer arrays (ids, labels) too.
        seed: seed of the random ``dout`` for a non-scalar output.
        steps: the sequence length T, to annotate the nodes of recurrent layers with steps.
        names: ``id(array) -> constructor argument`` for ``module``'s arrays: the names of
            book 2's Param leaves (default: the constructor's positional arguments, in order).
    """
    after = after_run(module, inputs, lambda outs: make_douts(outs, seed)) if needs_a_run(module) else None
    params = slots(module, names, after=after)
    m = copy.deepcopy(module)
    set_input_grad(m)
    in_names = arg_names(m.forward, len(inputs))
    t = Tracer(steps)
    state = np.random.get_state()  # noqa: NPY002 -- book 1's Dropout draws from the global generator
    with tracing(t), _given_back(state):
        _wrap_attributes(t, m, params)
        xs = [
            t.traced(x.copy(), "Input", n) if isinstance(x, np.ndarray) else x
            for x, n in zip(inputs, in_names, strict=True)
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
                _store(t, grads[i], "d" + in_names[i])
        for p in params:
            for gname, g in p.grads(m):
                arr = getattr(g, "rows", g)  # a sparse RowGrad keeps its values in .rows
                if isinstance(arr, np.ndarray):
                    rows = " (rows)" if arr is not g else ""  # only the rows that were looked up
                    node = _store(t, arr, gname + rows)
                    if node is not None:
                        node.attrs.setdefault("grad_of", []).append(p.name)
                        _name_step_terms(node, gname)
    return _collect(t.graph, m, inputs, outs, back, params)


@contextmanager
def _given_back(state: Any) -> Iterator[None]:
    """NumPy's global random state as it was before the run (the plain run draws the same)."""
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002 -- the readers' layers use the legacy generator


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
