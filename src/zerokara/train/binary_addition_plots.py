"""The binary-addition run in a line and in pictures: its settings
(:func:`describe`, also the sweep's label) and loss.png, accuracy.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def describe(config: dict[str, Any]) -> str:
    """The settings in a line, e.g. ``sigmoid, H=16, std 1, SGD lr 0.1``."""
    init = f"std {config['weight_init_std']:g}" if config["init"] == "std" else config["init"]
    text = f"{config['activation']}, H={config['hidden']}, {init}, {config['optimizer']} lr {config['lr']:g}"
    if config.get("batch_size", 1) != 1:
        text += f", batch {config['batch_size']}"
    if config.get("max_grad") is not None:
        text += f", clip {config['max_grad']:g}"
    return text + (", BCE" if config.get("loss") == "bce" else "")


def plot_run(
    losses: list[float], evals: list[dict[str, Any]], config: dict[str, Any], out_dir: Path
) -> list[Path]:
    """loss.png (per step and a 100-step mean) and accuracy.png (all pairs, per evaluation)."""
    from zerokara.train.plots import plt, save_figure, smooth  # matplotlib only when plotting

    out = []
    if losses:
        loss = np.asarray(losses, dtype=float)
        it = np.arange(1, len(loss) + 1)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(it, loss, color="0.8", lw=0.5, label="per step")
        w = min(100, len(loss))
        if w > 1:
            ax.plot(it[w - 1 :], smooth(loss, w), lw=1.5, label=f"mean of {w} steps")
        ylabel = (
            "loss: sum over 8 bits of ½(y − d)²"
            if config["loss"] == "mse"
            else "loss: BCE summed over 8 bits"
        )
        ax.set(xlabel="iteration", ylabel=ylabel, title=f"binary addition: {describe(config)}")
        ax.legend()
        out.append(save_figure(fig, Path(out_dir) / "loss.png"))
    if evals:
        fig, ax = plt.subplots(figsize=(6, 4))
        at = [r["iteration"] for r in evals]
        ax.plot(at, [r["bit_accuracy"] for r in evals], marker="o", ms=3, label="bits right")
        ax.plot(at, [r["exact_accuracy"] for r in evals], marker="o", ms=3, label="sums exactly right")
        ax.set(
            xlabel="iteration",
            ylabel="accuracy over all 128 × 128 pairs",
            ylim=(-0.02, 1.02),
            title=f"binary addition: {describe(config)}",
        )
        ax.legend(loc="lower right")
        out.append(save_figure(fig, Path(out_dir) / "accuracy.png"))
    return out


__all__ = ["describe", "plot_run"]
