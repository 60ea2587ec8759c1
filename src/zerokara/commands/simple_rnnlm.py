"""``zerokara train simple-rnnlm``: book 2, chapter 5's RNN language model."""

from __future__ import annotations

import argparse

from zerokara.commands import add_train_options, given, report_files, run_folder
from zerokara.options import POSITIVE_INT


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = train_tasks.add_parser(
        "simple-rnnlm",
        help="a plain-RNN language model on the first 1,000 PTB words (book 2, ch. 5)",
        description="Train book 2's SimpleRnnlm (embedding -> tanh RNN -> affine) on the start of "
        "Penn Treebank's training text with truncated BPTT, as ch05/train_custom_loop.py: "
        "the first 1,000 words, wordvec 100, hidden 100, batch 10, time 5, SGD lr 0.1, "
        "100 epochs, the RNN's state carried across epochs, and each epoch's perplexity "
        "(exp of its mean loss). Writes perplexity.png (book 2's figure 5-17).",
    )
    g = add_train_options(p, "passes over the words (default 100)")
    g.add_argument("--time-size", type=POSITIVE_INT, help="truncated BPTT length (default 5)")
    g.add_argument(
        "--words", type=POSITIVE_INT, help="train on the first N words of PTB's training text (default 1000)"
    )
    m = p.add_argument_group("model")
    m.add_argument("--wordvec", type=POSITIVE_INT, help="word vector size D (default 100)")
    m.add_argument("--hidden", type=POSITIVE_INT, help="RNN hidden size H (default 100)")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.train.simple_rnnlm import SimpleRnnlmConfig, train_simple_rnnlm

    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_simple_rnnlm(
        SimpleRnnlmConfig(**given(args, SimpleRnnlmConfig)),
        out_dir=run_folder(args, "simple-rnnlm"),
        reporter=rep,
        resume=args.resume,
    )
    assert run.out_dir is not None  # the CLI always gives a run folder
    report_files(
        run.out_dir, run.metrics, rep, keys=("first_perplexity", "perplexity", "epochs", "train_seconds")
    )
    return 0
