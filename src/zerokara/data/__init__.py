"""Data sets: MNIST, Fashion-MNIST, Penn Treebank (downloaded once, hash-checked) and the spiral toy set."""

from zerokara.data.fetch import data_dir, fetch
from zerokara.data.mnist import load_fashion_mnist, load_mnist
from zerokara.data.ptb import Vocab, load_ptb
from zerokara.data.sequence import (
    CharVocab,
    SequenceData,
    load_sequence,
    make_addition,
    make_date,
    write_sequence,
)
from zerokara.data.spiral import load_spiral

__all__ = [
    "data_dir",
    "fetch",
    "load_mnist",
    "load_fashion_mnist",
    "load_spiral",
    "load_ptb",
    "Vocab",
    "load_sequence",
    "make_addition",
    "make_date",
    "write_sequence",
    "CharVocab",
    "SequenceData",
]
