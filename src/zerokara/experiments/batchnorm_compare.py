"""Training with and without BatchNorm from 16 initial weight scales (book 1, 6.3.2).

A 5-layer MLP (100 ReLU units each) learns 1000 MNIST training images with SGD (lr 0.01,
batches of 100) for 20 epochs, its weights drawn as normal * scale for 16 scales from 1
down to 1e-4. Without BatchNorm the scale is the signal's fate (see weight-init-histogram):
too large and the scores explode, too small and the signal, and with it the gradient,
shrinks by a constant factor at every layer, so the first layers barely move and most
scales do not learn at all; only a narrow band near He's std (0.05 for 784 inputs, 0.14
for 100) trains. BatchNorm divides each unit's input by its standard deviation over the
batch, so whatever the weights' scale, the next activation sees inputs of std 1: the
forward signal no longer depends on the scale, and since the normalisation divides the
gradient by the same std, the backward signal does not either. The scale then mostly
sets how large SGD's steps are relative to the weights: the weights of a layer followed by
BatchNorm, made c times larger, get c times smaller gradients, so large scales learn slowly.

Where it stops: BatchNorm divides by sqrt(var + eps). When a layer's input variance falls
below eps (zerokara's 1e-5, PyTorch's default; the book's code uses 1e-6), eps dominates
and the layer shrinks the signal instead of normalising it; the smallest scales reach that
point. The figures count the scales where that happens at the start of training.

Every scale's two nets start from the same standard-normal draws (times the scale) and see
the same batches: the only difference is BatchNorm. Accuracy is on the 1000 training images
in eval mode, as the book measures it: BatchNorm then normalises with its running
statistics. Those start at mean 0 and variance 1 (PyTorch's choice; the book's code starts
the variance at 0) and move a tenth of the way to each batch's, so after k steps a
variance of 1e-4 reads about 0.9**k: at small scales they need several epochs to forget
their start, and meanwhile the eval-mode net barely sees its input and guesses one class.
The thin line drawn with BatchNorm's is the same net measured with the statistics of the
1000 images themselves: what the net has learnt, without that lag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from zerokara.data import load_mnist
from zerokara.layers import BatchNorm
from zerokara.models import MultiLayerNet
from zerokara.optim import make_optimizer
from zerokara.train.report import Reporter

TITLE = "With and without BatchNorm from 16 initial weight scales, 1000 MNIST images (book 1, 6.3.2)"
BOOK: dict[str, tuple[Any, str]] = {}  # the book draws the curves (figure 6-19); it prints no figure
TRAIN_SIZE, BATCH, LR, HIDDEN = 1000, 100, 0.01, (100,) * 5
SCALES = np.logspace(0, -4, num=16)  # book 1's weight_scale_list
EPOCHS, QUICK_EPOCHS = 20, 6
QUICK_SCALES = SCALES[[1, 6, 10, 14]]
#: "learns at all": final training accuracy above this (a class guessed at random is 0.1)
LEARNS = 0.5


def make_net(scale: float, batchnorm: bool, seed: int) -> MultiLayerNet:
    """784 -> 5 x 100 ReLU -> 10, weights normal * ``scale`` (the same draws for both
    kinds: BatchNorm's layers draw nothing)."""
    return MultiLayerNet(
        784,
        HIDDEN,
        10,
        activation_name="relu",
        init=float(scale),
        batchnorm=batchnorm,
        rng=np.random.default_rng(seed),
    )


def batch_order(epochs: int, seed: int) -> np.ndarray:
    """The indices (epochs, TRAIN_SIZE // BATCH, BATCH) of every batch: a fresh shuffle of
    the training images each epoch."""
    rng = np.random.default_rng([seed, 1])
    return np.stack([rng.permutation(TRAIN_SIZE) for _ in range(epochs)]).reshape(epochs, -1, BATCH)


def prebn_variance(net: MultiLayerNet, x: np.ndarray) -> list[float]:
    """The variance over the batch ``x`` (N, 784) of each BatchNorm layer's input (the
    Affine's output), averaged over its units: one training-mode forward pass of ``net``
    (BatchNorm keeps 1 / sqrt(var + eps) of it)."""
    net.train()
    net.predict(x)
    out = []
    for layer in net.net.layers.values():
        if isinstance(layer, BatchNorm):
            assert layer.inv_std is not None
            out.append(float(np.mean(1.0 / layer.inv_std.astype(np.float64) ** 2 - layer.eps)))
    return out


def batch_stats_accuracy(net: MultiLayerNet, x: np.ndarray, t: np.ndarray) -> float:
    """Accuracy on x (N, 784), t (N,) with every BatchNorm normalising by the statistics of
    ``x`` itself (training mode), its running statistics left as they were."""
    layers = [layer for layer in net.net.layers.values() if isinstance(layer, BatchNorm)]
    saved = [(layer.running_mean, layer.running_var) for layer in layers]
    net.train()
    acc = float(np.mean(net.predict(x).argmax(axis=1) == t))
    for layer, (mean, var) in zip(layers, saved, strict=True):
        layer.running_mean, layer.running_var = mean, var  # forward made new arrays
    return acc


def train_curves(
    net: MultiLayerNet, x: np.ndarray, t: np.ndarray, order: np.ndarray
) -> tuple[dict[str, list[float]], bool]:
    """Train ``net`` on x (N, 784), t (N,) with SGD over the batches of ``order`` (epochs,
    steps, BATCH). Returns the accuracy on (x, t) before training and after each epoch
    (epochs + 1,): "eval" (``net.accuracy``) and, for a net with BatchNorm, "batch_stats"
    (:func:`batch_stats_accuracy`); and whether the loss went non-finite (the scores
    overflowed float32: the net stops training there and is measured as it is)."""
    opt = make_optimizer("sgd", LR)
    net.input_grad = False
    bn = any(isinstance(layer, BatchNorm) for layer in net.net.layers.values())
    curves: dict[str, list[float]] = {"eval": [], "batch_stats": []} if bn else {"eval": []}

    def measure() -> None:
        curves["eval"].append(net.accuracy(x, t))
        if bn:
            curves["batch_stats"].append(batch_stats_accuracy(net, x, t))

    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        measure()
        for epoch in order:
            for idx in epoch:
                if diverged:
                    break
                net.train()
                loss = net.forward(x[idx], t[idx])
                diverged = not np.isfinite(loss)
                if not diverged:
                    net.backward()
                    opt.update(net.parameters(), net.gradients())
            measure()
    return curves, diverged


def first_epoch(curve: list[float], level: float) -> int | None:
    """The first epoch whose accuracy in ``curve`` (epochs + 1,) is above ``level``, or None."""
    above = np.flatnonzero(np.asarray(curve) > level)
    return int(above[0]) if above.size else None


def draw(path: Path, scales: np.ndarray, curves: dict[str, dict[str, list[float]]]) -> Path:
    """A grid of panels, one per scale: accuracy per epoch, BatchNorm solid (thin: measured
    with the batch's statistics), plain dashed."""
    from zerokara.train.plots import plt, save_figure

    cols = 4
    rows = -(-len(scales) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.5 * rows), sharex=True, sharey=True, squeeze=False
    )
    for i, (ax, scale) in enumerate(zip(axes.ravel(), scales, strict=False)):
        key = f"{scale:.3g}"
        ax.plot(curves["batchnorm"][key], "-", color="tab:blue", label="BatchNorm")
        ax.plot(
            curves["batchnorm_batch_stats"][key],
            "-",
            color="tab:blue",
            lw=0.7,
            alpha=0.5,
            label="BatchNorm, batch statistics",
        )
        ax.plot(curves["plain"][key], "--", color="tab:orange", label="without")
        ax.set_title(f"W: {scale:.3g} * normal", fontsize=9)
        ax.set_ylim(0, 1)
        if i % cols == 0:
            ax.set_ylabel("train accuracy")
        if i >= len(scales) - cols:
            ax.set_xlabel("epoch")
        if i == 0:
            ax.legend(loc="upper left", fontsize=7)
    for ax in axes.ravel()[len(scales) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"{TRAIN_SIZE} MNIST images, 5 x 100 ReLU, SGD lr {LR}: BatchNorm (solid) and without (dashed)"
    )
    fig.tight_layout()
    return save_figure(fig, path)


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Train both nets at every scale (quick: 4 scales, 6 epochs) and draw the grid.
    Figures: each scale's final accuracy with and without BatchNorm; the number of scales
    where BatchNorm ends higher, where each learns at all (final accuracy > LEARNS), where
    the loss overflowed, and where some BatchNorm layer's input variance is below eps at
    the start; how many epochs later BatchNorm passes LEARNS in eval mode than with the
    batch's statistics (mean over the scales where both do). The curves, the runs that
    overflowed and the variances are in ``curves``, ``diverged_runs`` and ``prebn_var``."""
    scales = QUICK_SCALES if quick else SCALES
    epochs = QUICK_EPOCHS if quick else EPOCHS
    (x_all, t_all), _ = load_mnist()
    x, t = x_all[:TRAIN_SIZE], t_all[:TRAIN_SIZE]  # the book's first 1000 images
    order = batch_order(epochs, seed)
    curves: dict[str, dict[str, list[float]]] = {"batchnorm": {}, "batchnorm_batch_stats": {}, "plain": {}}
    diverged, prebn_var = [], {}
    reporter.start("batchnorm-compare", 2 * len(scales))
    # one BLAS thread: products of 100 rows by 100 columns are too small to split, and
    # two threads on a busy machine made them several times slower
    with threadpool_limits(1, user_api="blas"):
        for i, scale in enumerate(scales):
            key = f"{scale:.3g}"
            prebn_var[key] = prebn_variance(make_net(scale, True, seed), x[order[0, 0]])
            for j, (kind, bn) in enumerate((("batchnorm", True), ("plain", False))):
                runs, blew_up = train_curves(make_net(scale, bn, seed), x, t, order)
                curves[kind][key] = runs["eval"]
                if bn:
                    curves["batchnorm_batch_stats"][key] = runs["batch_stats"]
                if blew_up:
                    diverged.append(f"{kind} {key}")
                reporter.update(2 * i + j + 1, accuracy=runs["eval"][-1])
    reporter.finish()
    draw(out / "batchnorm-compare.png", scales, curves)
    eps = BatchNorm(1).eps
    figures: dict[str, Any] = {}
    for key in curves["batchnorm"]:
        figures[f"scale_{key}_batchnorm"] = curves["batchnorm"][key][-1]
        figures[f"scale_{key}_plain"] = curves["plain"][key][-1]
    bn_end = np.array([c[-1] for c in curves["batchnorm"].values()])
    plain_end = np.array([c[-1] for c in curves["plain"].values()])
    figures["scales"] = len(scales)
    figures["epochs"] = epochs
    figures["batchnorm_ends_higher"] = int(np.sum(bn_end > plain_end))
    figures["batchnorm_learns"] = int(np.sum(bn_end > LEARNS))
    figures["plain_learns"] = int(np.sum(plain_end > LEARNS))
    figures["diverged"] = len(diverged)
    figures["batchnorm_input_var_below_eps"] = sum(min(v) < eps for v in prebn_var.values())
    lags = []
    for key, curve in curves["batchnorm"].items():
        e_eval, e_batch = (
            first_epoch(curve, LEARNS),
            first_epoch(curves["batchnorm_batch_stats"][key], LEARNS),
        )
        if e_eval is not None and e_batch is not None:
            lags.append(e_eval - e_batch)
    figures["batchnorm_eval_lag_epochs"] = float(np.mean(lags)) if lags else None
    figures["diverged_runs"] = diverged
    figures["curves"] = curves
    figures["prebn_var"] = prebn_var
    return figures
