"""``zerokara experiment NAME``: the books' side-by-side experiments (book 1, chapters 4 and 6;
book 2, chapter 6)."""

from __future__ import annotations

import argparse
from typing import Any

from zerokara.options import SEED


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    from zerokara.experiments import EXPERIMENTS

    p = commands.add_parser(
        "experiment",
        help="run one of the books' experiments (optimizers, initial weights, BatchNorm, overfitting, ...)",
        description="Run one of the books' experiments: it writes its pictures (PNG) and "
        "<name>.json (its figures, the book's, the seconds) into --out, and prints the "
        "book's figures beside ours. Experiments: " + ", ".join(EXPERIMENTS) + ".",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the experiment (see --list)")
    p.add_argument(
        "--out", default="experiments", help="folder for the pictures and JSON (default experiments)"
    )
    p.add_argument(
        "--quick", action="store_true", help="the reduced form the tests run (less data, fewer steps)"
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of its random generators (default 0)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.errors import InputError
    from zerokara.experiments import EXPERIMENTS, module, run_experiment

    rep = ConsoleReporter(progress=not args.no_progress)
    if args.list or not args.name:
        for name in EXPERIMENTS:
            rep.info(f"{name:24s} {module(name).TITLE}")
        if not args.list:
            raise InputError("experiment: expected a NAME (one of the above)")
        return 0
    outcome = run_experiment(args.name, args.out, quick=args.quick, seed=args.seed, reporter=rep)
    for line in lines(outcome.figures, outcome.book):
        rep.info(line)
    rep.info(f"{outcome.seconds:.1f} s; wrote {outcome.out_dir}/: {', '.join(p.name for p in outcome.files)}")
    return 0


def lines(figures: dict[str, Any], book: dict[str, Any]) -> list[str]:
    """One line per figure, the book's beside it where the book gives one."""
    out = []
    for key, value in figures.items():
        if isinstance(value, (dict, list)):
            continue  # curves and tables are in the JSON and the pictures
        text = f"{key:32s} {value:.4g}" if isinstance(value, float) else f"{key:32s} {value}"
        if key in book:
            b = book[key]
            text += f"    book: {b['value']} ({b['where']})"
        out.append(text)
    return out
