"""Training language models with truncated BPTT (book 2's RnnlmTrainer, chapter 5-6).

The corpus is read as ``batch_size`` parallel streams: stream i starts at
offset ``i * (len // batch_size)`` and every iteration takes the next
``time_size`` words of each stream, so consecutive batches continue each
other's sentences and the LSTM state is carried from one to the next (the
gradient is not: that is the "truncation"). An epoch is
``len // (batch_size * time_size)`` iterations. The next epoch's streams
start again at their offsets or go on where this one stopped (``streams``);
the state is reset at the start of each epoch and around every evaluation.

After each epoch: perplexity on valid (eval mode, fresh state, many streams
at once), learning-rate decay, the best-on-valid model saved, and a resumable
checkpoint. At the end: test perplexity of the best model, metrics.json and
the perplexity curve.

Perplexity is ``exp(mean cross-entropy per word)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, InputError
from zerokara.io import load_checkpoint, save_checkpoint, split_prefix
from zerokara.models.rnnlm import LanguageModel
from zerokara.optim import Optimizer
from zerokara.train.loop import Trainer
from zerokara.train.state import CHECKPOINT as CHECKPOINT  # re-exported: both LM checkpoint names here

BEST = "best.safetensors"
#: a perplexity above float32's largest number: the model has diverged
PPL_DIVERGED = float(np.finfo(np.float32).max)  # the model with the best valid perplexity so far
DECAYS = ("plateau", "zaremba", "none")
STREAMS = ("restart", "continue")


def check_corpus(corpus: np.ndarray, vocab_size: int, what: str) -> np.ndarray:
    """A 1-d integer array of ids in [0, vocab_size); a clear error otherwise."""
    if not isinstance(corpus, np.ndarray) or corpus.dtype.kind not in "iu" or corpus.ndim != 1:
        got = (
            f"{corpus.dtype} array of shape {corpus.shape}"
            if isinstance(corpus, np.ndarray)
            else type(corpus).__name__
        )
        raise InputError(f"{what}: expected a 1-d integer array of word ids, got {got}")
    if corpus.size:
        bad = np.flatnonzero((corpus < 0) | (corpus >= vocab_size))
        if bad.size:
            i = int(bad[0])
            raise InputError(
                f"{what}: token id {int(corpus[i])} at position {i} is outside the "
                f"vocabulary (expected ids in [0, {vocab_size - 1}])"
            )
    return corpus


def _check_length(corpus: np.ndarray, batch_size: int, time_size: int, what: str) -> None:
    need = batch_size * time_size + 1
    if len(corpus) < need:
        raise InputError(
            f"{what}: the corpus has {len(corpus)} tokens, shorter than one batch "
            f"(batch_size {batch_size} x time_size {time_size} + 1 = {need}); "
            "use a smaller --batch-size or --time-size"
        )


def batch_indices(data_size: int, batch_size: int, time_size: int, k: int) -> np.ndarray:
    """Positions (batch_size, time_size) of iteration k: stream i reads
    ``i * (data_size // batch_size) + k * time_size + t``, wrapping around the
    end of the corpus (k may run past one epoch: see ``LMTrainer(streams=)``)."""
    jump = data_size // batch_size
    pos = (np.arange(batch_size) * jump)[:, None] + (k * time_size + np.arange(time_size))[None, :]
    return pos % data_size


def perplexity(
    model: LanguageModel, corpus: np.ndarray, *, batch_size: int = 10, time_size: int = 35
) -> float:
    """exp(mean loss per word) of predicting corpus[1:] from corpus[:-1].

    As book 2's ``eval_perplexity``: ``batch_size`` streams read in steps of
    ``time_size`` with the state carried, in eval mode from a fresh state;
    unlike it, each stream's last partial chunk is read too, so every word
    but the last ``(len - 1) % batch_size`` is scored. The model's mode is
    restored and its state reset afterwards.
    """
    corpus = check_corpus(corpus, model.vocab_size, "perplexity")
    n = len(corpus) - 1
    if n < batch_size:
        raise InputError(
            f"perplexity: the corpus has {len(corpus)} tokens, fewer than batch_size {batch_size} + 1"
        )
    xs, ts = corpus[:-1], corpus[1:]
    jump = n // batch_size
    starts = np.arange(batch_size) * jump
    was_training = model.training
    model.eval()
    model.reset_state()
    total, count = 0.0, 0
    try:
        for s in range(0, jump, time_size):
            idx = starts[:, None] + np.arange(s, min(s + time_size, jump))[None, :]
            loss = model.forward(xs[idx], ts[idx])
            total += loss * idx.size
            count += idx.size
    finally:
        model.reset_state()
        model.train(was_training)
    mean = total / count
    # a diverged model: inf, not an OverflowError (its trainer reports the divergence)
    return float(math.exp(mean)) if mean < 709 else math.inf


@dataclass
class LRSchedule:
    """Learning-rate decay after each epoch.

    "plateau": divide by ``factor`` (book 2: 4) when valid perplexity did not improve.
    "zaremba": lr0 / ``factor`` ** max(epoch - start, 0) for the next epoch
        (Zaremba et al.: factor 2 after the 4th epoch).
    "none": constant.
    """

    kind: str = "plateau"
    factor: float = 4.0
    start: int = 4

    def __post_init__(self) -> None:
        if self.kind not in DECAYS:
            raise InputError(f"lr decay: expected one of {DECAYS}, got {self.kind!r}")
        if not self.factor >= 1:
            raise InputError(f"lr decay: factor expected >= 1, got {self.factor}")

    def next_lr(self, lr: float, lr0: float, epoch: int, improved: bool) -> float:
        """The learning rate for epoch ``epoch + 1`` after ``epoch`` epochs are done."""
        if self.kind == "plateau":
            return lr if improved else lr / self.factor
        if self.kind == "zaremba":
            return lr0 / self.factor ** max(epoch + 1 - self.start, 0)
        return lr


class LMTrainer(Trainer):
    """Train a :class:`~zerokara.models.rnnlm.LanguageModel` with truncated BPTT.

    Args (besides :class:`~zerokara.train.loop.Trainer`'s):
        out_dir: checkpoint.safetensors (resume), best.safetensors (best on
            valid), history.json, metrics.json, perplexity.png (None: nothing written).
        schedule: learning-rate decay (see :class:`LRSchedule`).
        vocab: id -> word, stored with the checkpoints so generation needs no data.
        save_every: also checkpoint inside an epoch every this many seconds
            (with the carried LSTM state, so a resume is exact); None: epoch ends only.
        eval_batch_size, eval_time_size: how :func:`perplexity` reads valid/test.
        log_interval: a training-perplexity point every this many updates.
        streams: where each epoch's streams start. "continue" (default): where
            the last epoch stopped, as book 2's RnnlmTrainer (its ``time_idx`` is
            never reset), so the windows' edges move by a few words from one
            epoch to the next; on PTB with book 2's Rnnlm this gives a lower
            test perplexity than "restart" (README). "restart": at their
            offsets, so every epoch reads the same windows (Zaremba et al.'s
            code). The state is reset at the start of each epoch either way.
    """

    model: LanguageModel
    series = "perplexity"

    def __init__(
        self,
        model: LanguageModel,
        optimizer: Optimizer,
        *,
        schedule: LRSchedule | None = None,
        vocab: list[str] | None = None,
        save_every: float | None = 300.0,
        eval_batch_size: int = 10,
        eval_time_size: int = 35,
        log_interval: int = 20,
        streams: str = "continue",
        **kw: Any,
    ) -> None:
        if streams not in STREAMS:
            raise InputError(f"LMTrainer: streams expected one of {STREAMS}, got {streams!r}")
        super().__init__(model, optimizer, save_every=save_every, **kw)
        self.streams = streams
        self.schedule = schedule or LRSchedule()
        self.vocab = vocab
        self.eval_batch_size, self.eval_time_size = eval_batch_size, eval_time_size
        self.log_every = log_interval
        self.lr0 = optimizer.lr
        self.tokens = 0  # words trained on
        self.best_ppl = math.inf

    def fit(
        self,
        train: np.ndarray,
        valid: np.ndarray | None = None,
        test: np.ndarray | None = None,
        *,
        epochs: int,
        batch_size: int = 20,
        time_size: int = 35,
        max_iters: int | None = None,
    ) -> dict[str, Any]:
        """Train until ``epochs`` epochs are complete (or ``max_iters`` updates
        in total); returns the metrics (also written to metrics.json)."""
        V = self.model.vocab_size
        if batch_size < 1 or time_size < 1:
            raise InputError(
                f"LMTrainer: batch_size and time_size expected >= 1, got {batch_size} and {time_size}"
            )
        train = check_corpus(train, V, "train corpus")
        _check_length(train, batch_size, time_size, "train corpus")
        for name, c in (("valid corpus", valid), ("test corpus", test)):
            if c is not None:
                check_corpus(c, V, name)
                _check_length(c, self.eval_batch_size, 1, name)
        self.xs, self.ts = train[:-1], train[1:]
        self.valid, self.test = valid, test
        self.batch_size, self.time_size = batch_size, time_size
        self.model.train()
        return self.run(epochs=epochs, iters=max_iters)

    # -- batches: parallel streams of the corpus ----------------------------------------------
    def begin_epoch(self) -> int:
        self.model.reset_state()
        return len(self.xs) // (self.batch_size * self.time_size)

    def planned_steps(self, epochs: int | None) -> int:
        return (epochs or 0) * (len(self.xs) // (self.batch_size * self.time_size))

    def batch(self) -> tuple:
        k = self.iteration if self.streams == "continue" else self.pos
        idx = batch_indices(len(self.xs), self.batch_size, self.time_size, k)
        self.tokens += idx.size
        return self.xs[idx], self.ts[idx]

    def series_value(self, mean_loss: float) -> float:
        return math.exp(mean_loss)

    def progress_values(self) -> dict[str, float]:
        elapsed = max(self.seconds + time.perf_counter() - self.segment_start, 1e-9)
        return {
            "ppl": self.history["perplexity"][-1],
            "lr": self.optimizer.lr,
            "tok/s": self.tokens / elapsed,
        }

    # -- evaluation and epoch-end hooks --------------------------------------------------------
    def evaluate(self, corpus: np.ndarray) -> float:
        return perplexity(self.model, corpus, batch_size=self.eval_batch_size, time_size=self.eval_time_size)

    def end_epoch(self) -> dict[str, Any]:
        self.model.reset_state()
        row: dict[str, Any] = {
            "lr": self.optimizer.lr,
            "train_perplexity": self.history["perplexity"][-1] if self.history["perplexity"] else None,
        }
        self._improved = True
        if self.valid is not None:
            ppl = self.evaluate(self.valid)
            if not ppl <= PPL_DIVERGED:
                self.diverged(f"valid perplexity became {ppl:.4g} after epoch {self.epoch}")
            row["valid_perplexity"] = ppl
            self._improved = ppl < self.best_ppl
            if self._improved:
                self.best_ppl = ppl
                self.save_model(BEST)
        elif self.out_dir is not None:
            self.save_model(BEST)  # nothing to select on: the latest model is the one kept
        return row

    def after_epoch(self, row: dict[str, Any]) -> None:
        self.optimizer.lr = self.schedule.next_lr(self.optimizer.lr, self.lr0, self.epoch, self._improved)

    def epoch_line(self, row: dict[str, Any], epochs: int | None) -> str:
        parts = [f"epoch {row['epoch']}/{epochs}"]
        if row.get("train_perplexity") is not None:
            parts.append(f"train ppl {row['train_perplexity']:.2f}")
        if "valid_perplexity" in row:
            parts.append(f"valid ppl {row['valid_perplexity']:.2f}")
        parts += [f"lr {row['lr']:g}", f"{row['seconds']:.1f} s"]
        return "  ".join(parts)

    def metrics(self) -> dict[str, Any]:
        """Final metrics; test perplexity is the best-on-valid model's."""
        metrics: dict[str, Any] = {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "train_perplexity": self.history["perplexity"][-1] if self.history["perplexity"] else None,
            "valid_perplexity": self.best_ppl if math.isfinite(self.best_ppl) else None,
            "train_seconds": round(self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 1) if self.seconds else None,
        }
        if self.test is not None:
            best = self.out_dir / BEST if self.out_dir is not None else None
            if best is not None and best.is_file():
                current = {k: v.copy() for k, v in self.model.state_dict().items()}
                tensors, _ = load_checkpoint(best)
                self.model.load_state_dict(split_prefix(tensors, "model"), source=str(best))
                metrics["test_perplexity"] = self.evaluate(self.test)
                self.model.load_state_dict(current)  # the trainer's model stays the latest one
            else:
                metrics["test_perplexity"] = self.evaluate(self.test)
        metrics["lr"] = self.optimizer.lr
        return metrics

    def plot(self) -> None:
        assert self.out_dir is not None  # finish() plots only into an out_dir
        plot_perplexity(self.history, self.out_dir / "perplexity.png")

    # -- checkpoints -------------------------------------------------------------------------
    def save_model(self, name: str = BEST) -> None:
        """The model alone (for evaluate/generate), with its config and vocabulary."""
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tensors = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        meta = {"config": self.config, "epoch": self.epoch, "iteration": self.iteration, "vocab": self.vocab}
        save_checkpoint(self.out_dir / name, tensors, meta)

    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The carried LSTM state inside an epoch, the word count, the schedule's state."""
        state = {f"state/{k}": v for k, v in self.model.get_state().items()} if self.pos else {}
        meta = {
            "tokens": self.tokens,
            "lr0": self.lr0,
            "vocab": self.vocab,
            "best_ppl": self.best_ppl if math.isfinite(self.best_ppl) else None,
        }
        return meta, state

    def resume(self, path: Path | str | None = None, **kw: Any) -> dict[str, Any]:
        meta = super().resume(path, **kw)
        if "pos" not in meta or "best_ppl" not in meta:
            raise CheckpointError(f"{self.checkpoint_path(path)} is not a language-model training checkpoint")
        if "loss_acc" in meta:  # checkpoint format 1 kept the log window under this name
            self._window = list(meta["loss_acc"])
        return meta

    def load_task_state(self, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        self.model.set_state(split_prefix(tensors, "state"))
        self.lr0, self.tokens = meta["lr0"], meta["tokens"]
        self.best_ppl = meta["best_ppl"] if meta["best_ppl"] is not None else math.inf


def plot_perplexity(history: dict[str, list], path: Path) -> Path | None:
    """Training perplexity (per log interval) and valid perplexity (per epoch),
    against the iteration, on a log scale; None if there is nothing to draw."""
    from zerokara.train.plots import plt, save_figure

    it, ppl = history["iteration"], history["perplexity"]
    rows = [r for r in history["epochs"] if "valid_perplexity" in r]
    if not it and not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    if it:
        ax.plot(it, ppl, lw=0.8, color="tab:blue", alpha=0.7, label="train (running)")
    if rows:
        ax.plot(
            [r["iteration"] for r in rows],
            [r["valid_perplexity"] for r in rows],
            marker="o",
            ms=4,
            color="tab:orange",
            label="valid (end of epoch)",
        )
    ax.set_yscale("log")
    ax.set(xlabel="iteration", ylabel="perplexity", title="perplexity")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(fig, Path(path))
