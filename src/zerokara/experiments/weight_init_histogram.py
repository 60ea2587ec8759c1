"""How the initial weights' scale shapes the activations of a deep net (book 1, 6.2.2-6.2.3).

1000 random inputs of 100 features go through 5 layers of 100 units (no bias), with the
weights drawn once from a standard normal and multiplied by the std under test: 1, 0.01,
Xavier's sqrt(1/n) or He's sqrt(2/n), n = 100 inputs per unit. A unit's input sums n
products, so its std is about std(w) * sqrt(n) * rms(x): the weights' scale decides
whether the signal grows, shrinks or keeps its size from layer to layer.

* std 1 with sigmoid: the sums have a std near 10, sigmoid is flat out there, and the
  activations pile up at 0 and 1. Its slope y (1 - y) is about 0 at both ends, so
  almost no gradient flows back through those units: the gradient vanishes.
* std 0.01 with sigmoid: the sums stay near 0, where sigmoid is 0.5, so every unit
  outputs about 0.5 for every input. A hundred units that all say the same thing are as
  expressive as one; the gradient does not vanish, but the layer has nothing to say.
* Xavier keeps the sums' std near 1, where sigmoid and tanh are neither flat nor
  linear: the activations stay spread over the range in every layer.
* ReLU sets half of its inputs to 0, which halves the mean square of the signal at
  each layer. He's std, sqrt(2) times Xavier's, makes up that half: the spread is the
  same in the 5th layer as in the 1st. Xavier loses a factor sqrt(2) per layer, std
  0.01 a factor of about 14: after 5 layers its activations are 1e-6 of its inputs.

Nothing is trained: this is the first forward pass only, the state training starts from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.init import init_std
from zerokara.models.mlp import activation
from zerokara.train.report import Reporter

TITLE = "Activations of 5 layers under std 1, std 0.01, Xavier and He initial weights (book 1, 6.2.2-6.2.3)"
BOOK: dict[str, tuple[Any, str]] = {}  # the book draws the histograms (figures 6-10, 6-11, 6-13, 6-14)
N, UNITS, LAYERS = 1000, 100, 5
#: the rows drawn, in the book's order: name -> (activation, init as zerokara.init.init_std takes it)
COMBOS: dict[str, tuple[str, str | float]] = {
    "sigmoid_std_1": ("sigmoid", 1.0),
    "sigmoid_std_0.01": ("sigmoid", 0.01),
    "sigmoid_xavier": ("sigmoid", "xavier"),
    "tanh_xavier": ("tanh", "xavier"),
    "relu_std_0.01": ("relu", 0.01),
    "relu_xavier": ("relu", "xavier"),
    "relu_he": ("relu", "he"),
}
#: "at an end" of sigmoid: within END of 0 or 1, where its slope y (1 - y) is below 0.02;
#: "at the middle": within MIDDLE of 0.5 (4 stds of std 0.01's spread there, 0.0125)
END, MIDDLE = 0.02, 0.05
BINS = 30
#: histogram range per activation (the book's (0, 1) for sigmoid and ReLU); ReLU's y limit (the book's)
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1.0)}
RELU_YLIM = 7000


def activations(x: np.ndarray, weights: np.ndarray, act: str, init: str | float) -> np.ndarray:
    """The activations (LAYERS, N, UNITS) of each layer for inputs ``x`` (N, UNITS).

    ``weights`` (LAYERS, UNITS, UNITS) are standard-normal draws; each is scaled by the
    std ``init`` gives a layer of UNITS inputs. float32 throughout."""
    std = np.float32(init_std(init, UNITS))
    out = []
    for w in weights:
        x = activation(act).forward(x @ (w * std))
        out.append(x)
    return np.stack(out)


def layer_stats(act: str, a: np.ndarray) -> dict[str, list[float]]:
    """Per layer of ``a`` (LAYERS, N, UNITS): mean, std, and for sigmoid the fractions
    at an end (within END of 0 or 1) and at the middle (within MIDDLE of 0.5)."""
    flat = a.reshape(len(a), -1).astype(np.float64)
    stats = {"mean": flat.mean(axis=1).tolist(), "std": flat.std(axis=1).tolist()}
    if act == "sigmoid":
        stats["near_0_or_1"] = np.mean(np.minimum(flat, 1 - flat) < END, axis=1).tolist()
        stats["near_half"] = np.mean(np.abs(flat - 0.5) < MIDDLE, axis=1).tolist()
    return stats


def draw(path: Path, names: list[str], acts: dict[str, np.ndarray], title: str) -> Path:
    """One row of LAYERS histograms per combination in ``names``, each panel labelled with
    its layer's std."""
    from zerokara.train.plots import plt, save_figure

    fig, axes = plt.subplots(len(names), LAYERS, figsize=(13, 2.3 * len(names)), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        act, _ = COMBOS[name]
        for i, ax in enumerate(row):
            a = acts[name][i].ravel()
            ax.hist(a, BINS, range=RANGES[act], color="tab:blue")
            ax.text(
                0.97, 0.95, f"std {a.std():.2g}", transform=ax.transAxes, ha="right", va="top", fontsize=8
            )
            ax.set_title(f"{name}: layer {i + 1}", fontsize=9)
            if act == "relu":
                ax.set_ylim(0, RELU_YLIM)
            if i:
                ax.sharey(row[0])
                ax.tick_params(labelleft=False)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Two PNGs: sigmoid and tanh (std 1, std 0.01, Xavier) and ReLU (std 0.01, Xavier,
    He), a histogram per layer. Every combination sees the same inputs and the same
    standard-normal weights, scaled by its std. Figures: each combination's std in layers
    1 and 5, sigmoid's fractions at its ends and middle, ReLU's 5th-layer mean; the
    per-layer statistics in ``layers``. (``quick`` changes nothing: it takes a second.)"""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, UNITS), dtype=np.float32)
    weights = rng.standard_normal((LAYERS, UNITS, UNITS), dtype=np.float32)
    reporter.start("weight-init-histogram", len(COMBOS))
    acts, stats = {}, {}
    for i, (name, (act, init)) in enumerate(COMBOS.items()):
        acts[name] = activations(x, weights, act, init)
        stats[name] = layer_stats(act, acts[name])
        reporter.update(i + 1)
    reporter.finish()
    sig = [n for n in COMBOS if not n.startswith("relu")]
    draw(out / "weight-init-histogram-sigmoid.png", sig, acts, "sigmoid and tanh: activations of each layer")
    draw(
        out / "weight-init-histogram-relu.png",
        [n for n in COMBOS if n.startswith("relu")],
        acts,
        f"ReLU: activations of each layer (y cut at {RELU_YLIM}; the zeros go higher)",
    )
    figures: dict[str, Any] = {}
    for name, s in stats.items():
        figures[f"{name}_layer1_std"] = s["std"][0]
        figures[f"{name}_layer5_std"] = s["std"][-1]
    for name in ("sigmoid_std_1", "sigmoid_xavier"):
        figures[f"{name}_layer5_near_0_or_1"] = stats[name]["near_0_or_1"][-1]
    for name in ("sigmoid_std_0.01", "sigmoid_xavier"):
        figures[f"{name}_layer5_near_half"] = stats[name]["near_half"][-1]
    for name in COMBOS:
        if name.startswith("relu"):
            figures[f"{name}_layer5_mean"] = stats[name]["mean"][-1]
    figures["layers"] = stats
    return figures
