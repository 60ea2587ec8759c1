"""EmbeddingDot, UnigramSampler and NegativeSamplingLoss: gradient checks,
PyTorch parity, the sampler's distribution and its no-target guarantee."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_close
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import EmbeddingDot, NegativeSamplingLoss, RowGrad, UnigramSampler

# ---------------------------------------------------------------------------
# EmbeddingDot
# ---------------------------------------------------------------------------


def test_embedding_dot_is_a_row_wise_dot_product(rng):
    """out[n] = W[idx[n]] . h[n] -- np.sum(target_W * h, axis=1) (why axis 1?
    docs/embedding-dot.md)."""
    W, h = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    idx = np.array([0, 3, 3, 1])
    out = EmbeddingDot(W).forward(h, idx)
    assert out.shape == (4,)
    assert_close(out, [W[i] @ h[n] for n, i in enumerate(idx)])
    assert_close(out, np.diag(h @ W[idx].T))  # the diagonal of the full product


@pytest.mark.parametrize("idx_shape", [(4,), (4, 3), (4, 2, 3)])
def test_gradcheck_embedding_dot(rng, idx_shape):
    W = rng.standard_normal((6, 3))
    idx = rng.integers(0, 6, idx_shape)
    idx.reshape(-1)[:2] = 1  # a repeated id
    report = gradcheck(EmbeddingDot(W), rng.standard_normal((4, 3)), idx)
    assert report.ok, str(report)
    assert {e.name for e in report.entries} == {"h", "W"}


@pytest.mark.parametrize("idx_shape", [(5,), (5, 4)])
def test_embedding_dot_matches_torch(rng, idx_shape):
    V, D = 7, 3
    W, h = rng.standard_normal((V, D)), rng.standard_normal((5, D))
    idx = rng.integers(0, 3, idx_shape)  # ids 0..2 only: many repeats
    dout = rng.standard_normal(idx_shape)
    layer = EmbeddingDot(W.copy())
    out = layer.forward(h, idx)
    dh = layer.backward(dout)

    Wt = torch.tensor(W, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True)
    hb = ht if len(idx_shape) == 1 else ht[:, None, :]
    out_t = (F.embedding(torch.from_numpy(idx), Wt) * hb).sum(dim=-1)
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t)
    assert_close(dh, ht.grad)
    assert isinstance(layer.grads["W"], RowGrad)
    assert_close(np.asarray(layer.grads["W"]), Wt.grad)


@pytest.mark.parametrize("make,message", [
    (lambda: (np.zeros((2, 4)), np.array([0, 1])), r"h expected shape \(N, 3\), got \(2, 4\)"),
    (lambda: (np.zeros((2, 3)), np.array([0, 1, 2])), r"idx expected shape \(2, \.\.\.\)"),
    (lambda: (np.zeros((2, 3)), np.array([0, 9])), "token id 9 out of range"),
])
def test_embedding_dot_bad_input(make, message):
    h, idx = make()
    with pytest.raises(InputError, match="EmbeddingDot: " + message):
        EmbeddingDot(np.zeros((5, 3))).forward(h, idx)


# ---------------------------------------------------------------------------
# UnigramSampler
# ---------------------------------------------------------------------------


def skewed_corpus(rng, V=30, n=5000):
    p = 1.0 / np.arange(1, V + 1)
    corpus = rng.choice(V, n, p=p / p.sum())
    corpus[:V] = np.arange(V)  # every word at least once
    return corpus


def test_sampler_probabilities_are_counts_to_the_075(rng):
    corpus = np.array([0, 0, 0, 0, 1, 1, 2])
    s = UnigramSampler(corpus, 0.75, 2)
    expected = np.array([4, 2, 1]) ** 0.75
    assert_close(s.p, expected / expected.sum())
    assert s.cdf[-1] == 1.0


def test_sampler_frequencies_match_within_five_sigma(rng):
    """Over 400,000 draws each word's frequency is within 5 standard errors
    (sqrt(p (1 - p) / n)) of counts ** 0.75 / sum: a fair sampler fails this
    with probability below 1e-5 over the 30 words."""
    s = UnigramSampler(skewed_corpus(rng), 0.75, 5, rng=np.random.default_rng(1))
    n = 400_000
    freq = np.bincount(s.draw((n,)), minlength=s.vocab_size) / n
    sigma = np.sqrt(s.p * (1 - s.p) / n)
    assert np.all(np.abs(freq - s.p) <= 5 * sigma + 1e-12), np.max(np.abs(freq - s.p) / sigma)


def test_negatives_never_equal_their_target_and_follow_p_without_it(rng):
    s = UnigramSampler(skewed_corpus(rng), 0.75, 5, rng=np.random.default_rng(2))
    target = np.zeros(100_000, dtype=np.int64)  # word 0: the most frequent, the worst case
    neg = s.get_negative_sample(target)
    assert neg.shape == (100_000, 5)
    assert not np.any(neg == 0)
    # the others keep their relative probabilities: p[w] / (1 - p[0])
    n = neg.size
    q = s.p.copy()
    q[0] = 0
    q /= q.sum()
    freq = np.bincount(neg.reshape(-1), minlength=s.vocab_size) / n
    sigma = np.sqrt(q * (1 - q) / n)
    assert np.all(np.abs(freq - q) <= 5 * sigma + 1e-12)


@pytest.mark.parametrize("shape", [(2000,), (300, 6)])
def test_random_targets_never_among_their_negatives(rng, shape):
    corpus = np.array([0] * 50 + [1] * 5 + [2])  # p[0] large: many collisions to redraw
    s = UnigramSampler(corpus, 0.75, 4, rng=rng)
    target = rng.integers(0, 3, shape)
    neg = s.get_negative_sample(target)
    assert neg.shape == (*shape, 4)
    assert not np.any(neg == target[..., None])
    assert neg.min() >= 0 and neg.max() <= 2


@pytest.mark.parametrize("corpus,message", [
    (np.array([], dtype=np.int64), "corpus is empty"),
    (np.array([3, 3, 3]), "fewer than 2 distinct words"),
    (np.array([0.5, 1.0]), "1-d integer array"),
])
def test_sampler_bad_corpus(corpus, message):
    with pytest.raises(InputError, match=message):
        UnigramSampler(corpus)


# ---------------------------------------------------------------------------
# NegativeSamplingLoss
# ---------------------------------------------------------------------------


def ns_loss(rng, V=8, D=3, k=3):
    return NegativeSamplingLoss(rng.standard_normal((V, D)), skewed_corpus(rng, V, 200), 0.75, k,
                                rng=np.random.default_rng(7))


@pytest.mark.parametrize("target_shape", [(4,), (4, 3)])
def test_gradcheck_negative_sampling_loss_fixed_negatives(rng, target_shape):
    layer = ns_loss(rng)
    target = rng.integers(0, 8, target_shape)
    negatives = layer.sampler.get_negative_sample(target)
    report = gradcheck(layer, rng.standard_normal((4, 3)), target, negatives)
    assert report.ok, str(report)


def test_gradcheck_negative_sampling_loss_replays_the_sampler(rng):
    """Without explicit negatives the layer draws them; gradcheck resets the
    generator before each forward, so every evaluation sees the same ones."""
    report = gradcheck(ns_loss(rng), rng.standard_normal((5, 3)), rng.integers(0, 8, 5))
    assert report.ok, str(report)


@pytest.mark.parametrize("target_shape", [(6,), (6, 2)])
def test_negative_sampling_loss_matches_torch(rng, target_shape):
    layer = ns_loss(rng)
    W = layer.embed_dot.params["W"].copy()
    h = rng.standard_normal((6, 3)) * 3
    target = rng.integers(0, 8, target_shape)
    neg = layer.sampler.get_negative_sample(target)
    loss = layer.forward(h, target, neg)
    dh = layer.backward()

    Wt, ht = torch.tensor(W, requires_grad=True), torch.tensor(h, requires_grad=True)
    idx = torch.from_numpy(np.concatenate([target[..., None], neg], axis=-1))
    hb = ht[:, None, :] if len(target_shape) == 1 else ht[:, None, None, :]
    s = (F.embedding(idx, Wt) * hb).sum(-1)
    labels = torch.zeros_like(s)
    labels[..., 0] = 1
    # book 2: one SigmoidWithLoss (a batch mean) per question, added up
    loss_t = F.binary_cross_entropy_with_logits(s, labels, reduction="sum") / 6
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    assert_close(dh, ht.grad)
    assert_close(np.asarray(layer.embed_dot.grads["W"]), Wt.grad)


def test_negative_sampling_loss_bad_negatives(rng):
    layer = ns_loss(rng)
    with pytest.raises(InputError, match=r"negatives expected shape \(4,\) \+ \(k,\)"):
        layer.forward(rng.standard_normal((4, 3)), np.arange(4), np.zeros((3, 2), dtype=int))
