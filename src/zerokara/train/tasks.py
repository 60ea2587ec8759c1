"""What ``zerokara train mlp`` and ``zerokara train spiral`` do: build the data,
model and optimizer from the options, train, and write the run's files.
"""

from __future__ import annotations

import json
import math
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.io import atomic_write_text
from zerokara.models import MultiLayerNet, TwoLayerNet
from zerokara.models.mlp import Classifier
from zerokara.optim import make_optimizer
from zerokara.train.progress import console
from zerokara.train.trainer import CHECKPOINT, Trainer

# book 1's settings (chapters 4-6) and book 2's (chapter 1), used when an option is not given
MLP_DEFAULTS = {
    "two-layer": {"hidden": "50", "activation": "sigmoid", "init": "0.01", "optimizer": "sgd",
                  "lr": 0.1, "batch_size": 100, "iters": 10_000, "dropout": 0.0},
    # measured: test accuracy 0.9836 in 12 epochs (README); 100-100 without dropout stops near 0.978
    "multi-layer": {"hidden": "256,256", "activation": "relu", "init": "he", "optimizer": "adam",
                    "lr": 0.001, "batch_size": 100, "epochs": 12, "dropout": 0.2},
}
SPIRAL_DEFAULTS = {"hidden": "10", "activation": "sigmoid", "init": "0.01", "optimizer": "sgd",
                   "lr": 1.0, "batch_size": 30, "epochs": 300, "dropout": 0.0}
# options that shape the model: a resumed run must use the same ones
MODEL_KEYS = ("task", "model", "hidden", "activation", "init", "batchnorm", "dropout", "optimizer")


def _fill(args: Namespace, defaults: dict[str, Any]) -> None:
    for k, v in defaults.items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(h) for h in str(text).split(",")]
    except ValueError:
        raise InputError(f"--hidden: expected sizes like 50 or 100,100, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise InputError(f"--hidden: sizes must be positive, got {text!r}")
    return sizes


def _init(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


def prepare_out(args: Namespace, task: str) -> Path:
    """The run folder; never reuses one holding a run unless --resume."""
    out = Path(args.out) if args.out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    ckpt = out / CHECKPOINT
    if args.resume and not ckpt.is_file():
        raise InputError(f"--resume: no checkpoint in {out} ({ckpt} not found)")
    if not args.resume and ckpt.exists():
        raise InputError(f"{out} already holds a run ({CHECKPOINT}); pass --resume to continue "
                         "it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _build(args: Namespace, d_in: int, classes: int, rng: np.random.Generator) -> Classifier:
    hidden = _hidden(args.hidden)
    if args.model == "two-layer":
        if args.batchnorm or args.dropout:
            raise InputError("--batchnorm and --dropout apply to --model multi-layer, not two-layer")
        if len(hidden) != 1:
            raise InputError(f"--hidden: two-layer takes one size, got {args.hidden!r} "
                             "(use --model multi-layer for more)")
        return TwoLayerNet(d_in, hidden[0], classes, activation_name=args.activation,
                           weight_init_std=_init(args.init), rng=rng)
    return MultiLayerNet(d_in, hidden, classes, activation_name=args.activation,
                         init=_init(args.init), batchnorm=args.batchnorm, dropout=args.dropout, rng=rng)


def _config(args: Namespace, task: str) -> dict[str, Any]:
    keys = ("model", "hidden", "activation", "init", "batchnorm", "dropout", "optimizer", "lr",
            "batch_size", "epochs", "iters", "seed", "max_grad")
    return {"task": task, **{k: getattr(args, k, None) for k in keys}}


def _train(args: Namespace, task: str, data: tuple, d_in: int, classes: int) -> tuple[Trainer, dict]:
    (x, t), (x_test, t_test) = data
    out = prepare_out(args, task)
    rng = np.random.default_rng(args.seed)
    model = _build(args, d_in, classes, rng)
    trainer = Trainer(model, make_optimizer(args.optimizer, args.lr), rng=rng, out_dir=out,
                      max_grad=args.max_grad, progress=not args.no_progress,
                      config=_config(args, task))
    if args.resume:
        trainer.resume(check_keys=MODEL_KEYS)
        console.print(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}, "
                      f"iteration {trainer.iteration}")
    per_epoch = len(x) // args.batch_size if 0 < args.batch_size <= len(x) else 1
    epochs = args.epochs if args.epochs is not None else math.ceil(args.iters / per_epoch)
    console.print(f"[bold]{task}[/bold]: {model.__class__.__name__} "
                  f"{[p.shape for p in model.parameters().values()]}, {args.optimizer} lr {args.lr}, "
                  f"batch {args.batch_size}, {epochs} epochs -> {out}", highlight=False)
    metrics = trainer.fit(x, t, epochs=epochs, batch_size=args.batch_size, max_iters=args.iters,
                          x_test=x_test, t_test=t_test)
    return trainer, metrics


def run_mlp(args: Namespace) -> dict[str, Any]:
    from zerokara.data import load_mnist

    defaults = dict(MLP_DEFAULTS[args.model])
    if args.epochs is not None or args.iters is not None:  # the user chose the length
        defaults.pop("iters", None)
        defaults.pop("epochs", None)
    _fill(args, defaults)
    data = load_mnist()
    trainer, metrics = _train(args, "mlp", data, 784, 10)
    _report(trainer.out_dir, metrics)
    return metrics


def run_spiral(args: Namespace) -> dict[str, Any]:
    from zerokara.data import load_spiral
    from zerokara.train.plots import plot_decision_boundary

    args.model = getattr(args, "model", None) or "two-layer"
    _fill(args, SPIRAL_DEFAULTS)
    args.iters = None
    x, t = load_spiral(seed=args.seed)
    trainer, metrics = _train(args, "spiral", ((x, t), (x, t)), 2, 3)
    metrics.pop("test_accuracy", None)  # the spiral has no held-out split (book 2 neither)
    png = plot_decision_boundary(trainer.model.predict, x, t, trainer.out_dir / "decision_boundary.png",
                                 title=f"spiral: train accuracy {metrics['train_accuracy']:.3f}")
    _report(trainer.out_dir, metrics, extra=[png])
    return metrics


def _report(out: Path, metrics: dict[str, Any], extra: list[Path] = ()) -> None:
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    shown = {k: v for k, v in metrics.items() if k.endswith("accuracy") or k in ("train_seconds", "epochs")}
    console.print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    console.print(f"wrote {out}/: {', '.join(files)}")
