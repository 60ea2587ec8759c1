"""Character-level seq2seq data: book 2's ``addition.txt`` and ``date.txt``
(chapters 7-8), and generators that make new sets of the same two kinds.

A file holds one example per line, fixed width: the question padded with
spaces, ``_``, the answer padded with spaces::

    16+75  _91
    september 27, 1994           _1994-09-27

The ``_`` is part of the answer: it is the decoder's first input (the "start"
symbol), so ``t[:, 0]`` is ``_`` for every row. Every character of every line
becomes one id of a character vocabulary built in order of first appearance,
as book 2's ``dataset/sequence.py`` builds it.

:func:`load_sequence` reads ``addition`` / ``date`` from
``$ZEROKARA_DATA_DIR/seq2seq/`` (book 2's own files, SHA-256 checked on every
load; nothing is downloaded: use :func:`make_addition` / :func:`make_date` to
create sets locally) or any path (read as it is: no hash to check it against).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zerokara.data.fetch import data_dir, verify
from zerokara.errors import DataError, InputError

FOLDER = "seq2seq"
KNOWN = ("addition", "date")
#: book 2's files (oreilly-japan/deep-learning-from-scratch-2, ``dataset/NAME.txt``)
SHA256 = {
    "addition": "34e0746f5014c11311c9452ee9050bf14e38eca44ec4aaf4d81eba2b38674009",
    "date": "62e66a301ce8537868e725512d2a45663fc366526b7e42028cb703bda2b1c79a",
}
BOOK2 = "https://github.com/oreilly-japan/deep-learning-from-scratch-2"
START = "_"
#: book 2's test split: 10% of the examples, after shuffling with this seed
BOOK_SEED = 1984


@dataclass
class CharVocab:
    """char <-> id, in order of first appearance."""

    chars: list[str]

    def __post_init__(self) -> None:
        self.char_to_id = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str, width: int | None = None, *, what: str = "text") -> np.ndarray:
        """One string -> ids (width,), padded on the right with spaces to ``width``."""
        bad = [(i, c) for i, c in enumerate(text) if c not in self.char_to_id]
        if bad:
            i, c = bad[0]
            known = "".join(sorted(self.chars)).strip()
            raise InputError(
                f"{what}: character {c!r} at position {i} of {text!r} is not in the "
                f"{len(self)}-character vocabulary ({known!r})"
            )
        if width is not None:
            if len(text) > width:
                raise InputError(
                    f"{what}: {text!r} has {len(text)} characters; the model reads at "
                    f"most {width} (its fixed input width)"
                )
            text = text.ljust(width)
        return np.array([self.char_to_id[c] for c in text], dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


@dataclass
class SequenceData:
    """Questions x (N, Tq) and answers t (N, Ta) as char ids, one vocabulary.

    ``t[:, 0]`` is the start symbol ``_``; a decoder reads ``t[:, :-1]`` and
    predicts ``t[:, 1:]``.
    """

    x: np.ndarray
    t: np.ndarray
    vocab: CharVocab
    source: str = ""

    def __len__(self) -> int:
        return len(self.x)

    def split(
        self, test: float = 0.1, seed: int | None = BOOK_SEED
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``(x_train, t_train), (x_test, t_test)``: shuffle, keep the last ``test``
        fraction as the held-out set.

        The shuffle uses its own ``RandomState(seed)``; with the default seed
        it is the permutation book 2's ``sequence.load_data`` draws (it seeds
        numpy's global generator with 1984), so the split is book 2's: 45,000
        train and 5,000 test pairs. ``seed=None``: no shuffle.
        """
        if not 0 < test < 1:
            raise InputError(f"split: test expected a fraction in (0, 1), got {test}")
        idx = np.arange(len(self.x))
        if seed is not None:
            np.random.RandomState(seed).shuffle(idx)
        cut = len(idx) - int(len(idx) * test)
        tr, te = idx[:cut], idx[cut:]
        return (self.x[tr], self.t[tr]), (self.x[te], self.t[te])


def parse_lines(lines: list[str], source: str = "data") -> SequenceData:
    """Fixed-width lines ``question _answer`` -> :class:`SequenceData`.

    Every line must have the first line's length and its ``_`` at the same
    column; the error names the first line that does not.
    """
    rows = [ln.rstrip("\r\n") for ln in lines]
    while rows and rows[-1] == "":
        rows.pop()
    if not rows:
        raise DataError(f"{source}: no examples (the file is empty)")
    first = rows[0]
    col = first.find(START)
    if col < 1:
        raise DataError(
            f"{source} line 1: expected 'question{START}answer' with a non-empty "
            f"question before {START!r}, got {first!r}"
        )
    width = len(first)
    for n, row in enumerate(rows, 1):
        if len(row) != width or row.find(START) != col:
            where = row.find(START)
            why = (
                f"it has {len(row)} characters"
                if len(row) != width
                else f"its {START!r} is at column {where + 1}"
                if where >= 0
                else f"it has no {START!r}"
            )
            raise DataError(
                f"{source} line {n}: expected {width} characters with {START!r} at column {col + 1} "
                f"(a {col}-character question, {START!r}, a {width - col - 1}-character answer, "
                f"as line 1), but {why}: {row!r}"
            )
    chars: dict[str, None] = {}
    for row in rows:  # order of first appearance: question, then answer, line by line
        for c in row:
            chars.setdefault(c, None)
    vocab = CharVocab(list(chars))
    table = np.zeros(0x110000 if max(map(ord, chars)) > 0xFFFF else 0x10000, dtype=np.int64)
    for i, c in enumerate(vocab.chars):
        table[ord(c)] = i
    codes = np.frombuffer("".join(rows).encode("utf-32-le"), dtype=np.uint32).reshape(len(rows), width)
    ids = table[codes]
    return SequenceData(ids[:, :col].copy(), ids[:, col:].copy(), vocab, source)


def sequence_path(name: str | Path) -> Path:
    """``addition`` / ``date`` -> the file under the data folder, its SHA-256 checked
    (``DataError`` if it is not book 2's file); anything else is a path."""
    if str(name) in KNOWN:
        path = data_dir() / FOLDER / f"{name}.txt"
        if not path.is_file():
            raise DataError(
                f"{name}: {path} not found. Book 2's {name}.txt is not downloaded; set "
                f"ZEROKARA_DATA_DIR to a folder holding {FOLDER}/{name}.txt, or make a new set with "
                f"zerokara.data.make_{name}(n) / write_sequence(...)"
            )
        how = (
            f"and copy book 2's dataset/{name}.txt ({BOOK2}) there, or make a new set with "
            f"zerokara.data.make_{name}(n) / write_sequence(...) and load it by its path"
        )
        return verify(path, SHA256[str(name)], dataset=str(name), how=how)
    path = Path(name).expanduser()
    if not path.is_file():
        raise DataError(f"seq2seq data: {path} not found (expected addition, date or a file path)")
    return path


def load_sequence(name: str | Path) -> SequenceData:
    """Load ``"addition"``, ``"date"`` or a file of fixed-width ``question_answer`` lines."""
    path = sequence_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"seq2seq data: cannot read {path}: {e}") from None
    return parse_lines(text.split("\n"), source=str(path))


# -- generators ----------------------------------------------------------------------
def _lines(questions: list[str], answers: list[str]) -> list[str]:
    wq = max(map(len, questions))
    wa = max(map(len, answers))
    return [q.ljust(wq) + START + a.ljust(wa) for q, a in zip(questions, answers, strict=True)]


def make_addition(n: int, rng: np.random.Generator | int = 0, *, digits: int = 3) -> list[str]:
    """``n`` lines like book 2's addition.txt: ``a+b`` with a, b in [0, 10**digits),
    each digit count equally likely (as many 1-digit as 3-digit numbers would
    make 2-digit sums rare otherwise); width 2*digits+1, answer digits+1 (+ '_')."""
    rng = np.random.default_rng(rng)
    if n < 1 or digits < 1:
        raise InputError(f"make_addition: n and digits expected >= 1, got n={n}, digits={digits}")
    lens = rng.integers(1, digits + 1, size=(2, n))
    lo = np.where(lens == 1, 0, 10 ** (lens - 1))
    ab = rng.integers(lo, 10**lens)
    q = [f"{a}+{b}" for a, b in zip(ab[0], ab[1], strict=True)]
    a = [str(x) for x in ab.sum(axis=0)]
    return [q_.ljust(2 * digits + 1) + START + a_.ljust(digits + 1) for q_, a_ in zip(q, a, strict=True)]


_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _date_text(d: dt.date, style: int, case: int) -> str:
    month = _MONTHS[d.month - 1]
    if style == 0:
        return f"{d.month}/{d.day}/{d.year % 100:02d}"
    if style == 1:
        text = f"{month[:3]} {d.day}, {d.year}"
    elif style == 2:
        text = f"{month} {d.day}, {d.year}"
    else:
        text = f"{_DAYS[d.weekday()]}, {month} {d.day}, {d.year}"
    return (text, text.title(), text.upper())[case]


def make_date(
    n: int,
    rng: np.random.Generator | int = 0,
    *,
    start: str = "1970-01-01",
    end: str = "2017-12-31",
    styles: tuple[int, ...] = (0, 1, 2, 3),
) -> list[str]:
    """``n`` lines like book 2's date.txt: a date written one of the ways people
    write it (``9/27/94``, ``Sep 27, 1994``, ``september 27, 1994``, ``TUESDAY,
    SEPTEMBER 27, 1994``; lower, Title or UPPER case) -> ``1994-09-27``.
    Widths are date.txt's: a 29-character question, ``_``, 10 answer characters.
    ``styles`` picks among those four ways (0: m/d/yy, 1: Mon d, yyyy,
    2: Month d, yyyy, 3: Weekday, Month d, yyyy), equally likely."""
    rng = np.random.default_rng(rng)
    if n < 1:
        raise InputError(f"make_date: n expected >= 1, got {n}")
    d0, d1 = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    days = rng.integers(0, (d1 - d0).days + 1, size=n)
    if not styles or any(s not in range(4) for s in styles):
        raise InputError(f"make_date: styles expected a non-empty subset of (0, 1, 2, 3), got {styles}")
    drawn = rng.choice(np.asarray(styles), size=n)
    cases = rng.integers(0, 3, size=n)
    out = []
    for k, s, c in zip(days, drawn, cases, strict=True):
        d = d0 + dt.timedelta(days=int(k))
        out.append(_date_text(d, int(s), int(c)).ljust(29) + START + d.isoformat())
    return out


def write_sequence(path: str | Path, lines: list[str]) -> Path:
    """Write generated lines as a data file (one per line, newline-terminated)."""
    from zerokara.io import atomic_write_text

    path = Path(path)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


__all__ = [
    "CharVocab",
    "SequenceData",
    "parse_lines",
    "load_sequence",
    "sequence_path",
    "make_addition",
    "make_date",
    "write_sequence",
    "BOOK_SEED",
    "START",
]
