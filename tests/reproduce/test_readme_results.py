"""README's results table (English and Japanese) is the one drawn from the latest
docs/results/results.json: a table edited by hand, or a results.json copied in
without pasting, fails here."""

from __future__ import annotations

import json
from pathlib import Path

from zerokara.reproduce.readme import BEGIN, END, mismatches, paste, table_in

ROOT = Path(__file__).resolve().parents[2]


def test_the_readmes_tables_are_the_generated_ones():
    assert mismatches(ROOT) == []


def test_the_published_results_are_every_rows_full_runs_over_three_seeds():
    """Not a quick run, every row in the table's order, no failed run (a run still
    training is published as "not run yet", which the table says)."""
    from zerokara.reproduce import ROWS

    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text())
    assert not results["quick"] and results["seeds"] >= 3
    assert [r["name"] for r in results["rows"]] == [r.name for r in ROWS]
    for r in results["rows"]:
        assert set(r["status"]) <= {"ok", "pending"} and len(r["status"]) == results["seeds"], r["name"]
        assert r["status"].count("ok") >= 1, r["name"]


def test_a_hand_edit_is_caught(tmp_path):
    for name in ("README.md", "README.ja.md"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "results.json").write_text(
        (ROOT / "docs" / "results" / "results.json").read_text()
    )
    assert mismatches(tmp_path) == []
    text = (tmp_path / "README.md").read_text()
    table = table_in(text)
    edited = table.replace(" | above | ", " | level | ", 1).replace(" | **below** | ", " | level | ", 1)
    assert edited != table
    (tmp_path / "README.md").write_text(text.replace(table, edited))
    found = mismatches(tmp_path)
    assert len(found) == 1 and found[0].startswith("README.md: the results table differs")
    (tmp_path / "README.ja.md").write_text("no markers")
    assert any("README.ja.md: expected one" in m for m in mismatches(tmp_path))


def test_paste_replaces_only_the_table():
    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text())
    text = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    pasted = paste(text, results, "en")
    assert pasted.startswith(f"before\n{BEGIN}\nMade by `zerokara reproduce all") and pasted.endswith(f"{END}\nafter\n")
    assert table_in(pasted) == table_in(paste(pasted, results, "en"))
