"""fetch(): existing files are checked not replaced; downloads land whole or not at all.

Downloads are served from file:// URLs so the tests run offline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.data.conftest import GOOD, PAYLOAD, REL
from zerokara.data import data_dir, fetch
from zerokara.data.fetch import sha256_of
from zerokara.errors import DataError


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_data_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("ZEROKARA_DATA_DIR")
    assert data_dir() == Path.home() / ".cache" / "zerokara"


def test_sha256_of_matches_hashlib(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(PAYLOAD * 2_000)  # 4.4 MB: several 1 MiB chunks
    assert sha256_of(f) == hashlib.sha256(PAYLOAD * 2_000).hexdigest()


def test_existing_good_file_is_returned_without_download(root):
    path = root / REL
    path.parent.mkdir(parents=True)
    path.write_bytes(PAYLOAD)
    assert fetch(REL, ["file:///nonexistent/never/used"], GOOD, dataset="toy") == path


def test_existing_corrupt_file_raises_and_is_untouched(root, served):
    path = root / REL
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the payload")
    before = path.stat()
    bad = hashlib.sha256(b"not the payload").hexdigest()
    with pytest.raises(DataError) as info:
        fetch(REL, [served], GOOD, dataset="toy")
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg and GOOD in msg and bad in msg and "delete" in msg
    assert path.read_bytes() == b"not the payload"  # neither deleted nor replaced
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert files_in(path.parent) == ["file.bin"]


def test_missing_file_is_downloaded(root, served):
    path = fetch(REL, [served], GOOD, dataset="toy")
    assert path == root / REL
    assert path.read_bytes() == PAYLOAD
    assert files_in(path.parent) == ["file.bin"]  # no temp file left over
    # second call finds it on disk
    assert fetch(REL, ["file:///nonexistent"], GOOD, dataset="toy") == path


def test_falls_back_to_next_url(root, served, tmp_path):
    dead = (tmp_path / "nowhere" / "file.bin").as_uri()
    path = fetch(REL, [dead, served], GOOD.upper(), dataset="toy")
    assert path.read_bytes() == PAYLOAD


def test_wrong_hash_leaves_nothing_behind(root, served):
    wrong = "0" * 64
    with pytest.raises(DataError) as info:
        fetch(REL, [served], wrong, dataset="toy")
    msg = str(info.value)
    assert "\n" not in msg
    assert REL in msg and served in msg and "sha256" in msg
    assert f"set ZEROKARA_DATA_DIR to a folder that holds {REL}" in msg
    assert files_in(root / "toy") == []  # no partial file, no temp file


def test_all_urls_failing_leaves_nothing_behind(root, tmp_path):
    urls = [(tmp_path / "a" / "file.bin").as_uri(), (tmp_path / "b" / "file.bin").as_uri()]
    with pytest.raises(DataError) as info:
        fetch(REL, urls, GOOD, dataset="toy")
    msg = str(info.value)
    assert "\n" not in msg
    assert all(u in msg for u in urls) and "last error" in msg
    assert f"set ZEROKARA_DATA_DIR to a folder that holds {REL}" in msg
    assert files_in(root / "toy") == []


def test_unwritable_folder_is_reported(tmp_path, monkeypatch, served):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a folder cannot be created inside a regular file
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(blocker / "data"))
    with pytest.raises(DataError, match="not writable") as info:
        fetch(REL, [served], GOOD, dataset="toy")
    assert "ZEROKARA_DATA_DIR" in str(info.value)
    assert blocker.read_text() == "x"
