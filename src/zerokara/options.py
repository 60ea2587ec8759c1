"""What a numeric option accepts, declared once for every command.

Every ``zerokara`` option that takes a number has one of these as its argparse
``type``: the type says the range (a positive integer, a probability in
[0, 1), a finite positive float, a seed, a norm or "none"), reads the text, and
refuses a value outside it with one line naming what it expected. The same
declaration lists the values it refuses (:meth:`Number.bad_values`), so the
test that feeds every option of every command bad values covers an option
added later without a new test; sweeps read their grids' values through the
same declarations.

An option means the same thing in every command: ``--max-grad N`` clips the
gradients' global L2 norm to N everywhere, and ``--max-grad none`` (spelled
out) turns clipping off where a task's default clips.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

import numpy as np

#: the spelled-out "no clipping" of ``--max-grad`` (and of a config's ``max_grad``)
NO_CLIP = "none"


@dataclass(frozen=True)
class Number:
    """An argparse ``type``: ``kind`` (int or float) in ``[low, high]`` (``low_open``
    / ``high_open``: the end itself excluded); ``words``: texts accepted as they
    are (e.g. ``"none"``); ``what``: the range in words, for the message."""

    kind: type
    what: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    words: tuple[str, ...] = field(default=())

    @property
    def __name__(self) -> str:  # argparse names a type in some messages
        return self.what

    def __call__(self, text: str) -> int | float | str:
        t = text.strip()
        if t.lower() in self.words:
            return t.lower()
        value = self._read(t)
        if value is None or not self._in_range(value):
            raise argparse.ArgumentTypeError(f"expected {self.what}, got {text!r}")
        return value

    def _read(self, t: str) -> int | float | None:
        try:
            if self.kind is int:
                return int(t)
            value = float(t)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def _in_range(self, v: float) -> bool:
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return not (self.high is not None and (v > self.high or (self.high_open and v == self.high)))

    def bad_values(self) -> list[str]:
        """Texts this type refuses: just past each end, non-numeric, empty, inf, nan."""
        bad = ["", "abc", "inf", "nan", "-inf"]
        if self.kind is int:
            bad.append("1.5")
        if self.low is not None:
            bad.append(_text(self.low if self.low_open else self.low - (1 if self.kind is int else 0.5)))
        if self.high is not None:
            bad.append(_text(self.high if self.high_open else self.high + (1 if self.kind is int else 0.5)))
        return [b for b in bad if b.lower() not in self.words]


def _text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


@dataclass(frozen=True)
class WordOrNumber:
    """One of ``words``, or a number of type ``number`` (e.g. an init: "he",
    "xavier", or a fixed std > 0); the text is returned as given."""

    words: tuple[str, ...]
    number: Number

    @property
    def what(self) -> str:
        return f"{', '.join(self.words)} or {self.number.what}"

    @property
    def __name__(self) -> str:
        return self.what

    def __call__(self, text: str) -> str:
        t = text.strip()
        if t in self.words:
            return t
        try:
            self.number(t)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected {self.what}, got {text!r}") from None
        return t

    def bad_values(self) -> list[str]:
        return [b for b in self.number.bad_values() if b and b not in self.words]


@dataclass(frozen=True)
class Sizes:
    """Comma-separated positive integers (hidden sizes: "50" or "100,100"); the
    text is returned as given."""

    what: str = "sizes like 50 or 100,100 (positive integers)"

    @property
    def __name__(self) -> str:
        return self.what

    def __call__(self, text: str) -> str:
        parts = text.strip().split(",")
        if not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(f"expected {self.what}, got {text!r}")
        return text.strip()

    def bad_values(self) -> list[str]:
        return ["", "0", "-1", "abc", "50,", "1.5", "100,0"]


POSITIVE_INT = Number(int, "a positive integer", low=1)
NON_NEGATIVE_INT = Number(int, "an integer >= 0", low=0)
SEED = Number(int, "a seed: an integer in [0, 2**32)", low=0, high=2**32 - 1)
POSITIVE_FLOAT = Number(float, "a finite number > 0", low=0, low_open=True)
NON_NEGATIVE_FLOAT = Number(float, "a finite number >= 0", low=0)
PROBABILITY = Number(float, "a probability in [0, 1)", low=0, high=1, high_open=True)
FRACTION = Number(float, "a fraction in (0, 1)", low=0, high=1, low_open=True, high_open=True)
FACTOR = Number(float, "a factor >= 1", low=1)
MAX_GRAD = Number(float, f'a norm > 0, or "{NO_CLIP}" (no clipping)', low=0, low_open=True, words=(NO_CLIP,))
INIT_STD = WordOrNumber(("he", "xavier"), POSITIVE_FLOAT)
SIZES = Sizes()

#: every declared type: an option whose type is not one of these is caught by the tests
DECLARED = (Number, WordOrNumber, Sizes)


def accepts(kind: Number, value: object) -> bool:
    """Whether a setting given from Python (not text) is in ``kind``'s range."""
    if isinstance(value, str):
        return value.lower() in kind.words
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    if kind.kind is int and not float(value).is_integer():
        return False
    return math.isfinite(value) and kind._in_range(float(value))


def clip_norm(value: float | str | None, owner: str) -> float | None:
    """A ``max_grad`` setting as the trainer uses it: None (no clipping) for None or
    ``"none"``, else a finite norm > 0 (anything else is one InputError line)."""
    from zerokara.errors import InputError

    if value is None or (isinstance(value, str) and value.strip().lower() == NO_CLIP):
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InputError(
            f"{owner}: max_grad expected {MAX_GRAD.what} (clip the gradients' norm to it), got {value!r}"
        )
    return float(value)
