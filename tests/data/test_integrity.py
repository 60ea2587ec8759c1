"""Nothing read unchecked, nothing half-written left: book 2's seq2seq files are
SHA-256 checked on every load (a corrupt copy is one clear error; generated sets
are unaffected), and a download killed outright leaves a recognisable temporary
that the next download of the same file removes, under the data folder's lock."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.realdata import real_data_dir
from zerokara.data import fetch
from zerokara.data.sequence import SHA256, load_sequence, make_addition, write_sequence
from zerokara.errors import DataError
from zerokara.runlock import LOCK, FolderLock, clean_temporaries

fetch_mod = sys.modules["zerokara.data.fetch"]  # the module (zerokara.data.fetch is the function)

from tests.data.conftest import GOOD, PAYLOAD, REL  # noqa: E402 (the served file; fixtures root, served)


# -- book 2's seq2seq files ---------------------------------------------------------
@pytest.mark.parametrize("name", ["addition", "date"])
def test_the_known_hashes_are_those_of_book_2s_files(name):
    root = real_data_dir("seq2seq", (f"{name}.txt",))
    assert fetch_mod.sha256_of(root / "seq2seq" / f"{name}.txt") == SHA256[name]


def test_a_corrupt_addition_txt_is_one_clear_error(tmp_path, monkeypatch):
    real = real_data_dir("seq2seq", ("addition.txt",)) / "seq2seq" / "addition.txt"
    copy = tmp_path / "seq2seq" / "addition.txt"
    copy.parent.mkdir()
    shutil.copyfile(real, copy)
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path))
    assert len(load_sequence("addition")) == 50000  # the true copy loads

    data = bytearray(copy.read_bytes())
    data[1000] = ord("7") if data[1000] != ord("7") else ord("8")  # one digit of one sum: still parses
    copy.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        load_sequence("addition")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(
        f"addition: {copy} is corrupt: sha256 expected {SHA256['addition']}, got "
        f"{hashlib.sha256(bytes(data)).hexdigest()}; delete it"
    )
    assert "deep-learning-from-scratch-2" in msg and "make_addition" in msg
    assert copy.read_bytes() == bytes(data)  # reported, never deleted or replaced


def test_generated_sets_are_not_held_to_book_2s_hash(tmp_path, monkeypatch):
    lines = make_addition(300, 1)
    (tmp_path / "mine").mkdir()
    path = write_sequence(tmp_path / "mine" / "addition.txt", lines)  # any path: read as it is
    assert len(load_sequence(path)) == 300
    # under the data folder's name it is not book 2's file, and the error says how to load it
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path))
    (tmp_path / "seq2seq").mkdir()
    shutil.copyfile(path, tmp_path / "seq2seq" / "addition.txt")
    with pytest.raises(DataError, match=r"is corrupt: sha256 expected .*load it by its path"):
        load_sequence("addition")


# -- downloads ----------------------------------------------------------------------
def test_a_download_streams_into_a_recognisable_temporary(root, served, monkeypatch):
    seen: list[list[str]] = []
    opened = fetch_mod.urllib.request.urlopen

    def spying(url, timeout=None):
        response = opened(url, timeout=timeout)
        read = response.read

        def read_and_look(n=-1):
            seen.append(sorted(p.name for p in (root / "toy").iterdir()))
            return read(n)

        response.read = read_and_look
        return response

    monkeypatch.setattr(fetch_mod.urllib.request, "urlopen", spying)
    path = fetch(REL, [served], GOOD, dataset="toy")
    assert path.read_bytes() == PAYLOAD and sorted(p.name for p in path.parent.iterdir()) == ["file.bin"]
    (tmp,) = seen[0]
    assert tmp.startswith(".file.bin.") and tmp.endswith(".tmp")
    (root / "toy" / tmp).write_bytes(b"left")  # the pattern runlock's cleaner knows, too
    assert clean_temporaries(root / "toy") == [root / "toy" / tmp]


def test_a_download_killed_with_kill_9_leaves_a_temporary_the_next_fetch_removes(root, tmp_path):
    """A real kill -9 mid-download: the temporary stays; the next fetch removes it first."""
    code = f"""
import sys, time, urllib.request
from zerokara.data import fetch

class Stalled:
    def __init__(self): self.sent = False
    def __enter__(self): return self
    def __exit__(self, *a): pass
    def read(self, n=-1):
        if self.sent:
            print("downloading", flush=True)
            time.sleep(60)
        self.sent = True
        return b"half of it"

urllib.request.urlopen = lambda url, timeout=None: Stalled()
fetch({REL!r}, ["http://example.invalid/file.bin"], {GOOD!r}, dataset="toy")
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "downloading\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stale = list((root / "toy").glob(".file.bin.*.tmp"))
    assert len(stale) == 1  # what was written may still sit in the killed process's buffer
    other = root / "toy" / ".other.bin.abc123.tmp"  # another file's temporary is not this fetch's
    other.write_bytes(b"x")

    served = tmp_path / "mirror.bin"
    served.write_bytes(PAYLOAD)
    path = fetch(REL, [served.as_uri()], GOOD, dataset="toy")
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in (root / "toy").iterdir()) == [".other.bin.abc123.tmp", "file.bin"]


def test_a_download_waits_for_one_running_in_another_process(root, tmp_path):
    """While another process holds the data folder's download lock, its temporary is
    left alone; once it has finished, the file is found and nothing is downloaded."""
    folder = root / "toy"
    folder.mkdir(parents=True)
    theirs = folder / ".file.bin.theirs.tmp"
    result: list[object] = []
    with FolderLock(root, "download"):  # "the other process" (locks are per open file)
        theirs.write_bytes(PAYLOAD[:100])
        t = threading.Thread(
            target=lambda: result.append(fetch(REL, [(tmp_path / "nowhere").as_uri()], GOOD, dataset="toy"))
        )
        t.start()
        time.sleep(0.6)
        assert t.is_alive() and theirs.exists()  # waiting, and their temporary untouched
        theirs.write_bytes(PAYLOAD)
        theirs.replace(folder / "file.bin")  # their download completes
    t.join(timeout=10)
    assert result == [folder / "file.bin"]
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == [LOCK, "file.bin"]
