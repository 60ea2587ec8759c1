"""Negative sampling (book 2, chapter 4): EmbeddingDot, UnigramSampler,
NegativeSamplingLoss.

Instead of a softmax over the whole vocabulary, word2vec asks V-way
questions as a few yes/no ones: "is the target word t?" (answer yes) and "is
it one of these k sampled words?" (answer no). Each question is a score
``W_out[w] . h`` fed to a sigmoid with binary cross-entropy, so a step touches
only 1 + k rows of ``W_out`` per example, never all V of them.
"""

from __future__ import annotations

import numpy as np

from zerokara.errors import (
    InputError,
    check_array,
    check_generator,
    check_input,
    check_positive_int,
    shape_str,
)
from zerokara.layers.base import Array, Module
from zerokara.layers.core import sigmoid
from zerokara.layers.embedding import RowGrad, check_ids


class EmbeddingDot(Module):
    """Row-wise dot product of ``h`` with the rows of W that ``idx`` picks.

    Shapes:
        W: (V, D)
        forward: h (N, D), idx (N,) or (N, *K) integers -> out (N,) or (N, *K)
            with ``out[n, k] = W[idx[n, k]] . h[n]``
        backward: dout (like out) -> dh (N, D); dW as a :class:`RowGrad`

    Why ``np.sum(target_W * h, axis=1)`` (book 2, p. 149; docs/embedding-dot.md): row n of
    ``target_W = W[idx]`` is the output vector of example n's word and row n
    of ``h`` is example n's hidden vector. ``target_W * h`` multiplies them
    element by element, (N, D) * (N, D) -> (N, D), and summing along axis 1
    (across D, within each row) turns each row into one number: the dot
    product ``W[idx[n]] . h[n]``, i.e. the score of "is idx[n] the word?" for
    example n alone. axis=0 would instead mix different examples together.
    The score is a logit; the sigmoid and the loss come next, in
    :class:`NegativeSamplingLoss`. (It is the one column of ``h @ W.T`` that
    the softmax version would compute, without computing the other V - 1.)

    With idx (N, *K) (a positive and k negatives per example, or several
    context words in skip-gram) the same h[n] is broadcast over the K axes, so
    backward sums dh over them; the product is taken along the last axis (D).
    """

    # dW is a RowGrad, which stands in for the dense (V, D) array wherever one is read
    # (np.asarray, +, *=) and whose rows alone the optimizers update: duck typing on purpose
    grads: dict[str, RowGrad]  # type: ignore[assignment]

    def __init__(self, W: Array) -> None:
        super().__init__()
        check_array("EmbeddingDot", "W", W, ndim=2, expected="(V, D)")
        self.params = {"W": W}
        self.grads = {"W": RowGrad(np.zeros(0, dtype=np.intp), W[:0].copy(), W.shape)}
        self.h: Array | None = None
        self.idx: np.ndarray | None = None
        self.target_W: Array | None = None

    def forward(self, h: Array, idx: np.ndarray) -> Array:
        W = self.params["W"]
        N, D = W.shape[0], W.shape[1]
        check_input("EmbeddingDot", "h", h, ndim=2, last=D, expected=f"(N, {D})")
        check_ids("EmbeddingDot", idx, N)
        if idx.shape[0] != h.shape[0]:
            raise InputError(
                f"EmbeddingDot: idx expected shape ({h.shape[0]}, ...) to match h's "
                f"batch, got {shape_str(idx.shape)}"
            )
        n = h.shape[0]
        if idx.ndim == 1:  # book 2's case, written as the book writes it
            target_W = np.take(W, idx, axis=0)  # (N, D): row n is W[idx[n]]
            out = np.sum(target_W * h, axis=1)  # one dot product per row
            self.h, self.idx, self.target_W = h, idx, target_W
            return out
        target_W = np.take(W, idx.reshape(n, -1), axis=0)  # (N, M, D): one gather for all ids
        # the row-wise dot np.sum(target_W * h[:, None, :], axis=2), h broadcast over M;
        # einsum sums over d without the (N, M, D) product in memory
        out = np.einsum("nmd,nd->nm", target_W, h)
        self.h, self.idx, self.target_W = h, idx, target_W
        return out.reshape(idx.shape)

    def backward(self, dout: Array) -> Array:
        h, idx, target_W = self.h, self.idx, self.target_W
        assert h is not None and idx is not None and target_W is not None
        n, D = h.shape[0], h.shape[1]
        if idx.ndim == 1:
            dout = dout[:, None]  # (N, 1): the forward Sum over axis 1 repeats dout over D
            self.grads["W"] = RowGrad.accumulate(idx, dout * h, self.params["W"].shape)
            return dout * target_W
        d = dout.reshape(n, 1, -1)  # (N, 1, M)
        # dh[n] = sum_m dout[n, m] W[idx[n, m]]: h was broadcast over M, so its gradient
        # sums over M; as a batched (1, M) @ (M, D) product, which BLAS does faster than the sum
        dh = (d @ target_W)[:, 0, :]
        dtarget_W = d.reshape(n, -1, 1) * h[:, None, :]  # (N, M, D): row idx[n, m] gets dout h[n]
        self.grads["W"] = RowGrad.accumulate(
            idx.reshape(-1), dtarget_W.reshape(-1, D), self.params["W"].shape
        )
        return dh


class UnigramSampler:
    """Draws negative words with probability proportional to count ** power.

    ``power`` 0.75 (Mikolov et al.; book 2) raises the share of rare words a
    little. Negatives are drawn with replacement (as word2vec's C code, gensim
    and book 2's GPU path do) and never equal their own target: a draw that
    hits the target is redrawn, so each negative follows p restricted to the
    other words, ``p[w] / (1 - p[target])`` -- the distribution book 2's CPU
    path samples from after setting ``p[target] = 0``.

    Vectorised: one inverse-CDF lookup (``searchsorted``) draws the whole
    (N, ..., k) block; only the few collisions are redrawn, also in one call.
    """

    def __init__(
        self,
        corpus: np.ndarray,
        power: float = 0.75,
        sample_size: int = 5,
        *,
        vocab_size: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        corpus = np.asarray(corpus)
        if corpus.dtype.kind not in "iu" or corpus.ndim != 1:
            raise InputError(
                f"UnigramSampler: corpus expected a 1-d integer array, got "
                f"{corpus.dtype} {shape_str(corpus.shape)}"
            )
        if corpus.size == 0:
            raise InputError("UnigramSampler: corpus is empty; negative sampling needs word counts")
        check_positive_int("UnigramSampler", "sample_size", sample_size)
        if not isinstance(power, (int, float, np.integer, np.floating)) or not 0 <= power < np.inf:
            raise InputError(f"UnigramSampler: power expected a finite number >= 0, got {power!r}")
        check_generator("UnigramSampler", "rng", rng)
        if corpus.min() < 0:
            raise InputError(f"UnigramSampler: corpus has a negative word id {int(corpus.min())}")
        V = int(corpus.max()) + 1 if vocab_size is None else int(vocab_size)
        if corpus.max() >= V:
            raise InputError(f"UnigramSampler: corpus has word id {int(corpus.max())} >= vocab_size {V}")
        self.vocab_size, self.sample_size, self.power = V, int(sample_size), float(power)
        self.counts = np.bincount(corpus, minlength=V)
        if np.count_nonzero(self.counts) < 2:
            raise InputError(
                "UnigramSampler: the corpus has fewer than 2 distinct words; no "
                "negative can differ from its target"
            )
        p = self.counts.astype(np.float64) ** self.power
        self.p = p / p.sum()
        cdf = np.cumsum(self.p)
        self.cdf = cdf / cdf[-1]  # exactly 1.0 at the end, so a draw u < 1 always lands in range
        self.rng = rng if rng is not None else np.random.default_rng()

    def draw(self, shape: tuple[int, ...]) -> np.ndarray:
        """Words drawn from p, with replacement: int64 of ``shape``."""
        return np.searchsorted(self.cdf, self.rng.random(shape), side="right")

    def get_negative_sample(self, target: np.ndarray) -> np.ndarray:
        """target (N,) or (N, C) ids -> negatives (*target.shape, sample_size), none equal to
        its own target."""
        target = np.asarray(target)
        neg = self.draw((*target.shape, self.sample_size))
        t = target[..., None]
        bad = np.flatnonzero(neg == t)
        while bad.size:  # rarely more than one round: p[target] is a few percent at most
            tb = np.broadcast_to(t, neg.shape).reshape(-1)[bad]
            new = self.draw(bad.shape)
            neg.reshape(-1)[bad] = new
            bad = bad[new == tb]
        return neg


class NegativeSamplingLoss(Module):
    """Book 2's NegativeSamplingLoss: one positive and ``sample_size`` negative
    binary questions per target, scored by :class:`EmbeddingDot` (W_out).

    Shapes:
        W: (V, D) the output embedding
        forward: h (N, D), target (N,) or (N, C) ids -> loss ()
        backward: dout () -> dh (N, D); dW (RowGrad)

    loss = (1/N) sum_n [ -log sigmoid(s_pos) - sum_k log sigmoid(-s_neg_k) ]
    (book 2's positive SigmoidWithLoss plus one per negative, each a mean over
    the batch). A (N, C) target (skip-gram's C context words) adds the C
    losses, as book 2's SkipGram does. ``negatives`` fixes the samples
    (tests); by default they are drawn from the sampler's generator ``rng``.
    """

    def __init__(
        self,
        W: Array,
        corpus: np.ndarray,
        power: float = 0.75,
        sample_size: int = 5,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_array("NegativeSamplingLoss", "W", W, ndim=2, expected="(V, D)")
        self.sampler = UnigramSampler(corpus, power, sample_size, vocab_size=W.shape[0], rng=rng)
        self.rng = self.sampler.rng  # the same generator; visible to checkpoints and gradcheck
        self.embed_dot = EmbeddingDot(W)
        self.y: Array | None = None

    def forward(self, h: Array, target: np.ndarray, negatives: np.ndarray | None = None) -> float:
        target = check_ids("NegativeSamplingLoss", target, self.sampler.vocab_size)
        if negatives is None:
            negatives = self.sampler.get_negative_sample(target)
        elif negatives.shape[:-1] != target.shape:
            raise InputError(
                f"NegativeSamplingLoss: negatives expected shape "
                f"{shape_str(target.shape)} + (k,), got {shape_str(negatives.shape)}"
            )
        idx = np.concatenate([target[..., None], negatives], axis=-1)  # (N, [C,] 1 + k)
        s = self.embed_dot.forward(h, idx)
        # column 0 is the positive (label 1), the others negatives (label 0):
        # -log sigmoid(s) = logaddexp(0, -s) and -log(1 - sigmoid(s)) = logaddexp(0, s)
        loss = np.logaddexp(0, -s[..., 0]).sum() + np.logaddexp(0, s[..., 1:]).sum()
        self.y = sigmoid(s)
        return float(loss) / h.shape[0]

    def backward(self, dout: float = 1.0) -> Array:
        assert self.y is not None
        ds = self.y.copy()
        ds[..., 0] -= 1  # sigmoid(s) - label
        ds *= dout / ds.shape[0]
        return self.embed_dot.backward(ds)
