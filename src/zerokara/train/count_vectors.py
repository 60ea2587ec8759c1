"""Count-based word vectors as a run (book 2, chapter 2's ``count_method_big.py``).

No training loop: the corpus is counted once (co-occurrence matrix), the
counts are reweighted (PPMI) and compressed (truncated SVD), each a single
vectorised step of :mod:`zerokara.text`. The result is saved as a word2vec
run saves its vectors -- a safetensors checkpoint holding the (V, dim) vectors
and, in its metadata, the vocabulary -- so ``zerokara similar RUN WORD`` and
``zerokara analogy RUN a b c`` read it unchanged, and the analogy accuracy is
measured with the same evaluator as word2vec's.

From Python::

    from zerokara.train.count_vectors import CountVectorsConfig, train_count_vectors
    run = train_count_vectors(CountVectorsConfig(data="ptb"), out_dir="runs/count")
    run.metrics["analogy_accuracy"], run.vectors.most_similar("toyota")
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.io import atomic_write_text, load_checkpoint, save_checkpoint
from zerokara.runlock import clean_temporaries, locked
from zerokara.text import BOOK2_SENTENCE, co_occurrence, ppmi, preprocess, svd_vectors
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, check_config, open_run_dir
from zerokara.word_vectors import AnalogyResult, WordVectors

#: book 2's toy sentence (section 2.3)
#: where the vectors are in the checkpoint (its metadata's "vectors" says so, as word2vec's does)
VECTORS_KEY = "count/vectors"
#: C and the PPMI matrix are dense (V, V), 4 bytes a cell each: 8 V^2 bytes
#: (7.2 GB at 30,000 words, 0.8 GB for PTB's 10,000). A larger vocabulary is refused.
MAX_VOCAB = 30_000


@dataclass
class CountVectorsConfig:
    """One count-based run. ``data``: "ptb" (Penn Treebank's training text, as
    word2vec's default), "toy" (book 2's sentence, through :func:`preprocess`)
    or a text file (read as ``train word2vec --corpus`` reads it: words split
    on whitespace, line ends become ``<eos>``). ``window`` and ``dim`` default
    to book 2's: 1 and 2 on the toy sentence (section 2.4.4 plots 2-d vectors),
    2 and 100 otherwise (``count_method_big.py``). ``n_iter``: the randomized
    SVD's power iterations (5, as the book passes to ``randomized_svd``).
    ``questions``: analogy questions (None: gensim's questions-words.txt, if gensim is installed)."""

    data: str = "ptb"
    window: int | None = None
    dim: int | None = None
    eps: float = 1e-8
    n_iter: int = 5
    seed: int = 0
    questions: str | None = None

    def record(self) -> dict[str, Any]:
        """The complete, checked settings, as the checkpoint stores them."""
        toy = self.data == "toy"
        window = self.window if self.window is not None else (1 if toy else 2)
        dim = self.dim if self.dim is not None else (2 if toy else 100)
        for name, value, low in (("--window", window, 1), ("--dim", dim, 1), ("--n-iter", self.n_iter, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"count-vectors: {name} expected an integer >= {low}, got {value!r}")
        if not 0 <= self.eps <= 1:
            raise InputError(f"count-vectors: eps expected in [0, 1], got {self.eps!r}")
        return {
            "task": "count-vectors",
            "data": self.data,
            "window": window,
            "dim": dim,
            "eps": self.eps,
            "n_iter": self.n_iter,
            "seed": self.seed,
            "questions": self.questions,
        }


@dataclass
class CountVectorsRun:
    """What :func:`train_count_vectors` returns. ``co_matrix`` and
    ``ppmi_matrix`` (V, V) are kept only when asked (``keep_matrices``): on PTB
    they are 400 MB each."""

    metrics: dict[str, Any]
    vectors: WordVectors
    out_dir: Path | None
    config: dict[str, Any]
    corpus: np.ndarray  # (N,) word ids
    analogy: AnalogyResult | None = None
    co_matrix: np.ndarray | None = None
    ppmi_matrix: np.ndarray | None = None
    finished: bool = False  # a finished run resumed: read back, nothing computed


def load_corpus(data: str) -> tuple[np.ndarray, list[str]]:
    """``(corpus ids (N,), words)`` of ``data``: "ptb", "toy" or a text file's path."""
    from zerokara.train.word2vec import read_corpus

    if data == "toy":
        corpus, _, words = preprocess(BOOK2_SENTENCE)
        return corpus, words
    if data == "ptb":
        return read_corpus(None)
    if not Path(data).is_file():
        raise InputError(
            f"count-vectors: --data expected ptb, toy or a text file, got {data!r} (no such file)"
        )
    return read_corpus(data)


def train_count_vectors(
    config: CountVectorsConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    keep_matrices: bool = False,
    resume: bool = False,
) -> CountVectorsRun:
    """Count, PPMI, SVD; evaluate the analogies; save the vectors into ``out_dir``
    (None: nothing is written). Quiet unless given a ``reporter``.

    Bad input (an unknown --data, dim above the vocabulary size, a folder that
    holds a run already) raises InputError before anything is written.
    """
    from zerokara.word_vectors import analogy_accuracy, find_questions_file

    start = time.perf_counter()
    rep = reporter or Reporter()
    c = config.record()
    questions = Path(config.questions) if config.questions else None
    if questions is not None and not questions.is_file():
        raise InputError(f"count-vectors: --questions expected a file, got {str(questions)!r} (not found)")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and (out / CHECKPOINT).exists():
        if not resume:
            open_run_dir(out, resume=False)  # raises: the folder holds a run already
        return _finished(out, c, rep)
    if resume:
        open_run_dir(out, resume=True)  # raises: nothing to resume
    corpus, words = load_corpus(c["data"])
    V = len(words)
    if V > MAX_VOCAB:
        raise InputError(
            f"count-vectors: vocabulary expected at most {MAX_VOCAB:,} words (the dense (V, V) counts "
            f"and PPMI take 8 V^2 bytes), got {V:,} words ({8 * V * V / 1e9:.0f} GB)"
        )
    if c["dim"] > V:
        raise InputError(f"count-vectors: --dim expected in [1, {V}] (the vocabulary size), got {c['dim']}")
    rep.info(
        f"count-vectors: {c['data']}, {V} words, {len(corpus)} tokens, window {c['window']}, "
        f"dim {c['dim']}, randomized SVD with {c['n_iter']} power iterations"
        + (f" -> {out}" if out is not None else "")
    )
    seconds: dict[str, float] = {}
    rep.start("count-vectors", total=3)

    t = time.perf_counter()
    C = co_occurrence(corpus, V, c["window"])
    seconds["count_seconds"] = time.perf_counter() - t
    pairs = int(np.count_nonzero(C))
    rep.update(1)
    rep.line(
        f"co-occurrence matrix ({V}, {V}) {C.dtype}: {pairs} non-zero cells "
        f"({pairs / C.size:.2%}), {seconds['count_seconds']:.2f} s"
    )

    t = time.perf_counter()
    M = ppmi(C, eps=c["eps"])
    seconds["ppmi_seconds"] = time.perf_counter() - t
    kept_C = C if keep_matrices else None
    del C  # 400 MB on PTB: gone before the SVD needs its blocks
    rep.update(2)
    rep.line(
        f"PPMI ({V}, {V}) float32: {int(np.count_nonzero(M))} positive cells, {seconds['ppmi_seconds']:.2f} s"
    )

    t = time.perf_counter()
    U = svd_vectors(M, c["dim"], c["seed"], n_iter=c["n_iter"])
    seconds["svd_seconds"] = time.perf_counter() - t
    kept_M = M if keep_matrices else None
    del M
    rep.update(3)
    rep.line(f"truncated SVD: vectors ({V}, {c['dim']}), {seconds['svd_seconds']:.2f} s")
    rep.finish()

    vectors = WordVectors(U, words)
    metrics: dict[str, Any] = {
        "vocab_size": V,
        "tokens": len(corpus),
        "nonzero_pairs": pairs,
        **{k: round(v, 3) for k, v in seconds.items()},
    }
    qfile = questions if questions is not None else find_questions_file()
    analogy = None
    if qfile is not None:
        t = time.perf_counter()
        analogy = analogy_accuracy(vectors, qfile)
        metrics.update(
            analogy_accuracy=analogy.accuracy,
            analogy_coverage=analogy.coverage,
            analogy_asked=analogy.asked,
            analogy_total=analogy.total,
            analogy_seconds=round(time.perf_counter() - t, 3),
        )
    metrics["seconds"] = round(time.perf_counter() - start, 3)
    if out is not None:
        out = open_run_dir(out, resume=False)
        assert out is not None  # a folder was given
        with locked(out, "run"):
            _save(out, words, c, metrics, U)
    return CountVectorsRun(metrics, vectors, out, c, corpus, analogy, kept_C, kept_M)


def _finished(out: Path, c: dict[str, Any], rep: Reporter) -> CountVectorsRun:
    """``--resume`` on a finished run (count-vectors finishes in one go): its settings
    checked, metrics.json written again if a kill kept it from being written, nothing
    computed."""
    path = out / CHECKPOINT
    with locked(out, "run"):
        clean_temporaries(out)
        tensors, meta = load_checkpoint(path)
        if meta.get("method") != "count-vectors":
            raise InputError(f"{path} is not a count-vectors run")
        check_config(path, meta.get("config", {}), c)
        metrics = meta["metrics"]
        text = json.dumps(metrics, indent=2) + "\n"
        view = out / "metrics.json"
        redraw = not view.is_file() or view.read_text() != text
        if redraw:
            atomic_write_text(view, text)
    rep.info(
        f"{out}: the run is finished; nothing to compute"
        + ("; wrote metrics.json again from its checkpoint" if redraw else ", its files are unchanged")
    )
    vectors = WordVectors(tensors[VECTORS_KEY], list(meta["vocab"]))
    return CountVectorsRun(metrics, vectors, out, c, np.empty(0, dtype=np.int64), finished=True)


def _save(out: Path, words: list[str], c: dict[str, Any], metrics: dict[str, Any], U: np.ndarray) -> None:
    """The vectors, vocabulary, settings and metrics in one checkpoint (one rename);
    metrics.json is its view."""
    if (out / CHECKPOINT).exists():  # another run got there first, between the check and the lock
        raise InputError(f"{out} already holds a run ({CHECKPOINT}); choose another --out")
    clean_temporaries(out)  # a killed writer's, never a live one's: we hold the lock
    meta = {
        # "word2vec": the kind load_word_vectors (zerokara similar / analogy) reads;
        # "method" says how these vectors were made
        "kind": "word2vec",
        "method": "count-vectors",
        "vectors": VECTORS_KEY,
        "vocab": words,
        "config": c,
        "metrics": metrics,
    }
    # metrics.json first: until the checkpoint commits, the folder holds no run and a
    # second try computes both again; after it, both are there
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    save_checkpoint(out / CHECKPOINT, {VECTORS_KEY: U}, meta)
