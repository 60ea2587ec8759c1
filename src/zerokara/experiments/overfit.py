"""Overfitting and two cures: weight decay and dropout (book 1, sections 6.4.1-6.4.3).

A 7-layer ReLU network (six hidden layers of 100) has far more weights than 300 training
images can pin down: trained long enough, it classifies every training image right
while a quarter of the test images stay wrong: it has learned the 300 images, not the
digits. Weight decay (lambda 0.1) makes large weights cost loss, and dropout (0.2) makes
every unit work without the others it could lean on; both keep the network from fitting
the training images exactly, and the gap between train and test accuracy narrows.
Everything else is book 1's: SGD lr 0.01, batch 100, He init, 200 epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zerokara.train.report import Reporter

TITLE = "300 training images, 7 layers: nothing / weight decay 0.1 / dropout 0.2 (book 1, 6.4)"
BOOK: dict[str, tuple[Any, str]] = {
    "weight_decay_train_accuracy": (0.927, "book 1's published ch06 notebook, weight decay 0.1, 200 epochs"),
    "weight_decay_test_accuracy": (0.721, "book 1's published ch06 notebook, weight decay 0.1, 200 epochs"),
}
SETTINGS: dict[str, Any] = {
    "model": "multi-layer",
    "hidden": "100,100,100,100,100,100",
    "activation": "relu",
    "init": "he",
    "optimizer": "sgd",
    "lr": 0.01,
    "batch_size": 100,
    "train_size": 300,
}
#: the three runs: their name -> what differs
RUNS: dict[str, dict[str, Any]] = {
    "none": {},
    "weight_decay": {"weight_decay": 0.1},
    "dropout": {"dropout": 0.2},
}
EPOCHS, QUICK_EPOCHS = 200, 60


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Train the three runs on the same 300 images from the same initial weights; draw
    train and test accuracy per epoch. Figures: each run's final train and test accuracy
    and their gap, and the curves. ``quick``: 60 epochs."""
    from zerokara.train.mlp import MLPConfig, train_mlp
    from zerokara.train.plots import plt, save_figure

    epochs = QUICK_EPOCHS if quick else EPOCHS
    reporter.start("overfit", len(RUNS))
    figures: dict[str, Any] = {"epochs": epochs}
    curves: dict[str, Any] = {}
    for i, (name, extra) in enumerate(RUNS.items()):
        config = MLPConfig(**{**SETTINGS, "dropout": 0.0, **extra, "epochs": epochs, "seed": seed})
        result = train_mlp(config)
        rows = result.trainer.history["epochs"]
        curves[name] = {
            "train": [r["train_accuracy"] for r in rows],
            "test": [r["test_accuracy"] for r in rows],
        }
        train, test = result.metrics["train_accuracy"], result.metrics["test_accuracy"]
        figures[f"{name}_train_accuracy"] = train
        figures[f"{name}_test_accuracy"] = test
        figures[f"{name}_gap"] = round(train - test, 4)
        reporter.update(i + 1)
    reporter.finish()
    fig, axes = plt.subplots(1, len(RUNS), figsize=(13, 3.8), sharey=True)
    for ax, (name, c) in zip(axes, curves.items(), strict=True):
        epochs_axis = range(1, len(c["train"]) + 1)
        ax.plot(epochs_axis, c["train"], label="train")
        ax.plot(epochs_axis, c["test"], label="test")
        title = {"none": "no regularisation", "weight_decay": "weight decay 0.1", "dropout": "dropout 0.2"}
        ax.set(title=f"{title[name]}: gap {figures[f'{name}_gap']:.3f}", xlabel="epoch", ylim=(0, 1.02))
        ax.legend(loc="lower right")
    axes[0].set_ylabel("accuracy")
    fig.suptitle("7 layers, 300 training images")
    fig.tight_layout()
    save_figure(fig, out / "overfit.png")
    figures["curves"] = curves
    return figures
