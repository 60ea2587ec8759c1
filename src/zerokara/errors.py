"""Errors zerokara raises on bad input.

Each message names the layer (or file), the argument, what was expected and
what came, so that one line is enough to fix the call. The CLI prints that one
line and exits non-zero; no traceback.
"""

from __future__ import annotations

from typing import TypeGuard

import numpy as np


class ZerokaraError(Exception):
    """Base class: a user-facing error whose message is one clear line."""


class InputError(ZerokaraError, ValueError):
    """An argument of the wrong shape, dtype or value range."""


class NaNLossError(ZerokaraError, FloatingPointError):
    """The loss became NaN or infinite during training."""


class DataError(ZerokaraError, OSError):
    """A data set file is missing, corrupt or cannot be downloaded."""


class CheckpointError(ZerokaraError, OSError):
    """A checkpoint is missing, truncated, corrupt or belongs to another model."""


def shape_str(shape: tuple[int, ...]) -> str:
    return str(tuple(int(s) for s in shape))


def check_input(
    layer: str,
    arg: str,
    x: object,
    *,
    ndim: int | None = None,
    last: int | None = None,
    expected: str | None = None,
    floating: bool = True,
) -> np.ndarray:
    """Validate one array argument and return it as an ndarray.

    ``expected`` is the shape as the docstring writes it, e.g. ``"(N, 784)"``;
    it is only used to make the message read well.
    """
    if not isinstance(x, np.ndarray):
        raise InputError(f"{layer}: {arg} must be a numpy array, got {type(x).__name__}")
    want = expected or (f"{ndim}-d array" if ndim else "array")
    if ndim is not None and x.ndim != ndim:
        raise InputError(f"{layer}: {arg} expected shape {want}, got {shape_str(x.shape)}")
    if last is not None and (x.ndim == 0 or x.shape[-1] != last):
        raise InputError(f"{layer}: {arg} expected shape {want}, got {shape_str(x.shape)}")
    if floating and x.dtype.kind != "f":
        raise InputError(f"{layer}: {arg} expected a float array, got dtype {x.dtype}")
    if x.ndim and x.shape[0] == 0:
        raise InputError(f"{layer}: {arg} is an empty batch (shape {shape_str(x.shape)})")
    return x


def check_dtype(layer: str, arg: str, x: np.ndarray, want: np.dtype, *, owner: str = "layer") -> None:
    """Refuse an array whose dtype is not the layer's: NumPy would promote float32
    and float64 silently and the layer would compute in a dtype nobody chose.

    ``owner`` names what the dtype belongs to in the message ("layer", "model").
    """
    want = np.dtype(want)
    if x.dtype != want:
        raise InputError(
            f"{layer}: {arg} expected dtype {want} (the {owner}'s dtype), got {x.dtype}; "
            f"convert the input with .astype(np.{want}) or the {owner} with .astype(np.{x.dtype})"
        )


# -- argument checks shared by constructors (layers, optimizers): one message form -------------
def _got(value: object) -> str:
    """``value`` as a message shows it: its repr, and its type where the repr hides it
    (``'0.1' (str)`` reads as a string only with the quotes noticed)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return f"{value!r} ({type(value).__name__})"


def _is_real(value: object) -> TypeGuard[int | float | np.integer | np.floating]:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_positive_int(owner: str, arg: str, value: object) -> int:
    """A size (units, channels, vocabulary): an integer >= 1. Returns it as an int."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise InputError(f"{owner}: {arg} expected a positive integer, got {_got(value)}")
    return int(value)


def check_positive_float(owner: str, arg: str, value: object) -> float:
    """A learning rate, an eps, a max norm: a finite number > 0. Returns it as a float."""
    if not _is_real(value) or not 0 < float(value) < float("inf"):
        raise InputError(f"{owner}: {arg} expected > 0 (a finite number), got {_got(value)}")
    return float(value)


def check_probability(owner: str, arg: str, value: object, *, allow_one: bool = False) -> float:
    """A rate or decay in [0, 1) (a dropout ratio, a momentum, Adam's betas; NaN is refused);
    in [0, 1] with ``allow_one``. Returns it as a float."""
    x = float(value) if _is_real(value) else float("nan")
    if not (0 <= x <= 1 if allow_one else 0 <= x < 1):
        high = "1]" if allow_one else "1)"
        raise InputError(f"{owner}: {arg} expected in [0, {high}, got {_got(value)}")
    return x


def check_array(
    owner: str, arg: str, value: object, *, ndim: int | None = None, expected: str = ""
) -> np.ndarray:
    """A constructor's weight: a non-empty numpy array (of ``ndim`` dimensions, shaped as
    ``expected``, e.g. ``"(D, H)"``; it is only used to make the message read well)."""
    if not isinstance(value, np.ndarray):
        raise InputError(
            f"{owner}: {arg} expected a numpy array {expected}".rstrip() + f", got {_got(value)}"
        )
    if ndim is not None and value.ndim != ndim:
        want = expected or f"of {ndim} dimensions"
        raise InputError(f"{owner}: {arg} expected shape {want}, got {shape_str(value.shape)}")
    if value.size == 0:
        want = f"{expected or 'an array'} with every size >= 1"
        raise InputError(f"{owner}: {arg} expected {want}, got shape {shape_str(value.shape)}")
    return value


def check_generator(owner: str, arg: str, value: object) -> None:
    """A random source: a numpy.random.Generator (or None, for a fresh one)."""
    if value is not None and not isinstance(value, np.random.Generator):
        raise InputError(
            f"{owner}: {arg} expected a numpy.random.Generator (np.random.default_rng(seed)) or None, "
            f"got {value!r} ({type(value).__name__})"
        )
