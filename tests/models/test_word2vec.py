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


def test_bench_word2vec_gensim_side_trains_on_the_same_words():
    """``word2vec-gensim`` gives gensim the same token stream: its vocabulary
    (min_count 1) is exactly the corpus's distinct words, and a run trains on
    them."""
    from bench import word2vec as w2v_bench

    corpus, _, _ = w2v_bench.load_corpus(scale=0.002)
    pair = w2v_bench.setup_gensim(scale=0.002)
    assert pair.notes["gensim_vocab"] == len(np.unique(corpus))
    assert np.isfinite(pair.zerokara())
    assert 0 < pair.peer() <= len(corpus)  # words trained on (fewer: gensim subsamples)


# -- shrinking windows (gensim's reduced windows) and gensim's initialisation -----

def test_window_mask_keeps_the_words_within_reach():
    from zerokara.models.word2vec import window_mask

    # window 3: columns are 3, 2, 1 words before the target, then 1, 2, 3 after
    mask = window_mask(np.array([1, 2, 3]), 6)
    assert mask.astype(int).tolist() == [[0, 0, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0], [1] * 6]


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_full_reach_is_the_book_model(rng, cls):
    """reach = w everywhere is exactly the model without reach (loss and gradients)."""
    contexts, target = create_contexts_target(np.tile(BOOK_CORPUS, 3), 2)
    a, b = tiny(cls, rng), tiny(cls, rng)
    a.astype(np.float64)
    b.astype(np.float64)
    neg = a.ns_loss.sampler.get_negative_sample(target if cls is CBOW else contexts)
    la = a.forward(contexts, target, neg)
    a.backward()
    if cls is SkipGram:
        neg = neg.reshape(-1, neg.shape[-1])  # the kept pairs, row after row
    lb = b.forward(contexts, target, neg, np.full(len(target), 2))
    b.backward()
    assert lb == pytest.approx(la, rel=1e-12)
    for k, g in a.gradients().items():
        np.testing.assert_allclose(np.asarray(b.gradients()[k]), np.asarray(g), rtol=1e-12,
                                   atol=1e-15, err_msg=k)


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_gradcheck_with_shrunk_windows(rng, cls):
    from zerokara.models.word2vec import window_mask

    model = tiny(cls, rng)
    for p in model.parameters().values():
        p[...] = rng.standard_normal(p.shape)
    contexts, target = create_contexts_target(np.tile(BOOK_CORPUS, 3), 2)
    reach = rng.integers(1, 3, size=len(target))
    assert set(reach.tolist()) == {1, 2}
    kept = target if cls is CBOW else contexts[window_mask(reach, 4)]
    neg = model.ns_loss.sampler.get_negative_sample(kept)
    report = gradcheck(model, contexts, target, neg, reach)
    assert report.ok, str(report)


def test_cbow_shrunk_window_averages_only_near_words(rng):
    """reach 1 of window 2: h is the mean of the two adjacent words, and only
    their rows of W_in get a gradient (the far words are not touched)."""
    model = tiny(CBOW, rng, V=7, H=4)
    model.astype(np.float64)
    contexts = np.array([[0, 1, 3, 4], [5, 6, 2, 0]])
    target = np.array([2, 1])
    neg = np.array([[3, 4], [5, 6]])
    model.forward(contexts, target, neg, np.array([1, 2]))
    W = model.word_vecs
    h = model.ns_loss.embed_dot.h
    np.testing.assert_allclose(h[0], (W[1] + W[3]) / 2)
    np.testing.assert_allclose(h[1], W[[5, 6, 2, 0]].mean(axis=0))
    model.backward()
    assert model.gradients()["embed_in.W"].idx.tolist() == [0, 1, 2, 3, 5, 6]  # not 4
    model.forward(contexts[:1], target[:1], neg[:1], np.array([1]))
    model.backward()
    assert model.gradients()["embed_in.W"].idx.tolist() == [1, 3]


def test_reach_bad_input(rng):
    model = tiny(CBOW, rng)
    contexts, target = create_contexts_target(BOOK_CORPUS, 2)
    with pytest.raises(InputError, match=r"reach expected values in \[1, 2\] \(the window\), got \[0, 1\]"):
        model.forward(contexts, target, None, np.array([0, 1, 1, 1]))
    with pytest.raises(InputError, match=r"reach expected integers of shape \(4,\)"):
        model.forward(contexts, target, None, np.array([1, 1]))


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_gensim_init(cls):
    model = cls(50, 20, BOOK_CORPUS, rng=np.random.default_rng(0), init="gensim")
    W_in, W_out = model.word_vecs, model.ns_loss.embed_dot.params["W"]
    assert W_in.dtype == np.float32 and np.abs(W_in).max() <= 0.5 / 20
    assert np.abs(W_in).max() > 0.9 * 0.5 / 20 and abs(W_in.mean()) < 1e-3  # U(-0.025, 0.025)
    assert not W_out.any()
    book = cls(50, 20, BOOK_CORPUS, rng=np.random.default_rng(0))
    assert book.word_vecs.std() == pytest.approx(0.01, rel=0.1)  # the default is still book 2's
    with pytest.raises(InputError, match="init expected one of"):
        cls(50, 20, BOOK_CORPUS, init="xavier")
