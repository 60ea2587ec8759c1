"""Seq2seq, PeekySeq2seq, AttentionSeq2seq (+ bidirectional encoder): gradient
checks of tiny models, greedy decoding = teacher-forced argmax, input
reversal, and a small trained attention model whose year digits attend to
the year of the question."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from zerokara.check import gradcheck
from zerokara.data.sequence import parse_lines, make_date
from zerokara.errors import InputError
from zerokara.models.attention_seq2seq import AttentionSeq2seq, build_seq2seq
from zerokara.models.seq2seq import PeekySeq2seq, Seq2seq
from zerokara.optim import Adam, clip_grads

V, N, Tx, Ty = 7, 3, 5, 4

CASES = [
    ("plain", {}),
    ("plain", {"reverse": True}),
    ("peeky", {}),
    ("attention", {}),
    ("attention", {"bidirectional": True}),
    ("attention", {"bidirectional": True, "reverse": True}),
]


def tiny(kind: str, seed: int = 1, scale: float = 0.5, **kw) -> Seq2seq:
    m = build_seq2seq(kind, V, 4, 6, rng=np.random.default_rng(seed), dtype=np.float64, **kw)
    r = np.random.default_rng(seed + 1)
    for p in m.parameters().values():  # larger than book 2's init, so every path matters
        p[...] = scale * r.standard_normal(p.shape)
    return m


def ids(rng, *shape):
    return rng.integers(0, V, shape)


@pytest.mark.parametrize("kind,kw", CASES, ids=lambda v: str(v))
def test_gradcheck_tiny_models(kind, kw, rng):
    m = tiny(kind, **kw)
    rep = gradcheck(m, ids(rng, N, Tx), ids(rng, N, Ty))
    assert rep.ok, rep
    names = {e.name for e in rep.entries}
    assert "encoder.embed.W" in names and "decoder.affine.W" in names
    if kw.get("bidirectional"):
        assert {"encoder.lstm.fw.Wx", "encoder.lstm.bw.Wh"} <= names


def test_parameter_names_and_shapes():
    m = PeekySeq2seq(13, 16, 128, rng=np.random.default_rng(0))
    shapes = {k: v.shape for k, v in m.parameters().items()}
    assert shapes["decoder.lstm.Wx"] == (128 + 16, 4 * 128)  # the peek is concatenated to the input
    assert shapes["decoder.affine.W"] == (256, 13)
    a = AttentionSeq2seq(59, 16, 256, bidirectional=True, rng=np.random.default_rng(0))
    shapes = {k: v.shape for k, v in a.parameters().items()}
    assert shapes["encoder.lstm.fw.Wh"] == (128, 512) and shapes["decoder.affine.W"] == (512, 59)
    assert "bidirectional" in repr(a)


@pytest.mark.parametrize("kind,kw", CASES, ids=lambda v: str(v))
def test_greedy_generation_is_the_teacher_forced_argmax(kind, kw, rng):
    """Feeding the generated answer back with teacher forcing reproduces it step by step."""
    m = tiny(kind, scale=2.0, **kw)
    xs, start = ids(rng, 6, Tx), ids(rng, 6)
    out = m.generate(xs, start, 5)
    m.forward(xs, np.concatenate([start[:, None], out], axis=1))
    assert np.array_equal(m.loss.y.reshape(6, 5, V).argmax(axis=2), out)


def test_reverse_is_the_same_model_on_reversed_questions(rng):
    a, b = tiny("attention", reverse=True), tiny("attention")
    xs, ts = ids(rng, N, Tx), ids(rng, N, Ty)
    assert a.forward(xs, ts) == pytest.approx(b.forward(xs[:, ::-1].copy(), ts), rel=1e-12)
    ia, wa = a.attention_map(xs, ts[:, 0], 3)
    ib, wb = b.attention_map(xs[:, ::-1].copy(), ts[:, 0], 3)
    assert np.array_equal(ia, ib)
    np.testing.assert_allclose(wa, wb[:, :, ::-1])  # weights come back in the question's order


def test_accuracy_is_exact_match(rng):
    m = tiny("plain", scale=2.0)
    xs, start = ids(rng, 8, Tx), ids(rng, 8)
    out = m.generate(xs, start, 3)
    ts = np.concatenate([start[:, None], out], axis=1)
    assert m.accuracy(xs, ts) == 1.0
    ts[:3, -1] = (ts[:3, -1] + 1) % V  # one wrong character makes the whole answer wrong
    assert m.accuracy(xs, ts, batch=3) == pytest.approx(5 / 8)


def test_bad_arguments_are_clear():
    with pytest.raises(InputError, match="bidirectional encoder is an option of the attention"):
        build_seq2seq("peeky", V, 4, 6, bidirectional=True)
    with pytest.raises(InputError, match="expected an even size"):
        build_seq2seq("attention", V, 4, 7, bidirectional=True)
    with pytest.raises(InputError, match="model expected one of plain, peeky, attention"):
        build_seq2seq("transformer", V, 4, 6)
    m = tiny("plain")
    with pytest.raises(InputError, match=r"ts expected ids of shape \(2, Ty\) with Ty >= 2"):
        m.forward(np.zeros((2, Tx), dtype=np.int64), np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(InputError, match=r"xs expected integer ids of shape \(N, Tx\)"):
        m.forward(np.zeros((2, Tx)), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(InputError, match="token id 9 out of range"):
        m.forward(np.full((2, Tx), 9), np.zeros((2, 3), dtype=np.int64))


def test_attention_seq2seq_matches_the_same_model_in_torch(rng):
    """The whole model (embeddings, two LSTMs, attention, Affine, loss) against
    the bench's torch version with the same weights: loss and every gradient."""
    torch = pytest.importorskip("torch")
    from bench.seq2seq import torch_model

    m = AttentionSeq2seq(V, 16, 256, rng=np.random.default_rng(0), dtype=np.float64)
    tm = torch_model(m, V)
    xs, ts = ids(rng, 4, Tx), ids(rng, 4, Ty)
    loss = m.forward(xs, ts)
    m.backward()
    tloss = tm(torch.from_numpy(xs), torch.from_numpy(ts))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    g = {k: np.asarray(v) for k, v in m.gradients().items()}
    pairs = {"encoder.embed.W": tm.enc_embed.weight, "decoder.embed.W": tm.dec_embed.weight,
             "encoder.lstm.Wx": tm.enc_lstm.weight_ih_l0, "encoder.lstm.Wh": tm.enc_lstm.weight_hh_l0,
             "decoder.lstm.Wx": tm.dec_lstm.weight_ih_l0, "decoder.lstm.Wh": tm.dec_lstm.weight_hh_l0,
             "encoder.lstm.b": tm.enc_lstm.bias_ih_l0, "decoder.lstm.b": tm.dec_lstm.bias_ih_l0,
             "decoder.affine.W": tm.affine.weight, "decoder.affine.b": tm.affine.bias}
    for name, p in pairs.items():
        want = p.grad.numpy()
        want = want.T if name.endswith(("Wx", "Wh", "affine.W")) else want
        np.testing.assert_allclose(g[name], want, rtol=1e-9, atol=1e-13, err_msg=name)


def _one_blas_thread():
    """Small matrices: one BLAS thread is faster, and much faster on a busy machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _year_span(question: str) -> range:
    s = question.rstrip()
    return range(len(s) - 4, len(s))  # "september 27, 1994": the last four characters


def test_trained_attention_reads_the_year_from_the_year():
    """A small attention model trained for a few seconds on generated dates: the
    output's year digits put their largest weight on the question's year."""
    data = parse_lines(make_date(3000, 0, styles=(2,)))
    (x, t), (xt, tt) = data.split(test=0.1, seed=0)
    m = AttentionSeq2seq(len(data.vocab), 16, 32, reverse=True, rng=np.random.default_rng(0))
    opt, rng = Adam(0.01), np.random.default_rng(0)
    with _one_blas_thread():
        _train(m, x, t, opt, rng)
    _, w = m.attention_map(xt, tt[:, 0], tt.shape[1] - 1)  # (300, 10, 29)
    hits = [w[i, r].argmax() in _year_span(data.vocab.decode(q))
            for i, q in enumerate(xt) for r in range(4)]  # answer "1994-09-27": rows 0-3
    assert np.mean(hits) >= 0.85, np.mean(hits)
    np.testing.assert_allclose(w.sum(axis=2), 1.0, rtol=1e-5)


def _train(m, x, t, opt, rng):
    for _ in range(5):
        perm = rng.permutation(len(x))
        for i in range(0, len(x) - 31, 32):
            idx = perm[i:i + 32]
            m.forward(x[idx], t[idx])
            m.backward()
            grads = m.gradients()
            clip_grads(grads, 5.0)
            opt.update(m.parameters(), grads)
