"""SGD, Momentum, AdaGrad and Adam (and RMSprop, Nesterov) training the same net on MNIST
(book 1, section 6.1.8: ch06/optimizer_compare_mnist.py, figure 6-9).

Each optimizer trains book 1's 5-layer ReLU net (four hidden layers of 100, He's initial
weights) for 2000 iterations of 128 images, at book 1's learning rates; every one starts
from the same weights and sees the same batches. The picture is the loss per iteration,
smoothed.

Why SGD is slowest: its step is lr times the gradient, and most single gradients here
are small (of order 0.005 per first-layer weight at the start), so at lr 0.01 it creeps.
Momentum adds up the steps: along directions where the gradient keeps its sign they grow
to up to 1 / (1 - 0.9) = 10 times SGD's, while steps that flip sign cancel. AdaGrad,
RMSprop and Adam divide each parameter's step by the size of its own recent gradients,
so every parameter moves by about lr whatever the scale of its gradient; Adam also keeps
a momentum. (RMSprop at the book's default 0.01 moves every weight by about 0.01 a step,
with no momentum to average the noise, and its first steps are 10 times that: its
average of g**2 starts at 0. Its curve is the noisiest.) Book 1 finds SGD well behind
and the other three close together, AdaGrad a little ahead; it draws the curves and
prints the losses of its own run every 100 iterations, but gives no single number to
compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.experiments import curves
from zerokara.models.mlp import MultiLayerNet
from zerokara.optim import Optimizer, make_optimizer
from zerokara.train.report import Reporter

TITLE = "SGD, Momentum, AdaGrad, Adam (and RMSprop, Nesterov) on MNIST, a 5-layer ReLU net (book 1, 6.1.8)"
BOOK: dict[str, tuple[Any, str]] = {}  # figure 6-9 is a picture; the book prints only its own run's losses
#: optimizer -> learning rate: book 1's ch06/optimizer_compare_mnist.py for the first four,
#: the defaults of its common/optimizer.py for RMSprop and Nesterov (which it leaves out)
RATES = {"SGD": 0.01, "Momentum": 0.01, "AdaGrad": 0.01, "Adam": 0.001, "RMSprop": 0.01, "Nesterov": 0.01}


def start(seed: np.random.SeedSequence) -> dict[str, tuple[MultiLayerNet, Optimizer]]:
    """One (net, optimizer) per optimizer of RATES, every net with the same He weights."""
    return {name: (curves.mlp("he", seed), make_optimizer(name, lr)) for name, lr in RATES.items()}


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Train the six side by side and draw their smoothed losses. Figures per optimizer:
    the final loss (mean of the last 1/20 of the iterations), the iterations it took to
    bring the smoothed loss below ``curves.LEVEL`` (None: never), and the test accuracy.
    ``quick``: 300 iterations on the first 10,000 training images (2,000 test images)
    instead of 2000 on all 60,000 (all 10,000)."""
    size = curves.QUICK if quick else curves.FULL
    x, t, x_test, t_test = curves.mnist(size["train_size"], size["test_size"])
    weights_seed, batch_seed = np.random.SeedSequence(seed).spawn(2)
    runs = start(weights_seed)
    idx = curves.batches(len(x), curves.BATCH, size["iterations"], np.random.default_rng(batch_seed))
    losses = curves.train_side_by_side(runs, x, t, idx, reporter, "optimizer-compare")
    curves.plot_curves(
        losses,
        out / "optimizer-compare.png",
        f"{len(x):,} MNIST images, batch {curves.BATCH}: the same net and batches for each optimizer",
        ylim=(0, 1.2),
        style=lambda name: {"ls": "--"} if name in ("RMSprop", "Nesterov") else {},
    )
    return curves.figures_of(runs, losses, x_test, t_test, size["iterations"], len(x))
