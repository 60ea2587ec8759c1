"""Count-based word vectors (book 2, chapter 2): words -> ids -> counts -> PPMI -> SVD.

The distributional hypothesis says a word is known by the company it keeps.
Chapter 2 turns that into numbers in four steps, each a function here:

* :func:`preprocess` -- a sentence into word ids (book 2's ``preprocess``);
* :func:`co_occurrence` -- how often each pair of words stands within
  ``window`` words of each other: the (V, V) matrix C (``create_co_matrix``);
* :func:`ppmi` -- positive pointwise mutual information, which discounts the
  pairs that are frequent only because their words are (``ppmi``);
* :func:`svd_vectors` -- a truncated SVD that squeezes a PPMI row of V mostly
  zero numbers into ``dim`` dense ones (``randomized_svd``).

Book 2 writes the first three as Python loops over the corpus and over every
(i, j) cell; on Penn Treebank (V = 10,000: 10^8 cells) its ``ppmi`` takes
minutes. Here they are whole-array NumPy and give the same matrices
(tests/test_text.py checks them against a transcription of the book's loops).

Memory: C and the PPMI matrix are dense like the book's, 4 bytes a cell each,
so 400 MB apiece for V = 10,000; both grow as V^2. Only the cells of pairs
that occurred are ever computed (a pair that never occurred has PPMI 0), so
the work grows with the number of distinct pairs, not with V^2.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from zerokara.errors import InputError, shape_str

__all__ = [
    "preprocess",
    "co_occurrence",
    "ppmi",
    "cos_similarity",
    "randomized_svd",
    "svd_vectors",
]


def _check_int(fn: str, arg: str, value: object, low: int, high: int | None = None, why: str = "") -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        n = int(value)
        if n >= low and (high is None or n <= high):
            return n
    want = f">= {low}" if high is None else f"in [{low}, {high}]"
    raise InputError(f"{fn}: {arg} expected an integer {want}{why}, got {value!r}")


#: book 2's sentence (chapters 2 and 3): "You say goodbye and I say hello."
BOOK2_SENTENCE = "You say goodbye and I say hello."


def preprocess(text: str) -> tuple[np.ndarray, dict[str, int], list[str]]:
    """Book 2's ``preprocess``: lower-case the text, split the period off as a
    word of its own, give each word an id in order of first appearance.

    Returns ``(corpus, word_to_id, id_to_word)``: corpus (N,) int64 ids, one per
    word of the text; ``id_to_word[i]`` is the word of id i (a list here; the
    book's dict is indexed the same way).

        >>> corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
        >>> corpus
        array([0, 1, 2, 3, 4, 1, 5, 6])
        >>> id_to_word
        ['you', 'say', 'goodbye', 'and', 'i', 'hello', '.']

    Words are split on any run of whitespace (the book splits on single
    spaces, which makes empty "words" of double spaces and keeps line ends
    inside words); on text with single spaces the two agree.
    """
    if not isinstance(text, str):
        raise InputError(f"preprocess: text expected a str, got {type(text).__name__}")
    words = text.lower().replace(".", " .").split()
    if not words:
        raise InputError(f"preprocess: text expected at least one word, got {text!r}")
    word_to_id: dict[str, int] = {}
    for w in words:
        word_to_id.setdefault(w, len(word_to_id))
    corpus = np.array([word_to_id[w] for w in words], dtype=np.int64)
    return corpus, word_to_id, list(word_to_id)


def co_occurrence(corpus: np.ndarray, vocab_size: int, window: int = 1) -> np.ndarray:
    """The co-occurrence matrix C (V, V) of ``corpus`` (N,) ids in [0, V):
    C[w, c] counts the positions where word c stands 1..``window`` words to
    the left or the right of word w (book 2's ``create_co_matrix``). C is
    symmetric; int32 (as the book's), int64 if a count would not fit.

    Vectorised: for each distance d the pairs (corpus[:-d], corpus[d:]) are
    all the (left, right) neighbours at once; each pair is turned into the
    flat cell index ``w * V + c`` (both ways round), equal cells are counted
    with one sort (``np.unique``) and added in one step. The loop runs over
    the ``window`` distances, never over the corpus.
    """
    V = _check_int("co_occurrence", "vocab_size", vocab_size, 1)
    window = _check_int("co_occurrence", "window", window, 1)
    corpus = np.asarray(corpus)
    if corpus.ndim != 1 or corpus.dtype.kind not in "iu":
        raise InputError(
            f"co_occurrence: corpus expected a (N,) array of integer word ids, "
            f"got shape {shape_str(corpus.shape)} dtype {corpus.dtype}"
        )
    if len(corpus) == 0:
        raise InputError("co_occurrence: corpus expected at least one word id, got an empty array")
    lo, hi = int(corpus.min()), int(corpus.max())
    if lo < 0 or hi >= V:
        raise InputError(
            f"co_occurrence: corpus ids expected in [0, {V - 1}] (vocab_size {V}), got ids in [{lo}, {hi}]"
        )
    ids = corpus.astype(np.int64)
    keys = []
    for d in range(1, min(window, len(ids) - 1) + 1):
        left, right = ids[:-d], ids[d:]
        keys += [left * V + right, right * V + left]  # c to the right of w, and w to the left of c
    C = np.zeros((V, V), dtype=np.int32)
    if keys:
        cells, counts = np.unique(np.concatenate(keys), return_counts=True)
        if counts.max() > np.iinfo(np.int32).max:
            C = C.astype(np.int64)
        C.reshape(-1)[cells] = counts
    return C


def ppmi(C: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Positive pointwise mutual information M (V, V) float32 of counts C (V, V):

        M[i, j] = max(0, log2(C[i, j] * N / (S[i] * S[j]) + eps)),
        N = C.sum(),  S = C.sum(axis=0)

    exactly book 2's ``ppmi`` (eps inside the logarithm, keeping log2(0) =
    -inf away; every term computed in float64 and stored in float32 as the
    book does, so the two matrices are equal cell for cell).

    PMI compares how often i and j occur together with how often they would
    by chance given their own frequencies: "the" sits next to "car" often only
    because "the" sits next to everything, and PMI scores that low. Negative
    PMI (rarer than chance) is noisy on a small corpus, so it is cut to 0.

    Vectorised, and sparse inside: a pair that never occurred (C[i, j] = 0)
    gets log2(eps) < 0, hence 0, so only the cells with C > 0 are computed
    (0.96% of them on Penn Treebank with window 2). A row or column with no
    counts at all (S = 0) gives 0, as the book's ``max(0, nan)`` does.
    """
    C = np.asarray(C)
    if C.ndim != 2 or C.shape[0] != C.shape[1] or C.size == 0:
        raise InputError(f"ppmi: C expected a square (V, V) matrix of counts, got shape {shape_str(C.shape)}")
    if C.dtype.kind not in "iuf":
        raise InputError(f"ppmi: C expected integer or float counts, got dtype {C.dtype}")
    if C.dtype.kind == "f" and not np.isfinite(C).all():
        raise InputError("ppmi: C expected finite counts, got NaN or inf")
    if (low := C.min()) < 0:
        raise InputError(f"ppmi: C expected counts >= 0, got a count of {low}")
    if not 0 <= eps <= 1:
        raise InputError(f"ppmi: eps expected in [0, 1] (a guard inside log2), got {eps!r}")
    wide = np.float64 if C.dtype.kind == "f" else np.int64  # the book's sums: int64 (exact) for counts
    N = C.sum(dtype=wide)
    S = C.sum(axis=0, dtype=wide)
    M = np.zeros(C.shape, dtype=np.float32)
    i, j = np.nonzero(C)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log2(C[i, j].astype(wide) * N / (S[j] * S[i]) + eps)
    M[i, j] = np.fmax(pmi, 0.0)  # fmax: NaN (S = 0) -> 0, like the book's max(0, nan)
    return M


def cos_similarity(x: np.ndarray, y: np.ndarray, eps: float = 1e-8) -> float:
    """Book 2's ``cos_similarity``: x . y / ((|x| + eps) (|y| + eps)) of two
    (D,) vectors; eps keeps an all-zero vector from dividing by zero (and makes
    the book's cosine of "you" and "i" 0.7071067691154799, not 1/sqrt(2))."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 1 or x.shape != y.shape:
        raise InputError(
            f"cos_similarity: x and y expected two (D,) vectors of one length, "
            f"got shapes {shape_str(x.shape)} and {shape_str(y.shape)}"
        )
    nx = x / (np.sqrt(np.sum(x**2)) + eps)
    ny = y / (np.sqrt(np.sum(y**2)) + eps)
    return float(np.dot(nx, ny))


def _orthonormal(Y: np.ndarray) -> np.ndarray:
    """An orthonormal basis (m, l) of the columns of Y (m, l): QR's Q. With one
    BLAS thread: LAPACK's QR of a tall, thin matrix is a chain of small steps,
    and with two threads on a busy machine each step waits for the other
    thread (measured: 0.04-0.1 s with one thread, 1-4 s with two)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.qr(Y)[0]


def randomized_svd(
    A: np.ndarray, k: int, *, seed: int = 0, n_iter: int = 5, oversample: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top ``k`` singular triplets of A (m, n): ``(U (m, k), s (k,), Vt (k, n))``,
    A ~= U @ diag(s) @ Vt, by Halko, Martinsson & Tropp's randomized range
    finder (2011) -- what scikit-learn's ``randomized_svd`` (book 2's choice) does:

    1. Q = A @ G for a random Gaussian G (n, k + oversample): Q's columns span
       (almost) the space A's top k singular vectors span;
    2. ``n_iter`` power iterations Q <- A @ (A.T @ Q) sharpen that (each
       re-orthonormalised by QR, so the small directions are not lost);
    3. the exact SVD of the small (k + oversample, n) matrix Q.T @ A gives U = Q @ U_small.

    Cost: 2 n_iter + 2 products of A with a thin (n, k + oversample) block --
    for V = 10,000, k = 100 and n_iter = 5, twelve BLAS calls of 10^10
    multiply-adds, seconds, where the full SVD of the (V, V) matrix costs
    ~V^3 (minutes) and needs several more (V, V) arrays. When k + oversample
    reaches the smaller side of A the sketch would be all of A, and the exact
    SVD (``np.linalg.svd``, book 2's fallback) is used instead.

    Accuracy: the top singular values come out to float32 precision; where
    many of them crowd together (PTB's 90th to 110th all lie between 106 and
    109) a few power iterations leave the last directions mixed with their
    neighbours just past k, so the smallest of the k values come out a few
    percent low. scikit-learn's ``randomized_svd`` with the book's
    ``n_iter=5`` does the same (docs/count-based.md has the figures).

    Computed in float32 (A is converted if it is not). The signs are fixed as
    scikit-learn's ``svd_flip`` fixes them (the largest entry of each column
    of U is positive), so a seed gives one answer.
    """
    A = np.asarray(A)
    if A.ndim != 2 or A.size == 0 or A.dtype.kind not in "iuf":
        raise InputError(
            f"randomized_svd: A expected a non-empty (m, n) numeric matrix, "
            f"got shape {shape_str(A.shape)} dtype {A.dtype}"
        )
    small = min(A.shape)
    k = _check_int("randomized_svd", "k", k, 1, small, " (at most the smaller side of A)")
    n_iter = _check_int("randomized_svd", "n_iter", n_iter, 0)
    oversample = _check_int("randomized_svd", "oversample", oversample, 0)
    A = A if A.dtype == np.float32 else A.astype(np.float32)
    if k + oversample >= small:  # the sketch would be all of A: the exact SVD is cheaper
        with threadpool_limits(limits=1, user_api="blas"):
            U, s, Vt = np.linalg.svd(A, full_matrices=False)
        U = U[:, :k]
    else:
        rng = np.random.default_rng(seed)
        Q = A @ rng.standard_normal((A.shape[1], k + oversample), dtype=np.float32)
        for _ in range(n_iter):
            Q = A.T @ _orthonormal(Q)
            Q = A @ _orthonormal(Q)
        Q = _orthonormal(Q)  # (m, k + oversample): an orthonormal basis of A's top range
        B = Q.T @ A
        with threadpool_limits(limits=1, user_api="blas"):
            U_small, s, Vt = np.linalg.svd(B, full_matrices=False)
        U = Q @ U_small[:, :k]
    sign = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(k)])
    sign[sign == 0] = 1
    return U * sign, s[:k], Vt[:k] * sign[:, None]


def svd_vectors(M: np.ndarray, dim: int, seed: int = 0, *, n_iter: int = 5) -> np.ndarray:
    """Word vectors (V, dim) float32 from a PPMI matrix M (V, V): the first
    ``dim`` left singular vectors U of M, as book 2 takes them
    (``U, S, V = randomized_svd(W, n_components=wordvec_size, n_iter=5)``;
    ``word_vecs = U``).

    Why a randomized SVD written here (:func:`randomized_svd`, twenty lines of
    NumPy) rather than scikit-learn's (an extra dependency for one function)
    or SciPy's ``svds`` (SciPy comes only with gensim, in the test extra):
    measured on PTB's (10,000, 10,000) float32 PPMI on the 2-core machine,
    this one takes about 5 s, scikit-learn's ``randomized_svd`` (book 2's
    call, n_iter=5) 12 s, and SciPy's exact ``svds`` (ARPACK) 13 s on a
    sparse copy of M and 69 s on the dense M. Its top singular values equal
    ARPACK's; the last of the 100 are a few percent low, like
    scikit-learn's (see :func:`randomized_svd`). The word vectors it gives
    score 3.8-4.5% on the analogy questions over five seeds (scikit-learn's
    3.7-4.1%, the exact SVD's 4.8%).

    Memory: the dense M (400 MB at V = 10,000; no copy if it is float32
    already) and a few (V, dim + 10) blocks.
    """
    M = np.asarray(M)
    if M.ndim != 2 or M.shape[0] == 0:
        raise InputError(f"svd_vectors: M expected a (V, V) matrix, got shape {shape_str(M.shape)}")
    dim = _check_int("svd_vectors", "dim", dim, 1, min(M.shape), " (at most the vocabulary size)")
    U, _, _ = randomized_svd(M, dim, seed=seed, n_iter=n_iter)
    return U.astype(np.float32, copy=False)
