"""What book 1 shows of a trained CNN: its first-layer filters before and after training
(chapter 7), the test digits it gets wrong (chapter 8), and its accuracy when the weights are
kept in half precision (chapter 8's float16 experiment).

    from zerokara.train.cnn_views import load_cnn, half_precision_accuracy
    model, config = load_cnn("runs/cnn-simple")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError
from zerokara.models.cnn import ConvClassifier
from zerokara.train.cnn import build_cnn, load_images
from zerokara.train.plots import save_figure
from zerokara.train.state import CHECKPOINT


def load_cnn(path: str | Path) -> tuple[ConvClassifier, dict[str, Any]]:
    """(model in eval mode, the run's config) from a ``train cnn`` run folder or checkpoint file."""
    from zerokara.io import load_checkpoint, split_prefix

    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    tensors, meta = load_checkpoint(path)
    config = meta.get("config") or {}
    if config.get("task") != "cnn":
        raise CheckpointError(
            f"{path} is not a CNN checkpoint (zerokara train cnn); its task is {config.get('task')!r}"
        )
    model = build_cnn(config["model"], np.random.default_rng(config.get("seed", 0)))
    model.load_state_dict(split_prefix(tensors, "model"), source=str(path))
    model.eval()
    return model, config


def initial_model(config: dict[str, Any]) -> ConvClassifier:
    """The model as the run began: the same seed draws the same first weights."""
    return build_cnn(config["model"], np.random.default_rng(config.get("seed", 0)))


def half_precision_accuracy(model: ConvClassifier, x: np.ndarray, t: np.ndarray) -> float:
    """Test accuracy with every weight rounded to float16 (book 1 chapter 8: half the memory,
    the same accuracy). The products still run in float32: what is measured is what storing
    the weights in 16 bits loses, not NumPy's slow float16 arithmetic."""
    params = model.parameters()
    kept = {k: v.copy() for k, v in params.items()}
    try:
        for v in params.values():
            v[...] = v.astype(np.float16)
        return model.accuracy(x, t)
    finally:
        for k, v in params.items():
            v[...] = kept[k]


def plot_filters(before: np.ndarray, after: np.ndarray, path: Path, title: str = "") -> Path:
    """The first convolution's filters (FN, C, FH, FW), first channel, before and after training,
    in grey as book 1 draws them (figure 7-24)."""
    import matplotlib.pyplot as plt

    n = before.shape[0]
    cols = min(n, 10)
    rows = -(-n // cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cols * 0.9, 2 * rows * 0.9 + 0.6), squeeze=False)
    for block, (label, w) in enumerate((("before", before), ("after", after))):
        for i in range(rows * cols):
            ax = axes[block * rows + i // cols][i % cols]
            ax.set_axis_off()
            if i < n:
                ax.imshow(w[i, 0], cmap="gray_r", interpolation="nearest")
                if i == 0:
                    ax.set_title(label, fontsize=8, loc="left")
    fig.suptitle(title or "first-layer filters before and after training", fontsize=9)
    return save_figure(fig, path)


def plot_misclassified(
    x: np.ndarray, t: np.ndarray, predicted: np.ndarray, path: Path, most: int = 20, title: str = ""
) -> Path:
    """Up to ``most`` test images the model gets wrong, each titled "predicted / true"
    (book 1 figure 8-3)."""
    import matplotlib.pyplot as plt

    wrong = np.flatnonzero(predicted != t)[:most]
    cols = 10
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.95, rows * 1.15 + 0.5), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if k < len(wrong):
            i = wrong[k]
            ax.imshow(x[i, 0], cmap="gray_r", interpolation="nearest")
            ax.set_title(f"{predicted[i]} / {t[i]}", fontsize=8, color="crimson")
    fig.suptitle(title or "misclassified test images: predicted / true", fontsize=9)
    return save_figure(fig, path)


def predictions(model: ConvClassifier, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The predicted class of every image, in batches."""
    return np.concatenate(
        [model.predict(x[i : i + batch_size]).argmax(axis=1) for i in range(0, len(x), batch_size)]
    )


def test_images(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The run's test set (all 10,000 images: the figures do not take the run's test subset)."""
    return load_images(config.get("data", "mnist"))[1]
