"""Build the example to explain (a built-in name or a user's ``module:Class``), trace it,
check its gradients numerically, and collect everything the renderers show.

A user's class may be written in any of the three styles (a zerokara Module, book 2's
``params``/``grads`` lists, book 1's ``self.W``/``self.dW``) and is built with, in order
of preference:

* its classmethod ``example(sizes, rng) -> (layer, inputs)``;
* its classmethod ``create(D, H, rng, dtype=np.float64)`` (zerokara's layers have one);
* the books' argument names, as ``zerokara check`` does (:func:`zerokara.check.build.build`):
  ``RNN(Wx, Wh, b)`` gets Wx (D, H), Wh (H, H), b (H,), ``forward(x, h_prev)`` gets
  x (N, D) and h_prev (N, H);

and, unless ``example`` gave them, fed inputs guessed from the names of forward's
arguments the same way.
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

from zerokara.check.adapt import float_arrays
from zerokara.check.build import build as build_from_names
from zerokara.check.examples import DEFAULT_SIZES, EXAMPLES, Sizes, UsedSizes
from zerokara.check.gradcheck import gradcheck
from zerokara.check.report import GradReport
from zerokara.errors import InputError, ZerokaraError
from zerokara.explain.layer_trace import Trace, run_plain, trace_layer
from zerokara.explain.params import names_of
from zerokara.explain.readable import readable

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
    #: what a user's class was built with from its argument names ("W (4, 5), b (5,); x (3, 4)")
    built: str = ""
    #: ``create(D=4, H=5)`` when the class's create() made the layer (``built`` then names the inputs)
    created: str = ""

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


@dataclass
class _Example:
    """A layer to explain with its inputs, and the names its book 2 parameters go by."""

    layer: Any
    inputs: tuple
    description: str
    names: dict[int, str] | None = None  # id(array) -> constructor argument
    letters: dict[int, str] | None = None  # size -> its letter, for the check's messages
    built: str = ""  # the shapes built from the argument names
    created: str = ""  # "create(D=4, H=5)" when create() made the layer


#: the sizes explain's --sizes may give that zerokara.check.build reads too
BUILD_SIZES = ("N", "T", "D", "H", "C")


def _user_example(
    spec: str, sizes: Sizes, rng: np.random.Generator, seed: int, init: dict[str, Any] | None, cls: Any = None
) -> _Example:
    cls = _load_class(spec) if cls is None else cls
    if not _is_layer(cls):
        raise InputError(
            f"explain: {spec!r} is not a layer: expected a class with forward(*inputs) "
            f"and backward(dout) methods (the layer protocol of zerokara.layers.Module), "
            f"got {type(cls).__name__} {getattr(cls, '__name__', cls)!r}"
        )
    doc = (inspect.getdoc(cls) or "").split("\n")[0]
    if hasattr(cls, "example"):
        try:
            layer, inputs = cls.example(sizes, rng)
        except Exception as e:  # noqa: BLE001 -- the user's class failing in any way is their input error
            raise InputError(f"explain: {spec}.example(sizes, rng) raised {type(e).__name__}: {e}") from None
        return _Example(layer, tuple(inputs), doc)
    # the names are read for every size (the shown sizes are the ones the layer's shapes use)
    given = {k: dict.__getitem__(sizes, k) for k in BUILD_SIZES if k in sizes}
    created: Any = None
    why = ""
    if hasattr(cls, "create") and not init:
        try:
            created = cls.create(sizes["D"], sizes["H"], rng, dtype=np.float64)
        except Exception as e:  # noqa: BLE001 -- built from its names instead, below
            why = f" (and {cls.__name__}.create raised {type(e).__name__}: {e})"
    try:  # a created layer gets its inputs from forward's names; a class is built from its own
        b = build_from_names(cls if created is None else created, sizes=given, init=init, seed=seed)
    except ZerokaraError as e:  # nothing the names suggest fits: the message says what to give
        raise InputError(f"explain: cannot build {spec!r}{why}: {e}") from None
    except Exception as e:  # noqa: BLE001 -- the user's constructor failing in any way
        raise InputError(f"explain: cannot build {spec!r}: {type(e).__name__}: {e}") from None
    if b.error is not None and b.error[1] == "constructor":  # every guess: the same error of its own
        err = b.error[0]
        raise InputError(
            f"explain: cannot build {spec!r}: its constructor raised {type(err).__name__}: {err}"
        )
    _read_sizes(sizes, b)
    names = names_of(b.layer, b.names)
    how = "" if created is None else f"create(D={sizes['D']}, H={sizes['H']})"
    return _Example(b.layer, tuple(b.inputs), doc, names, b.letters, b.described, how)


def _read_sizes(sizes: Sizes, b: Any) -> None:
    """Mark the sizes the built layer's shapes use as read (the text shows those).

    A sequence input (N, T, ...) uses N and T; any other length counts for the first of
    N, D, H, C, T that has it (explain's default N, T and C are all 3).
    """
    size: dict[str, int] = {k: dict.__getitem__(sizes, k) for k in ("N", "D", "H", "C", "T") if k in sizes}
    used: list[str] = []
    seq = (size.get("N"), size.get("T"))
    if any(isinstance(x, np.ndarray) and x.ndim >= 3 and x.shape[:2] == seq for x in b.inputs):
        used += ["N", "T"]
    dims = {int(d) for a in float_arrays((b.layer, b.inputs)) for d in np.shape(a)}
    dims -= {size[k] for k in used}
    for k, v in size.items():
        if v in dims:
            dims.discard(v)
            used.append(k)
    for k in used:
        sizes[k]  # a UsedSizes records the read


def build(
    spec: str, sizes: Sizes, seed: int = 0, init: dict[str, Any] | None = None
) -> tuple[Any, tuple, str]:
    """(layer, inputs, description) for a built-in name or ``module:Class``.

    ``init``: shapes (or values) of a user class's constructor or forward arguments that
    the names do not give (``{"W": (4, 3)}``), as ``zerokara check --init`` takes them.
    """
    ex = _example(spec, sizes, seed, init)
    return ex.layer, ex.inputs, ex.description


def _spec_of(cls: type) -> str:
    try:
        where = Path(inspect.getsourcefile(cls) or "").name or cls.__module__
    except TypeError:  # a class with no source file
        where = cls.__module__
    return f"{where}:{cls.__qualname__}"


def _example(
    spec: str, sizes: Sizes, seed: int = 0, init: dict[str, Any] | None = None, cls: Any = None
) -> _Example:
    for k, v in sizes.items():
        limit = MAX_STEPS if k == "T" else MAX_SIZE
        if v > limit:
            raise InputError(
                f"--sizes: {k}={v} is too large to draw; explain expects {k} <= {limit} "
                f"(the graph has a node per operation and per time step)"
            )
    rng = np.random.default_rng(seed)
    if ":" in spec:
        return _user_example(spec, sizes, rng, seed, init, cls)
    if init:
        raise InputError(f"explain: --init is for your own layer (module:Class), not the built-in {spec!r}")
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
    return _Example(layer, inputs, desc)


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


def explain(
    spec: str | type, sizes: Sizes | None = None, seed: int = 0, init: dict[str, Any] | None = None
) -> Explanation:
    """Trace ``spec``'s forward and backward on small inputs and check its gradients.

    ``spec`` is a built-in name, ``module:Class`` / ``path/to/file.py:Class`` of a layer
    in any of the three styles (see the module docstring), or such a class itself (a
    notebook's ``explain(MyRNN)``); ``sizes`` (N, T, D, H, C) are
    filled in from :data:`~zerokara.check.examples.DEFAULT_SIZES`; ``init`` gives the shapes
    of such a class's arguments that their names do not (``{"W": (4, 3)}``).

    A layer arranged for speed beyond recognition (TimeLSTM) is traced as its readable
    reference (:mod:`zerokara.explain.readable`), after checking that the two agree.
    """
    sizes = UsedSizes({**DEFAULT_SIZES, **(sizes or {})})
    cls = None
    if not isinstance(spec, str):  # a class: named file.py:Class (or module:Class), as the CLI names it
        cls, spec = spec, _spec_of(spec)
    ex = _example(spec, sizes, seed, init, cls)
    fast, inputs, names = ex.layer, ex.inputs, ex.names
    layer, replaced = readable(fast)
    # a batch-first sequence input (N, T, D) gives the number of steps to annotate
    steps = next((x.shape[1] for x in inputs if isinstance(x, np.ndarray) and x.ndim == 3), None)
    try:
        plain = run_plain(fast, inputs, seed, names=names)
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
        trace = trace_layer(layer, inputs, seed=seed, steps=steps, names=names)
    except Exception as e:  # the plain run worked: a limit of the tracer, not the user's fault
        raise TraceError(
            f"explain: tracing {spec} failed ({type(e).__name__}: {e}) although the "
            f"layer runs without the tracer; please report it with the layer's code"
        ) from e
    if ":" not in spec:  # a built-in
        report = gradcheck(copy.deepcopy(layer), *inputs, seed=seed, max_elements=CHECKED)
    else:  # any style; book 2's parameters named after the constructor's arguments
        report = gradcheck(
            layer, *inputs, seed=seed, max_elements=CHECKED, names=names, letters=ex.letters or None
        )
    report.layer = spec
    shown = sizes.used() if sizes.read else dict(sizes)
    return Explanation(
        spec,
        ex.description,
        shown,
        layer,
        inputs,
        trace,
        report,
        _same(trace, plain),
        steps,
        replaced,
        agrees,
        ex.built,
        ex.created,
    )
