"""A layer's parameters as the tracer needs them, in each of the three styles readers write
(:mod:`zerokara.check.adapt`): where a Param leaf goes before forward, and where backward
left the gradient, in any copy of the layer.

* zerokara's :class:`~zerokara.layers.base.Module` (and any object with ``params``/``grads``
  dicts): ``mod.params["W"]`` and ``mod.grads["W"]`` of each sub-module, dotted names
  (``affine1.W``) as :func:`zerokara.introspect.param_slots` gives them.
* book 2: ``self.params = [Wx, Wh, b]`` and ``self.grads`` lists; ``params[0]`` is named
  ``Wx`` after the constructor argument that received it, and its gradient is
  ``grads[0]`` after backward (``dWx``).
* book 1: attributes ``self.W``, ``self.b``, whose gradients backward sets as ``self.dW``,
  ``self.db``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from zerokara.check import adapt
from zerokara.introspect import modules_of, param_slots


@dataclass(frozen=True)
class ParamSlot:
    """One parameter: its name and its place (the same in every copy of the layer)."""

    name: str  # "W", "affine1.W" (module); "Wx" (book 2); "W" (book 1)
    style: str  # "module", "book2" or "book1"
    owner: str  # module: the dotted prefix of the sub-module holding it; "" otherwise
    key: Any  # module: the dict key; book 2: the list index; book 1: the attribute
    #: book 2: every index of the params list holding this array (a shared weight: several)
    places: tuple[int, ...] = ()

    def value(self, m: Any) -> Any:
        """The parameter's array in ``m`` (a copy of the layer the slot was found in)."""
        if self.style == "module":
            return dict(modules_of(m))[self.owner].params[self.key]
        if self.style == "book2":
            return m.params[self.key]
        return getattr(m, self.key)

    def grads(self, m: Any) -> list[tuple[str, Any]]:
        """(name to store it under, array or None) of each gradient backward left for it:
        ``db`` (module, book 2), ``self.dW`` or ``grad_W``... as found (book 1); one per place
        of a book 2 parameter that appears twice in ``params``."""
        if self.style == "module":
            mod = dict(modules_of(m))[self.owner]
            head, _, short = self.name.rpartition(".")
            gname = f"{head}.d{short}" if head else f"d{short}"
            return [(gname, getattr(mod, "grads", {}).get(self.key))]
        if self.style == "book2":
            held = list(getattr(m, "grads", None) or [])
            return [(f"d{self.name}", held[i] if i < len(held) else None) for i in self.places]
        for gname in adapt.Slot(self.name, self.style, self.key).grad_names():
            g = getattr(m, gname, None)
            if g is not None:
                return [(gname, g)]
        return [(f"d{self.key}", None)]

    def gradient(self, m: Any) -> Any:
        """The gradient as one array (book 2's shared weight: the sum over its places), or None."""
        found = [g for _, g in self.grads(m)]
        if any(g is None for g in found) or not found:
            return None
        if len(found) == 1:
            return found[0]
        return sum(np.asarray(g, dtype=np.float64) for g in found)


def slots(module: Any, names: dict[int, str] | None = None, after: Any = None) -> list[ParamSlot]:
    """The parameters of ``module`` in its style.

    Args:
        names: ``id(array) -> constructor argument`` for ``module``'s arrays (book 2's
            list entries have no names of their own; without it they are named after the
            constructor's positional arguments, as :func:`zerokara.check.adapt.slots` does).
        after: a copy of ``module`` that has run forward and backward: book 1's ``self.dW``
            may first appear there.
    """
    style = adapt.style_of(module)
    if style == "module":  # the slots of zerokara.introspect.param_slots, by owner's prefix
        owners = {id(mod): prefix for prefix, mod in modules_of(module)}
        return [ParamSlot(name, style, owners[id(mod)], key) for name, mod, key in param_slots(module)]
    found = adapt.slots(module, names, after=after)
    if style == "book2":
        params = list(module.params)
        return [
            ParamSlot(s.name, style, "", s.key, tuple(i for i, p in enumerate(params) if p is params[s.key]))
            for s in found
        ]
    return [ParamSlot(s.name, style, "", s.key) for s in found]


def needs_a_run(module: Any) -> bool:
    """Whether the parameters show only after backward (book 1 without ``self.dW = None`` in
    ``__init__``: a float attribute with no gradient attribute beside it yet)."""
    if adapt.style_of(module) != "book1":
        return False
    attrs = vars(module) if hasattr(module, "__dict__") else {}
    return len(adapt.book1_params(module)) < sum(
        1
        for k, v in attrs.items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not (k.startswith("d") and k[1:] in attrs)
    )


def after_run(module: Any, inputs: tuple, douts: Any) -> Any:
    """A copy of ``module`` that ran forward and backward untraced (None when it raised),
    with NumPy's global random state given back (book 1's Dropout draws from it).

    ``douts``: a function from forward's outputs to backward's arguments.
    """
    m = copy.deepcopy(module)
    state = np.random.get_state()  # noqa: NPY002 -- the readers' layers use the legacy generator
    try:
        out = m.forward(*[x.copy() if isinstance(x, np.ndarray) else x for x in inputs])
        m.backward(*douts(out if isinstance(out, tuple) else (out,)))
    except Exception:  # noqa: BLE001 -- the run that follows reports the layer's error
        return None
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return m


def names_of(layer: Any, names: dict[int, str] | None) -> dict[int, str] | None:
    """``names`` if its ids are those of ``layer``'s arrays, else None (ids of arrays that no
    longer exist could name an unrelated array made since)."""
    if not names:
        return None
    ids = {id(a) for a in adapt.float_arrays(layer)}
    return names if set(names) <= ids else None
