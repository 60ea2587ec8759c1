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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, DataError, InputError
from zerokara.io import load_checkpoint
from zerokara.models.word2vec import MODELS, SimpleCBOW, SimpleSkipGram, create_contexts_target
from zerokara.optim import Optimizer, make_optimizer
from zerokara.train.loop import Trainer
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir
from zerokara.word_vectors import WordVectors

VECTORS_KEY = "model/embed_in.W"  # the word vectors inside a checkpoint
#: book 2's settings (chapter 4, train.py): used when an option is not given
DEFAULTS = {
    "model": "cbow",
    "window": 5,
    "hidden": 100,
    "batch_size": 100,
    "epochs": 10,
    "optimizer": "adam",
    "lr": 0.001,
    "negatives": 5,
    "subsample": 0.0,
    "shrink_window": False,
    "lr_schedule": "constant",
    "init": "book",
    "data": "ptb",
}
#: ``--data``: "ptb" (Penn Treebank or --corpus; chapter 4's negative-sampling
#: models) or "toy" (book 2's sentence; chapter 3's softmax models)
DATA = ("ptb", "toy")
#: book 2, chapter 3: the sentence ch03/train.py trains on, and its settings
TOY_TEXT = "You say goodbye and I say hello."
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
#: the toy run's history point: the mean loss of this many steps (book 2's
#: Trainer.fit eval_interval, the x-axis unit of its loss plot), or of the
#: epoch's steps if it ends sooner (the loop closes a point with each epoch):
#: the book's 6 pairs in batches of 3 make a point per epoch of 2 steps
TOY_LOG_EVERY = 20
#: the toy run prints its epoch line every this many epochs (and the last)
TOY_LINE_EVERY = 10
#: and checkpoints every this many epochs (and the last): its epochs take
#: microseconds, a checkpoint (written and synced to disk) milliseconds
TOY_SAVE_EVERY = 100
SIMPLE_MODELS: dict[str, type[SimpleCBOW] | type[SimpleSkipGram]] = {
    "cbow": SimpleCBOW,
    "skipgram": SimpleSkipGram,
}
#: settings a resumed run must share with the checkpoint
MODEL_KEYS = ("model", "window", "hidden", "negatives", "optimizer", "corpus", "batch_size", "subsample")
#: more such settings, absent from older checkpoints (which used book 2's values)
OPTION_KEYS = ("shrink_window", "lr_schedule", "init", "data")
#: learning-rate schedules: "constant" (book 2) or "linear" (gensim's alpha: from
#: lr down to 0 over the whole run, step by step)
LR_SCHEDULES = ("constant", "linear")
#: ``--preset gensim-like``: gensim's two data-side defaults (frequent-word
#: subsampling 1e-3, shrinking windows) with book 2's model, batch 100 and Adam,
#: at a 3x larger constant lr -- the best measured on PTB (docs/word2vec.md)
PRESETS: dict[str, dict[str, Any]] = {
    "book": {},
    "gensim-like": {"subsample": 1e-3, "shrink_window": True, "lr": 0.003},
}


def scheduled_lr(lr0: float, schedule: str, done: float) -> float:
    """The learning rate of a step taken when the fraction ``done`` (in [0, 1))
    of the run's steps is behind: ``lr0`` (constant) or ``lr0 * (1 - done)``
    (linear, as gensim decays alpha; the last step's rate is just above 0)."""
    if schedule == "constant":
        return lr0
    if schedule == "linear":
        return lr0 * (1.0 - done)
    raise InputError(f"word2vec: lr_schedule expected one of {list(LR_SCHEDULES)}, got {schedule!r}")


def draw_reach(rng: np.random.Generator, n: int, window: int) -> np.ndarray:
    """gensim's reduced windows: each of ``n`` targets gets an effective window
    drawn uniformly from 1..window, so a context word d positions away is used
    with probability (window - d + 1) / window -- near words weigh more."""
    return rng.integers(1, window + 1, size=n)


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


def toy_corpus(text: str = TOY_TEXT) -> tuple[np.ndarray, list[str]]:
    """(corpus ids (T,), words) of book 2's ``preprocess`` (:func:`zerokara.text.preprocess`):
    the book's sentence gives [0 1 2 3 4 1 5 6] over you, say, goodbye, and, i, hello, "."."""
    from zerokara.text import preprocess

    corpus, _, words = preprocess(text)
    return corpus, words


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


class Word2VecTrainer(Trainer):
    """Epochs of shuffled mini-batches of (contexts, target) pairs.

    Args (besides :class:`~zerokara.train.loop.Trainer`'s):
        model: CBOW / SkipGram (forward(contexts, target) -> loss, backward()).
        optimizer: updates ``model.parameters()`` (sparse rows).
        rng: shuffles the pairs each epoch (its state is checkpointed).
        words: the vocabulary, row i of the word vectors is words[i].
        log_every: a history point every this many steps (default: about 10 an epoch).
        shrink_window: draw each target's effective window from 1..w every
            epoch (gensim's reduced windows; the model's ``reach``).
        lr_schedule: "constant" (book 2) or "linear" (the optimizer's lr at
            construction decays to 0 over the ``epochs`` passed to ``fit``).
    """

    name = "word2vec"
    model: Any  # CBOW / SkipGram or their Simple* forms: forward(contexts, target), word_vecs
    rng: np.random.Generator  # required: it draws each epoch's pairs, order and windows

    def __init__(
        self,
        model: Any,
        optimizer: Optimizer,
        *,
        rng: np.random.Generator,
        words: list[str],
        log_every: int | None = None,
        shrink_window: bool = False,
        lr_schedule: str = "constant",
        **kw: Any,
    ) -> None:
        super().__init__(model, optimizer, rng=rng, **kw)
        self.words = list(words)
        scheduled_lr(optimizer.lr, lr_schedule, 0.0)  # an unknown schedule fails here, not mid-run
        self.shrink_window, self.lr_schedule, self.lr0 = shrink_window, lr_schedule, optimizer.lr
        self._log_every = log_every

    def fit(
        self,
        contexts: np.ndarray,
        target: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        resample: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> dict[str, Any]:
        """Shapes: contexts (P, 2w), target (P,) ids. ``resample(rng)``, if given,
        makes each epoch's pairs afresh (frequent-word subsampling); the pairs
        passed in then only size the progress bar."""
        n = len(target)
        if not 0 < batch_size <= n:
            raise InputError(
                f"word2vec: batch_size expected in [1, {n}] (the number of "
                f"(contexts, target) pairs), got {batch_size}"
            )
        per_epoch = n // batch_size  # a last partial batch is dropped, as book 2's trainer does
        # ~10 points per epoch, at most one per 100 steps
        self.log_every = self._log_every or max(1, min(100, per_epoch // 10))
        self.contexts, self.target, self.resample = contexts, target, resample
        self.batch_size, self.epochs = batch_size, epochs
        return self.run(epochs=epochs)

    def begin_epoch(self) -> int:
        if self.resample is not None:
            self.contexts, self.target = self.resample(self.rng)
        n = len(self.target)
        if n // self.batch_size == 0:
            raise InputError(
                f"word2vec: after subsampling only {n} pairs remain, "
                f"fewer than one batch of {self.batch_size}"
            )
        self.perm = self.rng.permutation(n)
        # one effective window per pair of the epoch, in the shuffled order
        self.reach = draw_reach(self.rng, n, self.contexts.shape[1] // 2) if self.shrink_window else None
        return n // self.batch_size

    def planned_steps(self, epochs: int | None) -> int:
        return (epochs or 0) * (len(self.target) // self.batch_size)

    def batch(self) -> tuple:
        rows = slice(self.pos * self.batch_size, (self.pos + 1) * self.batch_size)
        idx = self.perm[rows]
        return self.contexts[idx], self.target[idx], None if self.reach is None else self.reach[rows]

    def forward(self, batch: tuple) -> float:
        contexts, target, reach = batch
        if reach is None:
            return self.model.forward(contexts, target)
        return self.model.forward(contexts, target, reach=reach)

    def before_step(self) -> None:
        if self.lr_schedule != "constant":
            self.optimizer.lr = scheduled_lr(
                self.lr0, self.lr_schedule, (self.epoch + self.pos / self.epoch_steps) / self.epochs
            )

    def metrics(self) -> dict[str, Any]:
        return {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "final_loss": self.history["epochs"][-1]["loss"] if self.history["epochs"] else None,
            "train_seconds": round(self.seconds, 3),
        }

    def plot(self) -> None:
        from zerokara.train.plots import plot_history

        assert self.out_dir is not None  # finish() plots only into an out_dir
        plot_history({"iteration": self.history["iteration"], "loss": self.history["loss"]}, self.out_dir)

    def word_vectors(self) -> WordVectors:
        return WordVectors(self.model.word_vecs, self.words)

    # -- checkpoints -------------------------------------------------------------
    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The vocabulary and where the word vectors are: the checkpoint is also
        what ``zerokara similar`` and ``analogy`` read."""
        return {"kind": "word2vec", "vectors": VECTORS_KEY, "vocab": self.words}, {}

    # narrower than Trainer.resume on purpose: word2vec fixes its own check_keys and key_defaults
    def resume(self, path: Path | str | None = None) -> dict[str, Any]:  # type: ignore[override]
        path = self.checkpoint_path(path)
        _, meta = load_checkpoint(path)  # check the vocabulary before touching anything
        if meta.get("vocab") != self.words:
            raise CheckpointError(f"{path}: the checkpoint's vocabulary differs from the corpus's")
        meta = super().resume(path, check_keys=MODEL_KEYS + OPTION_KEYS, key_defaults=DEFAULTS)
        old = meta.get("config", {}).get("epochs")
        if self.lr_schedule == "linear" and old != self.config.get("epochs"):
            raise CheckpointError(
                f"{path}: the linear lr schedule spans the run's {old} epochs; "
                f"resume with --epochs {old}, not {self.config.get('epochs')}"
            )
        return meta


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
    max_grad: float | None = None
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


# -- book 2, chapter 3: the softmax models on one sentence ------------------------------


class _EveryNthEpoch(Reporter):
    """Passes everything to ``inner`` but only every ``every``-th epoch's line (and
    the last epoch's): a thousand one-sentence epochs would be a thousand lines."""

    def __init__(self, inner: Reporter, trainer: Trainer, every: int) -> None:
        self.inner, self.trainer, self.every = inner, trainer, every
        self.shows_progress = inner.shows_progress

    def start(self, what: str, total: int, done: int = 0) -> None:
        self.inner.start(what, total, done)

    def update(self, done: int, **values: float) -> None:
        self.inner.update(done, **values)

    def line(self, text: str) -> None:
        epoch, last = self.trainer.epoch, getattr(self.trainer, "epochs", None)
        if epoch % self.every == 0 or epoch == last or epoch == 1:
            self.inner.line(text)

    def finish(self) -> None:
        self.inner.finish()

    def info(self, text: str) -> None:
        self.inner.info(text)


class ToyWord2VecTrainer(Word2VecTrainer):
    """Book 2's chapter 3 run: :class:`Word2VecTrainer`'s shuffled batches for
    SimpleCBOW / SimpleSkipGram, a history point per ``TOY_LOG_EVERY`` steps
    (the book's eval_interval) or per epoch if shorter, an epoch line every
    ``TOY_LINE_EVERY`` epochs, a checkpoint every ``TOY_SAVE_EVERY``."""

    name = "word2vec (toy)"

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("log_every", TOY_LOG_EVERY)
        super().__init__(*args, **kw)
        self.reporter = _EveryNthEpoch(self.reporter, self, TOY_LINE_EVERY)

    def fit(self, *args: Any, **kw: Any) -> dict[str, Any]:
        """:meth:`Word2VecTrainer.fit`, with BLAS on one thread (3-row products: a
        second thread only waits, and on a busy machine it waits long)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return super().fit(*args, **kw)

    def save(self) -> None:
        """A checkpoint at every ``TOY_SAVE_EVERY``-th epoch's end and the last one's;
        inside an epoch (Ctrl-C, a stop after some updates) always."""
        if not self.pos and not self._stop and self.epoch % TOY_SAVE_EVERY and self.epoch != self.epochs:
            return
        super().save()

    def metrics(self) -> dict[str, Any]:
        metrics = super().metrics()
        metrics["first_loss"] = self.history["loss"][0] if self.history["loss"] else None
        return metrics

    def plot(self) -> None:
        from zerokara.train.plots import plt, save_figure

        assert self.out_dir is not None  # finish() plots only into an out_dir
        if not self.history["loss"]:
            return
        it = self.history["iteration"]
        steps = it[1] - it[0] if len(it) > 1 else it[0]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(it, self.history["loss"], label=f"mean of each {steps} steps")
        ax.set(xlabel="iteration", ylabel="loss", title=f"{type(self.model).__name__}: training loss")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
        save_figure(fig, self.out_dir / "loss.png")


def train_toy_word2vec(
    c: dict[str, Any],
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """SimpleCBOW / SimpleSkipGram on book 2's sentence, for a config recorded
    with ``data="toy"`` (:meth:`Word2VecConfig.record`)."""
    corpus, words = toy_corpus()
    contexts, target = create_contexts_target(corpus, c["window"])
    if not 0 < c["batch_size"] <= len(target):
        raise InputError(
            f"word2vec: --batch-size expected in [1, {len(target)}] (the number of "
            f"(contexts, target) pairs), got {c['batch_size']}"
        )
    rng = np.random.default_rng(c["seed"])
    model = SIMPLE_MODELS[c["model"]](len(words), c["hidden"], rng=rng)
    out = open_run_dir(out_dir, resume)
    trainer = ToyWord2VecTrainer(
        model,
        make_optimizer(c["optimizer"], c["lr"]),
        rng=rng,
        words=words,
        out_dir=out,
        reporter=reporter,
        config=c,
        max_grad=c.get("max_grad"),
        lr_schedule=c["lr_schedule"],
    )
    rep = trainer.reporter
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.resume()
        rep.info(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}")
    rep.info(
        f"word2vec (toy): {type(model).__name__} on {TOY_TEXT!r}: {len(words)} words, "
        f"{len(target)} (contexts, target) pairs, window {c['window']}, hidden {c['hidden']}, "
        f"{c['optimizer']} lr {c['lr']}"
        + (f" ({c['lr_schedule']})" if c["lr_schedule"] != "constant" else "")
        + f", batch {c['batch_size']}, {c['epochs']} epochs -> {out}"
    )
    metrics = trainer.fit(contexts, target, epochs=c["epochs"], batch_size=c["batch_size"])
    return Run(metrics, trainer, out, c)


def vector_lines(wv: WordVectors, digits: int = 3) -> list[str]:
    """One line per word, its vector (W_in's row) after it, as book 2's
    ch03/train.py prints them."""
    width = max(len(w) for w in wv.words)
    return [
        f"{w:<{width}}  [" + " ".join(f"{x:+.{digits}f}" for x in v) + "]"
        for w, v in zip(wv.words, wv.vectors, strict=True)
    ]
