"""No internal labels in what users read: the library, the guides and the READMEs (and the
explain and check tests, which read as examples) quote a user's question or link the guide
that answers it, never "seed 003" or "principle 4"."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL = re.compile(r"seeds? 00[0-9]|principle [0-9]", re.IGNORECASE)

#: labels still in other engineers' files (path -> how many lines), to be replaced there;
#: a file may lose its hits, but any other file with a hit, or more hits, fails.
#: (None left: layers/ replaced its own in d42f2cf.)
KNOWN: dict[str, int] = {}


def _files() -> list[Path]:
    out = [p for p in (ROOT / "src").rglob("*.py")]
    out += [p for p in (ROOT / "docs").rglob("*") if p.suffix in (".md", ".py") and p.is_file()]
    out += [p for d in ("explain", "check") for p in (ROOT / "tests" / d).rglob("*.py")]
    return sorted(out + list(ROOT.glob("README*.md")))


def _hits() -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for p in _files():
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if LABEL.search(line):
                hits.setdefault(p.relative_to(ROOT).as_posix(), []).append(f"{n}: {line.strip()}")
    return hits


def test_no_seed_or_principle_labels_in_code_guides_or_readmes():
    new = {path: lines for path, lines in _hits().items() if len(lines) > KNOWN.get(path, 0)}
    assert not new, "quote the question or link its guide instead of:\n" + "\n".join(
        f"{path}:{line}" for path, lines in new.items() for line in lines)


def test_the_pattern_catches_the_labels_it_is_for():
    for text in ("(seed 003)", "Seed 004 works", "seeds 000-002", "(principle 4)", "Principle 9"):
        assert LABEL.search(text), text
    for text in ("--seed 0", "seed 1984", "seeds 0-4", "5 seeds", "seed=0"):
        assert not LABEL.search(text), text
