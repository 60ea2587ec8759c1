"""Penn Treebank: the vocabulary built as book 2 builds it, on tiny files served
from a file:// mirror (offline), download failures and corrupt files as one-line
errors; and the real files when present (ZEROKARA_DATA_DIR or ../shared/data)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tests.realdata import real_data_dir
from zerokara.data import load_ptb
from zerokara.data import ptb as ptb_mod
from zerokara.errors import DataError, InputError

TEXTS = {
    "train": " the cat sat \n the dog <unk> sat down \n",
    "valid": " the dog sat \n",
    "test": " a cat \n",  # 'a' is not a training word
}


@pytest.fixture
def tiny_ptb(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sha = {}
    for split, text in TEXTS.items():
        path = mirror / f"ptb.{split}.txt"
        path.write_text(text)
        sha[split] = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(ptb_mod, "MIRRORS", (mirror.as_uri(),))
    monkeypatch.setattr(ptb_mod, "SHA256", sha)
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_vocab_in_order_of_first_appearance_with_eos(tiny_ptb):
    corpus, vocab = load_ptb("train")
    assert vocab.id_to_word == ["the", "cat", "sat", "<eos>", "dog", "<unk>", "down"]
    assert corpus.tolist() == [0, 1, 2, 3, 0, 4, 5, 2, 6, 3] and corpus.dtype == np.int64
    assert vocab.decode(corpus[:4]) == ["the", "cat", "sat", "<eos>"]
    valid, v2 = load_ptb("valid")
    assert valid.tolist() == [0, 4, 2, 3] and v2.id_to_word == vocab.id_to_word  # train's ids
    assert (tiny_ptb / "data" / "ptb" / "ptb.train.txt").is_file()  # cached where fetch puts it


def test_unknown_split_and_word_outside_the_vocabulary(tiny_ptb):
    with pytest.raises(InputError, match=r"split expected one of \('train', 'valid', 'test'\), got 'dev'"):
        load_ptb("dev")
    with pytest.raises(InputError, match="ptb.test: unknown word 'a' \\(not in the 7-word vocabulary\\)"):
        load_ptb("test")


def test_download_failure_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ptb_mod, "MIRRORS", (f"file://{tmp_path}/nowhere",))
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DataError) as info:
        load_ptb("train")
    msg = str(info.value)
    assert "Penn Treebank: could not download ptb/ptb.train.txt" in msg and "\n" not in msg
    assert "ZEROKARA_DATA_DIR" in msg
    # nothing but the data folder's (free) download lock
    assert [p.name for p in (tmp_path / "data").rglob("*") if p.is_file()] == [".lock"]


def test_corrupt_download_and_corrupt_cache(tiny_ptb, monkeypatch):
    monkeypatch.setattr(ptb_mod, "SHA256", {**ptb_mod.SHA256, "train": "0" * 64})
    with pytest.raises(DataError, match="wrong sha256"):
        load_ptb("train")
    assert not (tiny_ptb / "data" / "ptb" / "ptb.train.txt").exists()  # nothing half-trusted kept
    monkeypatch.undo()
    cached = tiny_ptb / "data" / "ptb" / "ptb.train.txt"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("edited by hand\n")
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tiny_ptb / "data"))
    monkeypatch.setattr(ptb_mod, "MIRRORS", ((tiny_ptb / "mirror").as_uri(),))
    with pytest.raises(DataError, match="is corrupt: sha256 expected") as info:
        load_ptb("train")
    assert "delete it" in str(info.value) and cached.read_text() == "edited by hand\n"


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real_ptb():
    root = real_data_dir("ptb", tuple(f"ptb.{s}.txt" for s in ptb_mod.SPLITS))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZEROKARA_DATA_DIR", str(root))
        return {s: load_ptb(s) for s in ptb_mod.SPLITS}


def test_real_ptb_as_book_2(real_ptb):
    train, vocab = real_ptb["train"]
    assert len(vocab) == 10_000
    assert len(train) == 929_589 and len(real_ptb["valid"][0]) == 73_760
    assert len(real_ptb["test"][0]) == 82_430
    assert vocab.id_to_word[:6] == ["aer", "banknote", "berlitz", "calloway", "centrust", "cluett"]
    assert vocab.word_to_id["<eos>"] == 24 and vocab.word_to_id["<unk>"] == 26
    assert int(train.max()) == 9999 and int(train.min()) == 0
    for split in ("valid", "test"):
        assert real_ptb[split][1].id_to_word == vocab.id_to_word
