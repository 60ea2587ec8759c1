"""The ``zerokara`` command (also ``python -m zerokara``).

Errors a user can fix (bad options, missing data, a corrupt checkpoint, a NaN
loss) print one line and exit with status 1; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from zerokara import __version__
from zerokara.errors import ZerokaraError


def _train_options(p: argparse.ArgumentParser, epochs_help: str) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--hidden", help="hidden size(s), comma-separated, e.g. 50 or 100,100")
    g.add_argument("--activation", choices=["sigmoid", "relu", "tanh"], help="hidden activation")
    g.add_argument("--init", help="weight init: he, xavier, or a number (fixed std)")
    g.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--epochs", type=int, help=epochs_help)
    g.add_argument("--batch-size", type=int, help="examples per update")
    g.add_argument("--max-grad", type=float, help="clip gradients to this global L2 norm")
    g.add_argument("--seed", type=int, default=0, help="seed of the run's random generator (default 0)")
    g.add_argument("--out", help="run folder for checkpoint, metrics.json, history and plots "
                                 "(default runs/<task>-<time>)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zerokara",
        description="Deep learning from zero: NumPy layers with hand-written, proven backward passes.")
    parser.add_argument("--version", action="version", version=f"zerokara {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser("train", help="train a model", description="Train a model.")
    tsub = train.add_subparsers(dest="task", metavar="TASK", required=True)
    mlp = tsub.add_parser("mlp", help="an MLP on MNIST (book 1)",
                          description="Train an MLP on MNIST. Defaults follow book 1: two-layer is "
                          "784-50-10 sigmoid, SGD lr 0.1, batch 100, 10,000 iterations; multi-layer "
                          "is 784-256-256-10 ReLU, He init, dropout 0.2, Adam lr 0.001, 12 epochs.")
    mlp.add_argument("--model", choices=["two-layer", "multi-layer"], default="two-layer")
    mlp.add_argument("--iters", type=int, help="stop after this many updates (book 1 counts iterations)")
    mlp.add_argument("--batchnorm", action="store_true", help="BatchNorm after each hidden Affine (multi-layer)")
    mlp.add_argument("--dropout", type=float, help="dropout probability (multi-layer; default 0.2)")
    _train_options(mlp, "passes over the 60,000 training images")
    spiral = tsub.add_parser("spiral", help="the 3-class spiral (book 2, chapter 1); no download",
                             description="Train book 2's TwoLayerNet on the spiral data: hidden 10, "
                             "sigmoid, SGD lr 1.0, batch 30, 300 epochs; draws the decision boundary.")
    spiral.set_defaults(batchnorm=False, dropout=None, iters=None)
    _train_options(spiral, "passes over the 300 points")

    gc = sub.add_parser("gradcheck", help="check a layer's backward against numerical gradients",
                        description="Run a float64 central-difference gradient check of a built-in "
                        "layer or model and print the error per input and parameter. Exit status 1 "
                        "when a gradient is wrong.")
    gc.add_argument("layer", help="a layer name (see --list), or 'all'")
    gc.add_argument("--sizes", help="sizes, e.g. N=3,D=4,H=5,C=3")
    gc.add_argument("--seed", type=int, default=0)
    gc.add_argument("--list", action="store_true", help="list the layer names and exit")
    return parser


def _cmd_train(args: argparse.Namespace) -> int:
    from zerokara.train import tasks

    {"mlp": tasks.run_mlp, "spiral": tasks.run_spiral}[args.task](args)
    return 0


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from zerokara.check import gradcheck
    from zerokara.check.examples import EXAMPLES, make_example, parse_sizes

    if args.list or args.layer == "list":
        for name, (desc, _) in EXAMPLES.items():
            print(f"{name:20} {desc}")
        return 0
    sizes = parse_sizes(args.sizes)
    names = list(EXAMPLES) if args.layer == "all" else [args.layer]
    ok = True
    for name in names:
        module, inputs = make_example(name, sizes, args.seed)
        report = gradcheck(module, *inputs, seed=args.seed)
        report.layer = f"{name} ({', '.join(f'{k}={v}' for k, v in sizes.items())})"
        print(report)
        ok &= report.ok
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": _cmd_train, "gradcheck": _cmd_gradcheck}[args.command](args)
    except ZerokaraError as e:
        print(f"zerokara: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zerokara: interrupted (the last checkpoint, if any, is intact)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
