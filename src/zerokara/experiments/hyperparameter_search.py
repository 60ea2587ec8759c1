"""Random search of the learning rate and the weight decay on a validation split
(book 1, sections 6.5.1-6.5.3).

The test images may judge a model once, at the end; a setting chosen by its test
accuracy has been fitted to the test set. So 20% of the training images are held out
as validation data, and each trial is judged on them. Book 1 draws the learning rate
from 10^U(-6, -2) and the weight decay from 10^U(-8, -4) (a log scale: what matters is
the order of magnitude) and trains a 7-layer network on 500 images for 50 epochs; the
trials that learn cluster in a band of learning rates, and the search would go on in
that narrower band. The trials run through ``zerokara sweep mlp --sample``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zerokara.train.report import Reporter

TITLE = "random search of lr and weight decay on a validation split, via zerokara sweep (book 1, 6.5)"
BOOK: dict[str, tuple[Any, str]] = {
    "top5_lr_range": ("0.001 to 0.01", "book 1, 6.5.3: where its trials learn well"),
    "top5_weight_decay_range": ("1e-8 to 1e-6", "book 1, 6.5.3: where its trials learn well"),
}
GRID = ["lr=1e-6..1e-2:log", "weight_decay=1e-8..1e-4:log"]
FIXED = {
    "model": "multi-layer",
    "hidden": "100,100,100,100,100,100",
    "activation": "relu",
    "init": "he",
    "dropout": 0.0,
    "optimizer": "sgd",
    "batch_size": 100,
    "train_size": 500,
    "valid_fraction": 0.2,
    "iters": None,
}
TRIALS, EPOCHS = 100, 50
QUICK_TRIALS, QUICK_EPOCHS = 8, 12
BEST = 20  # the curves drawn, as book 1's figure 6-24


def run(out: Path, *, quick: bool, seed: int, reporter: Reporter) -> dict[str, Any]:
    """Sample the trials (``seed`` seeds the draw), train each once, rank them by final
    validation accuracy; draw the best ones' validation (and train) accuracy per epoch.
    Figures: the best trials' settings and accuracies, the lr and weight decay ranges of
    the best five, and the trials that learned (validation accuracy > 0.5)."""
    from zerokara.sweep import run_sweep
    from zerokara.train.plots import plt, save_figure

    trials, epochs = (QUICK_TRIALS, QUICK_EPOCHS) if quick else (TRIALS, EPOCHS)
    sweep = run_sweep(
        "mlp",
        GRID,
        seeds=1,
        out_dir=out / "hyperparameter-search-sweep",
        fixed={**FIXED, "epochs": epochs},
        sample=trials,
        sample_seed=seed,
        reporter=reporter,
    )
    records = [r for r in sweep.records.values() if r.get("status") == "ok"]
    ranked = sorted(records, key=lambda r: r.get("valid_accuracy", 0.0), reverse=True)
    figures: dict[str, Any] = {"trials": trials, "epochs": epochs, "finished": len(records)}
    best = [
        {
            "lr": r["config"]["lr"],
            "weight_decay": r["config"]["weight_decay"],
            "valid_accuracy": r["valid_accuracy"],
            "train_accuracy": r["train_accuracy"],
        }
        for r in ranked
    ]
    figures["best_valid_accuracy"] = best[0]["valid_accuracy"] if best else None
    figures["best_lr"] = best[0]["lr"] if best else None
    figures["best_weight_decay"] = best[0]["weight_decay"] if best else None
    top = best[:5]
    if top:
        figures["top5_lr_range"] = f"{min(b['lr'] for b in top):.2g} to {max(b['lr'] for b in top):.2g}"
        figures["top5_weight_decay_range"] = (
            f"{min(b['weight_decay'] for b in top):.2g} to {max(b['weight_decay'] for b in top):.2g}"
        )
    figures["learned"] = sum(b["valid_accuracy"] > 0.5 for b in best)
    figures["ranking"] = best
    _plot(plt, save_figure, ranked[:BEST], out / "hyperparameter-search.png")
    _scatter(plt, save_figure, best, out / "hyperparameter-search-scatter.png")
    return figures


def _plot(plt: Any, save_figure: Any, ranked: list[dict[str, Any]], path: Path) -> None:
    """One small panel per trial, best first: validation accuracy solid, train dashed."""
    cols = 5
    rows = max(1, -(-len(ranked) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.2 * rows), sharex=True, sharey=True, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(ranked):
            ax.axis("off")
            continue
        r = ranked[i]
        evals = r.get("evals") or []
        ax.plot([e["epoch"] for e in evals], [e["valid_accuracy"] for e in evals], lw=1.2)
        ax.plot([e["epoch"] for e in evals], [e["train_accuracy"] for e in evals], "--", lw=0.9)
        ax.set_ylim(0, 1)
        c = r["config"]
        title = f"Best-{i + 1} ({r['valid_accuracy']:.2f})\nlr {c['lr']:.2g}, wd {c['weight_decay']:.1g}"
        ax.set_title(title, fontsize=8)
    fig.suptitle("validation (solid) and train (dashed) accuracy per epoch, best trials first")
    fig.tight_layout()
    save_figure(fig, path)


def _scatter(plt: Any, save_figure: Any, best: list[dict[str, Any]], path: Path) -> None:
    """Every trial at its (lr, weight decay), coloured by validation accuracy."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    if best:
        pts = ax.scatter(
            [b["lr"] for b in best],
            [b["weight_decay"] for b in best],
            c=[b["valid_accuracy"] for b in best],
            cmap="viridis",
            vmin=0,
            vmax=1,
        )
        fig.colorbar(pts, label="validation accuracy")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="weight decay", title="the trials")
    fig.tight_layout()
    save_figure(fig, path)
