"""README's results table is the generated one: this pastes it and checks it.

The table sits between two markers in README.md and README.ja.md::

    <!-- reproduce:begin (generated from docs/results/results.json; do not edit) -->
    ...
    <!-- reproduce:end -->

``python -m zerokara.reproduce.readme runs/reproduce`` copies that run's
results.json, results.md and results.ja.md into ``docs/results/`` and pastes the
tables into both READMEs; :func:`mismatches` is what the test suite checks, so a
table edited by hand, or results.json changed without pasting, is caught.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from zerokara.io import atomic_write_bytes, atomic_write_text
from zerokara.reproduce.results import document, markdown

BEGIN = "<!-- reproduce:begin (generated from docs/results/results.json; do not edit) -->"
END = "<!-- reproduce:end -->"
READMES = {"en": "README.md", "ja": "README.ja.md"}
DOCS = Path("docs") / "results"


def table_in(text: str, where: str = "README") -> str:
    """The text between the markers."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"{where}: expected one {BEGIN!r} and one {END!r}")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def paste(text: str, results: dict[str, Any], lang: str) -> str:
    """``text`` with its table replaced by the one drawn from ``results``."""
    head, rest = text.split(BEGIN, 1)
    return head + BEGIN + "\n" + markdown(results, lang) + END + rest.split(END, 1)[1]


def mismatches(root: Path) -> list[str]:
    """What differs between the READMEs' tables and docs/results/results.json."""
    results = json.loads((root / DOCS / "results.json").read_text())
    out = []
    for lang, name in READMES.items():
        text = (root / name).read_text()
        try:
            ours = table_in(text, name)
        except ValueError as e:
            out.append(str(e))
            continue
        want = markdown(results, lang)
        if ours != want:
            diff = [
                f"  README: {a}\n  json:   {b}"
                for a, b in zip(ours.splitlines(), want.splitlines(), strict=False)
                if a != b
            ]
            out.append(f"{name}: the results table differs from {DOCS}/results.json:\n" + "\n".join(diff[:3]))
    return out


def publish(run: Path, root: Path) -> None:
    """Copy a run's tables into docs/results and paste them into the READMEs (each
    file replaced whole or not at all)."""
    results = json.loads((run / "results.json").read_text())
    (root / DOCS).mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "results.png"):
        if (run / name).is_file():
            atomic_write_bytes(root / DOCS / name, (run / name).read_bytes())
    for lang, name in (("en", "results.md"), ("ja", "results.ja.md")):
        atomic_write_text(root / DOCS / name, document(results, lang, links="../../"))
    for lang, name in READMES.items():
        f = root / name
        atomic_write_text(f, paste(f.read_text(), results, lang))


if __name__ == "__main__":
    publish(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/reproduce"), Path("."))
