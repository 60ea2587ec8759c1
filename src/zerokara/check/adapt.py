"""Where a layer keeps its parameters and gradients, in each of the three styles readers write.

* ``module``: zerokara's :class:`~zerokara.layers.base.Module` (``params``/``grads`` dicts
  by name; containers give dotted names).
* ``book2``: book 2's ``self.params = [Wx, Wh, b]`` and ``self.grads = [...]`` lists,
  filled with ``self.grads[0][...] = dWx``; forward and backward take and return tuples.
* ``book1``: book 1's attributes ``self.W``, ``self.b`` whose gradients backward sets as
  ``self.dW``, ``self.db``.

A :class:`Slot` names one parameter and knows how to read it and its gradient from any
copy of the layer, so the check can nudge the parameter in one copy and read the
gradient from another.
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

STYLES = ("module", "book2", "book1")


def style_of(obj: Any) -> str:
    """``module``, ``book2`` or ``book1`` (see the module docstring)."""
    params = getattr(obj, "params", None)
    if hasattr(obj, "named_modules") and isinstance(params, dict):
        return "module"
    if isinstance(params, dict) and isinstance(getattr(obj, "grads", None), dict):
        return "module"  # dicts by name without zerokara's base class: read the same way
    if isinstance(params, (list, tuple)):
        return "book2"
    return "book1"


def _is_float(v: Any) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind == "f"


#: book 1's gradient attribute for parameter W is dW; these spellings are read too
_GRAD_NAMES = ("d{}", "grad_{}", "{}_grad", "d_{}")


def grad_names(name: str) -> list[str]:
    """The names a reader gives the gradient of ``name``: dW, grad_W, W_grad, d_W."""
    return [f.format(name) for f in _GRAD_NAMES]


@dataclass(frozen=True)
class Slot:
    """One parameter: its name and where it lives (a dotted module name, a list index or
    an attribute), the same in every copy of the layer."""

    name: str
    style: str
    key: Any  # module: dotted name; book2: list index; book1: attribute name

    def value(self, obj: Any) -> np.ndarray:
        if self.style == "module":
            return _module_params(obj)[self.key]
        if self.style == "book2":
            return obj.params[self.key]
        return getattr(obj, self.key)

    def grad_names(self) -> list[str]:
        """Where backward is expected to put the gradient, as the reader would write it."""
        if self.style == "module":
            head, _, short = self.key.rpartition(".")
            return [f'{head + "." if head else ""}grads["{short}"]']
        if self.style == "book2":
            return [f"grads[{self.key}]"]
        return grad_names(self.key)


def _module_params(obj: Any) -> dict[str, np.ndarray]:
    if hasattr(obj, "parameters"):
        return obj.parameters()
    return dict(obj.params)


def slots(obj: Any, names: dict[int, str] | None = None, after: Any = None) -> list[Slot]:
    """The parameters of ``obj`` in its style.

    ``names`` maps ``id(array)`` to the constructor argument that gave it (book 2's lists
    hold no names: ``params[0]`` is called ``Wx`` because ``RNN(Wx, Wh, b)`` received it).
    ``after``: a copy of ``obj`` that has run backward, for book 1, whose ``self.dW`` may
    first appear there.
    """
    style = style_of(obj)
    if style == "module":
        return [Slot(k, style, k) for k in _module_params(obj)]
    if style == "book2":
        out, seen = [], set()
        guess = _positional_names(obj)
        for i, p in enumerate(obj.params):
            if id(p) in seen or not _is_float(p):
                continue
            seen.add(id(p))
            name = (names or {}).get(id(p)) or _attribute_name(obj, p)
            if name is None and i < len(guess) and len(guess) >= len(obj.params):
                name = guess[i]
            name = name or _layer_name(obj, p) or f"params[{i}]"
            out.append(Slot(name, style, i))
        return out
    return [Slot(k, style, k) for k in book1_params(obj, after)]


def book1_params(obj: Any, after: Any = None) -> list[str]:
    """Float array attributes the layer has before forward with a gradient attribute beside
    them (W and dW, before or after backward); ``x``, masks and caches are not parameters."""
    attrs = vars(obj)
    later = vars(after) if after is not None else attrs
    out = []
    for k, v in attrs.items():
        if not _is_float(v) or (k.startswith("d") and k[1:] in attrs):
            continue
        if any(f.format(k) in attrs or f.format(k) in later for f in _GRAD_NAMES):
            out.append(k)
    return out


def _attribute_name(obj: Any, arr: np.ndarray) -> str | None:
    for k, v in vars(obj).items():
        if v is arr:
            return k
    return None


def _layer_name(obj: Any, arr: np.ndarray) -> str | None:
    """A book 2 model's parameter by the layer that holds it: ``layers[0].W`` for the W of
    ``self.layers = [Affine(W1, b1), ...]`` (the layer's constructor names it)."""
    for attr, value in vars(obj).items():
        subs = value if isinstance(value, (list, tuple)) else [value]
        for k, layer in enumerate(subs):
            params = getattr(layer, "params", None)
            if layer is obj or not isinstance(params, (list, tuple)):
                continue
            for j, q in enumerate(params):
                if q is arr:
                    names = _positional_names(layer)
                    short = names[j] if j < len(names) and len(names) >= len(params) else f"params[{j}]"
                    return f"{attr}[{k}].{short}" if isinstance(value, (list, tuple)) else f"{attr}.{short}"
    return None


def _positional_names(obj: Any) -> list[str]:
    """Constructor arguments without defaults, in order: book 2 lists params in that order."""
    try:
        sig = inspect.signature(type(obj).__init__)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in list(sig.parameters.values())[1:]
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def held_grads(obj: Any) -> list[Any]:
    """The gradient arrays an optimizer holds before backward (book 2: the list's arrays)."""
    if style_of(obj) == "book2":
        return list(getattr(obj, "grads", []) or [])
    return []


def gradient(obj: Any, slot: Slot, held: list[Any]) -> tuple[Any, str]:
    """The gradient backward left for ``slot``, and how it was found.

    For book 2 the gradient is read from the array the optimizer held before backward (a
    list element rebound with ``=`` leaves that array as it was); shared parameters (the
    same array twice in ``params``) get the sum over their places. The second value is
    ``""``, ``"rebound"`` (book 2 replaced the array) or ``"missing"``.
    """
    if slot.style == "module":
        try:
            grads = obj.gradients() if hasattr(obj, "gradients") else obj.grads
        except RuntimeError:
            return None, "missing"
        g = grads.get(slot.key)
        return g, "" if g is not None else "missing"
    if slot.style == "book2":
        p = obj.params[slot.key]
        total, how = None, ""
        grads = list(getattr(obj, "grads", []) or [])
        for i, q in enumerate(obj.params):
            if q is not p:
                continue
            old = held[i] if i < len(held) else None
            now = grads[i] if i < len(grads) else None
            if old is None or now is not old:
                how = "rebound"
            g = old if old is not None else now
            if g is None:
                return None, "missing"
            total = np.array(g, dtype=np.float64) if total is None else total + g
        return total, how
    for f in _GRAD_NAMES:
        g = getattr(obj, f.format(slot.key), None)
        if g is not None:
            return g, ""
    return None, "missing"


def float64_copy(obj: Any) -> Any:
    """A deep copy in which every float array reachable from ``obj`` is float64 (arrays shared
    inside the layer stay shared: weight tying survives)."""
    memo: dict[int, Any] = {}
    keep = []
    for arr in _arrays(obj, set()):
        if id(arr) not in memo and arr.dtype.kind == "f":
            memo[id(arr)] = np.array(arr, dtype=np.float64, copy=True)
            keep.append(arr)  # deepcopy's memo is keyed by id: the originals must stay alive
    return copy.deepcopy(obj, memo)


#: things with a __dict__ that are not a layer's state
_NOT_OBJECTS = (type, types.FunctionType, types.MethodType, types.ModuleType, types.BuiltinFunctionType)


def _arrays(x: Any, seen: set[int]) -> Iterator[np.ndarray]:
    if id(x) in seen:
        return
    seen.add(id(x))
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _arrays(v, seen)
    elif isinstance(x, (list, tuple, set)):
        for v in x:
            yield from _arrays(v, seen)
    elif hasattr(x, "__dict__") and not isinstance(x, _NOT_OBJECTS):
        for v in vars(x).values():
            yield from _arrays(v, seen)


def float_arrays(obj: Any) -> list[np.ndarray]:
    """Every array reachable from ``obj`` (for checking that nothing of the user's changed)."""
    return list(_arrays(obj, set()))


def is_loss_model(obj: Any) -> bool:
    """Book 1's TwoLayerNet: ``loss(x, t)`` and ``gradient(x, t) -> {name: grad}``, no forward."""
    return not callable(getattr(obj, "forward", None)) and all(
        callable(getattr(obj, m, None)) for m in ("loss", "gradient")
    )


class LossModel:
    """A book 1 model (``loss`` and ``gradient``, parameters in ``self.params``) seen as a layer:
    forward is its loss, backward asks it for its gradients, as book 1's gradient_check.py
    compares ``numerical_gradient`` with ``gradient``."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.params = model.params  # the same dict: nudging a weight nudges the model's
        self.grads: dict[str, Any] = {}
        self._inputs: tuple = ()

    def forward(self, x: Any, t: Any) -> Any:
        self._inputs = (x, t)
        return self.model.loss(x, t)

    def backward(self, dout: float = 1.0) -> tuple:
        self.grads = dict(self.model.gradient(*self._inputs))
        return ()  # gradient() gives no input gradient: only the parameters are checked
