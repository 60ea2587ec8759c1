"""Language models on Penn Treebank (book 2, chapters 5-7):
``zerokara train rnnlm``, ``zerokara train better-rnnlm``,
``zerokara evaluate CHECKPOINT`` and ``zerokara generate CHECKPOINT``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.commands import add_train_options

# book 2's settings (ch06/train_rnnlm.py, ch06/train_better_rnnlm.py), used when an option is not given
DEFAULTS: dict[str, dict[str, Any]] = {
    "rnnlm": {"wordvec": 100, "hidden": 100, "layers": 1, "dropout": 0.0, "tie": False,
              "batch_size": 20, "time_size": 35, "lr": 20.0, "max_grad": 0.25, "epochs": 4,
              "lr_decay": "plateau", "decay_factor": 4.0, "decay_start": 4, "init": "book",
              "optimizer": "sgd", "streams": "continue"},
    "better-rnnlm": {"wordvec": 650, "hidden": 650, "layers": 2, "dropout": 0.5, "tie": True,
                     "batch_size": 20, "time_size": 35, "lr": 20.0, "max_grad": 0.25, "epochs": 40,
                     "lr_decay": "plateau", "decay_factor": 4.0, "decay_start": 4, "init": "book",
                     "optimizer": "sgd", "streams": "continue"},
}
# Zaremba et al. (2014), "small": lr 1 and clip 5 on a loss *summed* over the 20 time steps
# (averaged over the batch). zerokara's loss is the mean over the steps too, i.e. 1/20 of theirs,
# so the same updates are lr 20 and clip 5/20 = 0.25 here.
PRESETS: dict[str, dict[str, Any]] = {
    "zaremba-small": {"task": "better-rnnlm", "wordvec": 200, "hidden": 200, "layers": 2,
                      "dropout": 0.0, "tie": False, "batch_size": 20, "time_size": 20,
                      "lr": 20.0, "max_grad": 0.25, "epochs": 13, "lr_decay": "zaremba",
                      "decay_factor": 2.0, "decay_start": 4, "init": "uniform", "optimizer": "sgd"},
}
# options that shape the model: a resumed run must use the same ones
MODEL_KEYS = ("task", "wordvec", "hidden", "layers", "dropout", "tie", "init", "optimizer",
              "batch_size", "time_size", "data_slice", "streams")
KEY_DEFAULTS = {"streams": "restart"}  # what checkpoints from before the option did
SKIP_WORDS = ("N", "<unk>", "$")  # book 2's RnnlmGen never samples these


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    for task, helptext, desc in (
        ("rnnlm", "an LSTM language model on Penn Treebank (book 2, ch. 6)",
         "Train book 2's Rnnlm (embedding -> LSTM -> affine) on Penn Treebank with truncated BPTT. "
         "Defaults are book 2's: wordvec 100, hidden 100, batch 20, time 35, SGD lr 20, clip 0.25, "
         "4 epochs, lr / 4 when valid perplexity stops improving."),
        ("better-rnnlm", "2-layer LSTM LM with dropout and weight tying (book 2, ch. 6.5)",
         "Train book 2's BetterRnnlm: stacked LSTMs, dropout, embedding tied to the output layer. "
         "Defaults are book 2's: 650 units, 2 layers, dropout 0.5, batch 20, time 35, SGD lr 20, "
         "clip 0.25, 40 epochs. --preset zaremba-small: Zaremba et al. (2014)'s small model."),
    ):
        p = train_tasks.add_parser(task, help=helptext, description=desc)
        g = add_train_options(p, "passes over the training text")
        g.add_argument("--time-size", type=int, help="truncated BPTT length (words per stream per update)")
        g.add_argument("--lr-decay", choices=["plateau", "zaremba", "none"],
                       help="plateau: lr / factor when valid perplexity does not improve (book 2); "
                            "zaremba: lr / factor each epoch after --decay-start")
        g.add_argument("--decay-factor", type=float, help="divide lr by this (plateau 4, zaremba 2)")
        g.add_argument("--decay-start", type=int,
                       help="zaremba decay: lr falls after this many epochs (default 4)")
        g.add_argument("--data-slice", type=int, help="train on the first N words only (quick runs, CI)")
        g.add_argument("--streams", choices=["restart", "continue"],
                       help="continue (default): each epoch goes on where the last stopped, as "
                            "book 2's RnnlmTrainer, so the windows' edges move from epoch to epoch; "
                            "restart: every epoch reads the corpus in the same windows (as "
                            "Zaremba et al.'s code)")
        m = p.add_argument_group("model")
        m.add_argument("--wordvec", type=int, help="word vector size D")
        m.add_argument("--hidden", type=int, help="LSTM hidden size H")
        m.add_argument("--init", choices=["book", "uniform"],
                       help="book: embedding N(0, 0.01^2), Xavier elsewhere; uniform: U(-0.1, 0.1)")
        if task == "better-rnnlm":
            m.add_argument("--layers", type=int, help="number of stacked LSTMs (default 2)")
            m.add_argument("--dropout", type=float, help="dropout probability (default 0.5)")
            m.add_argument("--no-tie", dest="tie", action="store_const", const=False, default=None,
                           help="do not tie the output layer to the embedding")
            m.add_argument("--preset", choices=sorted(PRESETS),
                           help="zaremba-small: 2x200 LSTM, time 20, batch 20, lr 1 halved each "
                                "epoch after the 4th, clip 5 (on the loss summed over time), "
                                "U(-0.1, 0.1) init, 13 epochs")
        else:
            p.set_defaults(layers=None, dropout=None, tie=None, preset=None)
        p.set_defaults(func=_run_train, task=task)

    ev = commands.add_parser("evaluate", help="perplexity of a trained language model",
                             description="Perplexity of a language-model checkpoint on a Penn "
                                         "Treebank split (read as book 2 does: 10 streams of 35).")
    ev.add_argument("checkpoint", metavar="CHECKPOINT",
                    help="a run folder (its best.safetensors) or a .safetensors file")
    ev.add_argument("--split", choices=["valid", "test", "train"], default="test")
    ev.add_argument("--batch-size", type=int, default=10, help="parallel streams (default 10)")
    ev.add_argument("--time-size", type=int, default=35, help="words per call (default 35)")
    ev.set_defaults(func=_run_evaluate)

    gen = commands.add_parser("generate", help="sample text from a trained language model",
                              description="Sample words from a language-model checkpoint, starting "
                                          "from --start (book 2's RnnlmGen). The same --seed gives "
                                          "the same text.")
    gen.add_argument("checkpoint", metavar="CHECKPOINT",
                     help="a run folder (its best.safetensors) or a .safetensors file")
    gen.add_argument("--start", default="you", help="first word(s), space-separated (default 'you')")
    gen.add_argument("--length", type=int, default=100, help="words to sample (default 100)")
    gen.add_argument("--temperature", type=float, default=1.0,
                     help="divide scores by T: below 1 safer, above 1 more varied (default 1)")
    gen.add_argument("--top-k", type=int, help="sample among the k likeliest words only")
    gen.add_argument("--seed", type=int, help="seed of the sampling (default: random, printed)")
    gen.add_argument("--skip", default=",".join(SKIP_WORDS),
                     help=f"comma-separated words never sampled (default {','.join(SKIP_WORDS)}; "
                          "'' for none)")
    gen.set_defaults(func=_run_generate)


# -- train ---------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings: explicit options over the preset over book 2's defaults."""
    from zerokara.errors import InputError

    preset = PRESETS.get(args.preset) if args.preset else None
    if preset is not None and preset["task"] != args.task:
        raise InputError(f"--preset {args.preset} is for train {preset['task']}, not {args.task}")
    s = dict(DEFAULTS[args.task])
    if preset is not None:
        s.update({k: v for k, v in preset.items() if k != "task"})
    for key in (*s, "data_slice"):
        v = getattr(args, key, None)
        if v is not None:
            s[key] = v
    s.setdefault("data_slice", None)
    for key in ("wordvec", "hidden", "layers", "batch_size", "time_size", "epochs"):
        if s[key] < 1:
            raise InputError(f"--{key.replace('_', '-')}: expected a positive integer, got {s[key]}")
    if not 0 <= s["dropout"] < 1:
        raise InputError(f"--dropout: expected in [0, 1), got {s['dropout']}")
    if s["data_slice"] is not None and s["data_slice"] < 2:
        raise InputError(f"--data-slice: expected at least 2 words, got {s['data_slice']}")
    if s["max_grad"] is not None and s["max_grad"] <= 0:
        s["max_grad"] = None  # --max-grad 0: no clipping
    return {"task": args.task, "preset": args.preset, "seed": args.seed, "data": "ptb", **s}


def build_model(cfg: dict[str, Any], vocab_size: int, rng: np.random.Generator | None = None):
    from zerokara.models.rnnlm import BetterRnnlm, Rnnlm

    rng = rng if rng is not None else np.random.default_rng(0)
    if cfg["task"] == "rnnlm":
        return Rnnlm(vocab_size, cfg["wordvec"], cfg["hidden"], rng=rng, init=cfg["init"])
    return BetterRnnlm(vocab_size, cfg["wordvec"], cfg["hidden"], num_layers=cfg["layers"],
                       dropout=cfg["dropout"], tie_weights=cfg["tie"], rng=rng, init=cfg["init"])


def _run_train(args: argparse.Namespace) -> int:
    from zerokara.data import load_ptb
    from zerokara.optim import make_optimizer
    from zerokara.train.lm import CHECKPOINT, LMTrainer, LRSchedule
    from zerokara.train.progress import console
    from zerokara.train.tasks import prepare_out

    cfg = _settings(args)
    train, vocab = load_ptb("train")
    valid, _ = load_ptb("valid")
    test, _ = load_ptb("test")
    if cfg["data_slice"] is not None:
        train = train[:cfg["data_slice"]]
    cfg["vocab_size"] = len(vocab)
    out = prepare_out(args, args.task)
    model = build_model(cfg, len(vocab), np.random.default_rng(args.seed))
    trainer = LMTrainer(model, make_optimizer(cfg["optimizer"], cfg["lr"]), out_dir=out,
                        max_grad=cfg["max_grad"], progress=not args.no_progress, config=cfg,
                        vocab=vocab.id_to_word,
                        schedule=LRSchedule(cfg["lr_decay"], cfg["decay_factor"], cfg["decay_start"]),
                        streams=cfg["streams"])
    if args.resume:
        trainer.resume(check_keys=MODEL_KEYS, key_defaults=KEY_DEFAULTS)
        console.print(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}, "
                      f"iteration {trainer.iteration}")
    n_params = sum(p.size for p in model.parameters().values())
    console.print(f"[bold]{args.task}[/bold]{f' ({args.preset})' if args.preset else ''}: "
                  f"V={len(vocab)} D={cfg['wordvec']} H={cfg['hidden']}"
                  f"{'' if args.task == 'rnnlm' else ' layers=' + str(cfg['layers'])}"
                  f", {n_params:,} parameters; {cfg['optimizer']} lr {cfg['lr']:g}, clip "
                  f"{cfg['max_grad']}, batch {cfg['batch_size']} x time {cfg['time_size']}, "
                  f"{cfg['epochs']} epoch{'s' if cfg['epochs'] != 1 else ''} on {len(train):,} "
                  f"words -> {out}", highlight=False)
    metrics = trainer.fit(train, valid, test, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                          time_size=cfg["time_size"])
    shown = ("valid_perplexity", "test_perplexity", "train_seconds", "tokens_per_second")
    console.print("  ".join(f"{k} {metrics[k]:.2f}" for k in shown if metrics.get(k) is not None))
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    console.print(f"wrote {out}/: {', '.join(files)}")
    return 0


# -- evaluate / generate -------------------------------------------------------------------
def load_model(path: str | Path):
    """(model, config, id_to_word) from a run folder or a checkpoint file."""
    from zerokara.errors import CheckpointError
    from zerokara.io import load_checkpoint, split_prefix
    from zerokara.train.lm import BEST

    path = Path(path)
    if path.is_dir():
        path = path / BEST
    tensors, meta = load_checkpoint(path)
    cfg, words = meta.get("config") or {}, meta.get("vocab")
    if cfg.get("task") not in DEFAULTS or not words:
        raise CheckpointError(f"{path} is not a language-model checkpoint (train rnnlm / better-rnnlm)")
    model = build_model(cfg, len(words))
    model.load_state_dict(split_prefix(tensors, "model"), source=str(path))
    return model, cfg, words


def _run_evaluate(args: argparse.Namespace) -> int:
    from zerokara.data import load_ptb
    from zerokara.errors import InputError
    from zerokara.train.lm import perplexity

    model, cfg, words = load_model(args.checkpoint)
    corpus, vocab = load_ptb(args.split)
    if vocab.id_to_word != words:
        raise InputError(f"{args.checkpoint}: the checkpoint's vocabulary is not Penn Treebank's")
    ppl = perplexity(model, corpus, batch_size=args.batch_size, time_size=args.time_size)
    print(json.dumps({"split": args.split, "perplexity": round(ppl, 4), "words": len(corpus)}))
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    from zerokara.data.ptb import Vocab
    from zerokara.errors import InputError

    if args.length < 0:
        raise InputError(f"--length: expected >= 0, got {args.length}")
    model, cfg, words = load_model(args.checkpoint)
    vocab = Vocab({w: i for i, w in enumerate(words)}, list(words))
    start = args.start.split()
    if not start:
        raise InputError("--start: expected at least one word")
    for w in start:
        if w not in vocab.word_to_id:
            hint = f" (did you mean {w.lower()!r}?)" if w.lower() in vocab.word_to_id else ""
            raise InputError(f"generate: unknown start word {w!r}: not in the checkpoint's "
                             f"{len(vocab)}-word vocabulary{hint}")
    skip = [w for w in args.skip.split(",") if w]
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    if args.seed is None:
        print(f"(seed {seed})", file=sys.stderr)
    ids = model.generate(vocab.encode(start), args.length, np.random.default_rng(seed),
                         temperature=args.temperature, top_k=args.top_k,
                         skip_ids=[vocab.word_to_id[w] for w in skip if w in vocab.word_to_id])
    print(" ".join(vocab.decode(np.array(ids))).replace(" <eos> ", "\n").replace(" <eos>", "\n"))
    return 0
