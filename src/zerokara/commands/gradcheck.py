"""``zerokara gradcheck LAYER``: numerical vs analytic gradients of a built-in layer."""

from __future__ import annotations

import argparse

from zerokara.options import SEED


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    gc = commands.add_parser(
        "gradcheck",
        help="check a layer's backward against numerical gradients",
        description="Run a float64 central-difference gradient check of a built-in layer or model "
        "and print the error per input and parameter. Exit status 1 when a gradient is wrong.",
    )
    gc.add_argument(
        "layer", help="a layer name (see --list), 'all', or your own FILE.py[:NAME] (as zerokara check)"
    )
    gc.add_argument("--sizes", help="sizes, e.g. N=3,D=4,H=5,C=3")
    gc.add_argument("--seed", type=SEED, default=0)
    gc.add_argument("--list", action="store_true", help="list the layer names and exit")
    gc.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zerokara.check import gradcheck
    from zerokara.check.examples import EXAMPLES, UsedSizes, make_example, parse_sizes, sizes_text

    if args.layer.endswith(".py") or ".py:" in args.layer:  # the reader's own file: zerokara check
        from zerokara.commands import check

        return check.run(
            argparse.Namespace(
                target=args.layer, lang="en", sizes=args.sizes, init=None, of=None, seed=args.seed
            )
        )
    if args.list or args.layer == "list":
        for name, (desc, _) in EXAMPLES.items():
            print(f"{name:20} {desc}")
        return 0
    sizes = parse_sizes(args.sizes)
    names = list(EXAMPLES) if args.layer == "all" else [args.layer]
    ok = True
    for name in names:
        used = UsedSizes(sizes)
        module, inputs = make_example(name, used, args.seed)
        report = gradcheck(module, *inputs, seed=args.seed)
        report.layer = f"{name} ({sizes_text(used)})"
        print(report)
        ok &= report.ok
    return 0 if ok else 1
