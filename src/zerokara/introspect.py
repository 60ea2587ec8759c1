"""What the layer protocol lets us ask of any layer: the names of forward's arguments,
its sub-modules, its parameter slots.

Used by the gradient check (``zerokara.check``) and by ``zerokara explain``
(``zerokara.explain``), for zerokara's own layers (:class:`~zerokara.layers.base.Module`)
and for a reader's class that has only ``forward``, ``backward`` and ``params``.
It imports nothing from zerokara, so both can depend on it and neither on the other
through it.
"""

from __future__ import annotations

import inspect
from typing import Any


def arg_names(fn: Any, count: int) -> list[str]:
    """The first ``count`` positional parameter names of ``fn`` (``input0``... where unknown).

    ``arg_names(layer.forward, 2)`` -> ``["x", "h_prev"]``: the names a gradient is reported
    under (``dx``, ``dh_prev``).
    """
    try:
        names = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # a builtin or a C function: no signature
        names = []
    return [names[i] if i < len(names) else f"input{i}" for i in range(count)]


def modules_of(module: Any) -> list[tuple[str, Any]]:
    """(dotted prefix, module) of the module and everything inside it; just ``("", module)``
    for an object that is not a container."""
    return list(module.named_modules()) if hasattr(module, "named_modules") else [("", module)]


def param_slots(module: Any) -> list[tuple[str, Any, str]]:
    """(dotted name, owning module, key) of every parameter slot held in a ``params`` dict;
    a parameter shared by two layers (weight tying) has two slots, one per layer that holds it.

    Book 2's ``params`` lists and book 1's ``self.W`` attributes have no such slots (none
    are returned): ``zerokara.check.adapt`` and ``zerokara.explain.params`` read those.
    """
    return [
        (f"{prefix}.{key}" if prefix else key, mod, key)
        for prefix, mod in modules_of(module)
        for key in _dict(getattr(mod, "params", None))
    ]


def _dict(params: Any) -> dict:
    return params if isinstance(params, dict) else {}
