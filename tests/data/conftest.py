"""The data tests' served file: a payload behind a file:// URL (the tests run offline)
and an empty data dir selected through ZEROKARA_DATA_DIR."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

PAYLOAD = b"zerokara test payload\n" * 1000
GOOD = hashlib.sha256(PAYLOAD).hexdigest()
REL = "toy/file.bin"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir, selected through ZEROKARA_DATA_DIR."""
    d = tmp_path / "data"
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(d))
    return d


@pytest.fixture
def served(tmp_path: Path) -> str:
    """A file:// URL serving PAYLOAD."""
    src = tmp_path / "mirror" / "file.bin"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    return src.as_uri()
