"""Penn Treebank, Mikolov's preprocessed version (book 2, chapters 2-7).

The three text files come from the repository book 2 downloads them from
(tomsercu/lstm), SHA-256 checked and cached like every data set. The
vocabulary is built exactly as book 2's ``dataset/ptb.py`` builds it: line
ends become ``<eos>``, ids are given in order of first appearance in the
training text, so the train corpus has 929,589 ids over 10,000 words. valid
and test are mapped with the training vocabulary (every word in them occurs
in train).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zerokara.data.fetch import fetch
from zerokara.errors import DataError, InputError

FOLDER = "ptb"
MIRRORS = ("https://raw.githubusercontent.com/tomsercu/lstm/master/data",)
SHA256 = {
    "train": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
SPLITS = tuple(SHA256)


@dataclass
class Vocab:
    """word <-> id, in order of first appearance in the training text."""

    word_to_id: dict[str, int]
    id_to_word: list[str]

    def __len__(self) -> int:
        return len(self.id_to_word)

    def encode(self, words: list[str], *, what: str = "text") -> np.ndarray:
        try:
            return np.array([self.word_to_id[w] for w in words], dtype=np.int64)
        except KeyError as e:
            raise InputError(
                f"{what}: unknown word {e.args[0]!r} (not in the {len(self)}-word vocabulary)"
            ) from None

    def decode(self, ids: np.ndarray) -> list[str]:
        return [self.id_to_word[int(i)] for i in ids]


def _words(split: str) -> list[str]:
    if split not in SHA256:
        raise InputError(f"ptb: split expected one of {SPLITS}, got {split!r}")
    name = f"ptb.{split}.txt"
    path = fetch(f"{FOLDER}/{name}", [f"{m}/{name}" for m in MIRRORS], SHA256[split], dataset="Penn Treebank")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"Penn Treebank: cannot read {path}: {e}") from None
    return text.replace("\n", " <eos> ").split()


def build_vocab(words: list[str]) -> Vocab:
    word_to_id: dict[str, int] = {}
    for w in words:
        if w not in word_to_id:
            word_to_id[w] = len(word_to_id)
    return Vocab(word_to_id, list(word_to_id))


def load_ptb(split: str = "train") -> tuple[np.ndarray, Vocab]:
    """``(corpus, vocab)``: the split as int64 ids (train: (929589,)) and the
    training vocabulary (10,000 words), as book 2's ``ptb.load_data(split)``."""
    vocab = build_vocab(_words("train"))
    words = _words(split) if split != "train" else None
    corpus = vocab.encode(words if words is not None else _words("train"), what=f"ptb.{split}")
    return corpus, vocab
