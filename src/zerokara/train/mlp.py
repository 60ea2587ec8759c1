"""Book 1's MLPs on MNIST and book 2's TwoLayerNet on the spiral, from Python:

    from zerokara.train import MLPConfig, train_mlp
    run = train_mlp(MLPConfig(model="multi-layer", epochs=2), out_dir="runs/mlp")
    run.metrics["test_accuracy"]

A setting left as None takes the book's value for the chosen model
(:data:`MLP_DEFAULTS`, :data:`SPIRAL_DEFAULTS`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.models import MultiLayerNet, TwoLayerNet
from zerokara.models.mlp import Classifier
from zerokara.train.classifier import ClassifierTrainer, check_decay, pick_rows, run_extras, start_run
from zerokara.train.report import Reporter
from zerokara.train.state import Run

# book 1's settings (chapters 4-6) and book 2's (chapter 1), used when a setting is None
MLP_DEFAULTS: dict[str, dict[str, Any]] = {
    "two-layer": {
        "hidden": "50",
        "activation": "sigmoid",
        "init": "0.01",
        "optimizer": "sgd",
        "lr": 0.1,
        "batch_size": 100,
        "iters": 10_000,
        "dropout": 0.0,
    },
    # 100-100 without dropout stops near 0.978; 256-256 with dropout 0.2 goes further (README)
    "multi-layer": {
        "hidden": "256,256",
        "activation": "relu",
        "init": "he",
        "optimizer": "adam",
        "lr": 0.001,
        "batch_size": 100,
        "epochs": 12,
        "dropout": 0.2,
    },
}
SPIRAL_DEFAULTS: dict[str, Any] = {
    "hidden": "10",
    "activation": "sigmoid",
    "init": "0.01",
    "optimizer": "sgd",
    "lr": 1.0,
    "batch_size": 30,
    "epochs": 300,
    "dropout": 0.0,
}
#: settings that shape the model: a resumed run must use the same ones
MODEL_KEYS = ("task", "model", "hidden", "activation", "init", "batchnorm", "dropout", "optimizer")
DATA = ("mnist", "spiral")


@dataclass
class MLPConfig:
    """One MLP run. ``hidden``: sizes as text ("50", "100,100"); ``init``: "he",
    "xavier" or a fixed std ("0.01"); ``epochs`` or ``iters`` sets the length
    (iters: updates, as book 1 counts them)."""

    data: str = "mnist"  # or "spiral" (book 2, chapter 1; no download)
    model: str = "two-layer"  # or "multi-layer"
    hidden: str | None = None
    activation: str | None = None
    init: str | None = None
    batchnorm: bool = False
    dropout: float | None = None
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    iters: int | None = None
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    weight_decay: float | None = None  # lambda of the L2 (or L1) penalty; None or 0: none
    decay: str = "l2"  # or "l1"
    train_size: int | None = None  # a seeded subset of the training images (None: all)
    valid_fraction: float | None = None  # held out of the training images, evaluated each epoch
    seed: int = 0

    def filled(self) -> MLPConfig:
        """A copy with every None setting at the book's value."""
        if self.data not in DATA:
            raise InputError(f"MLPConfig: data expected one of {DATA}, got {self.data!r}")
        check_decay(self.weight_decay, self.decay)
        if self.data == "spiral":
            defaults = dict(SPIRAL_DEFAULTS)
        else:
            defaults = dict(MLP_DEFAULTS[self.model])
            if self.epochs is not None or self.iters is not None:  # the length was chosen
                defaults.pop("iters", None)
                defaults.pop("epochs", None)
        given = {k: v for k, v in asdict(self).items() if v is not None}
        c = replace(self, **{**defaults, **given})
        if c.data == "spiral":
            c.iters = None
        c.hidden, c.init = str(c.hidden), str(c.init)
        return c

    def record(self) -> dict[str, Any]:
        """The settings as the checkpoint stores them."""
        keys = (
            "model",
            "hidden",
            "activation",
            "init",
            "batchnorm",
            "dropout",
            "optimizer",
            "lr",
            "batch_size",
            "epochs",
            "iters",
            "seed",
            "max_grad",
            "weight_decay",
            "decay",
            "train_size",
            "valid_fraction",
        )
        return {"task": self.data if self.data == "spiral" else "mlp", **{k: getattr(self, k) for k in keys}}


def hidden_sizes(text: str) -> list[int]:
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


def build_mlp(c: MLPConfig, d_in: int, classes: int, rng: np.random.Generator) -> Classifier:
    assert c.hidden is not None and c.activation is not None and c.init is not None  # c is filled()
    hidden = hidden_sizes(c.hidden)
    if c.model == "two-layer":
        if c.batchnorm or c.dropout:
            raise InputError("--batchnorm and --dropout apply to --model multi-layer, not two-layer")
        if len(hidden) != 1:
            raise InputError(
                f"--hidden: two-layer takes one size, got {c.hidden!r} (use --model multi-layer for more)"
            )
        return TwoLayerNet(
            d_in, hidden[0], classes, activation_name=c.activation, weight_init_std=_init(c.init), rng=rng
        )
    assert c.dropout is not None  # filled(): multi-layer's defaults name it
    return MultiLayerNet(
        d_in,
        hidden,
        classes,
        activation_name=c.activation,
        init=_init(c.init),
        batchnorm=c.batchnorm,
        dropout=c.dropout,
        rng=rng,
    )


class SpiralTrainer(ClassifierTrainer):
    """The spiral has no held-out split (book 2 neither); it also draws the
    decision boundary."""

    def plot(self) -> None:
        from zerokara.train.plots import plot_decision_boundary

        super().plot()
        assert self.out_dir is not None  # finish() plots only into an out_dir
        acc = self.accuracies()["train_accuracy"]
        # in eval mode: a prediction in train mode would move BatchNorm's running statistics
        was_training = self.model.training
        self.model.eval()
        try:
            plot_decision_boundary(
                self.model.predict,
                self.x,
                self.t,
                self.out_dir / "decision_boundary.png",
                title=f"spiral: train accuracy {acc:.3f}",
            )
        finally:
            self.model.train(was_training)


def train_mlp(
    config: MLPConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """Train one MLP (MNIST) or TwoLayerNet (spiral) run; see :class:`MLPConfig`."""
    c = config.filled()
    assert c.optimizer is not None and c.lr is not None and c.batch_size is not None  # filled() sets them
    rng = np.random.default_rng(c.seed)
    cls: type[ClassifierTrainer]
    if c.data == "spiral":
        from zerokara.data import load_spiral

        x, t = load_spiral(seed=c.seed)
        (x_test, t_test), d_in, classes, cls = (None, None), 2, 3, SpiralTrainer
    else:
        from zerokara.data import load_mnist

        (x, t), (x_test, t_test) = load_mnist()
        d_in, classes, cls = 784, 10, ClassifierTrainer
    (x, t), valid = pick_rows(x, t, train_size=c.train_size, valid_fraction=c.valid_fraction, seed=c.seed)
    x_valid, t_valid = valid if valid is not None else (None, None)
    model = build_mlp(c, d_in, classes, rng)
    trainer, out = start_run(
        cls, model, c, rng, out_dir=out_dir, reporter=reporter, resume=resume, check_keys=MODEL_KEYS
    )
    per_epoch = len(x) // c.batch_size if 0 < c.batch_size <= len(x) else 1
    if c.epochs is not None:
        epochs = c.epochs
    else:
        assert c.iters is not None  # filled() leaves epochs or iters
        epochs = math.ceil(c.iters / per_epoch)
    trainer.reporter.info(
        f"{c.record()['task']}: {model.__class__.__name__} "
        f"{[p.shape for p in model.parameters().values()]}, {c.optimizer} lr {c.lr}, "
        f"batch {c.batch_size}, {epochs} epochs{run_extras(c, len(x), valid)} -> {out}"
    )
    metrics = trainer.fit(
        x,
        t,
        epochs=epochs,
        batch_size=c.batch_size,
        max_iters=c.iters,
        x_test=x_test,
        t_test=t_test,
        x_valid=x_valid,
        t_valid=t_valid,
    )
    return Run(metrics, trainer, out, c)
