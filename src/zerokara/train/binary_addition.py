"""Training the course's binary-addition RNN (深層学習 Day 3, section 1).

Each step draws fresh pairs (a, b), a, b in [0, 128), from the run's seeded
generator (one pair per step by default, as the course does), runs forward and
BPTT over the 8 bits, and updates the weights. There is no fixed training set:
the held-out pairs are the ones the run happened never to draw (after 10,000
single-pair steps about 46% of the 16,384 pairs have been drawn and 54% are
held out), and the final accuracy is also measured over all 128 x 128 pairs.

Used by ``zerokara train binary-addition`` (:func:`train_binary_addition`) and by each trial
of ``zerokara sweep binary-addition`` (:func:`run_trial`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara import options
from zerokara.errors import InputError, NaNLossError
from zerokara.io import load_checkpoint
from zerokara.models.binary_addition import (
    BITS,
    INITS,
    LARGEST,
    LOSSES,
    BinaryAdditionRNN,
    all_pairs,
    decode,
    encode,
    evaluate,
)
from zerokara.optim import OPTIMIZERS, make_optimizer
from zerokara.train.binary_addition_plots import describe, plot_run
from zerokara.train.loop import Trainer
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir

PAIRS = LARGEST * LARGEST  # 16,384 pairs (a, b); pair index i = a * 128 + b

#: the course's settings (3_1_simple_RNN: hidden_layer_size 16, weight_init_std 1,
#: learning_rate 0.1, iters_num 10000, one pair per step, plain SGD, squared error)
DEFAULTS: dict[str, Any] = {
    "hidden": 16,
    "activation": "sigmoid",
    "init": "std",
    "weight_init_std": 1.0,
    "lr": 0.1,
    "iters": 10_000,
    "batch_size": 1,
    "max_grad": None,
    "loss": "mse",
    "optimizer": "sgd",
    "seed": 0,
}
#: settings that shape the model or its training state: a resumed run must keep them
MODEL_KEYS = ("hidden", "activation", "init", "weight_init_std", "loss", "optimizer", "seed")
#: how each setting is read from text (CLI values, sweep grids) and checked
CHOICES = {
    "activation": ("sigmoid", "tanh", "relu"),
    "init": INITS,
    "loss": LOSSES,
    "optimizer": tuple(OPTIMIZERS),
}
#: the numeric settings' ranges: the options' declarations (also a sweep grid's)
NUMBERS = {
    "hidden": options.POSITIVE_INT,
    "iters": options.POSITIVE_INT,
    "batch_size": options.POSITIVE_INT,
    "weight_init_std": options.POSITIVE_FLOAT,
    "lr": options.POSITIVE_FLOAT,
    "max_grad": options.MAX_GRAD,
    "seed": options.SEED,
}


def check_config(config: dict[str, Any], where: str = "binary-addition") -> dict[str, Any]:
    """A complete, checked config: DEFAULTS overridden by ``config``."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise InputError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(DEFAULTS)}")
    c = {**DEFAULTS, **config}
    for k, allowed in CHOICES.items():
        if c[k] not in allowed:
            raise InputError(f"{where}: {k} expected one of {', '.join(allowed)}, got {c[k]!r}")
    for k, kind in NUMBERS.items():
        if c[k] is None and k == "max_grad":
            continue
        if not options.accepts(kind, c[k]):
            raise InputError(f"{where}: {k} expected {kind.what}, got {c[k]!r}")
    c["max_grad"] = options.clip_norm(c["max_grad"], where)
    return c


def _tables(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (16384, 8, 2) and targets (16384, 8) of every pair, in pair-index order."""
    a, b = all_pairs()
    return encode(a, b, dtype=dtype)


@dataclass
class AdditionConfig:
    """One binary-addition run. A setting left None takes the course's value
    (:data:`DEFAULTS`), or, when resuming, the run's. ``init``: "std" (normal x
    ``weight_init_std``), "xavier" or "he"; ``loss``: "mse" or "bce"."""

    hidden: int | None = None
    activation: str | None = None
    init: str | None = None
    weight_init_std: float | None = None
    lr: float | None = None
    iters: int | None = None
    batch_size: int | None = None
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    loss: str | None = None
    optimizer: str | None = None
    seed: int | None = None


class AdditionTrainer(Trainer):
    """One run: the model, its optimizer, the data generator, and the run files.

    There are no epochs: every step draws new pairs. The loop's "epochs" are
    the stretches between two evaluations on all pairs (every ``eval_every``
    steps, default iters // 10), and the history's rows are those evaluations,
    the first at iteration 0.

    Args:
        config: settings (see DEFAULTS); missing ones take the course's values.
        out_dir: where checkpoint, history, metrics and plots go (None: nowhere).
        reporter: progress and a line per evaluation (default: quiet).
        eval_every: evaluate on all pairs every this many steps (default iters // 10).
    """

    model: BinaryAdditionRNN
    rng: np.random.Generator  # draws the pairs
    epoch_length_may_change = True  # its epochs are stretches between evaluations
    nan_hint = "lower the learning rate (now {lr:g}), the init std, or clip gradients (--max-grad)"

    def __init__(
        self,
        config: dict[str, Any],
        *,
        out_dir: Path | str | None = None,
        reporter: Reporter | None = None,
        eval_every: int | None = None,
    ) -> None:
        c = check_config(config)
        rng = np.random.default_rng(c["seed"])  # draws the initial weights, then every pair
        model = BinaryAdditionRNN(
            c["hidden"],
            activation=c["activation"],
            init=c["init"],
            weight_init_std=c["weight_init_std"],
            loss=c["loss"],
            rng=rng,
        )
        model.input_grad = False  # nobody needs the gradient of the input bits
        super().__init__(
            model,
            make_optimizer(c["optimizer"], c["lr"]),
            rng=rng,
            out_dir=out_dir,
            max_grad=c["max_grad"],
            reporter=reporter,
            config=c,
        )
        self.eval_every = eval_every
        self.params = self.model.parameters()
        self.x_all, self.d_all = _tables(self.model.params["W"].dtype)
        self.seen = np.zeros(PAIRS, dtype=bool)  # pairs drawn for training so far

    @property
    def losses(self) -> list[float]:
        """One per step: the batch's mean loss per sequence."""
        return self.history["loss"]

    @property
    def evals(self) -> list[dict[str, Any]]:
        """The evaluations on all pairs, the first at iteration 0."""
        return self.history["epochs"]

    def fit(self, iters: int | None = None) -> dict[str, Any]:
        """Train until ``iters`` steps in total are done (default: config["iters"]);
        evaluate every ``eval_every`` steps; return the final metrics."""
        self.iters = self.config["iters"] if iters is None else iters
        return self.run(iters=self.iters)

    # -- batches ---------------------------------------------------------------------------
    def begin_epoch(self) -> int:
        every = self.eval_every or max(1, self.iters // 10)
        return min(self.iters, (self.iteration // every + 1) * every) - self.iteration

    def batch(self) -> tuple:
        idx = self.rng.integers(0, PAIRS, size=self.config["batch_size"])  # a and b uniform, independent
        self.seen[idx] = True
        return self.x_all[idx], self.d_all[idx]

    def step_name(self) -> str:
        return f"iteration {self.iteration + 1}"

    def progress_values(self) -> dict[str, float]:
        return {"loss": float(np.mean(self.losses[-100:]))}

    # -- measuring -------------------------------------------------------------------------
    def start_run(self) -> None:
        if not self.evals:  # the starting point of the accuracy curve
            self.evals.append(
                {
                    "epoch": self.epoch,
                    "iteration": self.iteration,
                    **self.end_epoch(),
                    "seconds": round(self.seconds, 3),
                }
            )

    def end_epoch(self) -> dict[str, Any]:
        """Loss and accuracies over all 128 x 128 pairs."""
        row: dict[str, Any] = evaluate(self.model, self.x_all, self.d_all)
        row["train_loss"] = float(np.mean(self.losses[-100:])) if self.losses else None  # last 100 steps
        return row

    def metrics(self) -> dict[str, Any]:
        """The final numbers: all pairs, the held-out pairs (never drawn), timing."""
        full = evaluate(self.model, self.x_all, self.d_all)
        held = np.flatnonzero(~self.seen)
        out: dict[str, Any] = {
            "iterations": self.iteration,
            "loss": full["loss"],
            "bit_accuracy": full["bit_accuracy"],
            "exact_accuracy": full["exact_accuracy"],
            "heldout_pairs": int(held.size),
            "heldout_bit_accuracy": None,
            "heldout_exact_accuracy": None,
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
        return [
            {
                "a": int(ai),
                "b": int(bi),
                "pred": int(p),
                "true": int(ai + bi),
                "heldout": bool(not self.seen[i]),
            }
            for ai, bi, p, i in zip(a, b, pred, idx, strict=True)
        ]

    def epoch_line(self, row: dict[str, Any], epochs: int | None) -> str:
        s = self.samples(1)[0]
        mark = "ok" if s["pred"] == s["true"] else f"wrong, true {s['true']}"
        return (
            f"iter {row['iteration']:>{len(str(self.iters))}}/{self.iters}  loss "
            f"{row['train_loss']:.4f}  all pairs: bit acc {row['bit_accuracy']:.4f}  exact acc "
            f"{row['exact_accuracy']:.4f}  e.g. {s['a']} + {s['b']} = {s['pred']} ({mark})"
        )

    # -- run files ---------------------------------------------------------------------------
    def plot(self) -> None:
        assert self.out_dir is not None  # finish() plots only into an out_dir
        plot_run(self.losses, self.evals, self.config, self.out_dir)

    def task_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"trainer/seen": self.seen.astype(np.uint8)}

    def load_task_state(self, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        self.seen[...] = tensors["trainer/seen"].astype(bool)
        if "run_format" not in meta:  # format 1 counted no evaluation stretches
            self.epoch = max(0, len(self.evals) - 1)
        if self.pos:  # the stretch ends where this run's --iters and --eval-every say
            self.epoch_steps = self.pos + self.begin_epoch()

    # a constructor of a resumed run (from its folder and the given settings), where
    # Trainer.resume continues an existing trainer: it stands in for it on purpose
    @classmethod
    def resume(cls, out_dir: Path | str, given: dict[str, Any], **kw: Any) -> AdditionTrainer:  # type: ignore[override]
        """Continue the run in ``out_dir``: settings not in ``given`` come from the
        checkpoint; given model settings must match it; iters may change."""
        path = Path(out_dir) / CHECKPOINT
        _, meta = load_checkpoint(path)
        tr = cls({**meta.get("config", {}), **given}, out_dir=out_dir, **kw)
        Trainer.resume(tr, path, check_keys=MODEL_KEYS)
        tr.optimizer.lr = tr.config["lr"]  # the checkpoint's, unless --lr was given
        return tr


def train_binary_addition(
    config: AdditionConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
    eval_every: int | None = None,
) -> Run:
    """Train (or, with ``resume``, continue: ``config``'s settings that differ from
    the course's defaults are checked against the run's) and return the run."""
    if eval_every is not None and (not isinstance(eval_every, int) or eval_every < 1):
        raise InputError(f"--eval-every: expected a positive integer, got {eval_every}")
    settings = {k: v for k, v in asdict(config).items() if v is not None}
    check_config(settings, "train binary-addition")
    out = open_run_dir(out_dir, resume)
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        tr = AdditionTrainer.resume(out, settings, reporter=reporter, eval_every=eval_every)
        tr.reporter.info(f"resumed from {out / CHECKPOINT} at iteration {tr.iteration}")
    else:
        tr = AdditionTrainer(settings, out_dir=out, reporter=reporter, eval_every=eval_every)
    c = tr.config
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in tr.params.items())
    tr.reporter.info(
        f"binary-addition: {describe(c)}; {c['iters']} iterations of "
        f"{c['batch_size']} pair(s); {shapes} -> {out}"
    )
    metrics = tr.fit()
    return Run(metrics, tr, out, c)


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
        rec["curve"] = {
            "window": w,
            "iteration": [int((i + 1) * w) for i in range(len(curve))],
            "loss": [float(v) for v in curve],
        }
        rec["evals"] = tr.evals
    rec["seconds"] = round(time.perf_counter() - start, 3)
    return rec


__all__ = [
    "AdditionConfig",
    "AdditionTrainer",
    "DEFAULTS",
    "MODEL_KEYS",
    "CHOICES",
    "check_config",
    "run_trial",
    "train_binary_addition",
    "describe",
    "plot_run",
    "BITS",
]
