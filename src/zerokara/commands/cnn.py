"""``zerokara train cnn``: book 1's SimpleConvNet (chapter 7) or DeepConvNet (chapter 8)."""

from __future__ import annotations

import argparse

from zerokara.commands import add_train_options, given, report_files, run_folder


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = train_tasks.add_parser(
        "cnn",
        help="a convolutional network on MNIST or Fashion-MNIST (book 1, chapters 7-8)",
        description="Train book 1's SimpleConvNet (conv 30 5x5 - relu - pool - affine 100 - relu - "
        "affine 10) or DeepConvNet (six 3x3 convolutions, three pools, affine 50, dropout 0.5, He "
        "init). Defaults follow book 1: Adam lr 0.001, batch 100, 20 epochs.",
    )
    p.add_argument("--model", choices=["simple", "deep"], default="simple")
    p.add_argument("--data", choices=["mnist", "fashion-mnist"], default="mnist")
    p.add_argument("--train-size", type=int, help="train on this many images (a seeded subset)")
    p.add_argument("--test-size", type=int, help="evaluate on this many test images (a seeded subset)")
    add_train_options(p, "passes over the training images (default 20)")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.train.cnn import CNNConfig, train_cnn

    config = CNNConfig(**given(args, CNNConfig))
    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_cnn(config, out_dir=run_folder(args, f"cnn-{args.model}"), reporter=rep, resume=args.resume)
    assert run.out_dir is not None  # the CLI always gives a run folder
    report_files(run.out_dir, run.metrics, rep)
    return 0
