"""``zerokara train word2vec``, ``zerokara similar`` and ``zerokara analogy``."""

from __future__ import annotations

import argparse

from zerokara.commands import add_train_options, given, run_folder
from zerokara.options import NON_NEGATIVE_FLOAT, POSITIVE_INT


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = train_tasks.add_parser(
        "word2vec",
        help="word vectors: CBOW or skip-gram with negative sampling (book 2, ch. 4)",
        description="Train word2vec on Penn Treebank (or --corpus FILE). Defaults follow book 2: "
        "CBOW, window 5, hidden 100, 5 negatives, Adam lr 0.001, batch 100, 10 epochs; "
        "--preset gensim-like adds gensim's subsampling and shrinking windows and triples "
        "the lr (above gensim's analogy accuracy on PTB). After "
        "training it prints the book's queries and the analogy accuracy on questions-words.txt "
        "(gensim's copy, or --questions). The checkpoint holds the word vectors and the "
        "vocabulary: pass it to `zerokara similar` and `zerokara analogy`. "
        "--data toy is book 2's chapter 3 instead: SimpleCBOW (or --model skipgram: "
        "SimpleSkipGram), a softmax over the vocabulary, on 'You say goodbye and I say hello.' "
        "with ch03/train.py's settings (window 1, hidden 5, Adam lr 0.001, batch 3, 1000 "
        "epochs); it prints the learnt word vectors and writes loss.png.",
    )
    p.add_argument(
        "--data",
        choices=["ptb", "toy"],
        help="ptb (default: Penn Treebank, or --corpus) or toy: book 2's chapter 3 "
        "sentence and softmax models",
    )
    p.add_argument("--model", choices=["cbow", "skipgram"], help="default cbow")
    p.add_argument("--window", type=POSITIVE_INT, help="context words on each side of the target (default 5)")
    p.add_argument("--hidden", type=POSITIVE_INT, help="vector size (default 100)")
    p.add_argument("--negatives", type=POSITIVE_INT, help="negative samples per target (default 5)")
    p.add_argument(
        "--subsample",
        type=NON_NEGATIVE_FLOAT,
        help="drop frequent words at random each epoch with threshold T, e.g. 1e-3 "
        "(word2vec's and gensim's 'sample'; default 0: off, as book 2)",
    )
    p.add_argument(
        "--shrink-window",
        action="store_true",
        default=None,
        help="give each target a random effective window of 1..--window words "
        "(gensim's reduced windows: near words count more; default off, as book 2)",
    )
    p.add_argument(
        "--lr-schedule",
        choices=["constant", "linear"],
        help="constant (default, book 2) or linear: --lr decays to 0 over the run, as gensim's alpha",
    )
    p.add_argument(
        "--init",
        choices=["book", "gensim"],
        help="initial weights: book (default: W_in, W_out ~ 0.01 randn) or gensim "
        "(W_in ~ U(-0.5/hidden, 0.5/hidden), W_out = 0)",
    )
    p.add_argument(
        "--preset",
        choices=["book", "gensim-like"],
        help="book (default: book 2's settings) or gensim-like: --subsample 1e-3 "
        "--shrink-window --lr 0.003, gensim's subsampling and windows with "
        "Adam (options given explicitly still win)",
    )
    p.add_argument("--corpus", help="a text file, words separated by spaces (default: PTB train)")
    p.add_argument(
        "--questions",
        help="analogy questions in questions-words.txt format "
        "(default: gensim's copy, if gensim is installed)",
    )
    add_train_options(p, "passes over the corpus (default 10)")
    p.set_defaults(func=_train)

    sim = commands.add_parser(
        "similar",
        help="the words closest to a word (cosine similarity)",
        description="Most similar words by cosine similarity of the vectors in a word2vec checkpoint.",
    )
    sim.add_argument("checkpoint", help="a run folder or its checkpoint.safetensors")
    sim.add_argument("word")
    sim.add_argument("--top", type=POSITIVE_INT, default=5, help="how many words (default 5)")
    sim.set_defaults(func=_similar)

    ana = commands.add_parser(
        "analogy",
        help="a : b = c : ?, e.g. king man queen -> woman",
        description="Answer the analogy a : b = c : ? with the words closest "
        "to b - a + c (cosine; a, b, c excluded).",
    )
    ana.add_argument("checkpoint", help="a run folder or its checkpoint.safetensors")
    ana.add_argument("a")
    ana.add_argument("b")
    ana.add_argument("c")
    ana.add_argument("--top", type=POSITIVE_INT, default=5, help="how many words (default 5)")
    ana.set_defaults(func=_analogy)


def _train(args: argparse.Namespace) -> int:
    from zerokara.commands.console import ConsoleReporter
    from zerokara.train.toy_word2vec import vector_lines
    from zerokara.train.word2vec import Word2VecConfig, book_queries, train_word2vec

    rep = ConsoleReporter(progress=not args.no_progress)
    run = train_word2vec(
        Word2VecConfig(**given(args, Word2VecConfig)),
        out_dir=run_folder(args, "word2vec"),
        reporter=rep,
        resume=args.resume,
    )
    wv = run.trainer.word_vectors()
    if run.config.get("data") == "toy":
        first, last = run.metrics.get("first_loss"), run.metrics.get("final_loss")
        if first is not None and last is not None:
            rep.info(f"loss {first:.4f} (first epoch) -> {last:.4f} (last epoch)")
        for line in vector_lines(wv):
            rep.info(line)
    for line in book_queries(wv):
        rep.info(line)
    if getattr(run.trainer, "analogy", None) is not None:
        rep.info(run.trainer.analogy.summary())
    assert run.out_dir is not None  # the CLI always gives a run folder
    files = sorted(p.name for p in run.out_dir.iterdir() if not p.name.startswith("."))
    rep.info(f"wrote {run.out_dir}/: {', '.join(files)}")
    return 0


def _check_top(top: int) -> None:
    from zerokara.errors import InputError

    if top < 1:
        raise InputError(f"--top expected >= 1, got {top}")


def _similar(args: argparse.Namespace) -> int:
    from zerokara.train.word2vec import load_word_vectors

    _check_top(args.top)
    wv = load_word_vectors(args.checkpoint)
    for word, score in wv.most_similar(args.word, top=args.top):
        print(f"{word}\t{score:.4f}")
    return 0


def _analogy(args: argparse.Namespace) -> int:
    from zerokara.train.word2vec import load_word_vectors

    _check_top(args.top)
    wv = load_word_vectors(args.checkpoint)
    for word, score in wv.analogy(args.a, args.b, args.c, top=args.top):
        print(f"{word}\t{score:.4f}")
    return 0
