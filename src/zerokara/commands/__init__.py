"""The sub-commands of ``zerokara``, one module per family.

Each module has ``register(commands, train_tasks)``: it adds its parsers to
the top-level sub-parsers and/or to ``zerokara train``'s tasks and sets
``func`` on each to the function that runs it (``func(args) -> exit status``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any, NoReturn

from zerokara.options import (
    FRACTION,
    MAX_GRAD,
    NO_CLIP,
    NON_NEGATIVE_FLOAT,
    POSITIVE_FLOAT,
    POSITIVE_INT,
    SEED,
)

#: modules under zerokara.commands, in the order their commands are listed
MODULES = (
    "mlp",
    "cnn",
    "check",
    "gradcheck",
    "explain",
    "binary_addition",
    "seq2seq",
    "lm",
    "simple_rnnlm",
    "word2vec",
    "text",
    "sweep",
    "experiment",
    "reproduce",
)


class Parser(argparse.ArgumentParser):
    """A bad option is one line -- ``zerokara train mlp: error: argument --epochs:
    expected a positive integer, got '-1'`` -- and exit status 2, without the usage
    block (``--help`` shows it). Sub-command parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_train_options(p: argparse.ArgumentParser, epochs_help: str) -> argparse._ArgumentGroup:
    """Options every ``zerokara train TASK`` shares."""
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
    g.add_argument("--lr", type=POSITIVE_FLOAT, help="learning rate")
    g.add_argument("--epochs", type=POSITIVE_INT, help=epochs_help)
    g.add_argument("--batch-size", type=POSITIVE_INT, help="examples per update")
    g.add_argument(
        "--max-grad",
        type=MAX_GRAD,
        help=f"clip the gradients' global L2 norm to this; {NO_CLIP}: no clipping (default: the task's)",
    )
    g.add_argument("--seed", type=SEED, default=0, help="seed of the run's random generator (default 0)")
    g.add_argument(
        "--out",
        help="run folder for checkpoint, metrics.json, history and plots (default runs/<task>-<time>)",
    )
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")
    return g


def add_overfit_options(p: argparse.ArgumentParser, train_size: bool = True) -> None:
    """Weight decay, a training subset and a validation split (book 1, chapter 6)."""
    g = p.add_argument_group("regularisation and validation")
    g.add_argument(
        "--weight-decay",
        type=NON_NEGATIVE_FLOAT,
        metavar="LAMBDA",
        help="add LAMBDA * 0.5 * sum(W**2) over the weights to the loss (--decay l1: LAMBDA * sum|W|)",
    )
    g.add_argument("--decay", choices=["l2", "l1"], help="the weight decay's norm (default l2)")
    if train_size:
        g.add_argument("--train-size", type=POSITIVE_INT, help="train on this many images (a seeded subset)")
    g.add_argument(
        "--valid-fraction",
        type=FRACTION,
        help="hold out this fraction of the training images and report their accuracy each epoch",
    )


def run_folder(args: argparse.Namespace, task: str) -> Path:
    """``--out``, or a new ``runs/<task>-<time>``."""
    return Path(args.out) if args.out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def given(args: argparse.Namespace, keys: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The options the user gave (not None) among ``keys``: names, or a config
    dataclass whose field names the options share; ``skip`` names set otherwise."""
    if dataclasses.is_dataclass(keys):
        keys = [f.name for f in dataclasses.fields(keys)]
    return {k: getattr(args, k) for k in keys if k not in skip and getattr(args, k, None) is not None}


def report_files(out: Path, metrics: dict[str, Any], console: Any, keys: Any = None) -> None:
    """The figures worth a glance, then the files the run wrote."""
    shown = {
        k: v
        for k, v in metrics.items()
        if (k in keys if keys is not None else (k.endswith("accuracy") or k in ("train_seconds", "epochs")))
        and v is not None
    }
    console.info("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    console.info(f"wrote {out}/: {', '.join(files)}")
