"""``zerokara train binary-addition`` (深層学習 Day 3's simple RNN exercise; its
sweep is ``zerokara sweep binary-addition``, in :mod:`zerokara.commands.sweep`)."""

from __future__ import annotations

import argparse

from zerokara.commands import add_train_options, given, run_folder
from zerokara.options import POSITIVE_FLOAT, POSITIVE_INT

# the course's settings, repeated here so that --help needs no numpy
COURSE = "hidden 16, sigmoid, weight_init_std 1, SGD lr 0.1, one pair per step, 10,000 iterations"


def _hide(p: argparse.ArgumentParser, option: str) -> None:
    """Keep a shared option parseable (to give a clear error) but out of --help."""
    for action in p._actions:
        if option in action.option_strings:
            action.help = argparse.SUPPRESS


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = train_tasks.add_parser(
        "binary-addition",
        help="the course's simple RNN learning 8-bit binary addition; no download",
        description="Train the simple RNN of 深層学習 Day 3 (section 1) to add two numbers in "
        "[0, 128) bit by bit, least-significant bit first, with BPTT over the 8 bits. Each step "
        f"draws new random pairs. Defaults are the course's: {COURSE}, squared-error loss. "
        "Prints accuracy over all 128 x 128 pairs and over the pairs never drawn in training, "
        "and a few sums as the course prints them.",
    )
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=POSITIVE_INT, help="hidden size (default 16)")
    g.add_argument(
        "--activation", choices=["sigmoid", "tanh", "relu"], help="hidden activation f (default sigmoid)"
    )
    g.add_argument(
        "--init",
        choices=["std", "xavier", "he"],
        help="weight init: std (normal x --weight-init-std), xavier (1/sqrt(n)) or "
        "he (sqrt(2/n)); n = the layer's inputs (default std)",
    )
    g.add_argument(
        "--weight-init-std", type=POSITIVE_FLOAT, help="std of the weights with --init std (default 1.0)"
    )
    g.add_argument(
        "--loss",
        choices=["mse", "bce"],
        help="mse: sum over bits of 1/2 (y - d)^2, the course's (default); bce: binary cross-entropy",
    )
    t = add_train_options(p, "not used: every step draws new pairs (use --iters)")
    _hide(p, "--epochs")
    t.add_argument(
        "--iters", type=POSITIVE_INT, help="updates in total (default 10000; with --resume, the new total)"
    )
    t.add_argument(
        "--eval-every",
        type=POSITIVE_INT,
        help="evaluate on all pairs (and checkpoint) every this many updates (default iters/10)",
    )
    # None = not given: the course's value, or the checkpoint's with --resume
    p.set_defaults(seed=None, func=_train)


def _train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.errors import InputError
    from zerokara.models.binary_addition import course_bits
    from zerokara.train.binary_addition import DEFAULTS, PAIRS, AdditionConfig, train_binary_addition

    if getattr(args, "epochs", None) is not None:
        raise InputError("--epochs: binary addition has no epochs (every step draws new pairs); use --iters")
    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_binary_addition(
        AdditionConfig(**given(args, DEFAULTS)),
        out_dir=run_folder(args, "binary-addition"),
        reporter=rep,
        resume=args.resume,
        eval_every=args.eval_every,
    )
    m, tr, out = run.metrics, run.trainer, run.out_dir
    assert out is not None  # the CLI always gives a run folder
    rep.info(
        f"all {PAIRS} pairs: loss {m['loss']:.4f}  bit accuracy {m['bit_accuracy']:.4f}  "
        f"exact accuracy {m['exact_accuracy']:.4f}"
    )
    if m["heldout_pairs"]:
        rep.info(
            f"held-out ({m['heldout_pairs']} pairs never drawn in training): bit accuracy "
            f"{m['heldout_bit_accuracy']:.4f}  exact accuracy {m['heldout_exact_accuracy']:.4f}"
        )
    rep.info(f"train_seconds {m['train_seconds']:.2f}  ({tr.iteration} iterations)")
    for s in tr.samples(4):  # as the course prints them, most significant bit first
        rep.info(
            f"Pred:{course_bits(s['pred'])}\nTrue:{course_bits(s['true'])}\n"
            f"{s['a']} + {s['b']} = {s['pred']}\n------------"
        )
    rep.info(f"loss plot: {out / 'loss.png'}")
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    rep.info(f"wrote {out}/: {', '.join(files)}")
    return 0
