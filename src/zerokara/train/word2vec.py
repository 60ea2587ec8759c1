"""Training word2vec (CBOW or skip-gram with negative sampling) on a corpus.

The loop is book 2's: every epoch shuffles the (contexts, target) pairs with
the run's generator and takes them ``batch_size`` at a time; each step is
forward, backward, and an optimizer update of just the rows the batch used
(the gradients are RowGrads). The checkpoint written after every epoch holds
the parameters, the optimizer's state, every generator's state and the
vocabulary (in the safetensors metadata), so it is at once a resumable run
and the word vectors ``zerokara similar`` and ``zerokara analogy`` read.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, DataError, InputError, NaNLossError
from zerokara.io import atomic_write_text, load_checkpoint
from zerokara.models.word2vec import MODELS, create_contexts_target
from zerokara.optim import Optimizer, clip_grads, make_optimizer
from zerokara.train.progress import Progress, console
from zerokara.train.state import CHECKPOINT, load_run, save_run
from zerokara.word_vectors import WordVectors

VECTORS_KEY = "model/embed_in.W"  # the word vectors inside a checkpoint
#: book 2's settings (chapter 4, train.py): used when an option is not given
DEFAULTS = {"model": "cbow", "window": 5, "hidden": 100, "batch_size": 100, "epochs": 10,
            "optimizer": "adam", "lr": 0.001, "negatives": 5, "subsample": 0.0,
            "shrink_window": False, "lr_schedule": "constant", "init": "book"}
#: settings a resumed run must share with the checkpoint
MODEL_KEYS = ("model", "window", "hidden", "negatives", "optimizer", "corpus", "batch_size",
              "subsample")
#: more such settings, absent from older checkpoints (which used book 2's values)
OPTION_KEYS = ("shrink_window", "lr_schedule", "init")
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


class Word2VecTrainer:
    """Epochs of shuffled mini-batches of (contexts, target) pairs.

    Args:
        model: CBOW / SkipGram (forward(contexts, target) -> loss, backward()).
        optimizer: updates ``model.parameters()`` (sparse rows).
        rng: shuffles the pairs each epoch (its state is checkpointed).
        words: the vocabulary, row i of the word vectors is words[i].
        out_dir: where checkpoint, history and metrics go (None: nowhere).
        shrink_window: draw each target's effective window from 1..w every
            epoch (gensim's reduced windows; the model's ``reach``).
        lr_schedule: "constant" (book 2) or "linear" (the optimizer's lr at
            construction decays to 0 over the ``epochs`` passed to ``fit``).
    """

    def __init__(self, model: Any, optimizer: Optimizer, *, rng: np.random.Generator,
                 words: list[str], out_dir: Path | str | None = None, progress: bool = True,
                 config: dict[str, Any] | None = None, log_every: int | None = None,
                 max_grad: float | None = None, shrink_window: bool = False,
                 lr_schedule: str = "constant") -> None:
        self.model, self.optimizer, self.rng, self.words = model, optimizer, rng, list(words)
        scheduled_lr(optimizer.lr, lr_schedule, 0.0)  # an unknown schedule fails here, not mid-run
        self.shrink_window, self.lr_schedule, self.lr0 = shrink_window, lr_schedule, optimizer.lr
        self.max_grad = max_grad
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.show_progress, self.config, self.log_every = progress, dict(config or {}), log_every
        self.epoch = self.iteration = 0
        self.seconds = 0.0
        # loss every log_every steps (their mean); per epoch: mean loss and seconds
        self.history: dict[str, list] = {"iteration": [], "loss": [], "epochs": []}

    def fit(self, contexts: np.ndarray, target: np.ndarray, *, epochs: int, batch_size: int,
            resample: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None
            ) -> dict[str, Any]:
        """Shapes: contexts (P, 2w), target (P,) ids. ``resample(rng)``, if given,
        makes each epoch's pairs afresh (frequent-word subsampling); the pairs
        passed in then only size the progress bar."""
        n = len(target)
        if not 0 < batch_size <= n:
            raise InputError(f"word2vec: batch_size expected in [1, {n}] (the number of "
                             f"(contexts, target) pairs), got {batch_size}")
        per_epoch = n // batch_size  # a last partial batch is dropped, as book 2's trainer does
        if self.log_every is None:  # ~10 points per epoch, at most one per 100 steps
            self.log_every = max(1, min(100, per_epoch // 10))
        model, opt = self.model, self.optimizer
        params = model.parameters()
        bar = Progress("word2vec", total=epochs * per_epoch, done=self.iteration,
                       enabled=self.show_progress)
        with bar:
            while self.epoch < epochs:
                start = time.perf_counter()
                if resample is not None:
                    contexts, target = resample(self.rng)
                    n = len(target)
                    per_epoch = n // batch_size
                    if per_epoch == 0:
                        raise InputError(f"word2vec: after subsampling only {n} pairs remain, "
                                         f"fewer than one batch of {batch_size}")
                perm = self.rng.permutation(n)
                # one effective window per pair of the epoch, in the shuffled order
                reach = (draw_reach(self.rng, n, contexts.shape[1] // 2)
                         if self.shrink_window else None)
                total, window = 0.0, 0.0
                for i in range(per_epoch):
                    idx = perm[i * batch_size:(i + 1) * batch_size]
                    if self.lr_schedule != "constant":
                        opt.lr = scheduled_lr(self.lr0, self.lr_schedule,
                                              (self.epoch + i / per_epoch) / epochs)
                    if reach is None:
                        loss = model.forward(contexts[idx], target[idx])
                    else:
                        loss = model.forward(contexts[idx], target[idx],
                                             reach=reach[i * batch_size:(i + 1) * batch_size])
                    if not math.isfinite(loss):
                        raise NaNLossError(f"word2vec: loss became {loss} at iteration "
                                           f"{self.iteration + 1}; lower the learning rate "
                                           f"(now {opt.lr})")
                    model.backward()
                    grads = model.gradients()
                    if self.max_grad is not None:
                        clip_grads(grads, self.max_grad)
                    opt.update(params, grads)
                    self.iteration += 1
                    total += loss
                    window += loss
                    if self.iteration % self.log_every == 0:
                        self.history["iteration"].append(self.iteration)
                        self.history["loss"].append(window / self.log_every)
                        window = 0.0
                        bar.update(self.iteration, loss=self.history["loss"][-1])
                self.epoch += 1
                self.seconds += time.perf_counter() - start
                row = {"epoch": self.epoch, "iteration": self.iteration,
                       "loss": total / per_epoch, "seconds": round(self.seconds, 3)}
                self.history["epochs"].append(row)
                bar.log(f"epoch {self.epoch}/{epochs}  loss {row['loss']:.4f}  "
                        f"{row['seconds']:.1f} s")
                self.save()
        return {"epochs": self.epoch, "iterations": self.iteration,
                "final_loss": self.history["epochs"][-1]["loss"] if self.history["epochs"] else None,
                "train_seconds": round(self.seconds, 3)}

    def word_vectors(self) -> WordVectors:
        return WordVectors(self.model.word_vecs, self.words)

    # -- checkpoints -------------------------------------------------------------
    def save(self) -> None:
        if self.out_dir is None:
            return
        meta = {"kind": "word2vec", "config": self.config, "epoch": self.epoch,
                "iteration": self.iteration, "seconds": self.seconds, "vectors": VECTORS_KEY,
                "vocab": self.words}
        save_run(self.out_dir / CHECKPOINT, self.model, self.optimizer, rng=self.rng, meta=meta,
                 history=self.history)

    def resume(self, path: Path | str | None = None) -> None:
        path = Path(path) if path is not None else self.out_dir / CHECKPOINT
        _, meta = load_checkpoint(path)  # check the vocabulary before touching anything
        if meta.get("vocab") != self.words:
            raise CheckpointError(f"{path}: the checkpoint's vocabulary differs from the corpus's")
        meta, _ = load_run(path, self.model, self.optimizer, rng=self.rng, config=self.config,
                           check_keys=MODEL_KEYS + OPTION_KEYS, key_defaults=DEFAULTS)
        old = meta.get("config", {}).get("epochs")
        if self.lr_schedule == "linear" and old != self.config.get("epochs"):
            raise CheckpointError(f"{path}: the linear lr schedule spans the run's {old} epochs; "
                                  f"resume with --epochs {old}, not {self.config.get('epochs')}")
        self.epoch, self.iteration, self.seconds = meta["epoch"], meta["iteration"], meta["seconds"]
        hist = path.parent / "history.json"
        if hist.is_file():
            self.history = json.loads(hist.read_text())


def load_word_vectors(path: Path | str) -> WordVectors:
    """The word vectors and vocabulary of a word2vec checkpoint (the file or its run folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    tensors, meta = load_checkpoint(path)
    key = meta.get("vectors", VECTORS_KEY)
    if meta.get("kind") != "word2vec" or key not in tensors or "vocab" not in meta:
        raise CheckpointError(f"{path} is not a word2vec checkpoint (no word vectors and "
                              "vocabulary in it); train one with `zerokara train word2vec`")
    vecs, words = tensors[key], meta["vocab"]
    if vecs.shape[0] != len(words):
        raise CheckpointError(f"{path}: {vecs.shape[0]} vectors but {len(words)} words")
    return WordVectors(vecs, words)


def build(config: dict[str, Any], corpus: np.ndarray, vocab_size: int,
          rng: np.random.Generator) -> tuple[Any, Optimizer, np.ndarray, np.ndarray]:
    """(model, optimizer, contexts, target) for a config holding DEFAULTS' keys."""
    contexts, target = create_contexts_target(corpus, config["window"])
    if config["negatives"] < 1 or config["hidden"] < 1:
        raise InputError(f"word2vec: --negatives and --hidden expected >= 1, got "
                         f"{config['negatives']} and {config['hidden']}")
    model = MODELS[config["model"]](vocab_size, config["hidden"], corpus,
                                    sample_size=config["negatives"], rng=rng,
                                    init=config.get("init", "book"))
    return model, make_optimizer(config["optimizer"], config["lr"]), contexts, target


def resampler(corpus: np.ndarray, config: dict[str, Any]):
    """Each epoch's pairs over a freshly subsampled corpus, or None when
    ``subsample`` is 0 (book 2: every word, every epoch)."""
    t = config.get("subsample") or 0.0
    if t <= 0:
        return None
    return lambda rng: create_contexts_target(subsample(corpus, t, rng), config["window"])


def run_word2vec(config: dict[str, Any], *, out: Path | Callable[[], Path] | None,
                 resume: bool = False, progress: bool = True,
                 questions: Path | None = None) -> dict[str, Any]:
    """What ``zerokara train word2vec`` does: train, report the book's
    queries and the analogy accuracy, write metrics.json.

    ``out`` may be a function making the run folder: it is called once the
    corpus and the model are known to be fine, so bad input leaves no folder.
    """
    from zerokara.word_vectors import (BOOK_ANALOGIES, BOOK_QUERIES, analogy_accuracy,
                                       find_questions_file)

    corpus, words = read_corpus(config.get("corpus"))
    rng = np.random.default_rng(config["seed"])
    model, opt, contexts, target = build(config, corpus, len(words), rng)
    if not 0 < config["batch_size"] <= len(target):
        raise InputError(f"word2vec: --batch-size expected in [1, {len(target)}] (the number of "
                         f"(contexts, target) pairs), got {config['batch_size']}")
    if callable(out):
        out = out()
    trainer = Word2VecTrainer(model, opt, rng=rng, words=words, out_dir=out, progress=progress,
                              config=config, max_grad=config.get("max_grad"),
                              shrink_window=bool(config.get("shrink_window")),
                              lr_schedule=config.get("lr_schedule", "constant"))
    if resume:
        trainer.resume()
        console.print(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}")
    console.print(f"[bold]word2vec[/bold]: {type(model).__name__}, {len(words)} words, "
                  f"{len(corpus)} tokens, window {config['window']}, hidden {config['hidden']}, "
                  f"{config['negatives']} negatives, {config['optimizer']} lr {config['lr']}"
                  + (f" ({config['lr_schedule']})" if config.get("lr_schedule", "constant") != "constant"
                     else "")
                  + f", batch {config['batch_size']}, {config['epochs']} epochs"
                  + (f", subsample {config['subsample']}" if config.get("subsample") else "")
                  + (", shrinking windows" if config.get("shrink_window") else "")
                  + (f", {config['init']} init" if config.get("init", "book") != "book" else "")
                  + f" -> {out}", highlight=False)
    metrics = trainer.fit(contexts, target, epochs=config["epochs"], batch_size=config["batch_size"],
                          resample=resampler(corpus, config))
    wv = trainer.word_vectors()
    for q in BOOK_QUERIES:
        if q in wv:
            console.print(f"[query] {q}: " + ", ".join(f"{w} {s:.3f}" for w, s in wv.most_similar(q)),
                          highlight=False, markup=False)
    for a, b, c in BOOK_ANALOGIES:
        if a in wv and b in wv and c in wv:
            console.print(f"[analogy] {a}:{b} = {c}:? " +
                          ", ".join(f"{w} {s:.3f}" for w, s in wv.analogy(a, b, c)),
                          highlight=False, markup=False)
    qfile = questions if questions is not None else find_questions_file()
    if qfile is not None:
        res = analogy_accuracy(wv, qfile)
        metrics.update(analogy_accuracy=res.accuracy, analogy_coverage=res.coverage,
                       analogy_asked=res.asked, analogy_total=res.total)
        console.print(res.summary(), highlight=False)
    if out is not None:
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        from zerokara.train.plots import plot_history

        plot_history({"iteration": trainer.history["iteration"], "loss": trainer.history["loss"]}, out)
        console.print(f"wrote {out}/: " + ", ".join(sorted(p.name for p in out.iterdir()
                                                            if not p.name.startswith("."))))
    return metrics
