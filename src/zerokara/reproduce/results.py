"""The results of ``zerokara reproduce``: per row, the figure over seeds next to
the book's, the bounds checked, and the table as Markdown (English and Japanese).

``results.json`` holds everything the tables are drawn from, so a table can be
drawn again from it (:func:`markdown`) and compared with the one in the README
(``tests/test_readme_results.py``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zerokara.reproduce.row import Row

#: the verdict against the book's figure, per language
VERDICT = {
    "en": {"above": "above", "level": "level", "below": "**below**", None: "—"},
    "ja": {"above": "上回る", "level": "同等", "below": "**下回る**", None: "—"},
}
#: the notes rows link to that have a Japanese version beside them (X.ja.md)
JA_DOCS = ("docs/reproduce.md", "docs/count-based.md", "docs/transformer.md")
HEAD = {
    "en": "| model and settings (source) | book's figure | zerokara: mean (min-max) | vs book "
    "| training time per run |",
    "ja": "| モデルと設定 (出典) | 本の数値 | zerokara: 平均 (最小〜最大) | 本と比べて | 1 回の学習時間 |",
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine(workers: int) -> dict[str, Any]:
    """The machine a table was measured on."""
    import numpy as np

    from zerokara import __version__

    return {
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "workers": workers,
        "threads_per_run": 1,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "zerokara": __version__,
    }


def scale(row: Row, x: float) -> float:
    """A figure in the table's unit (accuracies in %)."""
    return 100 * x if row.unit == "accuracy" else x


def verdict(row: Row, mean: float | None) -> str | None:
    """ "above", "level" or "below" the book, comparing at the precision the book
    printed its figure with; None where there is no figure or no result."""
    if row.book is None or mean is None:
        return None
    ours, book = round(scale(row, mean), row.digits), round(scale(row, row.book), row.digits)
    if ours == book:
        return "level"
    return "above" if (ours > book) == row.higher_better else "below"


def summarise_row(row: Row, records: Sequence[dict[str, Any]], quick: bool) -> dict[str, Any]:
    """One row of results.json from its trials' records (any order)."""
    recs = sorted(records, key=lambda r: r["config"]["seed"])
    ok = [r for r in recs if r.get("status") == "ok" and isinstance(r.get("value"), (int, float))]
    values = [float(r["value"]) for r in ok]
    mean = statistics.fmean(values) if values else None
    bounds = [b for b in row.bounds if b.quick or not quick]
    return {
        "name": row.name,
        "title": row.title,
        "title_ja": row.title_ja,
        "source": row.source,
        "metric": row.metric,
        "unit": row.unit,
        "book": row.book,
        "digits": row.digits,
        "book_text": row.book_text,
        "book_text_ja": row.book_text_ja,
        "note": row.note,
        "seeds": [r["config"]["seed"] for r in recs],
        "status": [r.get("status") for r in recs],
        "values": [r.get("value") for r in recs],
        "errors": sorted({r["error"] for r in recs if r.get("error")}),
        "mean": mean,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "seconds": statistics.fmean(float(r["seconds"]) for r in ok) if ok else None,
        # quick runs are not the book's settings; a row still missing seeds is not compared yet
        "verdict": None if quick or len(ok) < len(recs) else verdict(row, mean),
        "bounds": [
            {
                "text": b.text(),
                "quick": b.quick,
                # every seed must have run; then every seed meets it, or their mean does
                "held": bool(ok)
                and len(ok) == len(recs)
                and (
                    b.holds(statistics.fmean(float(r[b.metric]) for r in ok))
                    if b.mean
                    else all(b.holds(r.get(b.metric)) for r in ok)
                ),
            }
            for b in bounds
        ],
    }


def source(text: str, lang: str) -> str:
    """A source as the language writes it: "book 2, ch. 7" is "2巻 7章" in Japanese."""
    if lang != "ja":
        return text
    text = re.sub(r"book (\d), ch\. (\d+)", r"\1巻 \2章", text)
    return text.replace(" et al. ", " ら ")


def _fig(unit: str, x: float | None) -> str:
    if x is None:
        return "—"
    if unit == "accuracy":
        return f"{100 * x:.2f}%"
    if unit == "perplexity":
        return f"{x:.1f}"
    return f"{x:.3f}"


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _ours(r: dict[str, Any], lang: str) -> str:
    n, ok = len(r["status"]), sum(s == "ok" for s in r["status"])
    waiting = sum(s == "pending" for s in r["status"])
    failed = n - ok - waiting
    if r["mean"] is None and waiting == n:
        return "not run yet" if lang == "en" else "未実行"
    if r["mean"] is None:
        text = "no result" if lang == "en" else "結果なし"
        return text + (" (" + "; ".join(r["errors"])[:200] + ")" if r["errors"] else "")
    text = _fig(r["unit"], r["mean"])
    if ok > 1:
        text += f" ({_fig(r['unit'], r['min'])}-{_fig(r['unit'], r['max'])})"
    if failed:
        text += f", {failed} of {n} runs failed" if lang == "en" else f"、{n} 回中 {failed} 回失敗"
    if waiting:
        text += f", {waiting} of {n} not run yet" if lang == "en" else f"、{n} 回中 {waiting} 回は未実行"
    return text


def markdown(results: dict[str, Any], lang: str = "en", links: str = "") -> str:
    """The table of a results.json, with the lines that say how it was made; ``links``
    goes before the repository paths the rows link to (the table's folder to the
    repository's root: "" for the README, "../../" for docs/results/)."""
    m, n = results["machine"], results["seeds"]
    if lang == "en":
        lines = [
            f"Made by `{results['command']}` on {results['date']}"
            + (" (**quick**: shortened runs, not the books' settings)" if results["quick"] else "")
            + f": {'seed 0' if n == 1 else f'seeds 0-{n - 1}'} per row, float32, "
            f"on {m['cpu']} ({m['cpus']} cores, "
            "one thread per run). Training time excludes evaluation.",
        ]
    else:
        lines = [
            f"`{results['command']}` で {results['date']} に作成"
            + (" (**quick**: 短縮した実行。本の設定ではない)" if results["quick"] else "")
            + f"。各行{'シード 0' if n == 1 else f'シード 0〜{n - 1}'}、float32、"
            f"{m['cpu']} ({m['cpus']} コア、"
            "1 回の実行に 1 スレッド)。学習時間に評価は含まない。",
        ]
    lines += ["", HEAD[lang], "|---|---|---|---|---|"]
    for r in results["rows"]:
        title = r["title"] if lang == "en" else r["title_ja"]
        if r["source"]:
            title += f" ({source(r['source'], lang)})"
        if r["note"]:
            note = r["note"]
            if lang == "ja" and note in JA_DOCS:
                note = note.removesuffix(".md") + ".ja.md"
            title += f" [{'docs' if lang == 'en' else '解説'}]({links}{note})"
        book = r["book_text"] if lang == "en" else r["book_text_ja"]
        cells = [title, book, _ours(r, lang), VERDICT[lang][r["verdict"]], _time(r["seconds"])]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def failed_bounds(results: dict[str, Any]) -> list[str]:
    """One line per bound a row missed (a failed run misses every bound of its row)."""
    return [
        f"{r['name']}: {b['text']} not met (values by seed: "
        + ", ".join(
            f"{v:.4g}" if s == "ok" else ("not run yet" if s == "pending" else s)
            for v, s in zip(r["values"], r["status"], strict=True)
        )
        + ")"
        for r in results["rows"]
        for b in r["bounds"]
        if not b["held"]
    ]


def relative(r: dict[str, Any], x: float) -> float:
    """A figure as a percentage of the book's, oriented so that above 100 is better
    (for perplexity: the book's over ours)."""
    return 100 * (x / r["book"] if r["unit"] == "accuracy" else r["book"] / x)


def plot(results: dict[str, Any], path: Path) -> Path | None:
    """results.png: each row that has a book's figure, ours as a percentage of it
    (mean, and the range over seeds); None when no row has both."""
    rows = [r for r in results["rows"] if r["book"] is not None and r["mean"] is not None]
    if not rows:
        return None
    from zerokara.train.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.4))
    for i, r in enumerate(reversed(rows)):
        lo, hi = sorted((relative(r, r["min"]), relative(r, r["max"])))
        ax.plot([lo, hi], [i, i], color="tab:blue", lw=2)
        ax.plot(relative(r, r["mean"]), i, "o", color="tab:blue")
    ax.axvline(100, color="gray", lw=1, ls="--")
    ax.set_yticks(range(len(rows)), [r["name"] for r in reversed(rows)])
    ax.set_xlabel("zerokara as % of the book's figure (right of 100: better; perplexity: book / ours)")
    kind = "quick runs, not the books' settings" if results["quick"] else f"{results['seeds']} seeds"
    ax.set_title(f"zerokara reproduce: mean and range over seeds ({kind})")
    return save_figure(fig, path)


def document(results: dict[str, Any], lang: str, links: str = "") -> str:
    """results.md (``lang`` "en") or results.ja.md: a title and the table."""
    return "# zerokara reproduce\n\n" + markdown(results, lang, links)


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """results.json, results.md, results.ja.md and results.png into ``out``."""
    from zerokara.io import atomic_write_text

    files = [out / "results.json", out / "results.md", out / "results.ja.md"]
    atomic_write_text(files[0], json.dumps(results, indent=1) + "\n")
    atomic_write_text(files[1], document(results, "en"))
    atomic_write_text(files[2], document(results, "ja"))
    png = plot(results, out / "results.png")
    return files + ([png] if png is not None else [])
