"""``zerokara train cnn``: book 1's SimpleConvNet (chapter 7) or DeepConvNet (chapter 8)."""

from __future__ import annotations

import argparse

import numpy as np

from zerokara.commands import add_overfit_options, add_train_options, given, report_files, run_folder
from zerokara.options import POSITIVE_INT


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
    p.add_argument("--train-size", type=POSITIVE_INT, help="train on this many images (a seeded subset)")
    p.add_argument(
        "--test-size", type=POSITIVE_INT, help="evaluate on this many test images (a seeded subset)"
    )
    add_train_options(p, "passes over the training images (default 20)")
    add_overfit_options(p, train_size=False)
    p.set_defaults(func=_train)
    register_views(commands)


def _train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.train.cnn import CNNConfig, train_cnn

    config = CNNConfig(**given(args, CNNConfig))
    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_cnn(config, out_dir=run_folder(args, f"cnn-{args.model}"), reporter=rep, resume=args.resume)
    assert run.out_dir is not None  # the CLI always gives a run folder
    report_files(run.out_dir, run.metrics, rep)
    return 0


def register_views(commands: argparse._SubParsersAction) -> None:
    f = commands.add_parser(
        "filters",
        help="draw a CNN run's first-layer filters before and after training (book 1, chapter 7)",
        description="Draw the first convolution's filters of a `zerokara train cnn` run, as the run "
        "began (the same seed draws the same weights) and as it ended.",
    )
    f.add_argument("run", metavar="RUN", help="a train cnn run folder (or its checkpoint file)")
    f.add_argument("--out", default="filters.png", help="the picture to write (default filters.png)")
    f.set_defaults(func=_filters)
    m = commands.add_parser(
        "misclassified",
        help="draw the test images a CNN run gets wrong (book 1, chapter 8)",
        description="Draw the first test images a `zerokara train cnn` run misclassifies, each "
        "titled predicted / true.",
    )
    m.add_argument("run", metavar="RUN", help="a train cnn run folder (or its checkpoint file)")
    m.add_argument("--out", default="misclassified.png", help="the picture to write")
    m.add_argument("--most", type=POSITIVE_INT, default=20, help="at most this many images (default 20)")
    m.set_defaults(func=_misclassified)


def _filters(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zerokara.train import cnn_views

    model, config = cnn_views.load_cnn(args.run)
    before = cnn_views.initial_model(config).parameters()["convolution1.W"]
    after = model.parameters()["convolution1.W"]
    path = cnn_views.plot_filters(before, after, Path(args.out), f"{args.run}: first-layer filters")
    print(f"wrote {path}")
    return 0


def _misclassified(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zerokara.train import cnn_views

    model, config = cnn_views.load_cnn(args.run)
    x, t = cnn_views.test_images(config)
    predicted = cnn_views.predictions(model, x)
    wrong = int(np.sum(predicted != t))
    path = cnn_views.plot_misclassified(
        x,
        t,
        predicted,
        Path(args.out),
        args.most,
        f"{args.run}: {wrong} of {len(t)} test images wrong; predicted / true",
    )
    print(f"{wrong} of {len(t)} test images misclassified (accuracy {1 - wrong / len(t):.4f}); wrote {path}")
    return 0


def evaluate(checkpoint: str) -> dict:
    """Test accuracy of a CNN run in float32 and with its weights kept in float16."""
    from zerokara.train import cnn_views

    model, config = cnn_views.load_cnn(checkpoint)
    x, t = cnn_views.test_images(config)
    return {
        "model": type(model).__name__,
        "data": config.get("data", "mnist"),
        "test_accuracy": round(model.accuracy(x, t), 4),
        "test_accuracy_float16": round(cnn_views.half_precision_accuracy(model, x, t), 4),
        "images": len(t),
    }
