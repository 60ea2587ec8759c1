"""Book 1's convolutional networks on MNIST or Fashion-MNIST, from Python:

    from zerokara.train import CNNConfig, train_cnn
    run = train_cnn(CNNConfig(model="simple", epochs=1), out_dir="runs/cnn")
    run.metrics["test_accuracy"]

A setting left as None takes book 1's value for the chosen model (:data:`CNN_DEFAULTS`):
SimpleConvNet (chapter 7) and DeepConvNet (chapter 8) both train with Adam, lr 0.001,
batch 100, 20 epochs. ``train_size`` and ``test_size`` take seeded subsets of the training
and test images (a quick run, a sweep, a test); by default all 60,000 and 10,000.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.models import DeepConvNet, SimpleConvNet
from zerokara.models.cnn import ConvClassifier
from zerokara.train.classifier import ClassifierTrainer, check_decay, pick_rows, run_extras, start_run, subset
from zerokara.train.report import Reporter
from zerokara.train.state import Run

#: book 1's settings (ch07/train_convnet.py, ch08/train_deepnet.py), used when a setting is None
CNN_DEFAULTS: dict[str, dict[str, Any]] = {
    "simple": {"optimizer": "adam", "lr": 0.001, "batch_size": 100, "epochs": 20},
    "deep": {"optimizer": "adam", "lr": 0.001, "batch_size": 100, "epochs": 20},
}
#: settings that shape the model: a resumed run must use the same ones
MODEL_KEYS = ("task", "model", "data", "optimizer")
DATA = ("mnist", "fashion-mnist")


@dataclass
class CNNConfig:
    """One CNN run: ``model`` "simple" (SimpleConvNet) or "deep" (DeepConvNet)."""

    data: str = "mnist"  # or "fashion-mnist"
    model: str = "simple"
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    train_size: int | None = None  # None: all 60,000
    test_size: int | None = None  # None: all 10,000
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    weight_decay: float | None = None  # lambda of the L2 (or L1) penalty; None or 0: none
    decay: str = "l2"  # or "l1"
    valid_fraction: float | None = None  # held out of the training images, evaluated each epoch
    seed: int = 0

    def filled(self) -> CNNConfig:
        """A copy with every None setting at book 1's value."""
        if self.data not in DATA:
            raise InputError(f"CNNConfig: data expected one of {DATA}, got {self.data!r}")
        if self.model not in CNN_DEFAULTS:
            raise InputError(f"CNNConfig: model expected one of {tuple(CNN_DEFAULTS)}, got {self.model!r}")
        check_decay(self.weight_decay, self.decay)
        for key, size in (("--train-size", self.train_size), ("--test-size", self.test_size)):
            if size is not None and size < 1:
                raise InputError(f"{key}: expected a positive number of images, got {size}")
        given = {k: v for k, v in asdict(self).items() if v is not None}
        return replace(self, **{**CNN_DEFAULTS[self.model], **given})

    def record(self) -> dict[str, Any]:
        """The settings as the checkpoint stores them."""
        return {"task": "cnn", **asdict(self)}


def build_cnn(model: str, rng: np.random.Generator) -> ConvClassifier:
    return SimpleConvNet(rng=rng) if model == "simple" else DeepConvNet(rng=rng)


def load_images(data: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x, t), (x_test, t_test)) with x (N, 1, 28, 28) float32 in [0, 1] and t (N,) ids."""
    from zerokara.data import load_fashion_mnist, load_mnist

    loader = load_mnist if data == "mnist" else load_fashion_mnist
    return loader(flatten=False)


def train_cnn(
    config: CNNConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """Train one SimpleConvNet or DeepConvNet run; see :class:`CNNConfig`."""
    c = config.filled()
    assert c.optimizer is not None and c.lr is not None and c.batch_size is not None  # filled()
    assert c.epochs is not None
    rng = np.random.default_rng(c.seed)
    (x, t), (x_test, t_test) = load_images(c.data)
    # subsets drawn from their own streams: the model's weights do not depend on the sizes asked
    (x, t), valid = pick_rows(x, t, train_size=c.train_size, valid_fraction=c.valid_fraction, seed=c.seed)
    x_valid, t_valid = valid if valid is not None else (None, None)
    x_test, t_test = subset(x_test, t_test, c.test_size, (c.seed, 8), "--test-size", "test")
    model = build_cnn(c.model, rng)
    trainer, out = start_run(
        ClassifierTrainer,
        model,
        c,
        rng,
        out_dir=out_dir,
        reporter=reporter,
        resume=resume,
        check_keys=MODEL_KEYS,
    )
    trainer.reporter.info(
        f"cnn: {type(model).__name__} on {c.data} ({len(x)} training images), {c.optimizer} lr {c.lr}, "
        f"batch {c.batch_size}, {c.epochs} epochs{run_extras(c, len(x), valid)} -> {out}"
    )
    metrics = trainer.fit(
        x,
        t,
        epochs=c.epochs,
        batch_size=c.batch_size,
        x_test=x_test,
        t_test=t_test,
        x_valid=x_valid,
        t_valid=t_valid,
    )
    return Run(metrics, trainer, out, c)
