"""A sweep's results: the table (results.csv, results.json), the summary over
seeds, and the plots. Everything here reads the contract's fields only: a
record's config, status, error, seconds and curve, and the numbers the task's
``columns`` name (and ``eval_curve``, if the task has one).

The functions take the sweep (:class:`zerokara.sweep.run.Sweep`): its task,
trial ids, configs and records, the keys its settings set and which of them vary.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

from zerokara.io import atomic_file, atomic_write_text
from zerokara.sweep.grid import Range

#: the sweep these functions read (a zerokara.sweep.run.Sweep), named loosely so that
#: run imports results and never the other way round
Sweep = Any

STATUSES = ("ok", "diverged", "crashed")
#: a grid key with more values than this gets no plot of its own (too many lines to read)
MAX_LINES = 12


# -- the table --------------------------------------------------------------------------
def table(s: Sweep) -> list[dict[str, Any]]:
    """One row per trial, in sweep order: id, config, status, the task's columns,
    seconds, error (trials not run yet: status "pending")."""
    columns = dict(s.task.columns)
    columns.setdefault("seconds", "seconds")
    rows = []
    for tid, cfg in zip(s.ids, s.configs, strict=True):
        rec = s.records.get(tid, {"status": "pending", "error": None})
        row: dict[str, Any] = {"id": tid, **cfg, "status": rec.get("status")}
        for column, key in columns.items():
            row[column] = rec.get(key)
        row["error"] = rec.get("error")
        rows.append(row)
    return rows


def write_tables(s: Sweep) -> None:
    rows = table(s)
    atomic_write_text(s.out / "results.json", json.dumps(rows, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(s.out / "results.csv", buf.getvalue())


# -- the summary over seeds ---------------------------------------------------------------
def summary_columns(s: Sweep) -> dict[str, str]:
    """Table column -> heading of the numbers the summary shows (seconds aside)."""
    return s.task.summary or {c: c for c in s.task.columns if c != "seconds"}


def summary(s: Sweep) -> list[dict[str, Any]]:
    """Rows grouped by setting (over seeds): counts, and the mean, min and max of
    each summary column and of the seconds over the "ok" trials."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in table(s):
        groups.setdefault(json.dumps({k: row[k] for k in s.keys}, sort_keys=True), []).append(row)
    out = []
    for key, rows in groups.items():
        ok = [r for r in rows if r["status"] == "ok"]
        g: dict[str, Any] = {
            **json.loads(key),
            "seeds": len(rows),
            **{st: sum(r["status"] == st for r in rows) for st in STATUSES},
        }
        for m in [*summary_columns(s), "seconds"]:
            vals = [r[m] for r in ok if _is_number(r.get(m))]
            g[m] = sum(vals) / len(vals) if vals else None
            g[m + "_min"] = min(vals) if vals else None
            g[m + "_max"] = max(vals) if vals else None
        out.append(g)
    return out


def summary_text(s: Sweep) -> str:
    """The summary as aligned text columns, one line per setting."""
    cols = summary_columns(s)
    names = list(cols)
    head = [*s.keys, "ok/seeds", "diverged", "crashed"]
    if names:
        head += [f"{cols[names[0]]} mean [min, max]", *(cols[n] for n in names[1:])]
    head.append("s/trial")
    lines = []
    for g in summary(s):
        cells = [
            *(fmt_value(g[k]) for k in s.keys),
            f"{g['ok']}/{g['seeds']}",
            str(g["diverged"]),
            str(g["crashed"]),
        ]
        if names:
            m = names[0]
            cells.append(
                "-" if g[m] is None else f"{_num(g[m])} [{_num(g[m + '_min'])}, {_num(g[m + '_max'])}]"
            )
            cells += [_num(g[n]) for n in names[1:]]
        cells.append("-" if g["seconds"] is None else f"{g['seconds']:.1f}")
        lines.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *lines]
    )


def fmt_value(v: Any) -> str:
    """A setting's value as the grid writes it (floats in %g, None as none)."""
    return "none" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def _num(v: Any) -> str:
    """A summary number: 4 decimals (accuracies, losses), 1 above 100 (perplexities)."""
    if not isinstance(v, float):
        return "-" if v is None else str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        return f"{v:.3g}"
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.4f}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# -- the plots ----------------------------------------------------------------------------
def curve_of(rec: dict[str, Any] | None) -> tuple[list[float], list[float]] | None:
    """A record's curve as (iterations, values); records written before the
    contract name the values "loss"."""
    c = (rec or {}).get("curve")
    if not c:
        return None
    values = c.get("value", c.get("loss"))
    return (list(c["iteration"]), list(values)) if values is not None else None


def plot(s: Sweep) -> list[Path]:
    """The curves: for a grid, loss_<key>.png per varied key (loss.png if none
    varies), each line the mean over seeds and the other keys of one value; for
    a random search, loss.png (one line per setting) and sample_<key>.png (the
    final number of every trial against each numeric key drawn)."""
    values = {k: list(dict.fromkeys(c[k] for c in s.configs)) for k in s.varied}
    if s.sampled:
        paths = [
            _plot_groups(
                s, [(_setting_label(s, c), _recs(s, lambda r, c=c: _same(s, r, c))) for c in s.settings], None
            )
        ]
        paths += [_scatter(s, k) for k in s.varied if all(_is_number(v) for v in values[k])]
        return [p for p in paths if p is not None]
    keys = [k for k in s.varied if len(values[k]) <= MAX_LINES] or [None]
    paths = []
    for key in keys:
        groups: list[tuple[str | None, list[dict[str, Any]]]]
        if key is None:
            groups = [(None, _recs(s, lambda r: True))]
        else:
            groups = [
                (f"{key}={fmt_value(v)}", _recs(s, lambda r, v=v, key=key: r["config"][key] == v))
                for v in values[key]
            ]
        paths.append(_plot_groups(s, groups, key))
    return [p for p in paths if p is not None]


def _recs(s: Sweep, keep: Any) -> list[dict[str, Any]]:
    recs = (s.records.get(tid) for tid in s.ids)
    return [r for r in recs if r and curve_of(r) is not None and keep(r)]


def _same(s: Sweep, rec: dict[str, Any], setting: dict[str, Any]) -> bool:
    return all(rec["config"].get(k) == v for k, v in setting.items())


def _setting_label(s: Sweep, setting: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt_value(setting[k])}" for k in s.varied) or s.task.name


def _eval_of(s: Sweep, rec: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    c = s.task.eval_curve(rec) if s.task.eval_curve else None
    return (list(c["iteration"]), list(c["value"])) if c else None


def _plot_groups(
    s: Sweep, groups: list[tuple[str | None, list[dict[str, Any]]]], key: str | None
) -> Path | None:
    """One figure: per group, each trial's curve (thin) and the mean of its ok trials
    (thick); beside it the task's eval curve, if it has one."""
    plt = _pyplot()
    two = s.task.eval_curve is not None
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(11 if two else 6.5, 4), squeeze=False)
    ax_l, ax_e = axes[0][0], (axes[0][1] if two else None)
    legend = len(groups) <= 10
    drawn = False
    for i, (label, recs) in enumerate(groups):
        if not recs:
            continue
        color = f"C{i % 10}"
        ok = [r for r in recs if r["status"] == "ok"]
        curves = [c for r in recs if (c := curve_of(r)) is not None]  # all: _recs kept those with one
        for r, curve in zip(recs, curves, strict=True):
            style = "-" if r["status"] == "ok" else ":"
            ax_l.plot(*curve, style, color=color, lw=0.6, alpha=0.35)
            if ax_e is not None and (e := _eval_of(s, r)):
                ax_e.plot(*e, style, color=color, lw=0.6, alpha=0.35)
        bad = len(recs) - len(ok)
        label = label or s.task.describe(recs[0]["config"])
        label += f" ({len(ok)} ok" + (f", {bad} diverged/crashed)" if bad else ")")
        label = label if legend else None
        if ok:
            ok_curves = [c for r, c in zip(recs, curves, strict=True) if r["status"] == "ok"]
            ax_l.plot(*_mean_curve(ok_curves), color=color, lw=2, label=label)
            evals = [e for r in ok if (e := _eval_of(s, r))] if ax_e is not None else []
            if ax_e is not None and evals:
                ax_e.plot(*_mean_curve(evals), color=color, lw=2, marker="o", ms=3, label=label)
        else:
            ax_l.plot([], [], ":", color=color, label=label)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    fixed = {**s.fixed, **{k: s.configs[0][k] for k in s.keys if k not in s.varied}}
    note = ", ".join(f"{k}={fmt_value(v)}" for k, v in fixed.items())
    if key is not None and len(s.varied) > 1:
        note = (note + "; " if note else "") + "averaged over " + ", ".join(k for k in s.varied if k != key)
    what = (f" by {key}" if key else "") + (f", {len(groups)} settings drawn" if s.sampled else "")
    fig.suptitle(f"{s.task.name}{what}  ({note + '; ' if note else ''}other settings: defaults)", fontsize=10)
    ax_l.set(xlabel="iteration", ylabel=s.task.curve_label)
    seeds = f"seeds 0..{s.seeds - 1}" if s.seeds > 1 else "seed 0"
    ax_l.set_title(f"{seeds}; thin: each trial, thick: mean", fontsize=9)
    if legend:
        ax_l.legend(fontsize=8)
    if ax_e is not None:
        ax_e.set(xlabel="iteration", ylabel=s.task.eval_label or "evaluation")
        ax_e.set_title("dotted: diverged or crashed trials", fontsize=9)
    return _save_png(plt, fig, s.out / (f"loss_{key}.png" if key else "loss.png"))


def _scatter(s: Sweep, key: str) -> Path | None:
    """sample_<key>.png: each ok trial's first summary number (else its last curve
    value) against the value of ``key`` it drew (book 1's view of a random search)."""
    plt = _pyplot()
    cols = summary_columns(s)
    metric = next(iter(cols), None)
    rows = {r["id"]: r for r in table(s)}
    xs, ys = [], []
    for tid in s.ids:
        rec = s.records.get(tid)
        if not rec or rec.get("status") != "ok":
            continue
        y = rows[tid].get(metric) if metric else None
        if metric is None and (c := curve_of(rec)) and c[1]:
            y = c[1][-1]
        if _is_number(y):
            xs.append(rec["config"][key])
            ys.append(y)
    if not xs:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys, "o", ms=4, alpha=0.7)
    rng = s.grid.get(key)
    if isinstance(rng, Range) and rng.log:
        ax.set_xscale("log")
    bad = sum(1 for tid in s.ids if (s.records.get(tid) or {}).get("status") in ("diverged", "crashed"))
    ax.set(
        xlabel=f"{key} ({rng})" if rng is not None else key,
        ylabel=cols[metric] if metric else f"final {s.task.curve_label}",
        title=f"{s.task.name}: {len(xs)} ok trial(s)" + (f", {bad} diverged/crashed" if bad else ""),
    )
    return _save_png(plt, fig, s.out / f"sample_{key}.png")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display is needed or assumed
    import matplotlib.pyplot as plt

    return plt


def _save_png(plt: Any, fig: Any, path: Path) -> Path:
    """Write the figure through a temporary of its own and one rename
    (:func:`zerokara.io.atomic_file`): a reader never sees half a PNG, two writers
    never share a temporary, and one a killed sweep left is removed by
    :func:`zerokara.runlock.clean_temporaries` when the next sweep starts."""
    try:
        with atomic_file(path, suffix=".tmp.png") as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _mean_curve(curves: list[tuple[list[float], list[float]]]) -> tuple[Any, Any]:
    """Mean of curves that may differ in length: at each x, over the curves that reach it."""
    import numpy as np

    xs = [c[0] for c in curves]
    longest = max(xs, key=len)
    arr = np.full((len(curves), len(longest)), np.nan)
    for i, (_, y) in enumerate(curves):
        arr[i, : len(y)] = np.asarray(y, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(longest), np.nanmean(arr, axis=0)


__all__ = ["table", "write_tables", "summary", "summary_text", "plot", "curve_of", "fmt_value"]
