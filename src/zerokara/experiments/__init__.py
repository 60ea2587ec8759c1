"""The books' experiments (book 1's chapters 4 and 6, the course's Day 1-2, book 2's
chapter 6), one module each:
``zerokara experiment NAME`` or, quietly, :func:`run_experiment`.

Every experiment module defines

* ``TITLE``: one line, what it compares (and the book's section);
* ``BOOK``: the book's figures it is compared with, ``{name: (value, where)}`` (may be
  empty where the book only draws a picture);
* ``run(out, *, quick, seed, reporter) -> dict``: writes its PNGs into the folder
  ``out`` and returns its figures (JSON-able). ``quick`` is the reduced form the test
  suite runs: the same comparison on less data or fewer steps.

:func:`run_experiment` times it, writes ``<name>.json`` (the figures, the book's,
seconds, the settings) next to the pictures, and returns an :class:`Outcome`.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zerokara.errors import InputError
from zerokara.io import atomic_write_text
from zerokara.train.report import Reporter

#: name -> module under zerokara.experiments, in the order the books teach them
EXPERIMENTS = {
    "gradient-descent": "gradient_descent",
    "optimizer-paths": "optimizer_paths",
    "optimizer-compare": "optimizer_compare",
    "weight-init-histogram": "weight_init_histogram",
    "weight-init-compare": "weight_init_compare",
    "batchnorm-compare": "batchnorm_compare",
    "overfit": "overfit",
    "hyperparameter-search": "hyperparameter_search",
    "gradient-norm": "gradient_norm",
}


@dataclass
class Outcome:
    """What an experiment measured and where it wrote it."""

    name: str
    figures: dict[str, Any]
    book: dict[str, Any]
    seconds: float
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def module(name: str) -> Any:
    """The module of experiment ``name``; an unknown name is one clear line."""
    if name not in EXPERIMENTS:
        raise InputError(f"experiment: unknown {name!r}; expected one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"zerokara.experiments.{EXPERIMENTS[name]}")


def run_experiment(
    name: str,
    out_dir: Path | str = "experiments",
    *,
    quick: bool = False,
    seed: int = 0,
    reporter: Reporter | None = None,
) -> Outcome:
    """Run experiment ``name`` into ``out_dir`` (created) and write ``<name>.json``."""
    mod = module(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reporter = reporter if reporter is not None else Reporter()
    before = {p.name for p in out.iterdir()}
    start = time.perf_counter()
    figures = mod.run(out, quick=quick, seed=seed, reporter=reporter)
    seconds = time.perf_counter() - start
    book = {k: {"value": v, "where": where} for k, (v, where) in getattr(mod, "BOOK", {}).items()}
    record = {
        "experiment": name,
        "title": mod.TITLE,
        "quick": quick,
        "seed": seed,
        "seconds": round(seconds, 2),
        "figures": figures,
        "book": book,
    }
    atomic_write_text(out / f"{name}.json", json.dumps(record, indent=1, default=_plain) + "\n")
    files = sorted(p for p in out.iterdir() if p.name not in before or p.name.startswith(name))
    return Outcome(name, figures, book, seconds, out, files)


def _plain(value: Any) -> Any:
    """numpy numbers and arrays as JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
