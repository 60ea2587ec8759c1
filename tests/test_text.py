"""Count-based word vectors (book 2, chapter 2): zerokara.text against the book.

The references below are book 2's loops (``common/util.py``) transcribed as
they are; the vectorised functions must give the same matrices, cell for
cell. The toy sentence's numbers are the ones book 2 prints; on real Penn
Treebank the PPMI is checked against the loop on a sampled block of cells.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.realdata import real_data_dir
from zerokara.errors import InputError
from zerokara.text import co_occurrence, cos_similarity, ppmi, preprocess, randomized_svd, svd_vectors

TOY = "You say goodbye and I say hello."


# -- book 2's loops, as the book writes them (the references) -------------------
def create_co_matrix(corpus, vocab_size, window_size=1):
    """Book 2's ``create_co_matrix``: one pass over the corpus, window by window."""
    corpus_size = len(corpus)
    co_matrix = np.zeros((vocab_size, vocab_size), dtype=np.int32)
    for idx, word_id in enumerate(corpus):
        for i in range(1, window_size + 1):
            left_idx = idx - i
            right_idx = idx + i
            if left_idx >= 0:
                left_word_id = corpus[left_idx]
                co_matrix[word_id, left_word_id] += 1
            if right_idx < corpus_size:
                right_word_id = corpus[right_idx]
                co_matrix[word_id, right_word_id] += 1
    return co_matrix


def ppmi_loop(C, eps=1e-8, rows=None, cols=None):
    """Book 2's ``ppmi``, cell by cell (optionally only the block rows x cols,
    with N and S still taken over the whole C)."""
    rows = range(C.shape[0]) if rows is None else rows
    cols = range(C.shape[1]) if cols is None else cols
    M = np.zeros((len(rows), len(cols)), dtype=np.float32)
    N = np.sum(C)
    S = np.sum(C, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):  # the book's 0/0 for an empty row
        for a, i in enumerate(rows):
            for b, j in enumerate(cols):
                pmi = np.log2(C[i, j] * N / (S[j] * S[i]) + eps)
                M[a, b] = max(0, pmi)
    return M


def random_corpus(rng, n, vocab):
    """Zipf-like ids, so some pairs repeat many times and some never occur."""
    return np.minimum(rng.zipf(1.5, size=n) - 1, vocab - 1).astype(np.int64)


# -- preprocess -------------------------------------------------------------------
def test_preprocess_is_book_2s():
    corpus, word_to_id, id_to_word = preprocess(TOY)
    assert corpus.tolist() == [0, 1, 2, 3, 4, 1, 5, 6]
    assert corpus.dtype == np.int64 and corpus.shape == (8,)
    assert id_to_word == ["you", "say", "goodbye", "and", "i", "hello", "."]
    assert word_to_id == {w: i for i, w in enumerate(id_to_word)}


def test_preprocess_lowercases_and_splits_every_period():
    corpus, _, words = preprocess("The cat.  The DOG.\nthe end.")
    assert words == ["the", "cat", ".", "dog", "end"]
    assert corpus.tolist() == [0, 1, 2, 0, 3, 2, 0, 4, 2]


# -- co_occurrence ------------------------------------------------------------------
def test_co_occurrence_toy_is_book_2s():
    corpus, _, words = preprocess(TOY)
    C = co_occurrence(corpus, len(words), window=1)
    book = [  # book 2, section 2.3.4 (and the C printed in 2.4.1)
        [0, 1, 0, 0, 0, 0, 0],
        [1, 0, 1, 0, 1, 1, 0],
        [0, 1, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 1, 0, 0],
        [0, 1, 0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
    ]
    assert C.dtype == np.int32 and C.tolist() == book


@pytest.mark.parametrize(
    ("n", "vocab", "window"), [(1, 1, 1), (2, 3, 1), (5, 4, 7), (60, 8, 1), (200, 30, 2), (500, 50, 5)]
)
def test_co_occurrence_equals_the_books_loop(n, vocab, window):
    corpus = random_corpus(np.random.default_rng(n + window), n, vocab)
    C = co_occurrence(corpus, vocab, window)
    ref = create_co_matrix(corpus, vocab, window)
    assert C.dtype == ref.dtype and np.array_equal(C, ref)
    assert np.array_equal(C, C.T)
    # every position pairs with each word up to `window` away on either side, once each way
    assert C.sum() == 2 * sum(max(n - d, 0) for d in range(1, window + 1))


def test_co_occurrence_counts_repeats_and_unused_ids():
    corpus = np.array([2, 2, 2, 2], dtype=np.int32)  # ids 0 and 1 never occur
    C = co_occurrence(corpus, 3, window=2)
    assert np.array_equal(C, create_co_matrix(corpus, 3, 2))
    assert C[2, 2] == 10 and C.sum() == 10


# -- ppmi ---------------------------------------------------------------------------
def test_ppmi_toy_is_book_2s():
    corpus, _, words = preprocess(TOY)
    M = ppmi(co_occurrence(corpus, len(words), 1))
    book = [  # book 2, section 2.4.1, printed with np.set_printoptions(precision=3)
        [0.0, 1.807, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1.807, 0.0, 0.807, 0.0, 0.807, 0.807, 0.0],
        [0.0, 0.807, 0.0, 1.807, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.807, 0.0, 1.807, 0.0, 0.0],
        [0.0, 0.807, 0.0, 1.807, 0.0, 0.0, 0.0],
        [0.0, 0.807, 0.0, 0.0, 0.0, 0.0, 2.807],
        [0.0, 0.0, 0.0, 0.0, 0.0, 2.807, 0.0],
    ]
    assert M.dtype == np.float32
    np.testing.assert_allclose(np.round(M, 3), book, atol=1e-6)


def test_cosine_of_you_and_i_is_book_2s():
    corpus, word_to_id, _ = preprocess(TOY)
    C = co_occurrence(corpus, len(word_to_id), 1)
    # book 2, section 2.3.5: eps makes it a hair under 1/sqrt(2) = 0.7071067811865476
    assert cos_similarity(C[word_to_id["you"]], C[word_to_id["i"]]) == 0.7071067691154799


@pytest.mark.parametrize(("n", "vocab", "window"), [(2, 2, 1), (60, 8, 1), (300, 40, 2), (500, 60, 3)])
def test_ppmi_equals_the_books_loop(n, vocab, window):
    C = co_occurrence(random_corpus(np.random.default_rng(7 * n), n, vocab), vocab, window)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # unused ids give 0/0: ours must stay quiet about it
        M = ppmi(C)
    ref = ppmi_loop(C)
    assert M.dtype == np.float32 and np.array_equal(M, ref)
    assert (M >= 0).all() and np.array_equal(M, M.T)


@pytest.mark.parametrize("eps", [0.0, 1e-8, 0.5])
def test_ppmi_eps_and_float_counts_as_the_book(eps):
    rng = np.random.default_rng(3)
    C = rng.integers(0, 4, size=(12, 12)) * (rng.random((12, 12)) < 0.5)
    C[5, :] = 0  # a word that never co-occurs: S = 0 in its column
    C[:, 5] = 0
    for counts in (C.astype(np.int32), C.astype(np.float64) * 0.5):
        assert np.array_equal(ppmi(counts, eps=eps), ppmi_loop(counts, eps=eps))


def test_ppmi_on_real_ptb_equals_the_loop_on_a_sampled_block(monkeypatch):
    root = real_data_dir("ptb", ("ptb.train.txt",))
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(root))
    from zerokara.data import load_ptb

    corpus, vocab = load_ptb("train")
    V = len(vocab)
    assert (V, len(corpus)) == (10_000, 929_589)
    C = co_occurrence(corpus, V, window=2)
    assert C.sum() == 2 * (2 * len(corpus) - 3) and np.array_equal(C[:300, :300], C.T[:300, :300])
    # the loop itself on the first 20,000 words (the whole corpus would take minutes)
    head = corpus[:20_000]
    V_head = int(head.max()) + 1  # ids come in order of first appearance
    assert np.array_equal(co_occurrence(head, V_head, 2), create_co_matrix(head, V_head, 2))
    M = ppmi(C)
    rng = np.random.default_rng(0)
    # frequent words (<eos>, the, N...), the book's query words and random ones
    named = [vocab.word_to_id[w] for w in ("<eos>", "the", "N", "you", "year", "car", "toyota", "nissan")]
    rows = np.unique(np.r_[named, rng.choice(V, 40, replace=False)])
    cols = np.unique(np.r_[named, rng.choice(V, 40, replace=False)])
    block = M[np.ix_(rows, cols)]
    assert np.array_equal(block, ppmi_loop(C, rows=rows, cols=cols))
    # and where the cells with counts are, on all of M: PPMI is 0 wherever C is 0
    assert not M[C == 0].any()


# -- SVD ----------------------------------------------------------------------------
def test_randomized_svd_finds_the_top_singular_triplets():
    rng = np.random.default_rng(0)
    # a clear spectrum: 40 strong directions falling from 100 to 10, then noise
    Ub, _ = np.linalg.qr(rng.standard_normal((300, 40)))
    Vb, _ = np.linalg.qr(rng.standard_normal((200, 40)))
    A = (Ub * np.geomspace(100, 10, 40)) @ Vb.T + 0.01 * rng.standard_normal((300, 200))
    U, s, Vt = randomized_svd(A, 20, seed=1)
    exact = np.linalg.svd(A, compute_uv=False)
    assert U.shape == (300, 20) and s.shape == (20,) and Vt.shape == (20, 200)
    np.testing.assert_allclose(s, exact[:20], rtol=1e-4)
    np.testing.assert_allclose(U.T @ U, np.eye(20), atol=1e-5)
    # the same subspace as the 20 strongest directions put in
    np.testing.assert_allclose(np.linalg.svd(Ub[:, :20].T @ U, compute_uv=False), 1, atol=1e-4)
    # the signs are fixed: the largest entry of each column is positive
    assert (U[np.abs(U).argmax(axis=0), np.arange(20)] > 0).all()


def test_svd_vectors_are_seeded_float32_and_exact_when_small():
    corpus, _, words = preprocess(TOY)
    M = ppmi(co_occurrence(corpus, len(words), 1))
    U = svd_vectors(M, 2, seed=0)
    assert U.shape == (7, 2) and U.dtype == np.float32
    # 7 words: the exact SVD (np.linalg.svd, the book's fallback). The top two singular
    # values are equal (3.168), so only the plane is defined, not the axes in it
    exact_U = np.linalg.svd(M)[0][:, :2]
    np.testing.assert_allclose(U @ U.T, exact_U @ exact_U.T, atol=1e-6)
    big = ppmi(co_occurrence(random_corpus(np.random.default_rng(1), 3000, 200), 200, 2))
    a, b, c = svd_vectors(big, 10, seed=3), svd_vectors(big, 10, seed=3), svd_vectors(big, 10, seed=4)
    assert np.array_equal(a, b) and a.shape == (200, 10) and not np.array_equal(a, c)


# -- bad input: one line naming the argument, what was expected and what came ------
@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: preprocess(""), ["preprocess", "text", "at least one word"]),
        (lambda: preprocess("   \n"), ["preprocess", "text"]),
        (lambda: preprocess(None), ["preprocess", "text", "str", "NoneType"]),
        (lambda: co_occurrence(np.array([0, 1]), 2, window=0), ["co_occurrence", "window", ">= 1", "got 0"]),
        (lambda: co_occurrence(np.array([0, 1]), 0), ["co_occurrence", "vocab_size", ">= 1", "got 0"]),
        (lambda: co_occurrence(np.array([0, 5]), 3), ["co_occurrence", "corpus ids", "[0, 2]", "[0, 5]"]),
        (lambda: co_occurrence(np.array([], dtype=int), 3), ["co_occurrence", "corpus", "empty"]),
        (lambda: co_occurrence(np.array([0.5, 1.0]), 3), ["co_occurrence", "corpus", "integer", "float64"]),
        (lambda: ppmi(np.array([[1, -2], [-2, 0]])), ["ppmi", "C", "counts >= 0", "-2"]),
        (lambda: ppmi(np.ones((2, 3))), ["ppmi", "C", "square", "(2, 3)"]),
        (lambda: ppmi(np.ones((2, 2)), eps=-1), ["ppmi", "eps", "[0, 1]", "-1"]),
        (lambda: svd_vectors(np.eye(7, dtype=np.float32), 8), ["svd_vectors", "dim", "[1, 7]", "got 8"]),
        (lambda: svd_vectors(np.eye(7, dtype=np.float32), 0), ["svd_vectors", "dim", "[1, 7]", "got 0"]),
        (lambda: cos_similarity(np.ones(3), np.ones(4)), ["cos_similarity", "(3,)", "(4,)"]),
    ],
)
def test_bad_input_is_one_clear_line(call, words):
    with pytest.raises(InputError) as e:
        call()
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)
