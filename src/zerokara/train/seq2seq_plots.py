"""Attention maps of the seq2seq models: one heatmap for book 2's attention model
(:func:`plot_attention`), one panel per head and layer for the transformer
(:func:`plot_attention_heads`). Rows are what attends (output characters, or
question characters in the encoder's self-attention), columns what is attended to
(the question's characters, padding shown as ·), gray from 0 (black) to 1 (white).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _heatmap(ax: Any, weights: np.ndarray, columns: str, rows: str, fontsize: float = 9) -> Any:
    """Draw weights (rows, columns) on ax, each axis labelled with its characters
    (padding shown as ·)."""
    r, c = weights.shape
    im = ax.imshow(weights, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto")
    show = lambda ch: "·" if ch == " " else ch  # noqa: E731
    ax.set_xticks(range(c), [show(ch) for ch in columns.ljust(c)], fontsize=fontsize)
    ax.set_yticks(range(r), [show(ch) for ch in rows.ljust(r)], fontsize=fontsize)
    return im


def plot_attention(
    question: str, answer: str, weights: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """Heatmap: rows = output characters, columns = input characters (padding shown as ·)."""
    from zerokara.train.plots import plt, save_figure

    rows, cols = weights.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * cols + 1.5), max(3.0, 0.32 * rows + 1.2)))
    im = _heatmap(ax, weights, question, answer)
    ax.set_xlabel("input (question)")
    ax.set_ylabel("output (answer)")
    ax.set_title(title or f"attention: {question.strip()!r} -> {answer.strip()!r}", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    return save_figure(fig, Path(path))


def plot_attention_heads(
    question: str, answer: str, weights: dict[str, np.ndarray], path: str | Path
) -> Path:
    """A transformer's heads, one panel each: a row of panels per layer (every
    encoder layer's self-attention, question x question, then every decoder
    layer's cross-attention, answer x question), a column per head."""
    from zerokara.train.plots import plt, save_figure

    names = list(weights)
    heads = weights[names[0]].shape[0]
    cols = weights[names[0]].shape[2]
    heights = [weights[n].shape[1] for n in names]
    fig, axes = plt.subplots(
        len(names),
        heads,
        figsize=(heads * (0.16 * cols + 0.9), 0.16 * sum(heights) + 1.1 * len(names)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for row, name in zip(axes, names, strict=True):
        w = weights[name]
        labels = question if name.startswith("encoder") else answer
        what = "self-attention" if name.startswith("encoder") else "cross-attention"
        for h, ax in enumerate(row):
            _heatmap(ax, w[h], question, labels, fontsize=6)
            ax.set_title(f"{name} {what}, head {h + 1}", fontsize=7)
    fig.suptitle(f"attention heads: {question.strip()!r} -> {answer.strip()!r}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title
    return save_figure(fig, Path(path))


__all__ = ["plot_attention", "plot_attention_heads"]
