"""Training the course's binary-addition RNN (深層学習 Day 3, section 1).

Each step draws fresh pairs (a, b), a, b in [0, 128), from the run's seeded
generator (one pair per step by default, as the course does), runs forward and
BPTT over the 8 bits, and updates the weights. There is no fixed training set:
the held-out pairs are the ones the run happened never to draw (after 10,000
single-pair steps about 46% of the 16,384 pairs have been drawn and 54% are
held out), and the final accuracy is also measured over all 128 x 128 pairs.

Used by ``zerokara train binary-addition`` (:func:`run_cli`) and by each trial
of ``zerokara sweep binary-addition`` (:func:`run_trial`).
"""

from __future__ import annotations

import json
import math
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape

from zerokara.errors import InputError, NaNLossError
from zerokara.io import atomic_write_text, load_checkpoint
from zerokara.models.binary_addition import (BITS, INITS, LARGEST, LOSSES,
                                             BinaryAdditionRNN, all_pairs, course_bits, decode,
                                             encode, evaluate)
from zerokara.optim import OPTIMIZERS, clip_grads, make_optimizer
from zerokara.train.progress import Progress, console
from zerokara.train.state import CHECKPOINT, load_run, save_run
PAIRS = LARGEST * LARGEST  # 16,384 pairs (a, b); pair index i = a * 128 + b

#: the course's settings (3_1_simple_RNN: hidden_layer_size 16, weight_init_std 1,
#: learning_rate 0.1, iters_num 10000, one pair per step, plain SGD, squared error)
DEFAULTS: dict[str, Any] = {
    "hidden": 16, "activation": "sigmoid", "init": "std", "weight_init_std": 1.0, "lr": 0.1,
    "iters": 10_000, "batch_size": 1, "max_grad": None, "loss": "mse", "optimizer": "sgd", "seed": 0,
}
#: settings that shape the model or its training state: a resumed run must keep them
MODEL_KEYS = ("hidden", "activation", "init", "weight_init_std", "loss", "optimizer", "seed")
#: how each setting is read from text (CLI values, sweep grids) and checked
CHOICES = {"activation": ("sigmoid", "tanh", "relu"), "init": INITS, "loss": LOSSES,
           "optimizer": tuple(OPTIMIZERS)}
POSITIVE_INT = ("hidden", "iters", "batch_size")
POSITIVE_FLOAT = ("weight_init_std", "lr", "max_grad")


def check_config(config: dict[str, Any], where: str = "binary-addition") -> dict[str, Any]:
    """A complete, checked config: DEFAULTS overridden by ``config``."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise InputError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(DEFAULTS)}")
    c = {**DEFAULTS, **config}
    for k, allowed in CHOICES.items():
        if c[k] not in allowed:
            raise InputError(f"{where}: {k} expected one of {', '.join(allowed)}, got {c[k]!r}")
    for k in POSITIVE_INT:
        if not isinstance(c[k], (int, np.integer)) or c[k] < 1:
            raise InputError(f"{where}: {k} expected a positive integer, got {c[k]!r}")
    for k in POSITIVE_FLOAT:
        if c[k] is not None and not (isinstance(c[k], (int, float)) and math.isfinite(c[k]) and c[k] > 0):
            raise InputError(f"{where}: {k} expected a positive number, got {c[k]!r}")
    if not isinstance(c["seed"], (int, np.integer)) or c["seed"] < 0:
        raise InputError(f"{where}: seed expected a non-negative integer, got {c['seed']!r}")
    return c


def _tables(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (16384, 8, 2) and targets (16384, 8) of every pair, in pair-index order."""
    a, b = all_pairs()
    return encode(a, b, dtype=dtype)


class AdditionTrainer:
    """One run: the model, its optimizer, the data generator, and the run files.

    Args:
        config: settings (see DEFAULTS); missing ones take the course's values.
        out_dir: where checkpoint, history, metrics and plots go (None: nowhere).
        progress: show a progress bar and a line per evaluation.
        eval_every: evaluate on all pairs every this many steps (default iters // 10).
    """

    def __init__(self, config: dict[str, Any], *, out_dir: Path | str | None = None,
                 progress: bool = False, eval_every: int | None = None) -> None:
        self.config = check_config(config)
        c = self.config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.show_progress = progress
        self.eval_every = eval_every
        self.rng = np.random.default_rng(c["seed"])  # draws the initial weights, then every pair
        self.model = BinaryAdditionRNN(c["hidden"], activation=c["activation"], init=c["init"],
                                       weight_init_std=c["weight_init_std"], loss=c["loss"], rng=self.rng)
        self.model.input_grad = False  # nobody needs the gradient of the input bits
        self.optimizer = make_optimizer(c["optimizer"], c["lr"])
        # the dicts hold the model's own arrays, which forward/backward/update change in place
        self.params, self.grads = self.model.parameters(), self.model.gradients()
        self.x_all, self.d_all = _tables(self.model.params["W"].dtype)
        self.seen = np.zeros(PAIRS, dtype=bool)  # pairs drawn for training so far
        self.iteration = 0
        self.seconds = 0.0  # training time (steps only), summed across resumes
        self.losses: list[float] = []  # one per step: the batch's mean loss per sequence
        self.evals: list[dict[str, Any]] = []

    # -- training ------------------------------------------------------------------------
    def step(self) -> float:
        """Draw a batch of pairs, forward, BPTT, (clip,) update. Returns the loss."""
        idx = self.rng.integers(0, PAIRS, size=self.config["batch_size"])  # a and b uniform, independent
        self.seen[idx] = True
        loss = self.model.forward(self.x_all[idx], self.d_all[idx])
        if not math.isfinite(loss):
            where = (f" The last good checkpoint is {self.out_dir / CHECKPOINT}."
                     if self.out_dir is not None and (self.out_dir / CHECKPOINT).exists() else "")
            raise NaNLossError(
                f"loss became {loss} at iteration {self.iteration + 1}; lower the learning rate "
                f"(now {self.optimizer.lr:g}), the init std, or clip gradients (--max-grad).{where}")
        self.model.backward()
        if self.config["max_grad"] is not None:
            clip_grads(self.grads, self.config["max_grad"])
        self.optimizer.update(self.params, self.grads)
        self.iteration += 1
        self.losses.append(loss)
        return loss

    def fit(self, iters: int | None = None) -> dict[str, Any]:
        """Train until ``iters`` steps in total are done (default: config["iters"]);
        evaluate every ``eval_every`` steps; return the final metrics."""
        iters = self.config["iters"] if iters is None else iters
        every = self.eval_every or max(1, iters // 10)
        bar = Progress("train", total=iters, done=self.iteration, enabled=self.show_progress)
        if not self.evals:
            self.evaluate_all()  # the starting point of the accuracy curve
        # overflow on the way to a NaN loss is reported once, by step(), not as numpy warnings
        with bar, np.errstate(over="ignore", invalid="ignore"):
            while self.iteration < iters:
                stop = min(iters, (self.iteration // every + 1) * every)
                start = time.perf_counter()
                while self.iteration < stop:
                    self.step()
                    if self.show_progress and self.iteration % 50 == 0:
                        bar.update(self.iteration, loss=float(np.mean(self.losses[-100:])))
                self.seconds += time.perf_counter() - start
                row = self.evaluate_all()
                if self.show_progress:
                    bar.update(self.iteration, loss=float(np.mean(self.losses[-100:])))
                    bar.log(escape(self._eval_line(row, iters)))
                self.save()
        return self.finish()

    # -- measuring -------------------------------------------------------------------
    def evaluate_all(self) -> dict[str, Any]:
        """Loss and accuracies over all 128 x 128 pairs; appended to the history."""
        row = {"iteration": self.iteration, **evaluate(self.model, self.x_all, self.d_all)}
        row["train_loss"] = float(np.mean(self.losses[-100:])) if self.losses else None  # last 100 steps
        self.evals.append(row)
        return row

    def metrics(self) -> dict[str, Any]:
        """The final numbers: all pairs, the held-out pairs (never drawn), timing."""
        full = evaluate(self.model, self.x_all, self.d_all)
        held = np.flatnonzero(~self.seen)
        out: dict[str, Any] = {
            "iterations": self.iteration,
            "loss": full["loss"], "bit_accuracy": full["bit_accuracy"],
            "exact_accuracy": full["exact_accuracy"],
            "heldout_pairs": int(held.size),
            "heldout_bit_accuracy": None, "heldout_exact_accuracy": None,
            "final_train_loss": float(np.mean(self.losses[-100:])) if self.losses else None,
            "train_seconds": round(self.seconds, 3),
        }
        if held.size:
            h = evaluate(self.model, self.x_all[held], self.d_all[held])
            out["heldout_bit_accuracy"] = h["bit_accuracy"]
            out["heldout_exact_accuracy"] = h["exact_accuracy"]
        return out

    def samples(self, k: int = 4) -> list[dict[str, Any]]:
        """k sums as the course prints them, preferring held-out pairs; drawn from
        their own generator, so showing them never changes the training stream."""
        pick = np.random.default_rng([self.config["seed"], 4]).permutation(PAIRS)
        held = pick[~self.seen[pick]]
        idx = np.concatenate([held, pick[self.seen[pick]]])[:k]
        a, b = idx // LARGEST, idx % LARGEST
        x, _ = encode(a, b, dtype=self.model.params["W"].dtype)
        pred = decode(self.model.predict(x))
        return [{"a": int(ai), "b": int(bi), "pred": int(p), "true": int(ai + bi),
                 "heldout": bool(not self.seen[i])} for ai, bi, p, i in zip(a, b, pred, idx)]

    def _eval_line(self, row: dict[str, Any], iters: int) -> str:
        s = self.samples(1)[0]
        mark = "ok" if s["pred"] == s["true"] else f"wrong, true {s['true']}"
        return (f"iter {row['iteration']:>{len(str(iters))}}/{iters}  loss {row['train_loss']:.4f}  "
                f"all pairs: bit acc {row['bit_accuracy']:.4f}  exact acc {row['exact_accuracy']:.4f}  "
                f"e.g. {s['a']} + {s['b']} = {s['pred']} ({mark})")

    # -- run files -------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        metrics = self.metrics()
        if self.out_dir is not None:
            atomic_write_text(self.out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
            plot_run(self.losses, self.evals, self.config, self.out_dir)
        return metrics

    def save(self) -> None:
        """Checkpoint (atomic): model, optimizer, generator, the pairs seen, counters."""
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # history first: a crash between the two writes leaves a history at least as long
        # as the checkpoint's iteration, and resume() cuts it back to that
        atomic_write_text(self.out_dir / "history.json",
                          json.dumps({"loss": self.losses, "evals": self.evals}) + "\n")
        save_run(self.out_dir / CHECKPOINT, self.model, self.optimizer, rng=self.rng,
                 tensors={"trainer/seen": self.seen.astype(np.uint8)},
                 meta={"config": self.config, "iteration": self.iteration, "seconds": self.seconds})

    @classmethod
    def resume(cls, out_dir: Path | str, given: dict[str, Any], **kw: Any) -> AdditionTrainer:
        """Continue the run in ``out_dir``: settings not in ``given`` come from the
        checkpoint; given model settings must match it; iters, lr, batch_size and
        max_grad may change."""
        path = Path(out_dir) / CHECKPOINT
        _, meta = load_checkpoint(path)
        tr = cls({**meta.get("config", {}), **given}, out_dir=out_dir, **kw)
        meta, tensors = load_run(path, tr.model, tr.optimizer, rng=tr.rng, config=tr.config,
                                 check_keys=MODEL_KEYS)
        tr.optimizer.lr = tr.config["lr"]  # the checkpoint's, unless --lr was given
        tr.seen[...] = tensors["trainer/seen"].astype(bool)
        tr.iteration, tr.seconds = meta["iteration"], meta["seconds"]
        hist = Path(out_dir) / "history.json"
        if hist.is_file():
            h = json.loads(hist.read_text())
            tr.losses = h["loss"][:tr.iteration]
            tr.evals = [r for r in h["evals"] if r["iteration"] <= tr.iteration]
        return tr


# -- plots -------------------------------------------------------------------------------
def describe(config: dict[str, Any]) -> str:
    """The settings in a line, e.g. ``sigmoid, H=16, std 1, SGD lr 0.1``."""
    init = f"std {config['weight_init_std']:g}" if config["init"] == "std" else config["init"]
    text = (f"{config['activation']}, H={config['hidden']}, {init}, "
            f"{config['optimizer']} lr {config['lr']:g}")
    if config.get("batch_size", 1) != 1:
        text += f", batch {config['batch_size']}"
    if config.get("max_grad") is not None:
        text += f", clip {config['max_grad']:g}"
    return text + (", BCE" if config.get("loss") == "bce" else "")


def plot_run(losses: list[float], evals: list[dict[str, Any]], config: dict[str, Any],
             out_dir: Path) -> list[Path]:
    """loss.png (per step and a 100-step mean) and accuracy.png (all pairs, per evaluation)."""
    from zerokara.train.plots import _save, plt, smooth

    out = []
    if losses:
        loss = np.asarray(losses, dtype=float)
        it = np.arange(1, len(loss) + 1)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(it, loss, color="0.8", lw=0.5, label="per step")
        w = min(100, len(loss))
        if w > 1:
            ax.plot(it[w - 1:], smooth(loss, w), lw=1.5, label=f"mean of {w} steps")
        ylabel = ("loss: sum over 8 bits of ½(y − d)²" if config["loss"] == "mse"
                  else "loss: BCE summed over 8 bits")
        ax.set(xlabel="iteration", ylabel=ylabel, title=f"binary addition: {describe(config)}")
        ax.legend()
        out.append(_save(fig, Path(out_dir) / "loss.png"))
    if evals:
        fig, ax = plt.subplots(figsize=(6, 4))
        it = [r["iteration"] for r in evals]
        ax.plot(it, [r["bit_accuracy"] for r in evals], marker="o", ms=3, label="bits right")
        ax.plot(it, [r["exact_accuracy"] for r in evals], marker="o", ms=3, label="sums exactly right")
        ax.set(xlabel="iteration", ylabel="accuracy over all 128 × 128 pairs", ylim=(-0.02, 1.02),
               title=f"binary addition: {describe(config)}")
        ax.legend(loc="lower right")
        out.append(_save(fig, Path(out_dir) / "accuracy.png"))
    return out


# -- one sweep trial -----------------------------------------------------------------
def run_trial(config: dict[str, Any]) -> dict[str, Any]:
    """Train one setting without writing files; never raises.

    Returns a record: ``status`` "ok", "diverged" (the loss became NaN or
    infinite) or "crashed" (any other exception, in ``error``), the metrics, and
    the loss curve as means over windows of ``iters // 200`` steps.
    """
    start = time.perf_counter()
    rec: dict[str, Any] = {"config": dict(config), "status": "ok", "error": None}
    tr = None
    try:
        tr = AdditionTrainer(config)
        rec.update(tr.fit())
    except NaNLossError as e:
        rec.update(status="diverged", error=str(e), iterations=tr.iteration if tr else 0)
    except Exception as e:  # noqa: BLE001 -- a trial's failure is data for the sweep
        rec.update(status="crashed", error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
    if tr is not None:
        iters = tr.config["iters"]
        w = max(1, iters // 200)
        n = len(tr.losses) // w * w
        curve = np.asarray(tr.losses[:n], dtype=float).reshape(-1, w).mean(axis=1) if n else np.zeros(0)
        rec["curve"] = {"window": w, "iteration": [int((i + 1) * w) for i in range(len(curve))],
                        "loss": [float(v) for v in curve]}
        rec["evals"] = tr.evals
    rec["seconds"] = round(time.perf_counter() - start, 3)
    return rec


# -- the command ---------------------------------------------------------------------
def run_cli(args: Namespace) -> dict[str, Any]:
    """``zerokara train binary-addition``: train, write the run files, print the result."""
    from zerokara.train.tasks import prepare_out

    if getattr(args, "epochs", None) is not None:
        raise InputError("--epochs: binary addition has no epochs (every step draws new pairs); "
                         "use --iters")
    keys = [k for k in DEFAULTS if k != "seed"] + ["seed"]
    given = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if args.eval_every is not None and args.eval_every < 1:
        raise InputError(f"--eval-every: expected a positive integer, got {args.eval_every}")
    check_config(given, "train binary-addition")
    out = prepare_out(args, "binary-addition")
    kw = {"progress": not args.no_progress, "eval_every": args.eval_every}
    if args.resume:
        tr = AdditionTrainer.resume(out, given, **kw)
        console.print(f"resumed from {out / CHECKPOINT} at iteration {tr.iteration}", highlight=False)
    else:
        tr = AdditionTrainer(given, out_dir=out, **kw)
    c = tr.config
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in tr.params.items())
    console.print(f"[bold]binary-addition[/bold]: {describe(c)}; {c['iters']} iterations of "
                  f"{c['batch_size']} pair(s); {shapes} -> {out}", highlight=False)
    metrics = tr.fit()
    console.print(f"all {PAIRS} pairs: loss {metrics['loss']:.4f}  bit accuracy "
                  f"{metrics['bit_accuracy']:.4f}  exact accuracy {metrics['exact_accuracy']:.4f}",
                  highlight=False)
    if metrics["heldout_pairs"]:
        console.print(f"held-out ({metrics['heldout_pairs']} pairs never drawn in training): bit "
                      f"accuracy {metrics['heldout_bit_accuracy']:.4f}  exact accuracy "
                      f"{metrics['heldout_exact_accuracy']:.4f}", highlight=False)
    console.print(f"train_seconds {metrics['train_seconds']:.2f}  ({tr.iteration} iterations)",
                  highlight=False)
    for s in tr.samples(4):  # as the course prints them, most significant bit first
        console.print(f"Pred:{course_bits(s['pred'])}\nTrue:{course_bits(s['true'])}\n"
                      f"{s['a']} + {s['b']} = {s['pred']}\n------------", highlight=False, markup=False)
    console.print(f"loss plot: {out / 'loss.png'}", highlight=False)
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    console.print(f"wrote {out}/: {', '.join(files)}", highlight=False)
    return metrics


__all__ = ["AdditionTrainer", "DEFAULTS", "MODEL_KEYS", "CHOICES", "check_config", "run_trial",
           "run_cli", "describe", "plot_run", "BITS"]
