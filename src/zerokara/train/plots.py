"""Plots as PNG: training curves and a classifier's decision boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or assumed
import matplotlib.pyplot as plt
import numpy as np

from zerokara.io import atomic_file


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (through a temporary of its own, one
    rename) and close it."""
    try:
        with atomic_file(path, suffix=".tmp.png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average (valid part) to read a noisy per-step curve."""
    if window <= 1 or len(values) < window:
        return values
    c = np.cumsum(np.insert(values, 0, 0.0))
    return (c[window:] - c[:-window]) / window


def plot_history(history: dict[str, list], out_dir: Path) -> list[Path]:
    """loss.png (per step, smoothed) and accuracy.png (per epoch) into out_dir."""
    out = []
    it, loss = np.asarray(history["iteration"]), np.asarray(history["loss"], dtype=float)
    if len(loss):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(it, loss, color="0.8", lw=0.6, label="per step")
        w = max(1, len(loss) // 100)
        if w > 1:
            ax.plot(it[w - 1 :], smooth(loss, w), lw=1.5, label=f"mean of {w} steps")
        ax.set(xlabel="iteration", ylabel="loss", title="training loss")
        ax.legend()
        out.append(save_figure(fig, Path(out_dir) / "loss.png"))
    rows = history.get("epochs", [])
    if rows:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, label in (
            ("train_accuracy", "train"),
            ("valid_accuracy", "valid"),
            ("test_accuracy", "test"),
        ):
            pts = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
            if pts:  # rows of older runs may have figures the newer ones lack
                ax.plot(*zip(*pts, strict=True), marker="o", ms=3, label=label)
        ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax.legend()
        out.append(save_figure(fig, Path(out_dir) / "accuracy.png"))
    return out


def plot_decision_boundary(
    predict: Any, x: np.ndarray, t: np.ndarray, path: Path, title: str = "decision boundary"
) -> Path:
    """Colour the plane by ``predict``'s argmax and draw the points of x (N, 2)."""
    pad = 0.1
    x0, x1 = x[:, 0].min() - pad, x[:, 0].max() + pad
    y0, y1 = x[:, 1].min() - pad, x[:, 1].max() + pad
    xx, yy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(x.dtype)
    z = predict(grid).argmax(axis=1).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(xx, yy, z, alpha=0.3, cmap="viridis")
    ax.scatter(x[:, 0], x[:, 1], c=t, s=12, cmap="viridis", edgecolors="k", linewidths=0.3)
    ax.set(title=title, xticks=[], yticks=[])
    return save_figure(fig, Path(path))
