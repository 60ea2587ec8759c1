"""Using word vectors: most similar words, analogies, analogy accuracy.

Similarity is the cosine, ``x . y / (|x| |y|)``: the vectors are normalised
to unit length once, and one matrix-vector product then scores every word.
An analogy ``a : b = c : ?`` is answered by the word closest to
``b - a + c`` (3CosAdd, Mikolov et al. 2013), computed on the unit vectors
and excluding a, b and c themselves, as gensim's ``most_similar`` and
``evaluate_word_analogies`` do. (Book 2's ``analogy`` ranks by the dot product
with the raw vectors instead; the cosine is the standard measure.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zerokara.errors import DataError, InputError


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)  # an all-zero vector stays zero instead of NaN


@dataclass
class WordVectors:
    """(V, D) vectors and the V words they belong to, row i for word i."""

    vectors: np.ndarray
    words: list[str]
    word_to_id: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise InputError(
                f"WordVectors: vectors expected shape ({len(self.words)}, D) for "
                f"{len(self.words)} words, got {self.vectors.shape}"
            )
        self.word_to_id = {w: i for i, w in enumerate(self.words)}
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.word_to_id

    @property
    def unit(self) -> np.ndarray:
        """The vectors scaled to length 1 (computed once), float32."""
        if self._unit is None:
            self._unit = _unit(self.vectors.astype(np.float32))
        return self._unit

    def id(self, word: str) -> int:
        try:
            return self.word_to_id[word]
        except KeyError:
            raise InputError(f"unknown word {word!r}: not in the {len(self)}-word vocabulary") from None

    def similarity(self, a: str, b: str) -> float:
        u = self.unit
        return float(u[self.id(a)] @ u[self.id(b)])

    def _top(self, query: np.ndarray, exclude: Iterable[int], top: int) -> list[tuple[str, float]]:
        scores = self.unit @ _unit(query.astype(np.float32))
        scores[list(exclude)] = -np.inf
        top = min(top, len(self) - 1)
        best = np.argpartition(-scores, top - 1)[:top] if top < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best if np.isfinite(scores[i])]

    def most_similar(self, word: str, top: int = 5) -> list[tuple[str, float]]:
        """The ``top`` words with the highest cosine similarity to ``word`` (itself excluded)."""
        i = self.id(word)
        return self._top(self.unit[i], [i], top)

    def analogy(self, a: str, b: str, c: str, top: int = 5) -> list[tuple[str, float]]:
        """``a : b = c : ?`` -- the words closest to ``b - a + c`` (a, b, c excluded).
        For king man queen that is king : man = queen : ? (expect woman)."""
        ia, ib, ic = self.id(a), self.id(b), self.id(c)
        u = self.unit
        return self._top(u[ib] - u[ia] + u[ic], [ia, ib, ic], top)


@dataclass
class AnalogyResult:
    """Accuracy over the questions whose four words are all in the vocabulary."""

    correct: int
    asked: int  # questions with all four words in the vocabulary
    total: int  # questions in the file
    sections: dict[str, tuple[int, int]]  # section -> (correct, asked)

    @property
    def accuracy(self) -> float:
        return self.correct / self.asked if self.asked else 0.0

    @property
    def coverage(self) -> float:
        return self.asked / self.total if self.total else 0.0

    def summary(self) -> str:
        return (
            f"analogy accuracy {self.accuracy:.4f} ({self.correct}/{self.asked} questions "
            f"in the vocabulary; coverage {self.coverage:.1%} of {self.total})"
        )


def read_questions(path: Path | str) -> list[tuple[str, list[str]]]:
    """A ``questions-words.txt`` file: ``: section`` lines, then ``a b c d`` lines."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"analogy questions: cannot read {path}: {e}") from None
    section, out = "", []
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.split()
        if len(words) != 4:
            raise DataError(f"analogy questions: {path} line {no}: expected 4 words, got {len(words)}")
        out.append((section, words))
    if not out:
        raise DataError(f"analogy questions: {path} holds no questions")
    return out


def analogy_accuracy(
    wv: WordVectors,
    questions: Path | str | Sequence[tuple[str, list[str]]],
    *,
    lowercase: bool = True,
    batch: int = 1000,
) -> AnalogyResult:
    """Fraction of ``a b c d`` questions where the analogy ``a : b = c : ?``
    puts d first (a, b, c excluded), over the questions whose four words are
    all in the vocabulary; ``coverage`` says how many that is.

    ``lowercase`` compares words case-insensitively (the file writes "Athens",
    PTB "athens"), as gensim's ``case_insensitive=True``. Questions are scored
    in batches: one (batch, V) matrix product per batch.
    """
    qs = read_questions(questions) if isinstance(questions, (str, Path)) else list(questions)
    lookup = wv.word_to_id
    if lowercase:
        lookup = {}
        for i, w in reversed(list(enumerate(wv.words))):  # the first (most frequent) spelling wins
            lookup[w.lower()] = i
    ids, secs = [], []
    for section, words in qs:
        ws = [w.lower() for w in words] if lowercase else words
        if all(w in lookup for w in ws):
            ids.append([lookup[w] for w in ws])
            secs.append(section)
    sections: dict[str, list[int]] = {}
    correct = 0
    if ids:
        q = np.array(ids)
        u = wv.unit
        for s in range(0, len(q), batch):
            a, b, c, d = q[s : s + batch].T
            scores = _unit(u[b] - u[a] + u[c]) @ u.T  # (B, V)
            rows = np.arange(len(a))
            for col in (a, b, c):
                scores[rows, col] = -np.inf
            hit = scores.argmax(axis=1) == d
            correct += int(hit.sum())
            for sec, h in zip(secs[s : s + batch], hit, strict=True):
                pair = sections.setdefault(sec, [0, 0])
                pair[0] += int(h)
                pair[1] += 1
    return AnalogyResult(correct, len(ids), len(qs), {k: (v[0], v[1]) for k, v in sections.items()})


def find_questions_file() -> Path | None:
    """gensim's copy of Google's ``questions-words.txt``, if gensim is installed."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / "test" / "test_data" / "questions-words.txt"
        if p.is_file():
            return p
    return None


#: book 2's queries (chapter 4): most similar, and analogies a : b = c : ?
BOOK_QUERIES = ("you", "year", "car", "toyota")
BOOK_ANALOGIES = (
    ("king", "man", "queen"),
    ("take", "took", "go"),
    ("car", "cars", "child"),
    ("good", "better", "bad"),
)
