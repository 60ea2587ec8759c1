"""Misuse of a layer or model is one clear InputError (issue 19, "nothing silent"):
backward before forward, a dout whose shape is not the forward output's, and
constructor sizes and ratios out of range. Each message names the class and the argument.

Every class with a backward in ``zerokara.layers`` and ``zerokara.models`` is found by
walking the packages; it is built from the gradient check's examples
(:data:`zerokara.check.examples.EXAMPLES`) or from ``EXTRA`` below, and
:func:`test_every_layer_and_model_is_covered` fails for a class found in neither, so a
new layer is covered by registering it once, without a new test.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import zerokara.layers
import zerokara.models
from zerokara.check.examples import DEFAULT_SIZES, EXAMPLES
from zerokara.errors import InputError
from zerokara.layers import (
    GRU,
    LSTM,
    RNN,
    Affine,
    Attention,
    AttentionWeight,
    BatchNorm,
    Convolution,
    Dropout,
    Embedding,
    EmbeddingDot,
    Im2colConvolution,
    Module,
    NegativeSamplingLoss,
    Pooling,
    ReLU,
    Sequential,
    SimpleConvolution,
    SimpleGRU,
    SimpleLSTM,
    SimplePooling,
    SimpleRNN,
    SimpleTimeGRU,
    SimpleTimeLSTM,
    SimpleTimeRNN,
    Tanh,
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    UnigramSampler,
    WeightSum,
)
from zerokara.models import (
    BetterRnnlm,
    DeepConvNet,
    Rnnlm,
    SimpleRnnlm,
)
from zerokara.models.cnn import ConvClassifier
from zerokara.models.mlp import Classifier
from zerokara.models.rnnlm import LanguageModel
from zerokara.models.attention_seq2seq import AttentionDecoder, AttentionEncoder, AttentionSeq2seq
from zerokara.models.seq2seq import (
    Decoder,
    Encoder,
    PeekyDecoder,
    PeekySeq2seq,
    Seq2seq,
)
from zerokara.models.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    TransformerSeq2seq,
)
from zerokara.models.word2vec import CBOW, MatMul, SimpleCBOW, SimpleSkipGram, SkipGram

F64 = np.float64
N, T, D, H, V = 3, 4, 5, 6, 8
Build = Callable[[np.random.Generator], tuple[Module, tuple]]


# -- the registry: every class with a backward, built small ------------------------------------
def _seq(r: np.random.Generator, d: int = D) -> np.ndarray:
    return r.standard_normal((N, T, d))


def _ids(r: np.random.Generator, *shape: int) -> np.ndarray:
    return r.integers(0, V, shape)


def _cell(cls: Any, states: int) -> Build:
    return lambda r: (
        cls.create(D, H, r, dtype=F64),
        (r.standard_normal((N, D)), *(r.standard_normal((N, H)) for _ in range(states))),
    )


def _time(cls: Any) -> Build:
    """A fresh Time layer (the examples' carry a state in, which runs a forward)."""
    return lambda r: (cls.create(D, H, r, dtype=F64), (_seq(r),))


def _s2s(cls: Any, **kw: Any) -> Build:
    return lambda r: (cls(V, 4, H, rng=r, dtype=F64, **kw), (_ids(r, N, 5), _ids(r, N, 4)))


CORPUS = np.arange(40) % V

#: classes the gradient check's examples do not build (or build only after a forward)
EXTRA: dict[str, Build] = {
    "SimpleRNN": _cell(SimpleRNN, 1),
    "SimpleLSTM": _cell(SimpleLSTM, 2),
    "SimpleGRU": _cell(SimpleGRU, 1),
    "TimeRNN": _time(TimeRNN),
    "TimeLSTM": _time(TimeLSTM),
    "TimeGRU": _time(TimeGRU),
    "SimpleTimeRNN": _time(SimpleTimeRNN),
    "SimpleTimeLSTM": _time(SimpleTimeLSTM),
    "SimpleTimeGRU": _time(SimpleTimeGRU),
    "AttentionWeight": lambda r: (AttentionWeight(), (_seq(r), r.standard_normal((N, D)))),
    "WeightSum": lambda r: (WeightSum(), (_seq(r), r.random((N, T)))),
    "Attention": lambda r: (Attention(), (_seq(r), r.standard_normal((N, D)))),
    "Sequential": lambda r: (
        Sequential(Affine.create(D, H, r, dtype=F64), Tanh()),
        (r.standard_normal((N, D)),),
    ),
    "NegativeSamplingLoss": lambda r: (
        NegativeSamplingLoss(r.standard_normal((V, D)), CORPUS, sample_size=2, rng=r),
        (r.standard_normal((N, D)), _ids(r, N)),
    ),
    "SimpleConvolution": lambda r: (
        SimpleConvolution.create(2, 3, 3, 3, r, pad=1, dtype=F64),
        (r.standard_normal((N, 2, 4, 5)),),
    ),
    "Im2colConvolution": lambda r: (
        Im2colConvolution.create(2, 3, 3, 3, r, pad=1, dtype=F64),
        (r.standard_normal((N, 2, 4, 5)),),
    ),
    "SimplePooling": lambda r: (SimplePooling(2, 2, stride=2), (r.standard_normal((N, 2, 4, 4)),)),
    "MatMul": lambda r: (MatMul(r.standard_normal((D, V))), (r.standard_normal((N, D)),)),
    "SimpleCBOW": lambda r: (SimpleCBOW(V, H, rng=r, dtype=F64), (_ids(r, N, 2), _ids(r, N))),
    "SimpleSkipGram": lambda r: (SimpleSkipGram(V, H, rng=r, dtype=F64), (_ids(r, N, 2), _ids(r, N))),
    "CBOW": lambda r: (CBOW(V, H, CORPUS, sample_size=2, rng=r, dtype=F64), (_ids(r, N, 2), _ids(r, N))),
    "SkipGram": lambda r: (
        SkipGram(V, H, CORPUS, sample_size=2, rng=r, dtype=F64),
        (_ids(r, N, 2), _ids(r, N)),
    ),
    "DeepConvNet": lambda r: (
        DeepConvNet((1, 12, 12), hidden_size=4, output_size=3, rng=r, dtype=F64),
        (r.standard_normal((2, 1, 12, 12)), r.integers(0, 3, 2)),
    ),
    "SimpleRnnlm": lambda r: (SimpleRnnlm(V, 4, H, rng=r, dtype=F64), (_ids(r, N, T), _ids(r, N, T))),
    "Rnnlm": lambda r: (Rnnlm(V, 4, H, rng=r, dtype=F64), (_ids(r, N, T), _ids(r, N, T))),
    "BetterRnnlm": lambda r: (BetterRnnlm(V, H, H, rng=r, dtype=F64), (_ids(r, N, T), _ids(r, N, T))),
    "Encoder": lambda r: (Encoder(V, 4, H, r, F64), (_ids(r, N, 5),)),
    "AttentionEncoder": lambda r: (AttentionEncoder(V, 4, H, r, F64), (_ids(r, N, 5),)),
    "Decoder": lambda r: (Decoder(V, 4, H, r, F64), (_ids(r, N, 3), r.standard_normal((N, H)))),
    "PeekyDecoder": lambda r: (PeekyDecoder(V, 4, H, r, F64), (_ids(r, N, 3), r.standard_normal((N, H)))),
    "AttentionDecoder": lambda r: (
        AttentionDecoder(V, 4, H, r, F64),
        (_ids(r, N, 3), r.standard_normal((N, 5, H)), r.standard_normal((N, H))),
    ),
    "Seq2seq": _s2s(Seq2seq),
    "PeekySeq2seq": _s2s(PeekySeq2seq),
    "AttentionSeq2seq": _s2s(AttentionSeq2seq, bidirectional=True),
    "TransformerEncoderLayer": lambda r: (TransformerEncoderLayer(4, 2, H, rng=r, dtype=F64), (_seq(r, 4),)),
    "TransformerDecoderLayer": lambda r: (
        TransformerDecoderLayer(4, 2, H, rng=r, dtype=F64),
        (_seq(r, 4), r.standard_normal((N, 5, 4))),
    ),
    "TransformerEncoder": lambda r: (TransformerEncoder(V, 4, 2, H, 1, rng=r, dtype=F64), (_ids(r, N, 5),)),
    "TransformerDecoder": lambda r: (
        TransformerDecoder(V, 4, 2, H, 1, rng=r, dtype=F64),
        (_ids(r, N, 3), r.standard_normal((N, 5, 4))),
    ),
    "TransformerSeq2seq": lambda r: (
        TransformerSeq2seq(V, 4, 2, 1, H, rng=r, dtype=F64),
        (_ids(r, N, 5), _ids(r, N, 4)),
    ),
}


def _example(name: str) -> Build:
    return lambda r: EXAMPLES[name][1](dict(DEFAULT_SIZES), r)


#: every buildable case by name: the gradient check's examples, then EXTRA
CASES: dict[str, Build] = {**{f"example:{k}": _example(k) for k in EXAMPLES}, **EXTRA}

#: public bases that are not used on their own (no network until a subclass makes one)
ABSTRACT = {Classifier, ConvClassifier, LanguageModel}


def _classes_with_backward() -> set[type]:
    """Every public Module subclass defined in zerokara.layers and zerokara.models that
    has a backward of its own or inherited (Module's own is only the protocol)."""
    found: set[type] = set()
    for pkg in (zerokara.layers, zerokara.models):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            mod = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(mod, inspect.isclass):
                if (
                    cls.__module__ == mod.__name__
                    and issubclass(cls, Module)
                    and not cls.__name__.startswith("_")
                    and cls.backward is not Module.backward
                ):
                    found.add(cls)
    return found - ABSTRACT


def _built_classes() -> dict[type, str]:
    out: dict[type, str] = {}
    for name, build in CASES.items():
        out.setdefault(type(build(np.random.default_rng(0))[0]), name)
    return out


def _fresh_case_per_class() -> list[tuple[str, Build]]:
    """One case per class, built without a forward having run (EXTRA wins over the examples,
    whose Time layers carry a state in)."""
    by_class: dict[type, tuple[str, Build]] = {}
    for name, build in [*EXTRA.items(), *((f"example:{k}", _example(k)) for k in EXAMPLES)]:
        by_class.setdefault(type(build(np.random.default_rng(0))[0]), (name, build))
    return sorted(by_class.values())


def _run(build: Build, seed: int = 0) -> tuple[Module, tuple, tuple]:
    """(module, inputs, forward's outputs as a tuple), forward having run once."""
    m, inputs = build(np.random.default_rng(seed))
    out = m.forward(*inputs)
    return m, inputs, out if isinstance(out, tuple) else (out,)


def _douts(outs: tuple) -> list[Any]:
    return [1.0 if np.ndim(o) == 0 else np.ones(np.shape(o)) for o in outs]


def _backward_names(m: Module) -> list[str]:
    return list(inspect.signature(type(m).backward).parameters)[1:]


# -- coverage ------------------------------------------------------------------------------------
def test_every_layer_and_model_is_covered():
    missing = _classes_with_backward() - set(_built_classes())
    assert not missing, (
        f"no misuse case builds {sorted(c.__name__ for c in missing)}: add it to "
        "zerokara.check.examples.EXAMPLES (it then has a gradient check too) or to EXTRA here"
    )


# -- backward before forward ---------------------------------------------------------------------
@pytest.mark.parametrize("name,build", _fresh_case_per_class(), ids=lambda v: v if isinstance(v, str) else "")
def test_backward_before_forward_is_refused(name, build):
    _, _, outs = _run(build)  # a twin that ran forward gives douts of the right shapes
    fresh, _ = build(np.random.default_rng(0))
    cls = type(fresh).__name__
    with pytest.raises(InputError, match=rf"^{cls}\.backward: called before forward; expected forward\("):
        fresh.backward(*_douts(outs))


def test_backward_after_a_forward_that_raised_is_refused(rng):
    a = Affine.create(4, 3, rng, dtype=F64)
    a.forward(rng.standard_normal((2, 4)))
    with pytest.raises(InputError, match=r"Affine: x expected shape \(N, 4\)"):
        a.forward(rng.standard_normal((2, 5)))
    with pytest.raises(InputError, match=r"^Affine\.backward: the last forward\(x\) raised an error"):
        a.backward(np.ones((2, 3)))


def test_dropout_backward_before_forward_no_longer_passes_dout_through():
    # it used to return dout unchanged (no mask yet): a silent wrong gradient
    with pytest.raises(InputError, match=r"^Dropout\.backward: called before forward"):
        Dropout(0.5).backward(np.ones((2, 3)))


# -- dout shapes -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_backward_with_the_right_douts_runs(name):
    m, _, outs = _run(CASES[name])
    m.backward(*_douts(outs))


def _wrong_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """A shape off by one in the last axis, and (where NumPy would broadcast it silently)
    one with a single row."""
    if not shape:
        return [(3,), (1,)]
    out = [(*shape[:-1], shape[-1] + 1)]
    if shape[0] > 1:
        out.append((1, *shape[1:]))
    return out


def _dout_cases() -> list[tuple[str, int, tuple[int, ...]]]:
    cases = []
    for name in CASES:
        _, _, outs = _run(CASES[name])
        for i, o in enumerate(outs):
            for bad in _wrong_shapes(np.shape(o)):
                cases.append((name, i, bad))
    return cases


@pytest.mark.parametrize("name,i,bad", _dout_cases())
def test_dout_of_another_shape_is_refused(name, i, bad):
    m, _, outs = _run(CASES[name])
    douts = _douts(outs)
    douts[i] = np.ones(bad)
    cls, arg = type(m).__name__, _backward_names(m)[i]
    want = np.shape(outs[i])
    expected = "a number" if want == () else re.escape(f"shape {want}")
    with pytest.raises(InputError, match=rf"^{cls}\.backward: {arg} expected {expected}") as e:
        m.backward(*douts)
    assert str(bad) in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name", list(CASES))
def test_dout_that_is_not_an_array_is_refused(name):
    m, _, outs = _run(CASES[name])
    douts = _douts(outs)
    douts[0] = "1.0" if np.ndim(outs[0]) == 0 else np.ones(np.shape(outs[0])).tolist()
    cls, arg = type(m).__name__, _backward_names(m)[0]
    with pytest.raises(
        InputError, match=rf"^{cls}\.backward: {arg} expected .*got a (str|list), not a numpy"
    ):
        m.backward(*douts)


def test_exact_message_for_affine(rng):
    a = Affine.create(4, 10, rng, dtype=F64)
    a.forward(rng.standard_normal((2, 4)))
    with pytest.raises(InputError) as e:
        a.backward(np.ones((2, 3)))
    assert str(e.value) == "Affine.backward: dout expected shape (2, 10) (the forward output's), got (2, 3)"


def test_a_bias_row_that_would_broadcast_is_refused(rng):
    # (1, H) broadcasts over the batch in dout @ W.T: it used to give a wrong (1, D) dx
    a = Affine.create(4, 3, rng, dtype=F64)
    a.forward(rng.standard_normal((5, 4)))
    with pytest.raises(InputError, match=r"dout expected shape \(5, 3\).*got \(1, 3\)"):
        a.backward(np.ones((1, 3)))


def test_loss_dout_is_a_number_given_or_by_keyword(rng):
    m, _, _ = _run(CASES["example:softmax-with-loss"])
    m.backward()
    m.backward(2.0)
    m.backward(dout=np.float64(0.5))
    m.backward(np.array(1.0))
    with pytest.raises(
        InputError, match=r"^SoftmaxWithLoss\.backward: dout expected a number .*got an array"
    ):
        m.backward(dout=np.ones(3))


@pytest.mark.parametrize("cell", [LSTM, SimpleLSTM])
def test_book2_zero_for_the_carried_state_gradient_is_accepted(cell, rng):
    # book 2's TimeLSTM starts BPTT with ``dh, dc = 0, 0`` and passes dc = 0 to the last cell
    m, inputs = _cell(cell, 2)(rng)
    h, c = m.forward(*inputs)
    m.backward(np.ones_like(h), 0)
    with pytest.raises(InputError, match=rf"^{cell.__name__}\.backward: dc_next expected shape"):
        m.backward(np.ones_like(h), 1.0)
    with pytest.raises(InputError, match=rf"^{cell.__name__}\.backward: dh_next expected shape"):
        m.backward(0, np.ones_like(c))


def test_missing_dout_is_refused(rng):
    m, inputs = _cell(LSTM, 2)(rng)
    h, _ = m.forward(*inputs)
    with pytest.raises(InputError, match=r"^LSTM\.backward: dc_next expected shape \(3, 6\) .*got nothing"):
        m.backward(np.ones_like(h))


def test_a_readers_subclass_runs_as_written(rng):
    """A subclass outside zerokara that writes its own forward inherits our backward
    unguarded: ``zerokara check`` must see the reader's code, not our guard."""

    class Doubled(Affine):
        def forward(self, x):
            self.x = x
            return 2 * (x @ self.params["W"] + self.params["b"])

    layer = Doubled(rng.standard_normal((4, 3)), np.zeros(3))
    layer.forward(rng.standard_normal((2, 4)))
    layer.backward(np.ones((2, 3)))  # no guard in the way of the reader's own pairing


# -- constructors ---------------------------------------------------------------------------------
def _w(*shape: int) -> np.ndarray:
    return np.zeros(shape)


R = np.random.default_rng(0)
NAN = float("nan")

#: (what is built, owner and argument the message must start with)
BAD_CONSTRUCTORS: list[tuple[Callable[[], object], str, str]] = [
    (lambda: BatchNorm(0), "BatchNorm", "size"),
    (lambda: BatchNorm(-3), "BatchNorm", "size"),
    (lambda: BatchNorm(2.5), "BatchNorm", "size"),
    (lambda: BatchNorm(3, momentum=1.5), "BatchNorm", "momentum"),
    (lambda: BatchNorm(3, eps=0), "BatchNorm", "eps"),
    (lambda: Affine.create(0, 3, R), "Affine.create", "D"),
    (lambda: Affine.create(3, "4", R), "Affine.create", "H"),
    (lambda: Affine([[1.0]], np.zeros(1)), "Affine", "W"),
    (lambda: Affine(_w(0, 3), _w(3)), "Affine", "W"),
    (lambda: Embedding(_w(0, 3)), "Embedding", "W"),
    (lambda: Embedding.create(0, 3, R), "Embedding.create", "V"),
    (lambda: Embedding.create(5, 0, R), "Embedding.create", "D"),
    (lambda: TimeEmbedding.create(5, -1, R), "TimeEmbedding.create", "D"),
    (lambda: Embedding(_w(5)), "Embedding", "W"),
    (lambda: EmbeddingDot(_w(5)), "EmbeddingDot", "W"),
    (lambda: Dropout(1.0), "Dropout", "p"),
    (lambda: Dropout(-0.1), "Dropout", "p"),
    (lambda: Dropout(NAN), "Dropout", "p"),
    (lambda: Dropout("0.5"), "Dropout", "p"),
    (lambda: Dropout(0.5, rng=0), "Dropout", "rng"),
    (lambda: TimeDropout(2.0), "TimeDropout", "p"),
    (lambda: RNN.create(0, 3, R), "RNN.create", "D"),
    (lambda: LSTM.create(3, 0, R), "LSTM.create", "H"),
    (lambda: GRU.create(3, 2.5, R), "GRU.create", "H"),
    (lambda: SimpleLSTM.create(0, 3, R), "SimpleLSTM.create", "D"),
    (lambda: TimeLSTM.create(3, -1, R), "TimeLSTM.create", "H"),
    (lambda: SimpleTimeGRU.create(0, 2, R), "SimpleTimeGRU.create", "D"),
    (lambda: LSTM(_w(3, 20), _w(5, 20), _w(19)), "LSTM", "b"),
    (lambda: RNN(_w(3, 4), _w(4, 5), _w(4)), "RNN", "Wh"),
    (lambda: GRU(_w(3, 6), _w(2, 6), _w(6), _w(5)), "GRU", "bh"),
    (lambda: TimeRNN(_w(3, 4), _w(3, 4), _w(4)), "TimeRNN", "Wh (H, H)"),
    (lambda: TimeRNN(_w(3, 0), _w(0, 0), _w(0)), "TimeRNN", "Wx"),
    (lambda: TimeGRU(_w(3, 6), _w(2, 6), [0.0] * 6), "TimeGRU", "bx"),
    (lambda: SimpleRNN(_w(3, 4), _w(4, 4), _w(1)), "SimpleRNN", "b"),
    (lambda: Convolution.create(0, 2, 3, 3, R), "Convolution.create", "C"),
    (lambda: Convolution.create(1, 2, 0, 3, R), "Convolution.create", "FH"),
    (lambda: Convolution(_w(2, 1, 3, 3), _w(2), stride=0), "Convolution", "stride"),
    (lambda: Convolution(_w(2, 1, 3, 3), _w(2), pad=-1), "Convolution", "pad"),
    (lambda: Convolution([0.0], _w(2)), "Convolution", "W"),
    (lambda: Pooling(0, 2, stride=1), "Pooling", "pool_h"),
    (lambda: Pooling(2, 2, stride=0), "Pooling", "stride"),
    (lambda: Pooling(2, 2, pad=-1), "Pooling", "pad"),
    (lambda: TimeAffine.create(0, 3, R), "TimeAffine.create", "D"),
    (lambda: TimeAffine(_w(4), _w(4)), "TimeAffine", "W"),
    (lambda: TimeSoftmaxWithLoss(ignore_label="pad"), "TimeSoftmaxWithLoss", "ignore_label"),
    (lambda: UnigramSampler(CORPUS, sample_size=0), "UnigramSampler", "sample_size"),
    (lambda: UnigramSampler(CORPUS, power=-1.0), "UnigramSampler", "power"),
    (lambda: UnigramSampler(CORPUS, rng=7), "UnigramSampler", "rng"),
    (lambda: NegativeSamplingLoss([[0.0]], CORPUS), "NegativeSamplingLoss", "W"),
    (lambda: Sequential(ReLU(), "tanh"), "Sequential", "layer 2"),
]


@pytest.mark.parametrize(
    "make,owner,arg", BAD_CONSTRUCTORS, ids=[f"{o}-{a}-{i}" for i, (_, o, a) in enumerate(BAD_CONSTRUCTORS)]
)
def test_bad_constructor_arguments_are_one_line_errors(make, owner, arg):
    with pytest.raises(InputError) as e:
        make()
    text = str(e.value)
    assert text.startswith(f"{owner}: "), text
    assert arg in text and " expected " in text and ", got " in text and "\n" not in text


@pytest.mark.parametrize("size", [1, 7, np.int64(3)])
def test_good_sizes_still_build(size):
    BatchNorm(size)
    Affine.create(size, size, R)
    Embedding.create(size, 2, R)
    Dropout(0.0)
    TimeLSTM.create(size, size, R)
