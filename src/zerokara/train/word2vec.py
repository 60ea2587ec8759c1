"""Training word2vec (CBOW or skip-gram with negative sampling) on a corpus.

The loop is book 2's: every epoch shuffles the (contexts, target) pairs with
the run's generator and takes them ``batch_size`` at a time; each step is
forward, backward, and an optimizer update of just the rows the batch used
(the gradients are RowGrads). The checkpoint written after every epoch holds
the parameters, the optimizer's state, every generator's state and the
vocabulary (in the safetensors metadata), so it is at once a resumable run
and the word vectors ``zerokara similar`` and ``zerokara analogy`` read.

``data="toy"`` (``--data toy``) is book 2's chapter 3 instead: SimpleCBOW or
SimpleSkipGram (a softmax over the whole vocabulary, no negative sampling) on
its one sentence "You say goodbye and I say hello.", with ch03/train.py's
settings (:data:`TOY_DEFAULTS`), through the same trainer and checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, DataError, InputError
from zerokara.io import load_checkpoint
from zerokara.models.word2vec import MODELS, create_contexts_target
from zerokara.optim import Optimizer, make_optimizer
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir
from zerokara.train.toy_word2vec import train_toy_word2vec
from zerokara.train.word2vec_trainer import (
    DEFAULTS,
    LR_SCHEDULES,
    MODEL_KEYS,
    OPTION_KEYS,
    VECTORS_KEY,
    Word2VecTrainer,
    draw_reach,
    scheduled_lr,
)
from zerokara.word_vectors import WordVectors

#: ``--data``: "ptb" (Penn Treebank or --corpus; chapter 4's negative-sampling
#: models) or "toy" (book 2's sentence; chapter 3's softmax models)
DATA = ("ptb", "toy")
#: book 2, chapter 3's settings (ch03/train.py; the run: :mod:`zerokara.train.toy_word2vec`)
TOY_DEFAULTS: dict[str, Any] = {
    "model": "cbow",
    "window": 1,
    "hidden": 5,
    "batch_size": 3,
    "epochs": 1000,
    "optimizer": "adam",
    "lr": 0.001,
    "lr_schedule": "constant",
}
#: ``--preset gensim-like``: gensim's two data-side defaults (frequent-word
#: subsampling 1e-3, shrinking windows) with book 2's model, batch 100 and Adam,
#: at a 3x larger constant lr -- the best measured on PTB (docs/word2vec.md)
PRESETS: dict[str, dict[str, Any]] = {
    "book": {},
    "gensim-like": {"subsample": 1e-3, "shrink_window": True, "lr": 0.003},
}


def read_corpus(path: Path | str | None) -> tuple[np.ndarray, list[str]]:
    """(corpus ids (T,), words) of a whitespace-separated text file, line ends
    becoming ``<eos>`` and ids given in order of first appearance (as book 2
    treats PTB); ``None`` gives Penn Treebank's training text."""
    if path is None:
        from zerokara.data import load_ptb

        corpus, vocab = load_ptb("train")
        return corpus, vocab.id_to_word
    from zerokara.data.ptb import build_vocab

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"corpus {path}: cannot read it: {e}") from None
    words = text.replace("\n", " <eos> ").split()
    if not text.split():
        raise InputError(f"corpus {path} is empty (no words)")
    vocab = build_vocab(words)
    return vocab.encode(words, what=f"corpus {path}"), vocab.id_to_word


def subsample(corpus: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    """Drop frequent words at random (Mikolov et al. 2013; gensim's ``sample``):
    a word making up a fraction f of the corpus is kept with probability
    ``min(1, (sqrt(f / t) + 1) * t / f)`` -- rare words always, "the" rarely.
    Contexts are then formed over the words that remain, so windows reach further."""
    counts = np.bincount(corpus)
    f = counts / len(corpus)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep_p = np.minimum(1.0, (np.sqrt(f / t) + 1) * t / f)
    return corpus[rng.random(len(corpus)) < keep_p[corpus]]


def load_word_vectors(path: Path | str) -> WordVectors:
    """The word vectors and vocabulary of a word2vec checkpoint (the file or its run folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    tensors, meta = load_checkpoint(path)
    key = meta.get("vectors", VECTORS_KEY)
    if meta.get("kind") != "word2vec" or key not in tensors or "vocab" not in meta:
        raise CheckpointError(
            f"{path} is not a word2vec checkpoint (no word vectors and "
            "vocabulary in it); train one with `zerokara train word2vec`"
        )
    vecs, words = tensors[key], meta["vocab"]
    if vecs.shape[0] != len(words):
        raise CheckpointError(f"{path}: {vecs.shape[0]} vectors but {len(words)} words")
    return WordVectors(vecs, words)


def build(
    config: dict[str, Any], corpus: np.ndarray, vocab_size: int, rng: np.random.Generator
) -> tuple[Any, Optimizer, np.ndarray, np.ndarray]:
    """(model, optimizer, contexts, target) for a config holding DEFAULTS' keys."""
    contexts, target = create_contexts_target(corpus, config["window"])
    if config["negatives"] < 1 or config["hidden"] < 1:
        raise InputError(
            f"word2vec: --negatives and --hidden expected >= 1, got "
            f"{config['negatives']} and {config['hidden']}"
        )
    model = MODELS[config["model"]](
        vocab_size,
        config["hidden"],
        corpus,
        sample_size=config["negatives"],
        rng=rng,
        init=config.get("init", "book"),
    )
    return model, make_optimizer(config["optimizer"], config["lr"]), contexts, target


def resampler(corpus: np.ndarray, config: dict[str, Any]):
    """Each epoch's pairs over a freshly subsampled corpus, or None when
    ``subsample`` is 0 (book 2: every word, every epoch)."""
    t = config.get("subsample") or 0.0
    if t <= 0:
        return None
    return lambda rng: create_contexts_target(subsample(corpus, t, rng), config["window"])


@dataclass
class Word2VecConfig:
    """One word2vec run; None settings take book 2's values (:data:`DEFAULTS`)
    or the ``preset``'s ("gensim-like": :data:`PRESETS`). ``corpus``: a text
    file (None: Penn Treebank's training text); ``questions``: analogy
    questions in questions-words.txt format (None: gensim's copy, if installed)."""

    model: str | None = None  # "cbow" or "skipgram"
    window: int | None = None
    hidden: int | None = None
    batch_size: int | None = None
    epochs: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    negatives: int | None = None
    subsample: float | None = None
    shrink_window: bool | None = None
    lr_schedule: str | None = None
    init: str | None = None
    preset: str = "book"
    corpus: str | None = None
    questions: str | None = None
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    seed: int = 0
    data: str | None = None  # "ptb" (default) or "toy": see DATA

    def record(self) -> dict[str, Any]:
        """The complete, checked settings, as the checkpoint stores them."""
        if self.data is not None and self.data not in DATA:
            raise InputError(f"--data: expected one of {list(DATA)}, got {self.data!r}")
        if self.data == "toy":
            return self._record_toy()
        if self.preset not in PRESETS:
            raise InputError(f"--preset: expected one of {sorted(PRESETS)}, got {self.preset!r}")
        config = {k: getattr(self, k) for k in DEFAULTS}
        for k, v in {**DEFAULTS, **PRESETS[self.preset]}.items():
            if config[k] is None:  # a setting given explicitly wins over the preset
                config[k] = v
        if config["subsample"] < 0:
            raise InputError(f"--subsample expected >= 0, got {config['subsample']}")
        if config["window"] < 1:
            raise InputError(f"--window expected >= 1, got {config['window']}")
        config.update(
            corpus=self.corpus, seed=self.seed, max_grad=self.max_grad, task="word2vec", preset=self.preset
        )
        return config

    def _record_toy(self) -> dict[str, Any]:
        """Book 2's chapter 3 settings (:data:`TOY_DEFAULTS`), options given winning."""
        flags = {
            "negatives": "--negatives",
            "subsample": "--subsample",
            "shrink_window": "--shrink-window",
            "init": "--init",
            "corpus": "--corpus",
            "questions": "--questions",
        }
        bad = [flag for key, flag in flags.items() if getattr(self, key) is not None]
        if self.preset != "book":
            bad.append("--preset")
        if bad:
            raise InputError(
                f"--data toy trains book 2's chapter 3 models (a softmax over the words of one "
                f"sentence, no negative sampling): {', '.join(bad)} "
                + ("does" if len(bad) == 1 else "do")
                + " not apply"
            )
        config = {k: v if (v := getattr(self, k)) is not None else d for k, d in TOY_DEFAULTS.items()}
        for key in ("window", "hidden", "epochs"):
            if config[key] < 1:
                raise InputError(f"--{key} expected >= 1, got {config[key]}")
        # what the negative-sampling settings amount to here: none, no subsampling,
        # full windows, book 2's 0.01 * randn weights
        config.update(negatives=None, subsample=0.0, shrink_window=False, init="book", data="toy")
        config.update(corpus=None, seed=self.seed, max_grad=self.max_grad, task="word2vec", preset="book")
        return config


class Word2VecRunTrainer(Word2VecTrainer):
    """A word2vec run whose metrics also hold the analogy accuracy."""

    def __init__(self, *args: Any, questions: Path | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.questions = questions

    def metrics(self) -> dict[str, Any]:
        from zerokara.word_vectors import analogy_accuracy

        metrics = super().metrics()
        if self.questions is not None:
            res = analogy_accuracy(self.word_vectors(), self.questions)
            metrics.update(
                analogy_accuracy=res.accuracy,
                analogy_coverage=res.coverage,
                analogy_asked=res.asked,
                analogy_total=res.total,
            )
            self.analogy = res
        return metrics


def train_word2vec(
    config: Word2VecConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """Train on the corpus; the metrics hold the analogy accuracy when there are questions.
    Bad input leaves no run folder (it is made once the corpus and model are known fine)."""
    from zerokara.word_vectors import find_questions_file

    c = config.record()
    if resume and out_dir is not None:
        _check_resumed_data(Path(out_dir), c["data"])
    if c["data"] == "toy":
        return train_toy_word2vec(c, out_dir=out_dir, reporter=reporter, resume=resume)
    questions = Path(config.questions) if config.questions else None
    if questions is not None and not questions.is_file():
        raise InputError(f"--questions: {questions} not found")
    corpus, words = read_corpus(c.get("corpus"))
    rng = np.random.default_rng(c["seed"])
    model, opt, contexts, target = build(c, corpus, len(words), rng)
    if not 0 < c["batch_size"] <= len(target):
        raise InputError(
            f"word2vec: --batch-size expected in [1, {len(target)}] (the number of "
            f"(contexts, target) pairs), got {c['batch_size']}"
        )
    out = open_run_dir(out_dir, resume)
    trainer = Word2VecRunTrainer(
        model,
        opt,
        rng=rng,
        words=words,
        out_dir=out,
        reporter=reporter,
        config=c,
        max_grad=c.get("max_grad"),
        shrink_window=bool(c.get("shrink_window")),
        lr_schedule=c.get("lr_schedule", "constant"),
        questions=questions if questions is not None else find_questions_file(),
    )
    rep = trainer.reporter
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.resume()
        rep.info(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}")
    rep.info(
        f"word2vec: {type(model).__name__}, {len(words)} words, "
        f"{len(corpus)} tokens, window {c['window']}, hidden {c['hidden']}, "
        f"{c['negatives']} negatives, {c['optimizer']} lr {c['lr']}"
        + (f" ({c['lr_schedule']})" if c.get("lr_schedule", "constant") != "constant" else "")
        + f", batch {c['batch_size']}, {c['epochs']} epochs"
        + (f", subsample {c['subsample']}" if c.get("subsample") else "")
        + (", shrinking windows" if c.get("shrink_window") else "")
        + (f", {c['init']} init" if c.get("init", "book") != "book" else "")
        + f" -> {out}"
    )
    metrics = trainer.fit(
        contexts, target, epochs=c["epochs"], batch_size=c["batch_size"], resample=resampler(corpus, c)
    )
    return Run(metrics, trainer, out, c)


def _check_resumed_data(out_dir: Path, data: str) -> None:
    """A resume names the run's --data (before any corpus is read)."""
    path = out_dir / CHECKPOINT
    if not path.is_file():
        return  # open_run_dir says so
    _, meta = load_checkpoint(path)
    old = meta.get("config", {}).get("data", DEFAULTS["data"])
    if old != data:
        raise CheckpointError(
            f"{path}: cannot resume with --data {data}; the run was trained with --data {old}"
        )


def book_queries(wv: WordVectors) -> list[str]:
    """Book 2's similarity and analogy queries, a line each (the words the vocabulary has)."""
    from zerokara.word_vectors import BOOK_ANALOGIES, BOOK_QUERIES

    lines = [
        f"[query] {q}: " + ", ".join(f"{w} {s:.3f}" for w, s in wv.most_similar(q))
        for q in BOOK_QUERIES
        if q in wv
    ]
    lines += [
        f"[analogy] {a}:{b} = {c}:? " + ", ".join(f"{w} {s:.3f}" for w, s in wv.analogy(a, b, c))
        for a, b, c in BOOK_ANALOGIES
        if a in wv and b in wv and c in wv
    ]
    return lines


__all__ = [  # the trainer's names, for the modules that import them from here as before
    "DEFAULTS",
    "LR_SCHEDULES",
    "MODEL_KEYS",
    "OPTION_KEYS",
    "VECTORS_KEY",
    "Word2VecTrainer",
    "draw_reach",
    "scheduled_lr",
]
