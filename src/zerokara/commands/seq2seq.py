"""``zerokara train seq2seq``, ``zerokara translate`` and ``zerokara attention-map``
(book 2, chapters 7-8)."""

from __future__ import annotations

import argparse

from zerokara.commands import add_train_options, given, run_folder
from zerokara.options import NON_NEGATIVE_INT, POSITIVE_INT, PROBABILITY


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = train_tasks.add_parser(
        "seq2seq",
        help="an encoder-decoder on addition or dates (book 2, ch. 7-8)",
        description="Train a character-level seq2seq model on book 2's addition.txt or date.txt "
        "(found in $ZEROKARA_DATA_DIR/seq2seq/) or on any file of fixed-width 'question_answer' "
        "lines. Reports exact-match accuracy of the greedy answer on the held-out 10% after each "
        "epoch. Defaults are book 2's: addition: wordvec 16, hidden 128, batch 128, 25 epochs, "
        "Adam lr 0.001, clip 5.0; date: hidden 256, 10 epochs (the book reverses the input for "
        "dates: add --reverse). --model transformer: d_model (--hidden) 64, 4 heads, 2 layers, "
        "d_ff 256, dropout 0.1, Adam lr 0.001 with a 400-update warm-up, the book's epochs.",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--data",
        default="addition",
        help="addition, date, or a path to a file of fixed-width lines (default addition)",
    )
    g.add_argument(
        "--model",
        choices=["plain", "peeky", "attention", "transformer"],
        default="plain",
        help="plain Seq2seq, PeekySeq2seq, AttentionSeq2seq or TransformerSeq2seq (default plain)",
    )
    g.add_argument("--reverse", action="store_true", help="feed the encoder the question reversed")
    g.add_argument(
        "--bidirectional-encoder",
        dest="bidirectional",
        action="store_true",
        help="a bidirectional LSTM encoder (H/2 units each way; --model attention)",
    )
    g.add_argument("--wordvec", type=POSITIVE_INT, help="character embedding size (default 16)")
    g.add_argument(
        "--hidden",
        type=POSITIVE_INT,
        help="LSTM hidden size (default 128 addition, 256 date); the transformer's d_model (default 64)",
    )
    tf = p.add_argument_group("transformer (--model transformer)")
    tf.add_argument("--heads", type=POSITIVE_INT, help="attention heads; must divide --hidden (default 4)")
    tf.add_argument("--layers", type=POSITIVE_INT, help="encoder and decoder layers, each (default 2)")
    tf.add_argument("--d-ff", type=POSITIVE_INT, help="the feed-forward network's width (default 256)")
    tf.add_argument(
        "--dropout", type=PROBABILITY, help="dropout after each sub-layer and embedding (default 0.1)"
    )
    tf.add_argument(
        "--activation", choices=["relu", "gelu"], help="the feed-forward activation (default relu)"
    )
    tf.add_argument(
        "--learned-positions",
        action="store_true",
        help="learn the positional encoding (default: the paper's fixed sinusoids)",
    )
    tf.add_argument(
        "--warmup",
        type=NON_NEGATIVE_INT,
        help="updates of learning-rate warm-up, then lr * sqrt(warmup / update); 0: a constant lr "
        "(default 400)",
    )
    add_train_options(p, "passes over the training pairs (default 25 addition, 10 date)")
    p.add_argument(
        "--workers",
        type=POSITIVE_INT,
        default=1,
        help="split each batch over this many threads, one core each (default 1). "
        "The same gradients up to float rounding; faster with 2 on 2 cores at "
        "batch 128 (see docs/speed.md)",
    )
    p.set_defaults(func=_train)

    t = commands.add_parser(
        "translate",
        help="answer questions with a trained seq2seq checkpoint",
        description="Greedy-decode the answer to each TEXT with a checkpoint of zerokara train "
        'seq2seq, e.g. zerokara translate runs/date/checkpoint.safetensors "september 27, 1994".',
    )
    t.add_argument("checkpoint", help="a checkpoint file or the run folder holding it")
    t.add_argument("text", nargs="+", help="question(s), at most the model's input width each")
    t.set_defaults(func=_translate)

    a = commands.add_parser(
        "attention-map",
        help="draw an attention model's weights for one question",
        description="Run an attention seq2seq checkpoint on TEXT and draw the attention weights "
        "as a heatmap (rows: output characters, columns: input characters). For a transformer: "
        "one panel per head, a row per layer: every encoder layer's self-attention (question x "
        "question), then every decoder layer's cross-attention (answer x question).",
    )
    a.add_argument(
        "checkpoint", help="a checkpoint file (--model attention or transformer) or its run folder"
    )
    a.add_argument("text", help="the question")
    a.add_argument("--out", default="attention.png", help="PNG to write (default attention.png)")
    a.set_defaults(func=_attention_map)


def _train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.models.seq2seq import Seq2seq
    from zerokara.train.seq2seq import Seq2seqConfig, show_answers, train_seq2seq

    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_seq2seq(
        Seq2seqConfig(**given(args, Seq2seqConfig)),
        out_dir=run_folder(args, "seq2seq"),
        reporter=rep,
        resume=args.resume,
    )
    t, model = run.trainer, run.model
    assert isinstance(model, Seq2seq)
    for line in show_answers(model, _vocab(run.config), t.x_test, t.t_test):
        rep.info(line)
    m = run.metrics
    rep.info(
        f"held-out exact match {m['test_accuracy']:.4f}  ({m['seconds_per_epoch']:.1f} s per "
        f"epoch, {t.epoch} epochs)"
    )
    assert run.out_dir is not None  # the CLI always gives a run folder
    files = sorted(p.name for p in run.out_dir.iterdir() if not p.name.startswith("."))
    rep.info(f"wrote {run.out_dir}/: {', '.join(files)}")
    return 0


def _vocab(config: dict):
    from zerokara.data.sequence import CharVocab

    return CharVocab(list(config["vocab"]))


def _translate(args: argparse.Namespace) -> int:
    from zerokara.commands.console import console
    from zerokara.train.seq2seq_translate import Translator

    tr = Translator.load(args.checkpoint)
    for q, a in zip(args.text, tr.translate(args.text), strict=True):
        console.print(a if len(args.text) == 1 else f"{q} -> {a}", highlight=False, markup=False)
    return 0


def _attention_map(args: argparse.Namespace) -> int:
    from zerokara.commands.console import console
    from zerokara.models.transformer import TransformerSeq2seq
    from zerokara.train.seq2seq import plot_attention, plot_attention_heads
    from zerokara.train.seq2seq_translate import Translator

    tr = Translator.load(args.checkpoint)
    if isinstance(tr.model, TransformerSeq2seq):
        answer, heads = tr.attention_heads(args.text)
        png = plot_attention_heads(args.text, answer, heads, args.out)
    else:
        answer, w = tr.attention(args.text)
        png = plot_attention(args.text, answer, w, args.out)
    console.print(f"{args.text} -> {answer.rstrip()}  (attention map: {png})", highlight=False, markup=False)
    return 0
