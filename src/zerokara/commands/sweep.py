"""``zerokara sweep TASK``: a hyper-parameter grid, or a random search, times
seeds, in parallel on local processes or Ray.

One sub-parser per task in the registry (:mod:`zerokara.sweep.task`), built
without importing any task; ``zerokara sweep TASK --help`` loads the task to
list its settings and their defaults.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

from zerokara.commands import Parser
from zerokara.options import POSITIVE_INT, SEED
from zerokara.sweep import task as registry

DESCRIPTION = (
    "Train every combination of the --grid values (or, with --sample N, N settings drawn at "
    "random from them), once per seed, in parallel, and write results.csv, results.json and the "
    "curves as plots. Each finished trial is saved at once in OUT/trials/; running the same "
    "command again skips finished trials (ok or diverged) and re-runs crashed ones."
)
GRID_HELP = (
    "values of one setting: KEY=V1,V2,... (repeat for more keys; the grid is their cross "
    "product). With --sample: KEY=V1,V2 draws one of the values, KEY=LOW..HIGH a number "
    "uniformly (an integer if both ends are; ends included), KEY=LOW..HIGH:log log-uniformly"
)
EXAMPLES = """examples:
  zerokara sweep {task} --grid lr=0.1,1 --seeds 3
  zerokara sweep {task} --sample 20 --grid lr=1e-4..1:log --seeds 2 --executor ray
"""


class TaskParser(Parser):
    """A task's parser: its --help also lists the task's settings and their defaults
    (only --help imports the task)."""

    def format_help(self) -> str:
        import textwrap

        from zerokara.sweep.results import fmt_value

        name = self.prog.rsplit(" ", 1)[-1]
        text = super().format_help() + "\n" + EXAMPLES.format(task=name)
        try:
            task = registry.get_task(name)
        except Exception as e:  # noqa: BLE001 -- help must still print
            return text + f"\n(settings unavailable: {e})\n"
        settings = ", ".join(f"{k}={fmt_value(v)}" for k, v in task.defaults.items() if k != "seed")
        head = "settings (grid keys) and their defaults; a setting not in a --grid keeps its default"
        return (
            text
            + f"\n{head}:\n"
            + textwrap.fill(settings, 100, initial_indent="  ", subsequent_indent="  ")
            + "\n"
        )


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    s = commands.add_parser(
        "sweep",
        help="a hyper-parameter grid or random search x seeds, in parallel (local or Ray)",
        description=DESCRIPTION,
    )
    tasks = s.add_subparsers(dest="task", metavar="TASK", required=True, parser_class=TaskParser)
    for name in registry.TASKS:
        what = registry.HELP.get(name) or name
        p = tasks.add_parser(name, help=what, description=f"Sweep {what}. {DESCRIPTION}")
        _add_options(p, name)
        p.set_defaults(func=run)


def _add_options(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES", help=GRID_HELP)
    p.add_argument(
        "--sample",
        type=POSITIVE_INT,
        metavar="N",
        help="random search: draw N settings from the --grid entries instead of "
        "taking every combination (each runs with every seed)",
    )
    p.add_argument(
        "--sample-seed",
        type=SEED,
        metavar="S",
        help="seed of the --sample draw (default 0): the same command draws the same "
        "settings, so a re-run resumes it",
    )
    p.add_argument(
        "--seeds", type=POSITIVE_INT, default=3, metavar="N", help="seeds 0..N-1 per setting (default 3)"
    )
    p.add_argument(
        "--iters",
        type=POSITIVE_INT,
        metavar="N",
        help="updates per trial, for tasks with an iters setting (also a grid key)",
    )
    p.add_argument("--out", metavar="DIR", help=f"sweep folder (default runs/sweep-{name})")
    executor_options(p, "trials")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def executor_options(p: argparse.ArgumentParser, what: str) -> None:
    """--workers, --executor and --address: where the sweep machinery runs ``what``
    (also ``zerokara reproduce``'s, which runs through it); see :func:`check_executor`."""
    p.add_argument(
        "--workers", type=POSITIVE_INT, default=2, metavar="N", help=f"how many {what} at once (default 2)"
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: a process pool on this machine (default); ray: Ray tasks (pip install 'zerokara[ray]')",
    )
    p.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="with --executor ray: connect to this Ray cluster "
        "(HOST:PORT, or 'auto'); default: start a local Ray "
        "with --workers CPUs",
    )


def check_executor(args: argparse.Namespace) -> None:
    """Refuse --address without Ray, and Ray when it is not installed, before any work."""
    from zerokara.errors import InputError
    from zerokara.sweep.executors import RAY_MISSING

    if args.address and args.executor != "ray":
        raise InputError("--address applies to --executor ray")
    if args.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise InputError(RAY_MISSING)


def _fixed(args: argparse.Namespace, task: Any, grid: dict[str, Any]) -> dict[str, Any]:
    from zerokara.errors import InputError

    fixed: dict[str, Any] = {}
    if args.iters is not None:
        if "iters" not in task.defaults:
            raise InputError(
                f"--iters: {task.name} has no iters setting; set its length with "
                f"--grid (keys: {', '.join(k for k in task.defaults if k != 'seed')})"
            )
        if "iters" in grid:
            raise InputError("--iters and --grid iters=... both given; use one")
        if args.iters < 1:
            raise InputError(f"--iters: expected a positive integer, got {args.iters}")
        fixed["iters"] = args.iters
    return fixed


def run(args: argparse.Namespace) -> int:
    """``zerokara sweep TASK ...``: check everything, run, print the summary."""
    from rich.markup import escape

    from zerokara.commands.console import ConsoleReporter, console
    from zerokara.errors import InputError
    from zerokara.sweep.grid import parse_grid
    from zerokara.sweep.run import Sweep

    task = registry.get_task(args.task)
    grid = parse_grid(args.grid, task)
    fixed = _fixed(args, task, grid)
    if args.sample_seed is not None and args.sample is None:
        raise InputError("--sample-seed applies to a random search (--sample N)")
    check_executor(args)
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{task.name}"
    sample_seed = args.sample_seed or 0
    sweep = Sweep(task, grid, args.seeds, out, fixed, sample=args.sample, sample_seed=sample_seed)
    n, k = len(sweep.configs), len(sweep.settings)
    what = (
        f"{args.sample} draw(s) (sample seed {sample_seed}): {k} setting(s)"
        if sweep.sampled
        else f"{k} setting(s)"
    )
    # the folder's lock before a word is printed: a second sweep into the same folder
    # is one error line naming the pid that holds it, and changes nothing
    with sweep.locked():
        console.print(
            f"[bold]sweep {escape(task.name)}[/bold]: {what} x {args.seeds} seed(s) = {n} "
            f"trials on {args.executor} ({args.workers} worker(s)) -> {escape(str(out))}",
            highlight=False,
        )
        start = time.perf_counter()
        reporter = ConsoleReporter(progress=not args.no_progress)
        sweep.run(executor=args.executor, workers=args.workers, address=args.address, reporter=reporter)
        if sweep.skipped:
            reporter.info(f"skipped {sweep.skipped} trial(s) finished by an earlier run")
        reporter.info(sweep.summary_text())
        rows = sweep.table()
        bad = {s: sum(r["status"] == s for r in rows) for s in ("diverged", "crashed")}
        if any(bad.values()):
            reporter.info(
                f"{bad['diverged']} diverged, {bad['crashed']} crashed (see the error column "
                "of results.csv); run the same command again to retry the crashed ones"
            )
        plots = [p.name for p in sweep.plots]
        reporter.info(
            f"{time.perf_counter() - start:.1f} s; wrote {out}/: results.csv, results.json, "
            f"sweep.json, trials/" + "".join(f", {p}" for p in plots)
        )
    return 0
