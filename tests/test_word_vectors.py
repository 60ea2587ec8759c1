"""Cosine most-similar, analogies, and analogy accuracy with coverage (checked
against gensim's own evaluator when gensim is installed)."""

from __future__ import annotations

import numpy as np
import pytest

from zerokara.errors import DataError, InputError
from zerokara.word_vectors import WordVectors, analogy_accuracy, find_questions_file, read_questions

WORDS = ["king", "queen", "man", "woman", "apple", "banana"]
#          royalty  gender  fruit
VECS = np.array([[1.0, 1.0, 0.0],   # king
                 [1.0, -1.0, 0.0],  # queen
                 [0.1, 1.0, 0.0],   # man
                 [0.1, -1.0, 0.0],  # woman
                 [0.0, 0.1, 1.0],   # apple
                 [0.0, -0.1, 1.0]])  # banana


@pytest.fixture
def wv() -> WordVectors:
    return WordVectors(VECS.copy(), list(WORDS))


def test_most_similar_is_cosine_and_excludes_the_word(wv):
    top = wv.most_similar("apple", top=5)
    assert [w for w, _ in top][0] == "banana"
    assert "apple" not in [w for w, _ in top] and len(top) == 5
    u = VECS / np.linalg.norm(VECS, axis=1, keepdims=True)
    assert top[0][1] == pytest.approx(float(u[4] @ u[5]), rel=1e-6)
    scores = [s for _, s in top]
    assert scores == sorted(scores, reverse=True)
    # scaling a vector does not change cosine similarities
    scaled = WordVectors(VECS * np.array([[5.0], [1], [1], [1], [1], [1]]), list(WORDS))
    a, b = scaled.most_similar("queen"), wv.most_similar("queen")
    assert [w for w, _ in a] == [w for w, _ in b]
    assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-6)


def test_analogy_king_man_queen_is_woman(wv):
    # king : man = queen : ?  ->  man - king + queen = woman
    assert wv.analogy("king", "man", "queen")[0][0] == "woman"
    assert {"king", "man", "queen"}.isdisjoint(w for w, _ in wv.analogy("king", "man", "queen", top=3))


def test_unknown_word_says_which(wv):
    with pytest.raises(InputError, match="unknown word 'prince': not in the 6-word vocabulary"):
        wv.most_similar("prince")
    with pytest.raises(InputError, match="unknown word 'kiwi'"):
        wv.analogy("king", "kiwi", "queen")


def write(tmp_path, text: str):
    p = tmp_path / "questions.txt"
    p.write_text(text)
    return p


def test_analogy_accuracy_counts_only_in_vocabulary_questions(wv, tmp_path):
    path = write(tmp_path, ": royal\nKing Man Queen Woman\nking queen man woman\n"
                           "king man prince princess\n: fruit\napple banana man woman\n")
    res = analogy_accuracy(wv, path)
    assert (res.total, res.asked) == (4, 3)  # "prince princess" is out of the vocabulary
    assert res.coverage == pytest.approx(0.75)
    # banana - apple + man points at king, not woman: one wrong answer
    assert res.correct == 2 and res.accuracy == pytest.approx(2 / 3)
    assert res.sections == {"royal": (2, 2), "fruit": (0, 1)}
    assert "coverage 75.0% of 4" in res.summary()
    # case-sensitive: "King Man Queen Woman" is then out of the vocabulary too
    assert analogy_accuracy(wv, path, lowercase=False).asked == 2


def test_bad_question_files(tmp_path, wv):
    with pytest.raises(DataError, match="line 2: expected 4 words, got 3"):
        read_questions(write(tmp_path, ": s\na b c\n"))
    with pytest.raises(DataError, match="cannot read"):
        analogy_accuracy(wv, tmp_path / "missing.txt")
    with pytest.raises(DataError, match="holds no questions"):
        read_questions(write(tmp_path, ": only a section\n"))


def test_accuracy_equals_gensims_evaluator_on_the_google_file():
    """Our evaluation of random vectors gives gensim's evaluate_word_analogies
    numbers exactly (same 3CosAdd on unit vectors, same coverage rule)."""
    gensim = pytest.importorskip("gensim")
    qfile = find_questions_file()
    assert qfile is not None and qfile.name == "questions-words.txt"
    qs = read_questions(qfile)
    # a vocabulary holding part of the file's words, lower-cased as PTB is
    words = sorted({w.lower() for _, q in qs[::7] for w in q})[:400]
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((len(words), 8)).astype(np.float32)
    # plant some answers: d = b - a + c exactly for the first in-vocabulary questions
    ours = WordVectors(vecs, words)
    kv = gensim.models.KeyedVectors(8)
    kv.add_vectors(words, vecs)
    res = analogy_accuracy(ours, qfile)
    score, sections = kv.evaluate_word_analogies(str(qfile))
    total = sections[-1]
    assert res.asked == len(total["correct"]) + len(total["incorrect"]) > 0
    assert res.correct == len(total["correct"])
    assert res.accuracy == pytest.approx(score)
