"""``zerokara train count-vectors``: count-based word vectors (book 2, chapter 2)."""

from __future__ import annotations

import argparse

from zerokara.commands import given, run_folder
from zerokara.options import NON_NEGATIVE_INT, POSITIVE_INT, SEED


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = train_tasks.add_parser(
        "count-vectors",
        help="count-based word vectors: co-occurrence, PPMI, SVD (book 2, ch. 2)",
        description="Count which words stand near which (co-occurrence matrix), reweight the counts "
        "by positive pointwise mutual information (PPMI) and compress each word's row to --dim numbers "
        "with a truncated SVD, as book 2's chapter 2 does. No training loop: seconds on Penn Treebank. "
        "Prints book 2's queries and the analogy accuracy on questions-words.txt (gensim's copy, or "
        "--questions); --data toy also prints the sentence's C and PPMI matrices. The run folder holds "
        "the vectors as a word2vec run does: pass it to `zerokara similar` and `zerokara analogy`.",
    )
    p.add_argument(
        "--data",
        default="ptb",
        metavar="ptb|toy|FILE",
        help="ptb (default: Penn Treebank's training text), toy (book 2's 'You say goodbye and I say "
        "hello.') or a text file, words separated by spaces (line ends become <eos>)",
    )
    p.add_argument("--window", type=POSITIVE_INT, help="words counted on each side (default 2; toy: 1)")
    p.add_argument("--dim", type=POSITIVE_INT, help="vector size kept from the SVD (default 100; toy: 2)")
    p.add_argument(
        "--n-iter",
        type=NON_NEGATIVE_INT,
        default=5,
        help="power iterations of the randomized SVD (default 5, as book 2)",
    )
    p.add_argument(
        "--questions",
        help="analogy questions in questions-words.txt format (default: gensim's copy, if installed)",
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of the randomized SVD (default 0)")
    p.add_argument(
        "--out", help="run folder for the vectors and metrics.json (default runs/count-vectors-<time>)"
    )
    p.add_argument(
        "--resume", action="store_true", help="a finished run in --out: check it, write what a kill kept out"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or step lines")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    import numpy as np

    from zerokara.commands.console import ConsoleReporter
    from zerokara.text import cos_similarity
    from zerokara.train.count_vectors import CountVectorsConfig, train_count_vectors
    from zerokara.train.word2vec import book_queries

    rep = ConsoleReporter(progress=not args.no_progress)
    config = CountVectorsConfig(**given(args, CountVectorsConfig))
    toy = config.data == "toy"
    run = train_count_vectors(
        config, out_dir=run_folder(args, "count-vectors"), reporter=rep, keep_matrices=toy, resume=args.resume
    )
    if run.finished:
        return 0
    wv = run.vectors
    if toy:
        assert run.co_matrix is not None and run.ppmi_matrix is not None  # keep_matrices
        C, W = run.co_matrix, run.ppmi_matrix
        rep.info(f"corpus: {run.corpus.tolist()}  (ids of: {' '.join(wv.words)})")
        rep.info(f"co-occurrence matrix C (window {run.config['window']}):")
        rep.info(np.array2string(C))
        rep.info("PPMI:")
        rep.info(np.array2string(W, precision=3))
        you, i = wv.word_to_id["you"], wv.word_to_id["i"]
        rep.info(
            f"cos_similarity(C[you], C[i]) = {cos_similarity(C[you], C[i])!r}  (book 2's cosine, eps 1e-8)"
        )
        rep.info(f"SVD word vectors ({len(wv)}, {run.config['dim']}):")
        width = max(len(w) for w in wv.words)
        for w, v in zip(wv.words, wv.vectors, strict=True):
            shown = np.round(v, 3) + 0.0  # + 0.0: no "-0." for a rounded -1e-17
            rep.info(f"  {w:<{width}}  {np.array2string(shown, precision=3)}")
    for line in book_queries(wv):
        rep.info(line)
    if run.analogy is not None:
        if run.analogy.asked:
            rep.info(run.analogy.summary())
        else:
            rep.info(f"analogy: no question of the {run.analogy.total} has all four words in the vocabulary")
    m = run.metrics
    rep.info(
        f"seconds: co-occurrence {m['count_seconds']:.2f}, PPMI {m['ppmi_seconds']:.2f}, "
        f"SVD {m['svd_seconds']:.2f}"
        + (f", analogies {m['analogy_seconds']:.2f}" if "analogy_seconds" in m else "")
        + f"; {m['seconds']:.1f} s in all (corpus read included)"
    )
    assert run.out_dir is not None  # the CLI always gives a run folder
    files = sorted(p.name for p in run.out_dir.iterdir() if not p.name.startswith("."))
    rep.info(f"wrote {run.out_dir}/: {', '.join(files)}")
    return 0
