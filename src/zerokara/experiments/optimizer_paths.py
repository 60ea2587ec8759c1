"""The optimizers' paths on f(x, y) = x**2 / 20 + y**2 from (-7, 2) (book 1, section 6.1.7).

f is 20 times steeper along y than along x, and its minimum is (0, 0). SGD's step is the
gradient, which points mostly along y: it zigzags across the valley and creeps along x.
Momentum builds up speed along x, where every step pushes the same way; AdaGrad, RMSprop
and Adam divide each coordinate's step by that coordinate's past gradients, so the steep
y axis gets small steps and the flat x axis large ones, and their paths bend less.
Each optimizer runs 30 steps at book 1's learning rate (RMSprop and Nesterov, which the
book does not draw, at rates chosen the same way: the largest that does not diverge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.optim import SGD, AdaGrad, Adam, Momentum, Nesterov, Optimizer, RMSprop
from zerokara.train.report import Reporter

TITLE = "SGD, Momentum, AdaGrad, Adam (and RMSprop, Nesterov) on x^2/20 + y^2 (book 1, 6.1.7)"
BOOK: dict[str, tuple[Any, str]] = {}  # the book draws the paths; it prints no figure
START = (-7.0, 2.0)
STEPS = 30
#: optimizer -> learning rate (book 1's ch06/optimizer_compare_naive.py for the first four)
RATES = {"SGD": 0.95, "Momentum": 0.1, "Nesterov": 0.1, "AdaGrad": 1.5, "RMSprop": 0.3, "Adam": 0.3}
#: "reached the minimum": f below this (f(START) = 6.45), counted over a longer run
LOW, LONG = 0.01, 300


def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x**2 / 20.0 + y**2


def grad_f(x: float, y: float) -> tuple[float, float]:
    return x / 10.0, 2.0 * y


def make(name: str) -> Optimizer:
    kinds = {"SGD": SGD, "Momentum": Momentum, "Nesterov": Nesterov, "AdaGrad": AdaGrad}
    kinds |= {"RMSprop": RMSprop, "Adam": Adam}
    return kinds[name](lr=RATES[name])


def path(name: str, steps: int = STEPS) -> np.ndarray:
    """The points (steps + 1, 2) the optimizer visits from START, float64."""
    opt = make(name)
    p = {"xy": np.array(START)}
    points = [p["xy"].copy()]
    for _ in range(steps):
        g = np.array(grad_f(*p["xy"]))
        opt.update(p, {"xy": g})
        points.append(p["xy"].copy())
    return np.array(points)


def steps_to_low(points: np.ndarray) -> int | None:
    """The first step at which f < LOW, or None."""
    low = np.flatnonzero(f(points[:, 0], points[:, 1]) < LOW)
    return int(low[0]) if low.size else None


def zigzags(points: np.ndarray) -> int:
    """How many times the path crosses the valley's floor y = 0 (changes the sign of y),
    counting the points at least 0.01 away from it (not the jitter at the minimum)."""
    y = points[np.abs(points[:, 1]) >= 0.01, 1]
    return int(np.sum(np.sign(y[1:]) * np.sign(y[:-1]) < 0))


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Six paths, one panel each over f's contours. Figures per optimizer: f after the
    30 steps drawn, how often the path crossed the valley floor y = 0 in them (SGD's
    zigzag), and the steps to f < 0.01 in a run of 300. (No randomness: ``seed`` is
    unused; ``quick`` changes nothing, the experiment takes milliseconds.)"""
    from zerokara.train.plots import plt, save_figure

    reporter.start("optimizer-paths", len(RATES))
    paths = {}
    for i, name in enumerate(RATES):
        paths[name] = path(name)
        reporter.update(i + 1)
    reporter.finish()
    xs, ys = np.meshgrid(np.linspace(-10, 10, 200), np.linspace(-5, 5, 200))
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (name, pts) in zip(axes.ravel(), paths.items(), strict=True):
        ax.contour(xs, ys, f(xs, ys), levels=np.geomspace(0.05, 25, 12), colors="0.75", linewidths=0.6)
        ax.plot(pts[:, 0], pts[:, 1], "o-", color="tab:red", ms=3, lw=1)
        ax.plot(0, 0, "+", color="k", ms=10)
        ax.set(xlim=(-10, 10), ylim=(-5, 5), title=f"{name} (lr {RATES[name]})", xlabel="x", ylabel="y")
    fig.suptitle(f"{STEPS} steps on f(x, y) = x²/20 + y² from {START}")
    fig.tight_layout()
    save_figure(fig, out / "optimizer-paths.png")
    figures: dict[str, Any] = {}
    for name, pts in paths.items():
        figures[f"{name}_f_after_{STEPS}"] = float(f(pts[-1, 0], pts[-1, 1]))
        figures[f"{name}_crossings"] = zigzags(pts)
        figures[f"{name}_steps_to_f_below_{LOW}"] = steps_to_low(path(name, LONG))
    figures["paths"] = {name: pts.round(5).tolist() for name, pts in paths.items()}
    return figures
