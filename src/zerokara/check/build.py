"""Build a reader's layer and its inputs from the books' names alone.

``RNN(Wx, Wh, b)`` gets ``Wx`` (D, kH), ``Wh`` (H, kH), ``b`` (kH,) with k = 1, 4 or 3
(a plain cell, an LSTM's four gates, a GRU's three); ``forward(x, h_prev)`` gets ``x``
(N, D) and ``h_prev`` (N, H). The sizes are small and distinct (N=3, T=2, D=4, H=5, C=6,
V=7) so that a gradient summed over the wrong axis, or transposed, has a shape that
gives it away. Where a name allows several shapes (``x`` is (N, D) for Affine, (N,) for
book 2's SigmoidWithLoss, (N, C, H, W) for a convolution; ``t`` is labels or one-hot),
each is tried in turn until forward and backward run.

What the names do not say can be said: ``sizes`` (``N=2,H=8``), ``init`` (``W=(4,3),b=(3,)``),
or a classmethod ``example(sizes, rng) -> (layer, inputs)`` on the class.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerokara.check.adapt import LossModel, is_loss_model
from zerokara.check.gradcheck import global_random_state, set_global_random_state
from zerokara.check.messages import Msg, Text
from zerokara.check.names import (
    INT_NAMES,
    SIZES,
    Maker,
    constructor_options,
    ids_with_repeat,
    input_options,
    main_weight,
)
from zerokara.errors import InputError, ZerokaraError


class NoFitError(ZerokaraError):
    """Nothing the names suggest made forward run."""

    def __init__(self, text: Text, tried: list[str]) -> None:
        super().__init__(text.render("en"))
        self.text = text
        self.tried = tried


@dataclass
class Built:
    """A layer ready to check: the object, its inputs, and what the messages need."""

    layer: Any
    inputs: tuple
    names: dict[int, str] = field(default_factory=dict)  # id(array) -> constructor argument
    letters: dict[int, str] = field(default_factory=dict)  # size -> its letter
    described: str = ""  # "Wx (4, 5), Wh (5, 5), b (5,); x (3, 4), h_prev (3, 5)"
    #: (exception, phase) when the best guess still raised: the check reports that error
    error: tuple[BaseException, str] | None = None


def parse_sizes(text: str | None) -> dict[str, int]:
    """``"N=2,H=8"`` -> the sizes, the others at their defaults."""
    sizes = dict(SIZES)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in sizes or not value.strip().isdigit() or int(value) < 1:
            raise InputError(
                f"--sizes: expected KEY=positive integer with KEY in {list(sizes)}, got {part!r}"
            )
        sizes[key.strip()] = int(value)
    return sizes


def parse_init(text: str | None) -> dict[str, Any]:
    """``"W=(4,3),b=(3,),stride=2"`` -> {"W": (4, 3), "b": (3,), "stride": 2}: a shape for an
    array argument, a number for any other."""
    out: dict[str, Any] = {}
    if (text or "").count("(") != (text or "").count(")"):
        raise InputError(f"--init: unbalanced parentheses in {text!r}; write shapes like W=(4,3),b=(3,)")
    for m in re.finditer(r"(\w+)\s*=\s*(\([^)]*\)|[^,]+)", text or ""):
        key, value = m.group(1), m.group(2).strip()
        try:
            if value.startswith("("):
                out[key] = tuple(int(v) for v in value.strip("()").split(",") if v.strip())
            else:
                out[key] = float(value) if "." in value or "e" in value else int(value)
        except ValueError:
            raise InputError(f"--init: {key}={value} is neither a shape like (4, 3) nor a number") from None
    if text and not out:
        raise InputError(f"--init: expected NAME=(shape),... like W=(4,3),b=(3,), got {text!r}")
    return out


# -- the search ---------------------------------------------------------------------------------


def required(fn: Any, skip_self: bool = True) -> list[str]:
    """Positional parameters without a default (the ones a call must give)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.name != "self"
    ]


CANNOT_GUESS = Msg(
    '{cls}: cannot guess {what} {name!r} from its name; say it with --init "{name}=(4,3)" '
    "(a shape) or --init {name}=2 (a number), or give the class a classmethod "
    "example(sizes, rng) -> (layer, inputs)",
    '{cls}: {what} {name!r} の形を名前から推測できません。--init "{name}=(4,3)"(形)か '
    "--init {name}=2(数)で指定するか、クラスメソッド example(sizes, rng) -> (layer, inputs) を書いてください",
)
NOTHING_FITS = Msg(
    "{cls}: no shapes the names suggest made forward run; tried:\n{tried}\n"
    'say the sizes with --sizes N=2,D=3,H=4, the shapes with --init "W=(4,3),b=(3,)", '
    "or give the class a classmethod example(sizes, rng) -> (layer, inputs)",
    "{cls}: 名前から推測したどの形でも順伝播が動きませんでした。試したもの:\n{tried}\n"
    '--sizes N=2,D=3,H=4 で大きさを、--init "W=(4,3),b=(3,)" で形を指定するか、'
    "クラスメソッド example(sizes, rng) -> (layer, inputs) を書いてください",
)
WHAT_ARG = Msg("the constructor argument", "コンストラクタ引数")


def describe(values: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, np.ndarray):
            kind = "" if v.dtype.kind == "f" else " ids" if v.ndim else ""
            return str(tuple(int(d) for d in v.shape)) + kind
        return repr(v)

    return ", ".join(f"{k} {one(v)}" for k, v in values.items())


def build(
    cls: Any, *, sizes: dict[str, int] | None = None, init: dict[str, Any] | None = None, seed: int = 0
) -> Built:
    """Make ``cls`` and its forward inputs from the names of their arguments.

    Raises:
        NoFitError: a name cannot be guessed, or no guess made forward run (the message says
            what was tried and how to say the shapes).
    """
    s = dict(SIZES, **(sizes or {}))
    init = dict(init or {})
    letters = _letters(s)
    if hasattr(cls, "example") and callable(cls.example):
        layer, inputs = cls.example(dict(s), np.random.default_rng(seed))
        return Built(layer, tuple(inputs), letters=letters, described="example()")
    if not inspect.isclass(cls):
        return _build_inputs(cls, {}, s, init, seed, letters, cls_name=type(cls).__name__)
    ctor = required(cls.__init__)
    conv_first = "conv" in cls.__name__.lower()
    options: list[list[tuple[str, Maker | Any]]] = []
    ks = [1, 4, 3] if any(n.startswith(("Wx", "Wh")) for n in ctor) else [1]
    tried: list[str] = []
    best: Built | None = None
    best_level = -1
    for k in ks:
        options = []
        for name in ctor:
            if name in init:
                options.append([(name, _given(name, init[name]))])
                continue
            opts = constructor_options(name, s, k, conv_first)
            if opts is None:
                raise NoFitError(CANNOT_GUESS(cls=cls.__name__, what=WHAT_ARG(), name=name), [])
            options.append([(name, o) for o in opts])
        for combo in itertools.product(*options) if options else [()]:
            rng = _rng(seed)
            built: dict[str, Any] = {}
            for name, make in combo:
                built[name] = make(built, rng) if callable(make) else make
            try:
                layer = cls(*built.values())
                if is_loss_model(layer):  # book 1's TwoLayerNet: its loss and gradient as a layer
                    layer = LossModel(layer)
            except Exception as e:  # noqa: BLE001 -- a guess that does not fit: try the next
                tried.append(f"{cls.__name__}({describe(built)}): {type(e).__name__}: {e}")
                if best_level < 0:
                    best_level, best = 0, Built(None, (), error=(e, "constructor"))
                continue
            names = {id(v): n for n, v in built.items() if isinstance(v, np.ndarray)}
            for got, level in _try_inputs(layer, built, s, init, rng, cls.__name__, tried, names):
                got.letters = _letters_for(got, letters)
                got.described = describe(built) + ("; " if built else "") + got.described
                if level == 3:
                    return got
                if level > best_level:
                    best, best_level = got, level
    if best is not None and best_level == 2:
        return best  # forward runs, backward raises: the check reports the error at its line
    if best is not None and best.error is not None and _same_user_error(tried):
        return best
    raise NoFitError(NOTHING_FITS(cls=cls.__name__, tried="\n".join("  " + t for t in tried[:8])), tried)


def _rng(seed: int) -> np.random.Generator:
    """The weights' and inputs' generator: another stream than the check's dout (drawn with
    ``seed``), so that no input equals dout and a slip that confuses the two shows."""
    return np.random.default_rng((seed, 1))


def _given(name: str, value: Any) -> Maker | Any:
    if isinstance(value, tuple):
        if name in INT_NAMES:  # ids below the embedding's row count (its vocabulary)
            return lambda b, r: ids_with_repeat(r, _vocab(b), value)
        return lambda b, r: r.standard_normal(value)
    return value


def _vocab(built: dict[str, Any]) -> int:
    w = main_weight(built)
    return w.shape[0] if w is not None and w.ndim == 2 else SIZES["V"]


def _try_inputs(
    layer: Any,
    built: dict[str, Any],
    s: dict[str, int],
    init: dict[str, Any],
    rng: np.random.Generator,
    cls_name: str,
    tried: list[str],
    names: dict[int, str] | None = None,
) -> Iterator[tuple[Built, int]]:
    """Each way of making forward's inputs, with how far it got: 3 forward and backward ran,
    2 forward ran, 1 forward raised. ``names``: id(array) -> constructor argument."""
    names = names or {}
    state = rng.bit_generator.state
    for values in _input_combos(required(layer.forward), s, built, init, cls_name):
        rng.bit_generator.state = state
        inputs: dict[str, Any] = {}
        for name, make in values:
            inputs[name] = make(built, rng) if callable(make) else make
            if callable(make):
                # options of a later argument may depend on an earlier one (labels on scores)
                pass
        trial = copy.deepcopy(layer)
        what = describe(inputs)

        np_state = global_random_state()
        try:
            out = trial.forward(*[v.copy() if isinstance(v, np.ndarray) else v for v in inputs.values()])
            if out is None:
                yield _guess(layer, names, inputs, what), 2
                continue
            outs = out if isinstance(out, tuple) else (out,)
            douts = [np.ones_like(o, dtype=np.float64) if np.ndim(o) else 1.0 for o in outs]
        except Exception as e:  # noqa: BLE001 -- a guess that does not fit: try the next
            tried.append(f"forward({what}): {type(e).__name__}: {e}")
            yield _guess(layer, names, inputs, what, (e, "forward")), 1
            continue
        finally:
            set_global_random_state(np_state)
        try:
            trial.backward(*douts)
        except Exception as e:  # noqa: BLE001 -- reported by the check itself if nothing else runs
            tried.append(f"forward({what}) ran; backward: {type(e).__name__}: {e}")
            yield _guess(layer, names, inputs, what, (e, "backward")), 2
            continue
        finally:
            set_global_random_state(np_state)
        yield _guess(layer, names, inputs, what), 3


def _guess(
    layer: Any,
    names: dict[int, str],
    inputs: dict[str, Any],
    what: str,
    error: tuple[BaseException, str] | None = None,
) -> Built:
    """A guess, on a fresh copy of the layer (the trial ran on another)."""
    return Built(**_fresh(layer, names), inputs=tuple(inputs.values()), described=what, error=error)


def _fresh(layer: Any, names: dict[int, str]) -> dict[str, Any]:
    """A copy of the layer, and the constructor's names keyed by the copy's arrays."""
    memo: dict[int, Any] = {}
    twin = copy.deepcopy(layer, memo)
    return {"layer": twin, "names": {id(memo[i]): n for i, n in names.items() if i in memo}}


def _input_combos(
    names: list[str], s: dict[str, int], built: dict[str, Any], init: dict[str, Any], cls_name: str
) -> Iterator[list[tuple[str, Any]]]:
    """Every combination of the inputs' options, depth first (a label's options depend on the
    scores made before it)."""

    def rec(i: int, so_far: dict[str, Any], chosen: list[tuple[str, Any]]) -> Iterator[tuple[list, dict]]:
        if i == len(names):
            yield list(chosen), so_far
            return
        name = names[i]
        opts: list[Any] = (
            [_given(name, init[name])] if name in init else input_options(name, s, built, cls_name, so_far)
        )
        for make in opts:
            probe = make(built, np.random.default_rng(0)) if callable(make) else make
            yield from rec(i + 1, {**so_far, name: probe}, [*chosen, (name, make)])

    def ranks(values: dict[str, Any]) -> int:
        return len({np.ndim(v) for v in values.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"})

    # float inputs of one rank first: q, k, v all (N, T, D), not a 2-D q broadcast against a 3-D k
    for chosen, _ in sorted(rec(0, {}, []), key=lambda c: ranks(c[1]) > 1):
        yield chosen


def _build_inputs(
    obj: Any,
    built: dict[str, Any],
    s: dict[str, int],
    init: dict[str, Any],
    seed: int,
    letters: dict[int, str],
    cls_name: str,
) -> Built:
    """Inputs for an object that exists already (the Python API with no inputs given)."""
    tried: list[str] = []
    best, best_level = None, -1
    for got, level in _try_inputs(obj, built, s, init, _rng(seed), cls_name, tried):
        got.letters = _letters_for(got, letters)
        if level == 3:
            return got
        if level > best_level:
            best, best_level = got, level
    if best is not None and best_level == 2:
        return best
    raise NoFitError(NOTHING_FITS(cls=cls_name, tried="\n".join("  " + t for t in tried[:8])), tried)


def _same_user_error(tried: list[str]) -> bool:
    """Every guess failed with the same error: the layer's own bug, not a shape that did not fit."""
    kinds = {t.split(": ", 1)[1].split(":")[0] for t in tried if ": " in t}
    return len(kinds) == 1 and next(iter(kinds)) in (
        "NameError",
        "AttributeError",
        "UnboundLocalError",
        "ZeroDivisionError",
        "KeyError",
        "TypeError",
    )


def _letters_for(got: Built, letters: dict[int, str]) -> dict[int, str]:
    """The letters, unless an input is an image (N, C, H, W): there D and H name no size of
    the layer's, and "b (D,)" would mislead where b is (FN,)."""
    images = any(isinstance(x, np.ndarray) and x.ndim == 4 for x in got.inputs)
    return {} if images else letters


def _letters(s: dict[str, int]) -> dict[int, str]:
    """size -> letter, for the sizes no other letter shares."""
    count: dict[int, int] = {}
    for v in s.values():
        count[v] = count.get(v, 0) + 1
    return {v: k for k, v in s.items() if count[v] == 1}
