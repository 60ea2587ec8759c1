"""Why a plain RNN's gradient explodes or vanishes over time (book 2, section 6.1).

Book 2's ch06/rnn_gradient_graph.py: the gradient dh = ones (N=2, H=3) goes back T=20
steps through the hidden-to-hidden MatMul, dh = dh @ Wh.T, and the L2 norm of dh is
recorded after each step. With Wh = randn(H, H) it explodes (figure 6-5), with
Wh = randn(H, H) * 0.5 it vanishes (figure 6-6). Wh here is the book's own draw
(``np.random.seed(3)``), so the two curves are the book's.

Every step multiplies by the same Wh.T, so after k steps dh = ones @ (Wh.T)^k: its
norm changes by a factor per step that tends to Wh's spectral radius rho (its largest
|eigenvalue|). The book explains it with the largest singular value sigma instead;
sigma bounds a single step (||dh @ Wh.T|| <= sigma ||dh||), so sigma < 1 means the norm
must vanish, but rho <= sigma, and sigma > 1 does not make it explode: the book's
Wh * 0.5 has sigma 1.33 and its gradient vanishes all the same (rho 0.63). The other
SEEDS draws show both kinds of surprise.

The tanh case is the real RNN: going back through h = tanh(a) multiplies by (1 - h^2)
too, which is at most 1 (0.61 on average with the book's Wh and N(0, 1) inputs): the
factor per step falls from 1.30 to 0.38 and the gradient vanishes even at scale 1 (in
all SEEDS draws too; tanh does not rule out an explosion in general, which is why
training still clips). It is what zerokara's TimeRNN.backward
produces, on the activations of its own forward pass.

Gradient clipping (book 2, 6.1.4): zerokara.optim.clip_grads scales a gradient whose
norm is above max_norm down to max_norm and keeps its direction. Applied to the
gradient each step reaches in the exploding case, its norm never passes MAX_NORM.
Clipping caps the size of an update; it does not stop the product from exploding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zerokara.layers import TimeRNN
from zerokara.optim import clip_grads
from zerokara.train.report import Reporter

TITLE = "The RNN gradient's norm going back in time: exploding, vanishing, tanh, clipping (book 2, 6.1)"
BOOK: dict[str, tuple[Any, str]] = {}  # the book draws the norms (figures 6-5, 6-6); it prints no figure
N, H, T = 2, 3, 20  # the book's: batch, hidden size, steps back
SCALES = (1.0, 0.5)  # Wh = randn(H, H) * scale: figure 6-5, figure 6-6
BOOK_SEED = 3  # ch06/rnn_gradient_graph.py: np.random.seed(3)
SEEDS = 10  # more draws of Wh: default_rng(seed), ..., default_rng(seed + SEEDS - 1)
MAX_NORM = 10.0  # the clipping threshold (book 2's training scripts use 0.25 on parameter gradients)


def book_wh() -> np.ndarray:
    """The book's Wh at scale 1: np.random.seed(3); np.random.randn(3, 3) (legacy draws)."""
    return np.random.RandomState(BOOK_SEED).randn(H, H)


def linear_grads(Wh: np.ndarray, steps: int = T) -> np.ndarray:
    """dh after each of ``steps`` steps back, (steps, N, H): the book's loop dh = dh @ Wh.T
    from dh = ones (no activation)."""
    dh = np.ones((N, H))
    out = []
    for _ in range(steps):
        dh = dh @ Wh.T
        out.append(dh)
    return np.array(out)


def tanh_grads(Wh: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dh after each of T steps back through a tanh TimeRNN, (T, N, H), and its forward's
    hidden states hs (N, T, H).

    The layer runs forward over ``xs`` (N, T, H) from h0 = 0 with Wx = Wh and b = 0, then
    backward from dL/dh_T = ones (dhs is ones at the last step, zeros before). With
    Wx = Wh the input x_t enters a_t = x_t @ Wh + h_{t-1} @ Wh exactly as h_{t-1} does, so
    the gradient the layer returns for x_t, dL/da_t @ Wx.T, is the one it carries back to
    h_{t-1}: dxs[:, T - k] is dh after k steps."""
    layer = TimeRNN(Wh.copy(), Wh.copy(), np.zeros(H), activation="tanh")
    hs = layer.forward(xs)
    dhs = np.zeros_like(hs)
    dhs[:, -1] = 1.0
    dxs = layer.backward(dhs)
    return np.ascontiguousarray(dxs[:, ::-1].transpose(1, 0, 2)), hs


def clipped(grads: np.ndarray, max_norm: float = MAX_NORM) -> np.ndarray:
    """Each step's gradient after clip_grads(max_norm), as if the update were made there."""
    out = grads.copy()
    for g in out:
        clip_grads({"dh": g}, max_norm)  # in place, on a view of ``out``
    return out


def norms(grads: np.ndarray) -> np.ndarray:
    """The L2 norm of each step's (N, H) gradient. (The book's script divides it by N = 2;
    the curves' shapes are the same.)"""
    return np.sqrt(np.sum(grads * grads, axis=(1, 2)))


def step_ratios(ns: np.ndarray) -> np.ndarray:
    """How much each step multiplied the norm: ns[k] / ns[k - 1], the first against ones."""
    return ns / np.concatenate([[np.sqrt(N * H)], ns[:-1]])


def growth(ns: np.ndarray) -> float:
    """The norm's factor per step over the whole run: the geometric mean of the ratios."""
    return float((ns[-1] / np.sqrt(N * H)) ** (1.0 / len(ns)))


def largest_singular_value(W: np.ndarray) -> float:
    return float(np.linalg.svd(W, compute_uv=False)[0])


def spectral_radius(W: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def scale_name(scale: float) -> str:
    return f"scale_{scale:g}"


def draws(seed: int) -> list[dict[str, Any]]:
    """SEEDS more draws of Wh (and inputs for the tanh case): per draw and scale, sigma, rho,
    the growth per step and the last norm over the first, without and with tanh."""
    rows = []
    for i in range(SEEDS):
        rng = np.random.default_rng(seed + i)
        W = rng.standard_normal((H, H))
        xs = rng.standard_normal((N, T, H))
        row: dict[str, Any] = {"seed": seed + i}
        for scale in SCALES:
            Wh = W * scale
            lin, tnh = norms(linear_grads(Wh)), norms(tanh_grads(Wh, xs)[0])
            row[scale_name(scale)] = {
                "largest_singular_value": largest_singular_value(Wh),
                "spectral_radius": spectral_radius(Wh),
                "growth_per_step": growth(lin),
                "last_over_first": float(lin[-1] / lin[0]),
                "tanh_growth_per_step": growth(tnh),
                "tanh_last_over_first": float(tnh[-1] / tnh[0]),
            }
        rows.append(row)
    return rows


def draw_book(path: Path, curves: dict[str, np.ndarray]) -> Path:
    """Figures 6-5 and 6-6 as the book draws them: linear norm axis, steps 1..T."""
    from zerokara.train.plots import plt, save_figure

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = np.arange(1, T + 1)
    for ax, scale, fig_no in zip(axes, SCALES, ("6-5", "6-6"), strict=True):
        ax.plot(steps, curves[scale_name(scale)], "o-", ms=3)
        ax.set(xlabel="time step (going back)", ylabel="norm of dh", xticks=[1, 5, 10, 15, 20])
        ax.set_title(f"Wh = randn(3, 3) * {scale:g} (book figure {fig_no})", fontsize=10)
    fig.suptitle("dh = dh @ Wh.T from dh = ones, the book's Wh (np.random.seed(3))")
    fig.tight_layout()
    return save_figure(fig, path)


def draw_log(
    path: Path, curves: dict[str, np.ndarray], sv: dict[str, float], rows: list[dict[str, Any]]
) -> Path:
    """Three panels: every case's norm on a log axis; the per-step ratio against sigma and
    rho; growth against sigma and rho for all the draws."""
    from zerokara.train.plots import plt, save_figure

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    steps = np.arange(1, T + 1)
    ax = axes[0]
    styles = {
        "scale_1": ("linear, scale 1", "tab:red", "-"),
        "scale_0.5": ("linear, scale 0.5", "tab:blue", "-"),
        "tanh_scale_1": ("tanh, scale 1", "tab:orange", "--"),
        "tanh_scale_0.5": ("tanh, scale 0.5", "tab:cyan", "--"),
        "clipped_scale_1": (f"linear, scale 1, clipped at {MAX_NORM:g}", "k", ":"),
    }
    for key, (label, color, ls) in styles.items():
        ax.semilogy(steps, curves[key], ls, color=color, marker="o", ms=2.5, label=label)
    ax.axhline(MAX_NORM, color="0.6", lw=0.7)
    ax.set(
        xlabel="time step (going back)",
        ylabel="norm of dh (log)",
        title="the book's Wh: the norm of dh going back",
        xticks=[1, 5, 10, 15, 20],
    )
    ax.legend(fontsize=8)
    ax = axes[1]
    for key, color in (("scale_1", "tab:red"), ("tanh_scale_1", "tab:orange"), ("scale_0.5", "tab:blue")):
        ax.plot(steps, step_ratios(curves[key]), "o-", ms=2.5, color=color, label=styles[key][0])
    for scale, color in ((1.0, "tab:red"), (0.5, "tab:blue")):
        name = scale_name(scale)
        ax.axhline(sv[f"{name}_sigma"], color=color, lw=0.8, ls="--")
        ax.axhline(sv[f"{name}_rho"], color=color, lw=0.8, ls=":")
    ax.axhline(1.0, color="0.5", lw=0.6)
    ax.set(
        xlabel="time step (going back)",
        ylabel="norm[k] / norm[k-1]",
        title="factor per step; dashed: largest singular value, dotted: spectral radius",
        xticks=[1, 5, 10, 15, 20],
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, loc="upper right", bbox_to_anchor=(1, 0.9))
    ax = axes[2]
    for scale, color in ((1.0, "tab:red"), (0.5, "tab:blue")):
        r = [row[scale_name(scale)] for row in rows]
        g = [x["growth_per_step"] for x in r]
        ax.scatter(
            [x["largest_singular_value"] for x in r],
            g,
            facecolors="none",
            edgecolors=color,
            label=f"vs sigma, scale {scale:g}",
        )
        ax.scatter([x["spectral_radius"] for x in r], g, color=color, s=14, label=f"vs rho, scale {scale:g}")
    lim = max(3.0, max(row["scale_1"]["largest_singular_value"] for row in rows) * 1.05)
    ax.plot([0, lim], [0, lim], color="0.6", lw=0.7)
    ax.axhline(1.0, color="0.5", lw=0.6)
    ax.axvline(1.0, color="0.5", lw=0.6)
    ax.set(
        xlim=(0, lim),
        ylim=(0, lim),
        xlabel="largest singular value sigma (open) / spectral radius rho (filled)",
        ylabel=f"growth per step over {T} steps",
        title=f"{SEEDS} more draws of Wh: growth follows rho, not sigma",
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """gradient-norm.png (the book's two figures) and gradient-norm-log.png (every case on a
    log axis, the factor per step, the growth of SEEDS more draws). The book's Wh is fixed;
    ``seed`` draws the tanh case's inputs and the extra Wh. Figures: for each curve its first
    and last norm, last / first and growth per step; sigma and rho of the book's Wh at each
    scale; the clipped norms' maximum; the draws' table and counts; the curves.
    (``quick`` changes nothing: it takes well under a second.)"""
    reporter.start("gradient-norm", 2)
    W = book_wh()
    xs = np.random.default_rng(seed).standard_normal((N, T, H))
    curves: dict[str, np.ndarray] = {}
    sv: dict[str, float] = {}
    figures: dict[str, Any] = {"N": N, "H": H, "T": T, "max_norm": MAX_NORM}
    for scale in SCALES:
        name, Wh = scale_name(scale), W * scale
        lin = linear_grads(Wh)
        tnh, hs = tanh_grads(Wh, xs)
        curves[name], curves[f"tanh_{name}"] = norms(lin), norms(tnh)
        sv[f"{name}_sigma"], sv[f"{name}_rho"] = largest_singular_value(Wh), spectral_radius(Wh)
        figures[f"{name}_largest_singular_value"] = sv[f"{name}_sigma"]
        figures[f"{name}_spectral_radius"] = sv[f"{name}_rho"]
        figures[f"tanh_{name}_mean_slope"] = float(np.mean(1 - hs * hs))
        if scale == 1.0:
            clip = clipped(lin)
            curves[f"clipped_{name}"] = norms(clip)
            cos = np.sum(clip * lin, axis=(1, 2)) / (norms(clip) * norms(lin))
            figures["clipped_scale_1_min_cosine_to_unclipped"] = float(cos.min())
    reporter.update(1)
    rows = draws(seed)
    reporter.update(2)
    reporter.finish()
    for key, ns in curves.items():
        figures[f"{key}_first_norm"] = float(ns[0])
        figures[f"{key}_last_norm"] = float(ns[-1])
        figures[f"{key}_last_over_first"] = float(ns[-1] / ns[0])
        figures[f"{key}_growth_per_step"] = growth(ns)
    figures["clipped_scale_1_max_norm"] = float(curves["clipped_scale_1"].max())
    figures["clipped_scale_1_steps_clipped"] = int(np.sum(curves["scale_1"] > MAX_NORM))
    for scale in SCALES:
        name = scale_name(scale)
        r = [row[name] for row in rows]
        figures[f"draws_{name}_exploded"] = sum(x["last_over_first"] > 1 for x in r)
        figures[f"draws_{name}_sigma_above_1"] = sum(x["largest_singular_value"] > 1 for x in r)
        figures[f"draws_{name}_rho_above_1"] = sum(x["spectral_radius"] > 1 for x in r)
        figures[f"draws_tanh_{name}_exploded"] = sum(x["tanh_last_over_first"] > 1 for x in r)
    figures["draws"] = rows
    figures["curves"] = {k: v.tolist() for k, v in curves.items()}
    draw_book(out / "gradient-norm.png", curves)
    draw_log(out / "gradient-norm-log.png", curves, sv, rows)
    return figures
