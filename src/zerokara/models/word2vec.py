"""word2vec (book 2, chapters 3-4): CBOW and skip-gram.

``SimpleCBOW`` and ``SimpleSkipGram`` score every word of the vocabulary with a
matrix product and a softmax (chapter 3): clear, and slow for a large V.
``CBOW`` and ``SkipGram`` ask negative-sampling questions instead (chapter 4):
a step touches only the rows of W_in and W_out its batch uses, and both
gradients are :class:`~zerokara.layers.embedding.RowGrad` (sparse), so the
optimizers update just those rows.

In every model the word vectors are ``embed_in.W`` (book 2's W_in), one row
per word id.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError, check_input, shape_str
from zerokara.layers import Embedding, Module, SoftmaxWithLoss
from zerokara.layers.base import Array
from zerokara.layers.negative_sampling import NegativeSamplingLoss

#: initial weights of the negative-sampling models: "book" (book 2: W_in and
#: W_out ~ 0.01 * N(0, 1)) or "gensim" (word2vec.c: W_in ~ U(-0.5/D, 0.5/D), W_out = 0)
INITS = ("book", "gensim")


def create_contexts_target(corpus: np.ndarray, window_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Book 2's ``create_contexts_target``, vectorised.

    corpus (T,) ids -> contexts (T - 2w, 2w), target (T - 2w,): the target of
    row i is ``corpus[i + w]`` and its contexts are the w words on each side,
    left to right. A corpus of 2w words or fewer has no target with a full
    window: that is an error, not an empty result.
    """
    corpus = np.asarray(corpus)
    if corpus.ndim != 1 or corpus.dtype.kind not in "iu":
        raise InputError(
            f"create_contexts_target: corpus expected a 1-d integer array, got "
            f"{corpus.dtype} {shape_str(corpus.shape)}"
        )
    if window_size < 1:
        raise InputError(f"create_contexts_target: window_size expected >= 1, got {window_size}")
    if corpus.size == 0:
        raise InputError("create_contexts_target: the corpus is empty (no words)")
    w = int(window_size)
    if corpus.size <= 2 * w:
        raise InputError(
            f"create_contexts_target: window {w} needs a corpus of at least {2 * w + 1} "
            f"words (w on each side of a target), got {corpus.size}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(corpus, 2 * w + 1)  # (T - 2w, 2w + 1) view
    contexts = np.concatenate([windows[:, :w], windows[:, w + 1 :]], axis=1)
    return contexts, corpus[w:-w].copy()


def window_mask(reach: np.ndarray, n_contexts: int) -> np.ndarray:
    """(N, C) bool: which of the C = 2w context columns lie within ``reach[n]``
    words of row n's target (columns are w..1 words before it, then 1..w after,
    as :func:`create_contexts_target` lays them out)."""
    w = n_contexts // 2
    dist = np.concatenate([np.arange(w, 0, -1), np.arange(1, w + 1)])
    return dist <= reach[:, None]


def _check_reach(model: str, reach: np.ndarray, contexts: np.ndarray) -> np.ndarray:
    """The per-row effective window (gensim's reduced window) in 1..w."""
    w = contexts.shape[1] // 2
    if (
        not isinstance(reach, np.ndarray)
        or reach.dtype.kind not in "iu"
        or reach.shape != (contexts.shape[0],)
    ):
        got = shape_str(reach.shape) if isinstance(reach, np.ndarray) else type(reach).__name__
        raise InputError(f"{model}: reach expected integers of shape ({contexts.shape[0]},), got {got}")
    if reach.min() < 1 or reach.max() > w:
        raise InputError(
            f"{model}: reach expected values in [1, {w}] (the window), got "
            f"[{int(reach.min())}, {int(reach.max())}]"
        )
    return window_mask(reach, contexts.shape[1])


def _check_pair(model: str, contexts: np.ndarray, target: np.ndarray) -> None:
    if not isinstance(contexts, np.ndarray) or contexts.ndim != 2:
        got = shape_str(contexts.shape) if isinstance(contexts, np.ndarray) else type(contexts).__name__
        raise InputError(f"{model}: contexts expected shape (N, C), got {got}")
    if not isinstance(target, np.ndarray) or target.shape != (contexts.shape[0],):
        got = shape_str(target.shape) if isinstance(target, np.ndarray) else type(target).__name__
        raise InputError(
            f"{model}: target expected shape ({contexts.shape[0]},) to match contexts, got {got}"
        )


class MatMul(Module):
    """``out = x @ W`` without a bias (book 2's MatMul).

    Shapes: W (D, H); forward x (N, D) -> out (N, H); backward dout (N, H) -> dx (N, D); dW (D, H).
    """

    def __init__(self, W: Array) -> None:
        super().__init__()
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.x: Array | None = None

    def forward(self, x: Array) -> Array:
        W = self.params["W"]
        check_input("MatMul", "x", x, ndim=2, last=W.shape[0], expected=f"(N, {W.shape[0]})")
        self.x = x
        return x @ W

    def backward(self, dout: Array) -> Array:
        assert self.x is not None
        np.matmul(self.x.T, dout, out=self.grads["W"])
        return dout @ self.params["W"].T


class _Word2Vec(Module):
    """What the four models share: W_in as an Embedding, and the word vectors."""

    embed_in: Embedding

    @property
    def word_vecs(self) -> Array:
        """(V, D) one vector per word id: W_in, as book 2 uses it."""
        return self.embed_in.params["W"]

    def _make_in(
        self,
        vocab_size: int,
        hidden_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike,
        init: str = "book",
    ) -> None:
        if vocab_size < 2 or hidden_size < 1:
            raise InputError(
                f"{type(self).__name__}: vocab_size expected >= 2 and hidden_size >= 1, "
                f"got {vocab_size} and {hidden_size}"
            )
        if init not in INITS:
            raise InputError(f"{type(self).__name__}: init expected one of {list(INITS)}, got {init!r}")
        if init == "gensim":  # word2vec.c / gensim: U(-0.5/D, 0.5/D)
            W = ((rng.random((vocab_size, hidden_size)) - 0.5) / hidden_size).astype(dtype)
        else:  # book 2: 0.01 * randn
            W = initlib.weight((vocab_size, hidden_size), rng, 0.01, dtype=dtype)
        self.embed_in = Embedding(W)

    def _make_out(
        self,
        vocab_size: int,
        hidden_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike,
        init: str = "book",
    ) -> np.ndarray:
        if init == "gensim":  # word2vec.c / gensim: W_out starts at zero
            return np.zeros((vocab_size, hidden_size), dtype=dtype)
        return initlib.weight((vocab_size, hidden_size), rng, 0.01, dtype=dtype)


class _SoftmaxWord2Vec(_Word2Vec):
    """Book 2, chapter 3's models: embed_in.W (V, H), out.W (H, V), softmax over V."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self._make_in(vocab_size, hidden_size, rng, dtype)
        self.out = MatMul(initlib.weight((hidden_size, vocab_size), rng, 0.01, dtype=dtype))
        self.loss_layer = SoftmaxWithLoss()
        self.C = 0


class SimpleCBOW(_SoftmaxWord2Vec):
    """CBOW with a softmax over the vocabulary (book 2, chapter 3).

    Shapes: embed_in.W (V, H), out.W (H, V);
    forward contexts (N, C) ids, target (N,) ids -> loss ();
    h = mean of the C context vectors (N, H); scores = h @ W_out (N, V).
    backward: the mean's gradient is dh / C, repeated to every context word.
    """

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> float:
        _check_pair("SimpleCBOW", contexts, target)
        self.C = contexts.shape[1]
        h = self.embed_in.forward(contexts).mean(axis=1)  # (N, C, H) -> (N, H)
        return self.loss_layer.forward(self.out.forward(h), target)

    def backward(self, dout: float = 1.0) -> None:
        dh = self.out.backward(self.loss_layer.backward(dout)) / self.C
        n, H = dh.shape
        self.embed_in.backward(np.broadcast_to(dh[:, None, :], (n, self.C, H)))  # undo the mean


class SimpleSkipGram(_SoftmaxWord2Vec):
    """Skip-gram with a softmax over the vocabulary (book 2, chapter 3).

    Shapes: embed_in.W (V, H), out.W (H, V);
    forward contexts (N, C) ids, target (N,) ids -> loss () = sum over the C
    context positions of the mean cross-entropy (book 2 adds l1 + l2);
    h = W_in[target] (N, H); the same scores (N, V) are used for every position.
    backward: the C positions' score gradients add up (the scores fan out C ways).
    """

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> float:
        _check_pair("SimpleSkipGram", contexts, target)
        n, self.C = contexts.shape
        s = self.out.forward(self.embed_in.forward(target))  # (N, V)
        # one softmax layer over the scores repeated per position: its mean over
        # N*C rows times C is the sum over positions of the per-position means
        return self.C * self.loss_layer.forward(np.repeat(s, self.C, axis=0), contexts.reshape(-1))

    def backward(self, dout: float = 1.0) -> None:
        ds = self.loss_layer.backward(dout * self.C)  # (N*C, V)
        ds = ds.reshape(-1, self.C, ds.shape[1]).sum(axis=1)  # s was repeated C times: sum back
        self.embed_in.backward(self.out.backward(ds))


class CBOW(_Word2Vec):
    """CBOW with negative sampling (book 2, chapter 4).

    Shapes: embed_in.W (V, H) (the word vectors), ns_loss.embed_dot.W (V, H) (W_out);
    forward contexts (N, C) ids, target (N,) ids -> loss ();
    h = mean of the C context vectors; the loss asks 1 positive and
    ``sample_size`` negative questions about the target.
    backward -> None; both gradients are RowGrads (only the rows used).

    Args: vocab_size, hidden_size; corpus (T,) ids for the sampler's counts;
    sample_size negatives per target; power of the unigram counts; rng draws
    the initial weights and then the negatives (it is checkpointed); init
    "book" or "gensim" (see ``INITS``).

    ``reach`` (N,) in forward shrinks each row's window (gensim's reduced
    windows): only the context words within ``reach[n]`` of the target count,
    h is their mean, and only their rows of W_in get a gradient.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        corpus: np.ndarray,
        *,
        sample_size: int = 5,
        power: float = 0.75,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
        init: str = "book",
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self._make_in(vocab_size, hidden_size, rng, dtype, init)
        W_out = self._make_out(vocab_size, hidden_size, rng, dtype, init)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power, sample_size, rng=rng)
        self.C = 0
        self.counts: np.ndarray | None = None

    def forward(
        self,
        contexts: np.ndarray,
        target: np.ndarray,
        negatives: np.ndarray | None = None,
        reach: np.ndarray | None = None,
    ) -> float:
        """``negatives`` (N, k) fixes the negative samples (tests); default: drawn.
        ``reach`` (N,) ints in 1..w: each row's effective window (default: all w)."""
        _check_pair("CBOW", contexts, target)
        self.C = contexts.shape[1]
        if reach is None:
            self.counts = None
            h = self.embed_in.forward(contexts).sum(axis=1)  # one gather (N, C, H), then the mean
            h *= 1.0 / self.C
            return self.ns_loss.forward(h, target, negatives)
        mask = _check_reach("CBOW", reach, contexts)
        counts = mask.sum(axis=1)  # context words per row (2 * reach when the window is full)
        e = self.embed_in.forward(contexts[mask])  # (M, H): the rows' words, row after row
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        h = np.add.reduceat(e, starts, axis=0)  # per-row sums (every row has >= 2 words)
        h /= counts[:, None].astype(h.dtype)
        self.counts = counts
        return self.ns_loss.forward(h, target, negatives)

    def backward(self, dout: float = 1.0) -> None:
        dh = self.ns_loss.backward(dout)
        if self.counts is not None:  # shrunk windows: row n's words each get dh[n] / count[n]
            dh /= self.counts[:, None].astype(dh.dtype)
            self.embed_in.backward(np.repeat(dh, self.counts, axis=0))
            return
        dh *= 1.0 / self.C
        n, H = dh.shape
        # the mean gave each context word a 1/C share of h: each gets dh / C back
        self.embed_in.backward(np.broadcast_to(dh[:, None, :], (n, self.C, H)))


class SkipGram(_Word2Vec):
    """Skip-gram with negative sampling (book 2, chapter 4).

    Shapes: as :class:`CBOW`; h = W_in[target] (N, H) predicts each of the C
    context words with its own negatives; loss () = the sum of the C losses.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        corpus: np.ndarray,
        *,
        sample_size: int = 5,
        power: float = 0.75,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
        init: str = "book",
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self._make_in(vocab_size, hidden_size, rng, dtype, init)
        W_out = self._make_out(vocab_size, hidden_size, rng, dtype, init)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power, sample_size, rng=rng)
        self.scale = 1.0

    def forward(
        self,
        contexts: np.ndarray,
        target: np.ndarray,
        negatives: np.ndarray | None = None,
        reach: np.ndarray | None = None,
    ) -> float:
        """``negatives`` (N, C, k) fixes the negative samples (tests); default: drawn.
        ``reach`` (N,) ints in 1..w: each row's effective window (default: all w);
        then ``negatives`` is (M, k), one row per (target, context) pair kept."""
        _check_pair("SkipGram", contexts, target)
        if reach is None:
            self.scale = 1.0
            h = self.embed_in.forward(target)  # (N, H)
            return self.ns_loss.forward(h, contexts, negatives)  # (N, C): the C losses add up
        mask = _check_reach("SkipGram", reach, contexts)
        # the kept (target, context) pairs as M rows; the loss stays a sum over
        # each row's context words and a mean over the N rows, as without reach
        h = self.embed_in.forward(np.repeat(target, mask.sum(axis=1)))  # (M, H)
        self.scale = h.shape[0] / target.shape[0]
        return self.scale * self.ns_loss.forward(h, contexts[mask], negatives)

    def backward(self, dout: float = 1.0) -> None:
        self.embed_in.backward(self.ns_loss.backward(dout * self.scale))


MODELS: dict[str, type[CBOW] | type[SkipGram]] = {"cbow": CBOW, "skipgram": SkipGram}
