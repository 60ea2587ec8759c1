"""Loss curves of several models trained side by side on the same batches (book 1, 6.1.8
and 6.2.4), shared by the experiments optimizer-compare and weight-init-compare.

A fair comparison changes one thing only. Every model here starts from weights drawn
from the same seed and sees the same mini-batches in the same order; at each iteration
every model takes one step on that iteration's batch, as book 1's scripts do. What
differs is only what the experiment varies: the optimizer, or the scale of the initial
weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.models.mlp import Classifier, MultiLayerNet
from zerokara.optim import Optimizer
from zerokara.train.report import Reporter

#: book 1's network for both experiments: four hidden ReLU layers of 100
HIDDEN = (100, 100, 100, 100)
BATCH = 128
#: the book's run (FULL) and the quick one the tests run
FULL = {"iterations": 2000, "train_size": 60000, "test_size": 10000}
QUICK = {"iterations": 300, "train_size": 10000, "test_size": 2000}
#: a loss "learned" means: the smoothed curve is below this (ln 10 = 2.30 is guessing)
LEVEL = 0.5


def mnist(train_size: int, test_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first ``train_size`` / ``test_size`` MNIST images: x (N, 784) float32 in [0, 1],
    t (N,) class ids; returns x_train, t_train, x_test, t_test."""
    from zerokara.data import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist()
    return x_train[:train_size], t_train[:train_size], x_test[:test_size], t_test[:test_size]


def mlp(init: str | float, seed: np.random.SeedSequence) -> MultiLayerNet:
    """Book 1's 784-100-100-100-100-10 ReLU net, weights from ``seed``: the same seed
    gives the same standard-normal draws, so two inits differ only in their scale."""
    net = MultiLayerNet(784, HIDDEN, 10, activation_name="relu", init=init, rng=np.random.default_rng(seed))
    net.input_grad = False  # the images' gradient is never used
    return net


def batches(n: int, batch_size: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (iterations, batch_size) into a training set of ``n``: each row a random
    batch drawn without replacement (book 1 draws with replacement; 128 of 60,000 rarely
    repeat one)."""
    return np.stack([rng.choice(n, batch_size, replace=False) for _ in range(iterations)])


def train_side_by_side(
    runs: Mapping[str, tuple[Classifier, Optimizer]],
    x: np.ndarray,
    t: np.ndarray,
    batch_idx: np.ndarray,
    reporter: Reporter,
    what: str,
) -> dict[str, np.ndarray]:
    """Train every (model, optimizer) of ``runs`` on the batches ``batch_idx``
    (iterations, B) of x (N, D), t (N,); returns each run's loss per iteration
    (iterations,) float64, the loss of the batch before that iteration's step.

    BLAS runs on one thread meanwhile: products of 128 rows by 100 columns are too small to
    split, and two threads on a busy machine made them ten times slower."""
    from threadpoolctl import threadpool_limits

    iterations = len(batch_idx)
    losses = {name: np.empty(iterations) for name in runs}
    reporter.start(what, iterations)
    with threadpool_limits(1, user_api="blas"):
        for i, idx in enumerate(batch_idx):
            xb, tb = x[idx], t[idx]
            for name, (model, opt) in runs.items():
                losses[name][i] = model.forward(xb, tb)
                model.backward()
                opt.update(model.parameters(), model.gradients())
            if reporter.shows_progress:
                reporter.update(i + 1, **{name: float(loss[i]) for name, loss in losses.items()})
    reporter.finish()
    return losses


def final_window(iterations: int) -> int:
    """How many last iterations the "final loss" averages: 1/20 of the run, at least 20
    (100 of the book's 2000), so one noisy batch does not decide it."""
    return max(20, iterations // 20)


def final_loss(loss: np.ndarray) -> float:
    """The mean of the last :func:`final_window` losses of a curve (iterations,)."""
    return float(np.mean(loss[-final_window(len(loss)) :]))


def smooth_window(iterations: int) -> int:
    """The moving average the pictures draw: over 1/100 of the run, at least 5."""
    return max(5, iterations // 100)


def iterations_to(loss: np.ndarray, level: float) -> int | None:
    """How many iterations a curve (iterations,) took until its moving average
    (:func:`smooth_window`) first fell below ``level``; None if it never did."""
    from zerokara.train.plots import smooth

    w = smooth_window(len(loss))
    below = np.flatnonzero(smooth(loss, w) < level)
    return int(below[0]) + w if below.size else None


def smoothed(loss: np.ndarray, every: int = 20) -> dict[str, list[Any]]:
    """A curve (iterations,) for the JSON: its moving average over ``every`` iterations,
    one point per ``every`` (iteration = the last one averaged)."""
    from zerokara.train.plots import smooth

    s = smooth(loss, every)
    ends = np.arange(every - 1, len(loss), every)
    return {"iteration": (ends + 1).tolist(), "loss": [round(float(v), 4) for v in s[ends - (every - 1)]]}


def plot_curves(
    losses: dict[str, np.ndarray],
    path: Path,
    title: str,
    ylim: tuple[float, float],
    style: Callable[[str], dict[str, Any]] | None = None,
) -> Path:
    """One plot of each run's loss per iteration, smoothed (:func:`smooth_window`), as
    book 1's figures 6-9 and 6-15; ``style(name)`` gives extra keywords of a line."""
    from zerokara.train.plots import plt, save_figure, smooth

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, loss in losses.items():
        w = smooth_window(len(loss))
        ax.plot(
            np.arange(w, len(loss) + 1), smooth(loss, w), lw=1.3, label=name, **(style(name) if style else {})
        )
    if ylim[1] > np.log(10):
        ax.axhline(np.log(10), color="0.6", lw=0.8, ls=":")
        ax.text(0, np.log(10), " ln 10 (guessing)", va="bottom", fontsize=8, color="0.4")
    ax.set(xlabel="iteration", ylabel="loss (training batch)", title=title, ylim=ylim)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def figures_of(
    runs: Mapping[str, tuple[Classifier, Optimizer]],
    losses: Mapping[str, np.ndarray],
    x_test: np.ndarray,
    t_test: np.ndarray,
    iterations: int,
    train_size: int,
    key: Callable[[str], str] = str,
) -> dict[str, Any]:
    """The figures both experiments report of each run (``key(name)`` names it): its final
    loss, the iterations its smoothed loss took to fall below LEVEL, its test accuracy;
    the sizes; and the smoothed curves for the JSON."""
    figures: dict[str, Any] = {}
    for name, (model, _) in runs.items():
        figures[f"{key(name)}_final_loss"] = final_loss(losses[name])
        figures[f"{key(name)}_iterations_to_{LEVEL}"] = iterations_to(losses[name], LEVEL)
        figures[f"{key(name)}_test_accuracy"] = model.accuracy(x_test, t_test)
    figures |= {"iterations": iterations, "train_size": train_size, "test_size": len(x_test)}
    figures["final_loss_over_last"] = final_window(iterations)
    figures["curves"] = {key(name): smoothed(loss) for name, loss in losses.items()}
    return figures
