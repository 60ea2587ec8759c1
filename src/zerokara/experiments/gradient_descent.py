"""Numerical derivatives, gradient descent and why backprop replaces them (book 1, chapter 4
and section 5.7.3).

A derivative can be measured without calculus: nudge x by a small h and divide the change
in f by h. The forward difference (f(x+h) - f(x)) / h is off by about h f''/2; the
central difference (f(x+h) - f(x-h)) / 2h cancels that term, which is why book 1 uses it
with h = 1e-4. A smaller h does not help: f(x+h) and f(x-h) then agree in most of their
digits, and the rounding error of their difference, divided by h, grows as h shrinks. For
book 1's f(x) = 0.01 x**2 + 0.1 x the central difference has no truncation error at all
(f is quadratic), so the 1e-12 by which it misses 0.2 is rounding alone.

Gradient descent repeats x <- x - lr * grad f(x). On f(x0, x1) = x0**2 + x1**2 each step
multiplies x by (1 - 2 lr): lr 0.1 shrinks it by 0.8 a step, lr 1e-10 leaves it where it
started, and lr 10 multiplies it by -19 a step. The book's diverging run stops near 1e13
rather than at the 1e128 that (-19)**100 predicts because the book takes the gradient by
central differences: once |x| passes 2**40 (about 1.1e12), float64's spacing there is
larger than 2h, x + h and x - h round back to x, and the numerical gradient is exactly 0.
This experiment takes it the same way and reproduces the book's figures digit for digit.

A numerical gradient costs two forward passes per parameter element: for book 1's
784-50-10 TwoLayerNet that is 79,520 forward passes against backprop's one forward and one
backward, which is why the book checks backprop with the numerical gradient and trains with
backprop. The net uses sigmoid (book 1's chapter-4 net): its loss is smooth, so the two
gradients can agree to about 1e-9, where a ReLU's kink within h of a pre-activation would
make single elements differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.models import TwoLayerNet
from zerokara.train.report import Reporter

TITLE = "Numerical derivative, gradient descent on x0^2 + x1^2, numerical gradient vs backprop (book 1, 4-5)"
BOOK: dict[str, tuple[Any, str]] = {
    "central_diff_at_5": (0.1999999999990898, "book 1, 4.3.2 (h = 1e-4)"),
    "central_diff_at_10": (0.2999999999986347, "book 1, 4.3.2 (h = 1e-4)"),
    "lr0.1_x0": (-6.11110793e-10, "book 1, 4.4.1 (100 steps)"),
    "lr0.1_x1": (8.14814391e-10, "book 1, 4.4.1 (100 steps)"),
    "lr10_x0": (-2.58983747e13, "book 1, 4.4.1 (100 steps)"),
    "lr10_x1": (-1.29524862e12, "book 1, 4.4.1 (100 steps)"),
    "lr1e-10_x0": (-2.99999994, "book 1, 4.4.1 (100 steps)"),
    "lr1e-10_x1": (3.99999992, "book 1, 4.4.1 (100 steps)"),
}
#: book 1's step of the numerical derivative
H = 1e-4
#: the points where book 1 draws the tangent of f1
POINTS = (5.0, 10.0)
#: gradient descent: book 1's start, the steps it prints (100) and draws (figure 4-10: 20)
START = (-3.0, 4.0)
STEPS, DRAWN = 100, 20
RATES = (0.1, 10.0, 1e-10)
#: quick: the numerical gradient of each parameter array on at most this many elements
QUICK_ELEMENTS = 200
BATCH = 3  # book 1's gradient_check.py takes x_train[:3]


def f1(x: Any) -> Any:
    """Book 1's function_1, 0.01 x**2 + 0.1 x; x a float or an array of any shape."""
    return 0.01 * x**2 + 0.1 * x


def central_diff(f: Callable[[Any], Any], x: Any, h: Any = H) -> Any:
    """Book 1's numerical_diff: (f(x+h) - f(x-h)) / 2h (x, h floats or broadcastable arrays)."""
    return (f(x + h) - f(x - h)) / (2 * h)


def forward_diff(f: Callable[[Any], Any], x: Any, h: Any = H) -> Any:
    """(f(x+h) - f(x)) / h, the difference book 1 warns against."""
    return (f(x + h) - f(x)) / h


def f2(p: np.ndarray) -> np.ndarray:
    """Book 1's function_2, x0**2 + x1**2, of points p (..., 2) -> (...)."""
    return p[..., 0] ** 2 + p[..., 1] ** 2


def numerical_gradient_2d(p: np.ndarray, h: float = H) -> np.ndarray:
    """Central-difference gradient of f2 at the points p (..., 2) -> (..., 2).

    Both coordinates at once: p + h e_i for i = 0, 1 stacked on a new axis; the same
    float64 operations as book 1's element-by-element loop, so the same bits."""
    step = h * np.eye(2)  # (2, 2): row i is h e_i
    plus, minus = p[..., None, :] + step, p[..., None, :] - step  # (..., 2, 2)
    return (f2(plus) - f2(minus)) / (2 * h)


def descend(lr: float, steps: int, *, analytic: bool = False) -> np.ndarray:
    """The points (steps + 1, 2) of gradient descent on f2 from START, float64; the
    gradient by central differences as in book 1, or 2x with ``analytic``."""
    points = np.empty((steps + 1, 2))
    points[0] = START
    for i in range(steps):
        x = points[i]
        g = 2 * x if analytic else numerical_gradient_2d(x)
        points[i + 1] = x - lr * g
    return points


def error_vs_h(x: float = POINTS[0]) -> dict[str, list[float]]:
    """|forward - f1'(x)| and |central - f1'(x)| for h from 1e-1 to 1e-16."""
    h = np.logspace(-1, -16, 61)
    exact = 0.02 * x + 0.1
    return {
        "h": h.tolist(),
        "forward": np.abs(forward_diff(f1, x, h) - exact).tolist(),
        "central": np.abs(central_diff(f1, x, h) - exact).tolist(),
    }


def plot_derivative(path: Path, errors: dict[str, list[float]]) -> None:
    """Left: f1 and its tangents at POINTS (book 1, figure 4-7). Right: the error of
    both differences against h, log-log."""
    from zerokara.train.plots import plt, save_figure

    fig, (ax, ax_h) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = np.arange(0.0, 20.0, 0.1)
    ax.plot(xs, f1(xs), color="k", label="f(x) = 0.01x² + 0.1x")
    for x, colour in zip(POINTS, ("tab:blue", "tab:red"), strict=True):
        d = central_diff(f1, x)
        ax.plot(xs, d * (xs - x) + f1(x), color=colour, lw=1, label=f"tangent at x = {x:g}, slope {d:.13g}")
        ax.plot(x, f1(x), "o", color=colour, ms=4)
    ax.set(xlabel="x", ylabel="f(x)", ylim=(-1, 6), title="numerical derivative, h = 1e-4")
    ax.legend(fontsize=8, loc="upper left")
    h = np.array(errors["h"])
    tiny = 1e-18  # an error of exactly 0 drawn at the bottom of the log axis
    ax_h.loglog(h, np.maximum(errors["forward"], tiny), "o-", ms=2, label="forward (f(x+h) − f(x)) / h")
    ax_h.loglog(h, np.maximum(errors["central"], tiny), "o-", ms=2, label="central (f(x+h) − f(x−h)) / 2h")
    ax_h.axvline(H, color="0.6", ls="--", lw=0.8)
    ax_h.text(H * 0.7, 1e-17, "h = 1e-4", color="0.4", fontsize=8)
    ax_h.invert_xaxis()
    ax_h.set(xlabel="h", ylabel=f"|error| of f'({POINTS[0]:g})", title="error against h", ylim=(1e-18, 10))
    ax_h.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_descent(path: Path, paths: dict[float, np.ndarray]) -> None:
    """Left: the negative gradient of f2 on a grid (book 1, figure 4-9). Middle: the first
    DRAWN steps of lr 0.1 (figure 4-10). Right: |x| against the step for every rate."""
    from zerokara.train.plots import plt, save_figure

    fig, (ax_f, ax_p, ax_n) = plt.subplots(1, 3, figsize=(15, 4.6))
    g0, g1 = np.meshgrid(np.arange(-2, 2.5, 0.25), np.arange(-2, 2.5, 0.25))
    grad = numerical_gradient_2d(np.stack([g0, g1], axis=-1))
    ax_f.quiver(g0, g1, -grad[..., 0], -grad[..., 1], angles="xy", color="#666666")
    ax_f.set(xlim=(-2, 2), ylim=(-2, 2), xlabel="x0", ylabel="x1", aspect="equal")
    ax_f.set_title("−∇f of f = x0² + x1²")
    c0, c1 = np.meshgrid(np.linspace(-4.5, 4.5, 200), np.linspace(-4.5, 4.5, 200))
    ax_p.contour(c0, c1, f2(np.stack([c0, c1], axis=-1)), levels=8, colors="0.8", linewidths=0.6)
    pts = paths[0.1][: DRAWN + 1]
    ax_p.plot(pts[:, 0], pts[:, 1], "o-", color="tab:blue", ms=3, lw=1, label=f"lr 0.1, {DRAWN} steps")
    ax_p.plot(*START, "s", color="tab:red", ms=5, label=f"start {START} (lr 1e-10 stays here)")
    ax_p.set(xlim=(-3.5, 3.5), ylim=(-4.5, 4.5), xlabel="x0", ylabel="x1", aspect="equal")
    ax_p.set_title("gradient descent from (−3, 4)")
    ax_p.legend(fontsize=8, loc="lower right")
    steps = np.arange(STEPS + 1)
    for lr, colour in zip(RATES, ("tab:blue", "tab:red", "tab:green"), strict=True):
        ax_n.semilogy(steps, np.linalg.norm(paths[lr], axis=1), color=colour, label=f"lr {lr:g}")
    ax_n.axhline(2.0**40, color="0.6", ls="--", lw=0.8)
    ax_n.text(30, 2.0**40 / 30, "|x| > 2⁴⁰: x ± 1e-4 rounds to x, the gradient is 0", color="0.4", fontsize=8)
    ax_n.set(xlabel="step", ylabel="|x|", title="distance from the minimum (0, 0)")
    ax_n.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def net_and_batch(seed: int) -> tuple[TwoLayerNet, np.ndarray, np.ndarray]:
    """Book 1's TwoLayerNet (784-50-10, sigmoid, std 0.01) in float64, BATCH random
    "images" x (BATCH, 784) in [0, 1) and labels t (BATCH,)."""
    rng = np.random.default_rng(seed)
    model = TwoLayerNet(784, 50, 10, rng=rng, dtype=np.float64)
    return model, rng.random((BATCH, 784)), rng.integers(0, 10, BATCH)


def backprop_gradient(model: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """One forward and one backward; copies of the gradients keyed like the parameters."""
    model.forward(x, t)
    model.backward()
    return {k: g.copy() for k, g in model.gradients().items()}


def numerical_gradient(
    model: TwoLayerNet, x: np.ndarray, t: np.ndarray, arr: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """Central differences (h = 1e-4) of the loss at the flat indices idx (K,) of the
    parameter array arr, which is nudged in place and restored -> (K,). Two forward
    passes per element: the loop over elements is the cost being measured."""
    g = np.empty(len(idx))
    view = arr.reshape(-1)  # a view: writes reach the layer's own array
    for j, i in enumerate(idx):
        v = view[i]
        view[i] = v + H
        plus = model.forward(x, t)
        view[i] = v - H
        minus = model.forward(x, t)
        view[i] = v
        g[j] = (plus - minus) / (2 * H)
    return g


def time_gradients(quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Seconds of backprop's gradient and of the numerical one (over every element, or
    with ``quick`` over at most QUICK_ELEMENTS of each array and scaled up), their ratio,
    and the largest difference relative to the gradient's scale (max |a - n| / max |a|,
    per array, the largest of the arrays)."""
    model, x, t = net_and_batch(seed)
    grads, repeats = backprop_gradient(model, x, t), 50  # a first call outside the timing
    start = time.perf_counter()
    for _ in range(repeats):
        grads = backprop_gradient(model, x, t)
    backprop = (time.perf_counter() - start) / repeats
    params = model.parameters()
    pick = np.random.default_rng(seed + 1)
    chosen = {k: np.arange(a.size) for k, a in params.items()}  # every element
    if quick:  # a sample of each large array
        for k, a in params.items():
            if a.size > QUICK_ELEMENTS:
                chosen[k] = np.sort(pick.choice(a.size, QUICK_ELEMENTS, replace=False))
    reporter.start("numerical gradient", sum(len(i) for i in chosen.values()))
    numerical, rel, done = 0.0, 0.0, 0
    for k, arr in params.items():
        idx = chosen[k]
        start = time.perf_counter()
        num = numerical_gradient(model, x, t, arr, idx)
        numerical += (time.perf_counter() - start) * arr.size / len(idx)
        a = grads[k].reshape(-1)[idx]
        rel = max(rel, float(np.max(np.abs(a - num)) / max(np.max(np.abs(a)), np.max(np.abs(num)), 1e-300)))
        done += len(idx)
        reporter.update(done)
    reporter.finish()
    timed = "numerical_seconds_estimated" if quick else "numerical_seconds"
    return {
        "parameter_elements": int(sum(a.size for a in params.values())),
        "numerical_elements_timed": done,
        "backprop_seconds": backprop,
        timed: numerical,
        "numerical_over_backprop": numerical / backprop,
        "max_relative_difference": rel,
    }


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Two pictures (the derivative and its error; the gradient field and the descent)
    and the timing of the two gradients of TwoLayerNet. Figures: the central difference
    at 5 and 10 and both differences' errors at 5; the end of 100 steps at each rate (and
    of lr 0.1's 20 drawn steps, and of lr 10 with the exact gradient 2x); the seconds.
    (``seed`` draws the net and its batch; ``quick`` times the numerical gradient on a
    sample of the elements.)"""
    figures: dict[str, Any] = {}
    for x in POINTS:
        figures[f"central_diff_at_{x:g}"] = float(central_diff(f1, x))
    exact = 0.02 * POINTS[0] + 0.1
    figures["central_error_at_5"] = abs(figures["central_diff_at_5"] - exact)
    figures["forward_error_at_5"] = abs(float(forward_diff(f1, POINTS[0])) - exact)
    errors = error_vs_h()
    plot_derivative(out / "gradient-descent-derivative.png", errors)

    paths = {lr: descend(lr, STEPS) for lr in RATES}
    for lr, pts in paths.items():
        figures[f"lr{lr:g}_x0"], figures[f"lr{lr:g}_x1"] = (float(v) for v in pts[-1])
    figures["lr0.1_x0_after_20"], figures["lr0.1_x1_after_20"] = (float(v) for v in paths[0.1][DRAWN])
    # lr 10's last step that changed x: after it the numerical gradient is exactly 0
    moved = np.flatnonzero(np.any(paths[10.0][1:] != paths[10.0][:-1], axis=1))
    figures["lr10_last_moving_step"] = int(moved[-1]) + 1 if moved.size else 0
    figures["lr10_x0_exact_gradient"] = float(descend(10.0, STEPS, analytic=True)[-1, 0])
    plot_descent(out / "gradient-descent-field.png", paths)

    figures |= time_gradients(quick, seed, reporter)
    figures["error_vs_h"] = errors
    figures["lr0.1_path"] = paths[0.1][: DRAWN + 1].tolist()
    return figures
