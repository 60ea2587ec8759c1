"""Shared by the seq2seq tests: a small file of generated addition questions."""

from __future__ import annotations

import pytest

from zerokara.data.sequence import make_addition, write_sequence


@pytest.fixture(scope="module")
def sums(tmp_path_factory):
    """1,280 generated addition questions in book 2's file format."""
    return write_sequence(tmp_path_factory.mktemp("data") / "sums.txt", make_addition(1280, 0))
