"""Hyper-parameter sweeps: a grid of settings, or a random search over them,
each setting once per seed, run in parallel on local processes or on Ray.

    from zerokara.sweep import run_sweep

    if __name__ == "__main__":  # the local executor starts worker processes
        sweep = run_sweep("binary-addition", ["lr=0.1,1"], seeds=3, out_dir="runs/ba-lr")
        print(sweep.summary_text())

The parts: :mod:`~zerokara.sweep.task` (what a task supplies, and the registry
of tasks), :mod:`~zerokara.sweep.grid` (grids, ranges, random draws),
:mod:`~zerokara.sweep.run` (trial ids, resume by re-running, the loop),
:mod:`~zerokara.sweep.executors` (local process pool, Ray) and
:mod:`~zerokara.sweep.results` (tables, summary, plots). The library prints
nothing: pass a :class:`~zerokara.train.report.Reporter` to hear the progress.

The names below are imported when first used, so that the command line can read
the registry (:mod:`zerokara.sweep.task`) without loading the training code.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module that defines it
_WHERE = {
    "run_sweep": "run",
    "Sweep": "run",
    "trial_id": "run",
    "FINISHED": "run",
    "SweepTask": "task",
    "get_task": "task",
    "register": "task",
    "TASKS": "task",
    "parse_grid": "grid",
    "Range": "grid",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'zerokara.sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f"zerokara.sweep.{_WHERE[name]}"), name)


__all__ = list(_WHERE)
