"""word2vec models: contexts/targets, gradient checks of all four models,
sparse gradients, learning on a toy corpus, and the bench's two sides."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_close
from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers import RowGrad
from zerokara.models import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram, create_contexts_target
from zerokara.optim import Adam

# book 2, chapter 3: "you say goodbye and i say hello ."
BOOK_CORPUS = np.array([0, 1, 2, 3, 4, 1, 5, 6])


def test_contexts_target_as_book_2():
    contexts, target = create_contexts_target(BOOK_CORPUS, window_size=1)
    assert contexts.tolist() == [[0, 2], [1, 3], [2, 4], [3, 1], [4, 5], [1, 6]]
    assert target.tolist() == [1, 2, 3, 4, 1, 5]


def test_contexts_target_window_2_matches_a_loop():
    corpus = np.arange(10) * 3
    contexts, target = create_contexts_target(corpus, 2)
    loop = [[corpus[i + t] for t in (-2, -1, 1, 2)] for i in range(2, 8)]
    assert contexts.tolist() == loop and target.tolist() == corpus[2:8].tolist()


@pytest.mark.parametrize("corpus,w,message", [
    (BOOK_CORPUS, 4, "window 4 needs a corpus of at least 9 words .* got 8"),
    (np.array([], dtype=np.int64), 1, "the corpus is empty"),
    (BOOK_CORPUS, 0, "window_size expected >= 1"),
])
def test_contexts_target_bad_input(corpus, w, message):
    with pytest.raises(InputError, match=message):
        create_contexts_target(corpus, w)


def tiny(cls, rng, V=7, H=3, **kw):
    if cls in (CBOW, SkipGram):
        return cls(V, H, BOOK_CORPUS, sample_size=2, rng=np.random.default_rng(3), **kw)
    return cls(V, H, rng=np.random.default_rng(3), **kw)


@pytest.mark.parametrize("cls", [SimpleCBOW, SimpleSkipGram, CBOW, SkipGram])
@pytest.mark.parametrize("window", [1, 2])
def test_gradcheck_models(rng, cls, window):
    model = tiny(cls, rng)
    for p in model.parameters().values():
        p[...] = rng.standard_normal(p.shape)  # larger than 0.01: a meaningful check
    contexts, target = create_contexts_target(np.concatenate([BOOK_CORPUS, BOOK_CORPUS]), window)
    report = gradcheck(model, contexts, target)
    assert report.ok, str(report)
    assert len(report.entries) == 2


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_negative_sampling_models_have_sparse_gradients_only(rng, cls):
    model = tiny(cls, rng, V=7, H=4)
    contexts, target = create_contexts_target(BOOK_CORPUS, 1)
    model.forward(contexts[:2], target[:2])
    model.backward()
    grads = model.gradients()
    assert set(grads) == {"embed_in.W", "ns_loss.embed_dot.W"}
    assert all(isinstance(g, RowGrad) for g in grads.values())
    used = set(contexts[:2].ravel()) if cls is CBOW else set(target[:2])
    assert set(grads["embed_in.W"].idx) == used


def test_cbow_matches_torch_with_the_same_negatives(rng):
    model = tiny(CBOW, rng, V=7, H=4)
    model.astype(np.float64)
    W_in = rng.standard_normal((7, 4))
    W_out = rng.standard_normal((7, 4))
    model.load_state_dict({"embed_in.W": W_in, "ns_loss.embed_dot.W": W_out})
    contexts, target = create_contexts_target(BOOK_CORPUS, 2)
    neg = model.ns_loss.sampler.get_negative_sample(target)
    loss = model.forward(contexts, target, neg)
    model.backward()

    a, b = torch.tensor(W_in, requires_grad=True), torch.tensor(W_out, requires_grad=True)
    ht = F.embedding(torch.from_numpy(contexts), a).mean(dim=1)
    s = (F.embedding(torch.from_numpy(np.concatenate([target[:, None], neg], 1)), b)
         * ht[:, None, :]).sum(-1)
    loss_t = (F.softplus(-s[:, 0]).sum() + F.softplus(s[:, 1:]).sum()) / len(target)
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    g = model.gradients()
    assert_close(np.asarray(g["embed_in.W"]), a.grad)
    assert_close(np.asarray(g["ns_loss.embed_dot.W"]), b.grad)


@pytest.mark.parametrize("cls", [SimpleCBOW, SimpleSkipGram, CBOW, SkipGram])
def test_models_learn_the_toy_corpus(rng, cls):
    corpus = np.tile(BOOK_CORPUS, 20)
    contexts, target = create_contexts_target(corpus, 1)
    if cls in (CBOW, SkipGram):
        model = cls(7, 5, corpus, sample_size=3, rng=np.random.default_rng(0))
    else:
        model = cls(7, 5, rng=np.random.default_rng(0))
    opt = Adam(lr=0.05)
    losses = []
    for _ in range(150):
        losses.append(model.forward(contexts, target))
        model.backward()
        opt.update(model.parameters(), model.gradients())
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert model.word_vecs.shape == (7, 5) and model.word_vecs.dtype == np.float32


def test_models_bad_batches(rng):
    model = tiny(CBOW, rng)
    with pytest.raises(InputError, match=r"CBOW: target expected shape \(2,\)"):
        model.forward(np.zeros((2, 2), dtype=int), np.zeros(3, dtype=int))
    with pytest.raises(InputError, match="Embedding: token id 9 out of range"):
        model.forward(np.array([[0, 9]]), np.array([1]))


def test_bench_word2vec_sides_do_the_same_work():
    """The zerokara and torch sides of ``word2vec-torch`` start from the same
    weights and take the same batches: their first-epoch mean losses agree
    to the noise of their different negative draws."""
    from bench import WORKLOADS
    from bench import word2vec as w2v_bench

    assert {"word2vec-gensim", "word2vec-torch"} <= set(WORKLOADS)
    pair = w2v_bench.setup_torch(scale=0.002)  # ~1,900 tokens, 18 updates
    z, p = pair.zerokara(), pair.peer()
    assert z == pytest.approx(p, rel=2e-3)
    assert pair.zerokara() == z  # a second run restores weights and generator: identical
