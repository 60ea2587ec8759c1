"""Running the rows: one sweep whose settings are the rows, each over the seeds.

The sweep machinery (:mod:`zerokara.sweep`) does the rest: trials in parallel on
local processes or Ray, each record saved the moment it arrives, a re-run that
skips finished trials and retries crashed ones, one process per folder. The
sweep lives in ``OUT/sweep``; the run folders in ``OUT/runs``; the tables in
``OUT``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zerokara.errors import InputError
from zerokara.reproduce import results
from zerokara.reproduce.row import Row
from zerokara.reproduce.rows import BY_NAME, ROWS
from zerokara.reproduce.trial import run_folder, run_row, settings_of
from zerokara.sweep.task import SweepTask
from zerokara.train.report import Reporter


def pick(names: Sequence[str]) -> list[Row]:
    """The rows named (``all`` or none: every row), in the table's order."""
    if not names or "all" in names:
        return list(ROWS)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise InputError(f"reproduce: unknown row {unknown[0]!r}; known: all, {', '.join(BY_NAME)}")
    return [r for r in ROWS if r.name in names]


def _check(config: dict[str, Any]) -> dict[str, Any]:
    if config["row"] not in BY_NAME:
        raise InputError(f"reproduce: unknown row {config['row']!r}")
    return dict(config)


def task() -> SweepTask:
    """The sweep task whose settings are rows."""
    return SweepTask(
        "reproduce",
        {"row": ROWS[0].name, "quick": False, "runs": "", "seed": 0},
        lambda key, text: text,
        _check,
        run_row,
        lambda c: f"{c['row']}{' (quick)' if c['quick'] else ''}",
        {"value": "value", "train_seconds": "train_seconds"},
        summary={"value": "value"},
    )


def default_out(quick: bool) -> Path:
    return Path("runs") / ("reproduce-quick" if quick else "reproduce")


def default_seeds(quick: bool) -> int:
    return 1 if quick else 3


def reproduce(
    names: Sequence[str] = ("all",),
    *,
    quick: bool = False,
    seeds: int | None = None,
    out_dir: Path | str | None = None,
    executor: str = "local",
    workers: int = 2,
    address: str | None = None,
    reporter: Reporter | None = None,
    command: str | None = None,
    train: bool = True,
) -> dict[str, Any]:
    """Run the rows over seeds 0..seeds-1 (default 3; 1 with ``quick``), write
    results.json, results.md, results.ja.md and results.png into ``out_dir``, and
    return the results (``results.failed_bounds`` lists the bounds missed).

    ``train=False`` trains nothing: the tables hold the trials finished so far
    (their records, or run folders another process finished), the rest "not run
    yet"; it takes no lock, so it can look at a reproduce still running."""
    from zerokara.sweep.run import Sweep

    rows = pick(names)
    seeds = seeds if seeds is not None else default_seeds(quick)
    out = Path(out_dir) if out_dir is not None else default_out(quick)
    sweep = Sweep(
        task(),
        seeds=seeds,
        out_dir=out / "sweep",
        fixed={"quick": quick, "runs": str(out / "runs")},
        settings=[{"row": r.name} for r in rows],
    )
    if train:
        sweep.run(executor=executor, workers=workers, address=address, reporter=reporter)
    else:
        sweep.load()
    by_row: dict[str, list[dict[str, Any]]] = {r.name: [] for r in rows}
    for tid, config in zip(sweep.ids, sweep.configs, strict=True):
        rec = sweep.records.get(tid)
        if rec is None and not train:
            rec = _read_back(config)
        by_row[config["row"]].append(rec or {"config": config, "status": "pending"})
    res = {
        "command": command or _command(names, quick, seeds),
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "seeds": seeds,
        "machine": results.machine(workers),
        "settings": {r.name: settings_of(r, quick) for r in rows},
        "rows": [results.summarise_row(r, by_row[r.name], quick) for r in rows],
    }
    results.write(res, out)
    return res


def _read_back(config: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a trial whose run folder holds a finished run (metrics.json is
    written last) though no record was saved: a run another process trained. None
    while it is unfinished."""
    folder = run_folder(config["runs"], BY_NAME[config["row"]], config["seed"])
    if folder is None or not (folder / "metrics.json").is_file():
        return None
    rec = run_row(config)  # a finished run is read back from its checkpoint, not trained
    return rec if rec["status"] == "ok" else None


def _command(names: Sequence[str], quick: bool, seeds: int) -> str:
    which = "all" if not names or "all" in names or set(names) == set(BY_NAME) else " ".join(names)
    return f"zerokara reproduce {which}" + (" --quick" if quick else "") + f" --seeds {seeds}"
