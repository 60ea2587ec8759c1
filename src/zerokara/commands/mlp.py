"""``zerokara train mlp`` (MNIST, book 1) and ``zerokara train spiral`` (book 2, chapter 1)."""

from __future__ import annotations

import argparse

from zerokara.commands import add_overfit_options, add_train_options, given, report_files, run_folder
from zerokara.options import INIT_STD, POSITIVE_INT, PROBABILITY, SIZES


def _model_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--hidden", type=SIZES, help="hidden size(s), comma-separated, e.g. 50 or 100,100")
    g.add_argument("--activation", choices=["sigmoid", "relu", "tanh"], help="hidden activation")
    g.add_argument("--init", type=INIT_STD, help="weight init: he, xavier, or a number (fixed std)")


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    mlp = train_tasks.add_parser(
        "mlp",
        help="an MLP on MNIST (book 1)",
        description="Train an MLP on MNIST. Defaults follow book 1: two-layer is 784-50-10 sigmoid, "
        "SGD lr 0.1, batch 100, 10,000 iterations; multi-layer is 784-256-256-10 ReLU, He init, "
        "dropout 0.2, Adam lr 0.001, 12 epochs.",
    )
    mlp.add_argument("--model", choices=["two-layer", "multi-layer"], default="two-layer")
    mlp.add_argument(
        "--iters", type=POSITIVE_INT, help="stop after this many updates (book 1 counts iterations)"
    )
    mlp.add_argument(
        "--batchnorm", action="store_true", help="BatchNorm after each hidden Affine (multi-layer)"
    )
    mlp.add_argument("--dropout", type=PROBABILITY, help="dropout probability (multi-layer; default 0.2)")
    _model_options(add_train_options(mlp, "passes over the 60,000 training images"))
    add_overfit_options(mlp)
    mlp.set_defaults(func=lambda args: _train(args, "mnist"))

    spiral = train_tasks.add_parser(
        "spiral",
        help="the 3-class spiral (book 2, chapter 1); no download",
        description="Train book 2's TwoLayerNet on the spiral data: hidden 10, sigmoid, SGD lr 1.0, "
        "batch 30, 300 epochs; draws the decision boundary.",
    )
    spiral.set_defaults(
        batchnorm=False, dropout=None, iters=None, model="two-layer", func=lambda args: _train(args, "spiral")
    )
    _model_options(add_train_options(spiral, "passes over the 300 points"))
    add_overfit_options(spiral)


def _train(args: argparse.Namespace, data: str) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.train.mlp import MLPConfig, train_mlp

    config = MLPConfig(data=data, **given(args, MLPConfig, skip=("data",)))
    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_mlp(
        config, out_dir=run_folder(args, "mlp" if data == "mnist" else data), reporter=rep, resume=args.resume
    )
    assert run.out_dir is not None  # the CLI always gives a run folder
    report_files(run.out_dir, run.metrics, rep)
    return 0
