"""Initial weights of std 0.01, Xavier's and He's, training the same net on MNIST
(book 1, section 6.2.4: ch06/weight_init_compare.py, figure 6-15).

Book 1's 5-layer ReLU net (four hidden layers of 100) is trained by SGD (lr 0.01) for
2000 iterations of 128 images, three times: with weights of std 0.01, Xavier's
(std sqrt(1/n), n the layer's inputs) and He's (std sqrt(2/n)). The three draw the same
standard-normal numbers and the same batches: only the scale differs.

Why std 0.01 does not learn: a layer's output is a sum of n inputs times weights. With
n = 100 and std 0.01 the sum is 0.01 * sqrt(100) = 0.1 times the size of the inputs, and
ReLU halves its power, so each hidden layer's activations are about 14 times smaller
than the layer's before (the first's, with 784 inputs, about 5 times smaller than the
image). After four layers the scores are nearly zero, the softmax is uniform and the
loss is ln 10 = 2.30 whatever the image. Going back, the gradient is multiplied by the
same small weights at every layer, and a weight's gradient is its layer's tiny input
times that: the updates vanish and the loss stays at 2.30. He's std sqrt(2/n) is chosen
so the sum keeps its size through a ReLU (which zeroes half of it): activations and
gradients keep their scale in every layer, and the net learns from the first steps.
Xavier's sqrt(1/n) was derived for activations symmetric around 0 (sigmoid, tanh);
after a ReLU it loses a factor sqrt(2) per layer, 4 over the four hidden layers, so it
learns, but slower than He's. (The biases start at 0 and ReLU commutes with a positive
scale, so at the start the three nets' activations are exact multiples of each other.)
Book 1's figure 6-15 shows that order: std 0.01 flat, He fastest, Xavier behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.experiments import curves
from zerokara.layers import ReLU
from zerokara.models.mlp import MultiLayerNet
from zerokara.optim import SGD
from zerokara.train.report import Reporter

TITLE = "Initial weights std 0.01, Xavier, He on MNIST, a 5-layer ReLU net with SGD (book 1, 6.2.4)"
BOOK: dict[str, tuple[Any, str]] = {}  # figure 6-15 is a picture; the book prints only its own run's losses
#: name -> zerokara.init kind (book 1: weight_init_std 0.01, "sigmoid" = sqrt(1/n), "relu" = sqrt(2/n))
INITS: dict[str, str | float] = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
LR = 0.01


def key(name: str) -> str:
    """The figures' prefix of an init: "std=0.01" -> "std_0.01"."""
    return name.replace("=", "_")


def hidden_stds(model: MultiLayerNet, x: np.ndarray) -> list[float]:
    """The std of each hidden layer's ReLU output for the images x (N, 784)."""
    out = []
    for layer in model.net.layers.values():
        x = layer.forward(x)
        if isinstance(layer, ReLU):
            out.append(float(np.std(x)))
    return out


def first_grad_norm(model: MultiLayerNet, x: np.ndarray, t: np.ndarray) -> float:
    """The L2 norm of the loss's gradient for the first layer's weights, on x (N, 784), t (N,)."""
    model.forward(x, t)
    model.backward()
    return float(np.linalg.norm(model.gradients()["affine1.W"]))


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Train the three side by side and draw their smoothed losses. Figures per init: the
    final loss (mean of the last 1/20 of the iterations), the iterations it took to bring
    the smoothed loss below ``curves.LEVEL`` (None: never), the test accuracy, and, before
    training on the first batch, the std of the last hidden layer's activations and the
    norm of the first layer's weight gradient. ``quick``: 300 iterations on the first
    10,000 training images (2,000 test images) instead of 2000 on all 60,000 (10,000)."""
    size = curves.QUICK if quick else curves.FULL
    x, t, x_test, t_test = curves.mnist(size["train_size"], size["test_size"])
    weights_seed, batch_seed = np.random.SeedSequence(seed).spawn(2)
    runs = {name: (curves.mlp(init, weights_seed), SGD(lr=LR)) for name, init in INITS.items()}
    idx = curves.batches(len(x), curves.BATCH, size["iterations"], np.random.default_rng(batch_seed))
    figures: dict[str, Any] = {}
    layer_stds = {}
    for name, (model, _) in runs.items():
        layer_stds[name] = hidden_stds(model, x[idx[0]])
        figures[f"{key(name)}_last_hidden_std_at_start"] = layer_stds[name][-1]
        figures[f"{key(name)}_first_grad_norm_at_start"] = first_grad_norm(model, x[idx[0]], t[idx[0]])
    losses = curves.train_side_by_side(runs, x, t, idx, reporter, "weight-init-compare")
    curves.plot_curves(
        losses,
        out / "weight-init-compare.png",
        f"{len(x):,} MNIST images, SGD lr {LR}, batch {curves.BATCH}: the same draws scaled by each init",
        ylim=(0, 2.5),
    )
    figures |= curves.figures_of(runs, losses, x_test, t_test, size["iterations"], len(x), key)
    figures["hidden_stds_at_start"] = {key(name): [round(s, 6) for s in v] for name, v in layer_stds.items()}
    return figures
