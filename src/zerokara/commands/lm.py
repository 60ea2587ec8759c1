"""Language models on Penn Treebank (book 2, chapters 5-7):
``zerokara train rnnlm``, ``zerokara train better-rnnlm``,
``zerokara evaluate CHECKPOINT`` and ``zerokara generate CHECKPOINT``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys

import numpy as np

from zerokara.commands import add_train_options, given, run_folder
from zerokara.options import FACTOR, NON_NEGATIVE_INT, POSITIVE_FLOAT, POSITIVE_INT, PROBABILITY, SEED
from zerokara.train.rnnlm import PRESETS

SKIP_WORDS = ("N", "<unk>", "$")  # book 2's RnnlmGen never samples these


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    for task, helptext, desc in (
        (
            "rnnlm",
            "an LSTM language model on Penn Treebank (book 2, ch. 6)",
            (
                "Train book 2's Rnnlm (embedding -> LSTM -> affine) on Penn Treebank with truncated BPTT. "
                "Defaults are book 2's: wordvec 100, hidden 100, batch 20, time 35, SGD lr 20, clip 0.25, "
                "4 epochs, lr / 4 when valid perplexity stops improving."
            ),
        ),
        (
            "better-rnnlm",
            "2-layer LSTM LM with dropout and weight tying (book 2, ch. 6.5)",
            (
                "Train book 2's BetterRnnlm: stacked LSTMs, dropout, embedding tied to the output layer. "
                "Defaults are book 2's: 650 units, 2 layers, dropout 0.5, batch 20, time 35, SGD lr 20, "
                "clip 0.25, 40 epochs. --preset zaremba-small: Zaremba et al. (2014)'s small model."
            ),
        ),
    ):
        p = train_tasks.add_parser(task, help=helptext, description=desc)
        g = add_train_options(p, "passes over the training text")
        g.add_argument(
            "--time-size", type=POSITIVE_INT, help="truncated BPTT length (words per stream per update)"
        )
        g.add_argument(
            "--lr-decay",
            choices=["plateau", "zaremba", "none"],
            help="plateau: lr / factor when valid perplexity does not improve (book 2); "
            "zaremba: lr / factor each epoch after --decay-start",
        )
        g.add_argument("--decay-factor", type=FACTOR, help="divide lr by this (plateau 4, zaremba 2)")
        g.add_argument(
            "--decay-start",
            type=NON_NEGATIVE_INT,
            help="zaremba decay: lr falls after this many epochs (default 4)",
        )
        g.add_argument(
            "--data-slice", type=POSITIVE_INT, help="train on the first N words only (quick runs, CI)"
        )
        g.add_argument(
            "--streams",
            choices=["restart", "continue"],
            help="continue (default): each epoch goes on where the last stopped, as "
            "book 2's RnnlmTrainer, so the windows' edges move from epoch to epoch; "
            "restart: every epoch reads the corpus in the same windows (as "
            "Zaremba et al.'s code)",
        )
        m = p.add_argument_group("model")
        m.add_argument("--wordvec", type=POSITIVE_INT, help="word vector size D")
        m.add_argument("--hidden", type=POSITIVE_INT, help="LSTM hidden size H")
        m.add_argument(
            "--init",
            choices=["book", "uniform"],
            help="book: embedding N(0, 0.01^2), Xavier elsewhere; uniform: U(-0.1, 0.1)",
        )
        if task == "better-rnnlm":
            m.add_argument("--layers", type=POSITIVE_INT, help="number of stacked LSTMs (default 2)")
            m.add_argument("--dropout", type=PROBABILITY, help="dropout probability (default 0.5)")
            m.add_argument(
                "--no-tie",
                dest="tie",
                action="store_const",
                const=False,
                default=None,
                help="do not tie the output layer to the embedding",
            )
            m.add_argument(
                "--preset",
                choices=sorted(PRESETS),
                help="zaremba-small: 2x200 LSTM, time 20, batch 20, lr 1 halved each "
                "epoch after the 4th, clip 5 (on the loss summed over time), "
                "U(-0.1, 0.1) init, 13 epochs",
            )
        else:
            p.set_defaults(layers=None, dropout=None, tie=None, preset=None)
        p.set_defaults(func=_run_train, task=task)

    ev = commands.add_parser(
        "evaluate",
        help="perplexity of a trained language model",
        description="Perplexity of a language-model checkpoint on a Penn "
        "Treebank split (read as book 2 does: 10 streams of 35).",
    )
    ev.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="a run folder (its best.safetensors) or a .safetensors file"
    )
    ev.add_argument("--split", choices=["valid", "test", "train"], default="test")
    ev.add_argument("--batch-size", type=POSITIVE_INT, default=10, help="parallel streams (default 10)")
    ev.add_argument("--time-size", type=POSITIVE_INT, default=35, help="words per call (default 35)")
    ev.set_defaults(func=_run_evaluate)

    gen = commands.add_parser(
        "generate",
        help="sample text from a trained language model",
        description="Sample words from a language-model checkpoint, starting "
        "from --start (book 2's RnnlmGen). The same --seed gives "
        "the same text.",
    )
    gen.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="a run folder (its best.safetensors) or a .safetensors file"
    )
    gen.add_argument("--start", default="you", help="first word(s), space-separated (default 'you')")
    gen.add_argument("--length", type=POSITIVE_INT, default=100, help="words to sample (default 100)")
    gen.add_argument(
        "--temperature",
        type=POSITIVE_FLOAT,
        default=1.0,
        help="divide scores by T: below 1 safer, above 1 more varied (default 1)",
    )
    gen.add_argument("--top-k", type=POSITIVE_INT, help="sample among the k likeliest words only")
    gen.add_argument("--seed", type=SEED, help="seed of the sampling (default: random, printed)")
    gen.add_argument(
        "--skip",
        default=",".join(SKIP_WORDS),
        help=f"comma-separated words never sampled (default {','.join(SKIP_WORDS)}; '' for none)",
    )
    gen.set_defaults(func=_run_generate)


# -- train ---------------------------------------------------------------------------------


def _run_train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.train.rnnlm import LMConfig, train_lm

    # explicit options over the preset over book 2's defaults (LMConfig.record)
    config = LMConfig(task=args.task, preset=args.preset, **given(args, LMConfig, skip=("task", "preset")))
    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_lm(config, out_dir=run_folder(args, args.task), reporter=rep, resume=args.resume)
    m = run.metrics
    shown = ("valid_perplexity", "test_perplexity", "train_seconds", "tokens_per_second")
    rep.info("  ".join(f"{k} {m[k]:.2f}" for k in shown if m.get(k) is not None))
    assert run.out_dir is not None  # the CLI always gives a run folder
    files = sorted(p.name for p in run.out_dir.iterdir() if not p.name.startswith("."))
    rep.info(f"wrote {run.out_dir}/: {', '.join(files)}")
    return 0


# -- evaluate / generate -------------------------------------------------------------------
def _run_evaluate(args: argparse.Namespace) -> int:
    if _is_cnn_run(args.checkpoint):  # book 1's CNNs: accuracy, and with float16 weights
        from zerokara.commands.cnn import evaluate

        print(json.dumps(evaluate(args.checkpoint)))
        return 0
    from zerokara.data import load_ptb
    from zerokara.errors import InputError
    from zerokara.train.lm import perplexity
    from zerokara.train.rnnlm import load_model

    model, cfg, words = load_model(args.checkpoint)
    corpus, vocab = load_ptb(args.split)
    if vocab.id_to_word != words:
        raise InputError(f"{args.checkpoint}: the checkpoint's vocabulary is not Penn Treebank's")
    ppl = perplexity(model, corpus, batch_size=args.batch_size, time_size=args.time_size)
    print(json.dumps({"split": args.split, "perplexity": round(ppl, 4), "words": len(corpus)}))
    return 0


def _is_cnn_run(path: str) -> bool:
    """A ``train cnn`` run folder (its checkpoint's config says task cnn)."""
    from pathlib import Path

    meta = Path(path) / "checkpoint.json"
    try:
        return json.loads(meta.read_text()).get("config", {}).get("task") == "cnn"
    except (OSError, ValueError, AttributeError):  # not a run folder, or not one of ours: the LM path says so
        return False


def _run_generate(args: argparse.Namespace) -> int:
    from zerokara.data.ptb import Vocab
    from zerokara.errors import InputError

    if args.length < 0:
        raise InputError(f"--length: expected >= 0, got {args.length}")
    from zerokara.train.rnnlm import load_model

    model, cfg, words = load_model(args.checkpoint)
    vocab = Vocab({w: i for i, w in enumerate(words)}, list(words))
    start = args.start.split()
    if not start:
        raise InputError("--start: expected at least one word")
    for w in start:
        if w not in vocab.word_to_id:
            hint = f" (did you mean {w.lower()!r}?)" if w.lower() in vocab.word_to_id else ""
            raise InputError(
                f"generate: unknown start word {w!r}: not in the checkpoint's "
                f"{len(vocab)}-word vocabulary{hint}"
            )
    skip = [w for w in args.skip.split(",") if w]
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    if args.seed is None:
        print(f"(seed {seed})", file=sys.stderr)
    ids = model.generate(
        vocab.encode(start),
        args.length,
        np.random.default_rng(seed),
        temperature=args.temperature,
        top_k=args.top_k,
        skip_ids=[vocab.word_to_id[w] for w in skip if w in vocab.word_to_id],
    )
    print(" ".join(vocab.decode(np.array(ids))).replace(" <eos> ", "\n").replace(" <eos>", "\n"))
    return 0
