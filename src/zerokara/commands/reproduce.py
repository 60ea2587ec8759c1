"""``zerokara reproduce [NAME ...|all]``: the rows of README's results table, over
seeds, through the sweep machinery; writes results.md, results.ja.md and results.json."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from zerokara.commands.sweep import check_executor, executor_options
from zerokara.options import POSITIVE_INT

DESCRIPTION = (
    "Train each row of README's results table (the books' settings) once per seed, in "
    "parallel, and write results.md, results.ja.md (the table: our mean and min-max over "
    "seeds next to the book's figure, the training time per run, the machine) and "
    "results.json into --out. Finished runs are kept (OUT/sweep/trials, OUT/runs): the same "
    "command again skips them, resumes killed ones from their checkpoints and retries "
    "crashed ones. Rows: all, "
)


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    from zerokara.reproduce.rows import ROWS

    p = commands.add_parser(
        "reproduce",
        help="the books' results over seeds, with the table README shows",
        description=DESCRIPTION + ", ".join(r.name for r in ROWS) + ".",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="rows to run (default: all; see --list)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="shortened runs (fewer epochs or images; a few minutes in all), checked against "
        "bounds the full runs meet too; one seed unless --seeds",
    )
    p.add_argument(
        "--seeds", type=POSITIVE_INT, metavar="N", help="seeds 0..N-1 per row (default 3; quick 1)"
    )
    p.add_argument("--out", metavar="DIR", help="default runs/reproduce (quick: runs/reproduce-quick)")
    executor_options(p, "runs")
    p.add_argument("--check", action="store_true", help="exit 1 if a row misses one of its bounds")
    p.add_argument(
        "--table-only",
        action="store_true",
        help="train nothing: write the tables from the runs finished so far (also while "
        "another reproduce runs into the same --out)",
    )
    p.add_argument("--list", action="store_true", help="list the rows, their settings and bounds, and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.reproduce import failed_bounds, markdown, reproduce
    from zerokara.reproduce.run import default_out, default_seeds, pick
    from zerokara.reproduce.trial import settings_of

    rows = pick(args.names)
    rep = ConsoleReporter(progress=not args.no_progress)
    if args.list:
        for r in rows:
            s = ", ".join(f"{k}={v}" for k, v in settings_of(r, args.quick).items()) or "the defaults"
            bounds = "; ".join(b.text() + (" (quick too)" if b.quick else "") for b in r.bounds)
            rep.info(f"{r.name:22s} {r.kind}: {s}\n{'':22s} book: {r.book_text}; bounds: {bounds}")
        return 0
    check_executor(args)
    seeds = args.seeds or default_seeds(args.quick)
    out = args.out or str(default_out(args.quick))
    rep.info(
        f"reproduce: {len(rows)} row(s) x {seeds} seed(s) = {len(rows) * seeds} run(s)"
        + (" (--quick: shortened runs, a few minutes in all; not the books' settings)" if args.quick else "")
        + (
            " (--table-only: training nothing)"
            if args.table_only
            else f" on {args.executor} ({args.workers} at once)"
        )
        + f" -> {out}"
    )
    start = time.perf_counter()
    res = reproduce(
        args.names,
        quick=args.quick,
        seeds=seeds,
        out_dir=out,
        executor=args.executor,
        workers=args.workers,
        address=args.address,
        reporter=rep,
        train=not args.table_only,
    )
    print(markdown(res, "en"))
    missed = failed_bounds(res)
    n = sum(len(r["bounds"]) for r in res["rows"])
    for line in missed:
        rep.info(f"missed: {line}")
    rep.info(
        f"bounds: {n - len(missed)} of {n} met; {time.perf_counter() - start:.0f} s; "
        f"wrote {out}/: results.md, results.ja.md, results.json"
        + (", results.png" if (Path(out) / "results.png").is_file() else "")
    )
    if missed and args.check:
        print(f"zerokara reproduce: {len(missed)} bound(s) missed (see above)", file=sys.stderr)
        return 1
    return 0
