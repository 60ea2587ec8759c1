"""``python -m bench [WORKLOAD ... | all] [--repeats N] [--json-only]``."""

from __future__ import annotations

import argparse
import sys

from bench import WORKLOADS
from bench.harness import configure_threads, run_all


def main(argv: list[str] | None = None) -> int:
    names = list(WORKLOADS)
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time zerokara against a peer library on the same work in the same process: "
                    "one warm-up each, then alternating runs; report medians and "
                    "ratio = zerokara_s / peer_s (below 1: zerokara is faster).",
        epilog="workloads: " + "; ".join(f"{w.name} ({w.peer}): {w.description}"
                                         for w in WORKLOADS.values()))
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", default=["all"],
                        help=f"one or more of {', '.join(names)}, or all (default)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each side (default 5)")
    parser.add_argument("--json-only", action="store_true",
                        help="print only the JSON lines (one per workload), no table")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit numpy's BLAS and torch to N threads (default: numpy's count)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full data size (default 1.0; smaller for a quick look)")
    args = parser.parse_args(argv)

    chosen: list[str] = []
    for name in args.workloads:
        if name == "all":
            chosen += [n for n in names if n not in chosen]
        elif name in WORKLOADS:
            if name not in chosen:
                chosen.append(name)
        elif any(n.startswith(name + "-") for n in names):  # a group: lstm -> lstm-h100, lstm-h650
            chosen += [n for n in names if n.startswith(name + "-") and n not in chosen]
        else:
            parser.error(f"unknown workload {name!r}; expected one of {', '.join(names)} or all")
    if args.repeats < 1:
        parser.error("--repeats expected >= 1")
    if not 0 < args.scale <= 1:
        parser.error("--scale expected in (0, 1]")

    configure_threads(args.threads)
    results = run_all(chosen, WORKLOADS, repeats=args.repeats, scale=args.scale,
                      json_only=args.json_only)
    return 0 if len(results) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
