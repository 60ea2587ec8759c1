"""The books' character-level seq2seq files: loading, vocabulary, book 2's
split, generators, and one clear error per kind of bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.realdata import real_data_dir
from zerokara.data.sequence import (CharVocab, load_sequence, make_addition, make_date, parse_lines,
                                    write_sequence)
from zerokara.errors import DataError, InputError


@pytest.fixture
def seq_dir(monkeypatch):
    root = real_data_dir("seq2seq", ("addition.txt", "date.txt"))
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(root))
    return root


def test_books_addition_and_book2s_split(seq_dir):
    d = load_sequence("addition")
    assert d.x.shape == (50000, 7) and d.t.shape == (50000, 5) and len(d.vocab) == 13
    assert d.vocab.decode(d.x[0]) == "16+75  " and d.vocab.decode(d.t[0]) == "_91  "
    (x, t), (xt, tt) = d.split()
    assert len(x) == 45000 and len(xt) == 5000
    # book 2 (ch. 7) prints these as the first training pair after its shuffle
    assert d.vocab.decode(x[0]) == "71+118 " and d.vocab.decode(t[0]) == "_189 "
    assert np.all(t[:, 0] == d.vocab.char_to_id["_"])


def test_books_date(seq_dir):
    d = load_sequence("date")
    assert d.x.shape == (50000, 29) and d.t.shape == (50000, 11) and len(d.vocab) == 59
    assert d.vocab.decode(d.x[0]).rstrip() == "september 27, 1994"
    assert d.vocab.decode(d.t[0]) == "_1994-09-27"


def test_generated_addition_is_right_and_any_size():
    lines = make_addition(2000, 3)
    assert make_addition(2000, 3) == lines and make_addition(2000, 4) != lines  # seeded
    d = parse_lines(lines)
    assert d.x.shape == (2000, 7) and d.t.shape == (2000, 5)
    for line in lines[:200]:
        q, a = line.split("_")
        assert eval(q) == int(a)  # noqa: S307 (our own digits and '+')
    assert parse_lines(make_addition(5, 0, digits=5)).x.shape == (5, 11)


def test_generated_dates_are_right():
    lines = make_date(3000, 1)
    d = parse_lines(lines)
    assert d.x.shape == (3000, 29) and d.t.shape == (3000, 11)
    for line in lines[:300]:
        q, a = line.rstrip().split("_")
        day = dt.date.fromisoformat(a)
        q = q.strip().lower()
        if "/" in q:
            m, dd, yy = map(int, q.split("/"))
            assert (m, dd, yy) == (day.month, day.day, day.year % 100)
        else:
            assert q.endswith(f" {day.day}, {day.year}")
            assert day.strftime("%b").lower() in q
            if q.count(",") == 2:
                assert q.startswith(day.strftime("%A").lower())
    styles = {("/" in l[:29]) for l in make_date(50, 0, styles=(0,))}
    assert styles == {True}


def test_file_round_trip(tmp_path):
    path = write_sequence(tmp_path / "sums.txt", make_addition(100, 0))
    d = load_sequence(path)
    assert d.x.shape == (100, 7) and d.source == str(path)


@pytest.mark.parametrize("bad,line,why", [
    ("1+2  _3 ", 3, "it has 8 characters"),
    ("1+2    3    ", 3, "it has no '_'"),
    ("1+2 _3      ", 3, "its '_' is at column 5"),
])
def test_misformatted_line_is_named(tmp_path, bad, line, why):
    lines = ["16+75  _91  ", "52+607 _659 ", bad, "75+22  _97  "]
    with pytest.raises(DataError) as e:
        parse_lines(lines, source="sums.txt")
    msg = str(e.value)
    assert msg.startswith(f"sums.txt line {line}: expected 12 characters with '_' at column 8")
    assert why in msg and repr(bad) in msg
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"bad.txt line {line}:"):
        load_sequence(path)


def test_empty_and_missing_files(tmp_path, monkeypatch):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="no examples"):
        load_sequence(tmp_path / "empty.txt")
    with pytest.raises(DataError, match="line 1: expected 'question_answer'"):
        parse_lines(["no separator"])
    with pytest.raises(DataError, match="nowhere.txt not found"):
        load_sequence(tmp_path / "nowhere.txt")
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="set ZEROKARA_DATA_DIR.*make_date"):
        load_sequence("date")


def test_vocab_errors_name_the_character_and_the_width():
    v = CharVocab(list("0123456789+ _"))
    assert v.decode(v.encode("12+3", 7)) == "12+3   "
    with pytest.raises(InputError, match=r"character 'x' at position 2 of '12x3' is not in the "
                                         r"13-character vocabulary"):
        v.encode("12x3", 7)
    with pytest.raises(InputError, match="has 8 characters; the model reads at most 7"):
        v.encode("123+4567", 7)


def test_split_options():
    d = parse_lines(make_addition(100, 0))
    (x, _), (xt, _) = d.split(test=0.2, seed=None)
    assert np.array_equal(xt, d.x[80:]) and len(x) == 80
    with pytest.raises(InputError, match="test expected a fraction"):
        d.split(test=1.5)
