"""Build the example to explain (a built-in name or a user's ``module:Class``), trace it,
check its gradients numerically, and collect everything the renderers show.

A user's class is built with, in order of preference:

* a classmethod ``example(sizes, rng) -> (layer, inputs)``;
* a classmethod ``create(D, H, rng, dtype=np.float64)`` (the built-ins' constructor);
* the class called with no arguments;

and, unless ``example`` gave them, fed one input ``x`` of shape (N, D), or
(N, T, D) when the class name starts with ``Time``.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.check.examples import EXAMPLES, Sizes, UsedSizes
from zerokara.check.gradcheck import GradReport, gradcheck
from zerokara.errors import InputError, ZerokaraError
from zerokara.explain.layer_trace import Trace, run_plain, trace_layer
from zerokara.explain.readable import readable
from zerokara.layers.base import Module

#: graphs stay readable (one block of nodes per time step, small matrices)
MAX_SIZE, MAX_STEPS = 64, 8
#: elements per array the numerical check nudges (all of them at the default sizes)
CHECKED = 300


class TraceError(ZerokaraError):
    """The layer runs, but the tracer could not follow it."""


@dataclass
class Explanation:
    """What ``zerokara explain`` prints and draws."""

    name: str
    description: str
    sizes: Sizes
    module: Any
    inputs: tuple
    trace: Trace
    report: GradReport
    same_as_untraced: bool
    steps: int | None = None
    #: (fast, reference) class names when a readable reference was traced instead
    replaced: list[tuple[str, str]] = field(default_factory=list)
    #: whether the fast layer gave the reference's outputs and gradients (to rounding)
    fast_agrees: bool = True

    @property
    def graph(self):
        return self.trace.graph


def _load_class(spec: str) -> Any:
    """``package.module:Class`` or ``path/to/file.py:Class`` -> the class (or factory)."""
    mod_name, _, attr = spec.rpartition(":")
    if not mod_name or not attr:
        raise InputError(f"explain: expected a layer name or module:Class, got {spec!r}")
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            path = Path(mod_name)
            if not path.is_file():
                raise InputError(f"explain: cannot import {spec!r}: no file {path}")
            s = importlib.util.spec_from_file_location(path.stem, path)
            if s is None or s.loader is None:
                raise InputError(f"explain: cannot import {spec!r}: {path} is not a Python module")
            module = importlib.util.module_from_spec(s)
            s.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` does: the user's own modules
            module = importlib.import_module(mod_name)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 -- ImportError, or the user's module failing on import
        raise InputError(
            f"explain: cannot import {mod_name!r} for {spec!r}: {type(e).__name__}: {e}"
        ) from None
    if not hasattr(module, attr):
        public = [
            k
            for k, v in vars(module).items()
            if inspect.isclass(v) and _is_layer(v) and v.__module__ == module.__name__
        ]
        raise InputError(
            f"explain: module {mod_name!r} has no {attr!r}; layer classes there: "
            f"{', '.join(public) or 'none'}"
        )
    return getattr(module, attr)


def _is_layer(obj: Any) -> bool:
    return all(callable(getattr(obj, m, None)) for m in ("forward", "backward"))


def _user_example(spec: str, sizes: Sizes, rng: np.random.Generator) -> tuple[Any, tuple, str]:
    cls = _load_class(spec)
    if not _is_layer(cls):
        raise InputError(
            f"explain: {spec!r} is not a layer: expected a class with forward(*inputs) "
            f"and backward(dout) methods (the layer protocol of zerokara.layers.Module), "
            f"got {type(cls).__name__} {getattr(cls, '__name__', cls)!r}"
        )
    doc = (inspect.getdoc(cls) or "").split("\n")[0]
    try:
        if hasattr(cls, "example"):
            layer, inputs = cls.example(sizes, rng)
            return layer, tuple(inputs), doc
        if hasattr(cls, "create"):
            layer = cls.create(sizes["D"], sizes["H"], rng, dtype=np.float64)
        else:
            layer = cls() if inspect.isclass(cls) else cls
    except Exception as e:  # noqa: BLE001 -- the user's class failing in any way is their input error
        raise InputError(
            f"explain: cannot build {spec!r} ({type(e).__name__}: {e}); give the class "
            f"a classmethod example(sizes, rng) returning (layer, inputs)"
        ) from None
    seq = type(layer).__name__.startswith("Time")
    shape = (sizes["N"], sizes["T"], sizes["D"]) if seq else (sizes["N"], sizes["D"])
    return layer, (rng.standard_normal(shape),), doc


def build(spec: str, sizes: Sizes, seed: int = 0) -> tuple[Any, tuple, str]:
    """(layer, inputs, description) for a built-in name or ``module:Class``."""
    for k, v in sizes.items():
        limit = MAX_STEPS if k == "T" else MAX_SIZE
        if v > limit:
            raise InputError(
                f"--sizes: {k}={v} is too large to draw; explain expects {k} <= {limit} "
                f"(the graph has a node per operation and per time step)"
            )
    rng = np.random.default_rng(seed)
    if ":" in spec:
        return _user_example(spec, sizes, rng)
    if spec not in EXAMPLES:
        raise InputError(
            f"explain: unknown layer {spec!r}; known: {', '.join(EXAMPLES)} "
            f"(or module:Class for your own layer)"
        )
    desc, factory = EXAMPLES[spec]
    try:
        layer, inputs = factory(sizes, rng)  # a UsedSizes records which sizes it read
    except Exception as e:  # noqa: BLE001 -- sizes that do not fit fail with whatever numpy raises
        raise InputError(f"explain: sizes {_sizes_text(sizes)} do not fit {spec}: {e}") from None
    return layer, inputs, desc


def _sizes_text(sizes: Sizes) -> str:
    return ",".join(f"{k}={v}" for k, v in sizes.items())


def _same(a: Trace, b: Trace) -> bool:
    def eq(x: Any, y: Any) -> bool:
        return (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))

    return (
        len(a.outputs) == len(b.outputs)
        and all(eq(x, y) for x, y in zip(a.outputs, b.outputs, strict=True))
        and all(eq(a.input_grads.get(k), v) for k, v in b.input_grads.items())
        and all(eq(a.param_grads.get(k), v) for k, v in b.param_grads.items())
    )


def _close(a: Trace, b: Trace) -> bool:
    """The same outputs and gradients to rounding (a reference and its fast twin)."""

    def eq(x: Any, y: Any) -> bool:
        return (x is None and y is None) or (
            x is not None
            and y is not None
            and x.shape == y.shape
            and np.allclose(x, y, rtol=1e-9, atol=1e-12)
        )

    return (
        len(a.outputs) == len(b.outputs)
        and all(eq(x, y) for x, y in zip(a.outputs, b.outputs, strict=True))
        and all(eq(a.input_grads.get(k), v) for k, v in b.input_grads.items())
        and all(eq(a.param_grads.get(k), v) for k, v in b.param_grads.items())
    )


def explain(spec: str, sizes: Sizes, seed: int = 0) -> Explanation:
    """Trace ``spec``'s forward and backward on small inputs and check its gradients.

    A layer arranged for speed beyond recognition (TimeLSTM) is traced as its readable
    reference (:mod:`zerokara.explain.readable`), after checking that the two agree.
    """
    sizes = UsedSizes(sizes)
    fast, inputs, desc = build(spec, sizes, seed)
    layer, replaced = readable(fast)
    # a batch-first sequence input (N, T, D) gives the number of steps to annotate
    steps = next((x.shape[1] for x in inputs if isinstance(x, np.ndarray) and x.ndim == 3), None)
    try:
        plain = run_plain(fast, inputs, seed)
    except InputError as e:
        raise InputError(
            f"explain: the example inputs do not fit {spec} with sizes {_sizes_text(sizes)}: {e}"
        ) from None
    except (ValueError, IndexError, TypeError) as e:
        raise InputError(
            f"explain: {spec} failed on inputs of shapes "
            f"{[getattr(x, 'shape', x) for x in inputs]} (sizes {_sizes_text(sizes)}): "
            f"{type(e).__name__}: {e}"
        ) from None
    agrees = True
    if replaced:
        reference = run_plain(layer, inputs, seed)
        agrees, plain = _close(plain, reference), reference
    try:
        trace = trace_layer(layer, inputs, seed=seed, steps=steps)
    except Exception as e:  # the plain run worked: a limit of the tracer, not the user's fault
        raise TraceError(
            f"explain: tracing {spec} failed ({type(e).__name__}: {e}) although the "
            f"layer runs without the tracer; please report it with the layer's code"
        ) from e
    if hasattr(layer, "astype") and hasattr(layer, "named_modules"):
        report = gradcheck(copy.deepcopy(layer), *inputs, seed=seed, max_elements=CHECKED)
    else:
        report = gradcheck(_as_module(layer), *inputs, seed=seed, max_elements=CHECKED)
    report.layer = spec
    shown = sizes.used() if sizes.read else dict(sizes)
    return Explanation(
        spec, desc, shown, layer, inputs, trace, report, _same(trace, plain), steps, replaced, agrees
    )


def _as_module(layer: Any) -> Any:
    """A protocol-following object that is not a Module, adapted for gradcheck."""

    class Adapter(Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = copy.deepcopy(inner)
            self.params = getattr(self.inner, "params", {})
            self.grads = getattr(self.inner, "grads", {})

        def forward(self, *xs: Any) -> Any:
            return self.inner.forward(*xs)

        def backward(self, *d: Any) -> Any:
            out = self.inner.backward(*d)
            self.grads = getattr(self.inner, "grads", {})
            return out

    a = Adapter(layer)
    # the adapter's forward shows the layer's own parameters (arg_names reads them)
    a.forward.__func__.__signature__ = inspect.signature(layer.forward)  # type: ignore[attr-defined]
    return a
