"""Which settings a sweep tries: a grid (every combination) or a random search.

``--grid KEY=V1,V2,...`` lists the values of one setting; the grid is the cross
product of the lists. With ``--sample N`` the sweep draws N settings instead,
each key independently: from its list (uniform choice) or from its range
``LOW..HIGH`` (uniform), ``LOW..HIGH:log`` (log-uniform, as book 1 chapter 6
draws its learning rate, 10 ** uniform(-6, -2)); a range of integers draws
integers, both ends included. The draw comes from ``random.Random(sample_seed)``,
so the same command draws the same settings (and so the same trial ids: a
re-run resumes a random search as it does a grid).

Every value, ends of ranges included, is read by the task's ``parse``, so its
type and its allowed range are checked before anything runs.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

from zerokara.errors import InputError
from zerokara.sweep.task import SweepTask

#: drawn floats keep this many significant digits (readable tables and ids)
DIGITS = 4


@dataclass(frozen=True)
class Range:
    """Values of one setting to draw from: ``low..high`` (both ends included)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __str__(self) -> str:
        return f"{_text(self.low)}..{_text(self.high)}" + (":log" if self.log else "")

    def draw(self, rng: random.Random) -> int | float:
        lo, hi = self.low, self.high
        if self.integer:
            if not self.log:
                return rng.randint(int(lo), int(hi))
            # floor of a log-uniform draw over [lo, hi + 1): each integer gets its share
            return min(int(hi), int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))))
        v = math.exp(rng.uniform(math.log(lo), math.log(hi))) if self.log else rng.uniform(lo, hi)
        return min(max(float(f"{v:.{DIGITS}g}"), lo), hi)


Grid = dict[str, "list[Any] | Range"]


def _text(v: Any) -> str:
    return "none" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_range(key: str, text: str, task: SweepTask) -> Range:
    """``"1e-4..1e-1:log"`` -> ``Range(0.0001, 0.1, log=True)``; ends read by ``task.parse``."""
    spec = f"{key}={text.strip()}"
    low_text, _, rest = text.partition("..")
    high_text, colon, scale = rest.partition(":")
    if "," in text:
        raise InputError(f"--grid {spec}: a range is one LOW..HIGH[:log], not part of a list")
    if not low_text.strip() or not high_text.strip():
        raise InputError(f"--grid {spec}: expected LOW..HIGH or LOW..HIGH:log")
    if colon and scale.strip() != "log":
        raise InputError(
            f"--grid {spec}: unknown scale {scale.strip()!r} (expected LOW..HIGH or LOW..HIGH:log)"
        )
    low, high = task.parse(key, low_text), task.parse(key, high_text)
    if not (_is_number(low) and _is_number(high)):
        raise InputError(
            f"--grid {spec}: {key} is not a number setting (it reads "
            f"{low_text.strip()!r} as {low!r}), so it takes a list of values "
            f"({key}=A,B,C), not a range"
        )
    if low >= high:
        raise InputError(f"--grid {spec}: the low end must be below the high end")
    log = bool(colon)
    if log and low <= 0:
        raise InputError(f"--grid {spec}: a log range needs a positive low end")
    integer = isinstance(low, int) and isinstance(high, int) and not isinstance(task.defaults.get(key), float)
    return Range(low if integer else float(low), high if integer else float(high), log, integer)


def parse_grid(specs: list[str], task: SweepTask) -> Grid:
    """``["lr=0.1,1", "hidden=8..64"]`` -> ``{"lr": [0.1, 1.0], "hidden": Range(8, 64)}``.

    Raises a one-line InputError for a malformed entry, an unknown key (listing
    the known ones), a value that does not parse (naming it), a bad range or a
    repeated key.
    """
    known = [k for k in task.defaults if k != "seed"]
    grid: Grid = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not text.strip():
            raise InputError(
                f"--grid: expected KEY=V1,V2,... got {spec!r} (or KEY=LOW..HIGH[:log] with --sample N)"
            )
        if key == "seed":
            raise InputError("--grid: seeds are not a grid key; use --seeds N (seeds 0..N-1)")
        if key not in known:
            raise InputError(f"--grid: unknown key {key!r}; known: {', '.join(known)}")
        if key in grid:
            raise InputError(f"--grid: {key} given twice; put all its values in one --grid {key}=...")
        if ".." in text:
            grid[key] = parse_range(key, text, task)
            continue
        values: list[Any] = []
        for part in text.split(","):
            v = task.parse(key, part)
            if v not in values:
                values.append(v)
        grid[key] = values
    return grid


def grid_settings(grid: Grid) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in grid order (the last key varies fastest)."""
    lists = []
    for key, values in grid.items():
        if isinstance(values, Range):
            raise InputError(
                f"--grid {key}={values}: a range is drawn from by a random search "
                f"(--sample N); for a grid, list the values ({key}=V1,V2,...)"
            )
        lists.append(values)
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)]


def sample_settings(grid: Grid, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` settings drawn from ``grid`` (lists: uniform choice; ranges: see :class:`Range`)
    with ``random.Random(seed)``; a setting drawn twice is kept once."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"--sample: expected a positive integer, got {n}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InputError(f"--sample-seed: expected an integer, got {seed!r}")
    if not grid:
        raise InputError(
            "--sample: nothing to draw; give the settings to search with --grid "
            "(KEY=V1,V2 or KEY=LOW..HIGH[:log])"
        )
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(n):
        s = {k: (v.draw(rng) if isinstance(v, Range) else rng.choice(v)) for k, v in grid.items()}
        if s not in out:
            out.append(s)
    return out


def grid_json(grid: Grid) -> dict[str, Any]:
    """The grid as JSON: lists as they are, ranges as their text (``"1e-04..0.1:log"``)."""
    return {k: (str(v) if isinstance(v, Range) else v) for k, v in grid.items()}


__all__ = ["Range", "Grid", "parse_grid", "parse_range", "grid_settings", "sample_settings", "grid_json"]
