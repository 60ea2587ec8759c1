"""Errors zerokara raises on bad input.

Each message names the layer (or file), the argument, what was expected and
what came, so that one line is enough to fix the call. The CLI prints that one
line and exits non-zero; no traceback.
"""

from __future__ import annotations

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
