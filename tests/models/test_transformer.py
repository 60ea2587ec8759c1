"""TransformerSeq2seq and its layers: float64 gradient checks (every parameter, with
dropout on and with masks), the decoder's causality, greedy decoding = teacher-forced
argmax, the attention maps' shapes and order, and one-line errors for bad sizes."""

from __future__ import annotations

import numpy as np
import pytest

from zerokara.check import gradcheck
from zerokara.errors import InputError
from zerokara.layers.transformer import padding_mask
from zerokara.models.transformer import (
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    TransformerSeq2seq,
)

V, N, Tx, Ty = 7, 3, 5, 4
F64 = np.float64


def tiny(seed: int = 1, **kw) -> TransformerSeq2seq:
    sizes = {"d_model": 8, "heads": 2, "layers": 2, "d_ff": 12, "dropout": 0.0, "max_len": 6}
    return TransformerSeq2seq(V, **{**sizes, **kw}, rng=np.random.default_rng(seed), dtype=F64)


def ids(rng, *shape):
    return rng.integers(0, V, shape)


@pytest.mark.parametrize(
    "kw",
    [
        {"dropout": 0.2},  # the check replays the same masks: dropout is checked too
        {"activation": "gelu", "learned_positions": True, "reverse": True, "layers": 1},
    ],
    ids=["relu-sinusoids-dropout", "gelu-learned-reversed"],
)
def test_gradcheck_tiny_model_every_parameter(kw, rng):
    m = tiny(**kw)
    rep = gradcheck(m, ids(rng, N, Tx), ids(rng, N, Ty))
    assert rep.ok, rep
    names = {e.name for e in rep.entries}
    assert names == set(m.parameters())
    assert {"encoder.embed.W", "decoder.affine.W", "encoder.layer1.attn.Wq",
            "decoder.layer1.cross_attn.Wk", "decoder.layer1.norm3.gamma"} <= names
    if kw.get("learned_positions"):
        assert {"encoder.pos.P", "decoder.pos.P"} <= names


def test_gradcheck_encoder_layer_with_a_padding_mask(rng):
    layer = TransformerEncoderLayer(8, 2, 12, dropout=0.2, rng=np.random.default_rng(0), dtype=F64)
    x = rng.standard_normal((N, Tx, 8))
    toks = ids(rng, N, Tx)
    toks[:, 0] = 1  # every row keeps a key to look at
    mask = padding_mask(toks, 0)
    assert mask.any()
    rep = gradcheck(layer, x, mask)
    assert rep.ok, rep
    assert {e.name for e in rep.entries} >= {"x", "attn.Wv", "norm1.beta", "ffn.W1"}


def test_gradcheck_decoder_layer_with_a_memory_mask(rng):
    layer = TransformerDecoderLayer(8, 2, 12, dropout=0.2, activation="gelu",
                                    rng=np.random.default_rng(0), dtype=F64)
    x, memory = rng.standard_normal((N, Ty, 8)), rng.standard_normal((N, Tx, 8))
    mask = np.zeros((N, 1, 1, Tx), dtype=bool)
    mask[:, :, :, -2:] = True  # the memory's last two positions are padding
    rep = gradcheck(layer, x, memory, mask)
    assert rep.ok, rep
    names = {e.name for e in rep.entries}
    assert {"x", "memory", "self_attn.Wq", "cross_attn.Wk", "norm3.gamma"} <= names
    layer.forward(x, memory, mask)
    _, dmemory = layer.backward(np.ones_like(x))
    assert np.all(dmemory[:, -2:] == 0)  # nothing flows into hidden memory positions


def test_the_decoder_is_causal(rng):
    """Changing the decoder's input at step k changes the scores from step k on, never before."""
    m = tiny()
    xs, ts = ids(rng, N, Tx), ids(rng, N, 6)
    m.forward(xs, ts)
    before = m.loss.y.reshape(N, 5, V).copy()
    for k in range(1, 5):  # ts[:, k] is the decoder's input at step k
        changed = ts.copy()
        changed[:, k] = (changed[:, k] + 1) % V
        m.forward(xs, changed)
        after = m.loss.y.reshape(N, 5, V)
        np.testing.assert_array_equal(after[:, :k], before[:, :k])
        assert not np.allclose(after[:, k], before[:, k])


def test_greedy_generation_is_the_teacher_forced_argmax(rng):
    m = tiny(dropout=0.3)  # generate runs in eval mode: no dropout there
    m.decoder.affine.params["W"] *= 4  # sharper scores: the argmax varies with the input
    xs, start = ids(rng, 6, Tx), ids(rng, 6)
    drops = {k: g.bit_generator.state for k, g in m.generators().items()}
    out = m.generate(xs, start, 5)
    assert m.training and drops == {k: g.bit_generator.state for k, g in m.generators().items()}
    assert len(np.unique(out)) > 1
    m.eval()
    m.forward(xs, np.concatenate([start[:, None], out], axis=1))
    assert np.array_equal(m.loss.y.reshape(6, 5, V).argmax(axis=2), out)


def test_attention_map_shapes_and_question_order(rng):
    a, b = tiny(reverse=True), tiny()
    xs, start = ids(rng, N, Tx), ids(rng, N)
    ia, wa = a.attention_map(xs, start, 3)
    ib, wb = b.attention_map(xs[:, ::-1].copy(), start, 3)
    assert np.array_equal(ia, ib) and np.array_equal(ia, a.generate(xs, start, 3))
    assert list(wa) == ["encoder.layer1", "encoder.layer2", "decoder.layer1", "decoder.layer2"]
    assert wa["encoder.layer1"].shape == (N, 2, Tx, Tx) and wa["decoder.layer2"].shape == (N, 2, 3, Tx)
    for k in wa:
        np.testing.assert_allclose(wa[k].sum(axis=-1), 1.0)
    # weights come back in the question's own order when the encoder reads it reversed
    np.testing.assert_allclose(wa["decoder.layer1"], wb["decoder.layer1"][..., ::-1])
    np.testing.assert_allclose(wa["encoder.layer2"], wb["encoder.layer2"][:, :, ::-1, ::-1])


def test_accuracy_is_exact_match(rng):
    m = tiny()
    xs, start = ids(rng, 8, Tx), ids(rng, 8)
    ts = np.concatenate([start[:, None], m.generate(xs, start, 3)], axis=1)
    assert m.accuracy(xs, ts) == 1.0
    ts[:3, -1] = (ts[:3, -1] + 1) % V
    assert m.accuracy(xs, ts, batch=3) == pytest.approx(5 / 8)


def test_parameter_names_and_repr():
    m = TransformerSeq2seq(13, d_model=16, heads=4, layers=3, d_ff=32, rng=np.random.default_rng(0))
    shapes = {k: v.shape for k, v in m.parameters().items()}
    assert shapes["encoder.embed.W"] == (13, 16) and shapes["decoder.affine.W"] == (16, 13)
    assert shapes["encoder.layer3.ffn.W1"] == (16, 32) and "encoder.layer4.attn.Wq" not in shapes
    assert shapes["decoder.layer2.cross_attn.Wo"] == (16, 16)
    assert "encoder.pos.P" not in shapes  # sinusoids: a fixed table, not a parameter
    assert repr(m).startswith("TransformerSeq2seq(d_model=16, heads=4, layers=3, d_ff=32")
    assert all(v.dtype == np.float32 for v in m.parameters().values())


@pytest.mark.parametrize("make,message", [
    (lambda: tiny(d_model=10, heads=4), r"d_model expected a multiple of heads=4 .*got d_model=10"),
    (lambda: tiny(layers=0), "TransformerSeq2seq: layers expected a positive integer, got 0"),
    (lambda: tiny(dropout=1.0), "Dropout: p expected"),
    (lambda: tiny(activation="tanh"), "FeedForward: activation expected 'relu' or 'gelu', got 'tanh'"),
])
def test_bad_sizes_are_one_line(make, message):
    with pytest.raises(InputError, match=message) as e:
        make()
    assert "\n" not in str(e.value)


def test_too_long_questions_and_answers_are_one_line(rng):
    m = tiny()  # max_len 6
    with pytest.raises(InputError, match=r"a question \(xs\) has 7 positions; the model reads at most "
                                         r"max_len=6") as e:
        m.forward(ids(rng, N, 7), ids(rng, N, Ty))
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"the decoder's input \(ts\[:, :-1\]\) has 7 positions"):
        m.forward(ids(rng, N, Tx), ids(rng, N, 8))
    with pytest.raises(InputError, match=r"the answer \(length\) has 7 positions"):
        m.generate(ids(rng, N, Tx), ids(rng, N), 7)
    with pytest.raises(InputError, match=r"a question \(xs\) has 9 positions"):
        m.attention_map(ids(rng, N, 9), ids(rng, N), 3)
    with pytest.raises(InputError, match="token id 9 out of range"):
        m.forward(np.full((2, Tx), 9), ids(rng, 2, Ty))
