"""Small example instances of every built-in layer and model, for the
``gradcheck`` (and later ``explain``) commands.

Each factory takes the sizes (N batch, D input, H hidden, C classes) and a
generator and returns ``(module, inputs)`` in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zerokara.errors import InputError
from zerokara.layers import (
    GELU,
    GRU,
    LSTM,
    RNN,
    Affine,
    BatchNorm,
    Bidirectional,
    Convolution,
    Dropout,
    Embedding,
    FeedForward,
    Flatten,
    LayerNorm,
    Module,
    MultiHeadAttention,
    Pooling,
    PositionalEncoding,
    ReLU,
    ScaledDotProductAttention,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
    Tanh,
    TimeAffine,
    TimeAttention,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    causal_mask,
    padding_mask,
)
from zerokara.layers.negative_sampling import EmbeddingDot
from zerokara.layers.time_base import TimeRecurrent
from zerokara.models import BinaryAdditionRNN, MultiLayerNet, SimpleConvNet, TwoLayerNet
from zerokara.models.binary_addition import encode

Sizes = dict[str, int]
Factory = Callable[[Sizes, np.random.Generator], tuple[Module, tuple]]
DEFAULT_SIZES: Sizes = {"N": 3, "T": 3, "D": 4, "H": 5, "C": 3}
F64 = np.float64


def _x(s: Sizes, rng: np.random.Generator, last: str = "D") -> np.ndarray:
    return rng.standard_normal((s["N"], s[last]))


def _labels(s: Sizes, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, s["C"], size=s["N"])


def _batchnorm_eval(s: Sizes, rng: np.random.Generator) -> tuple[Module, tuple]:
    bn = BatchNorm(s["D"], dtype=F64)
    bn.running_mean = rng.standard_normal(s["D"])
    bn.running_var = rng.uniform(0.5, 2.0, s["D"])
    bn.params["gamma"][...] = rng.uniform(0.5, 1.5, s["D"])
    return bn.eval(), (_x(s, rng),)


def _image(s: Sizes, rng: np.random.Generator) -> np.ndarray:
    """x (N, C, D, D + 1): a small image batch, not square so H and W are told apart."""
    return rng.standard_normal((s["N"], s["C"], s["D"], s["D"] + 1))


def _seq(s: Sizes, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((s["N"], s["T"], s["D"]))


def _h(s: Sizes, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((s["N"], s["H"]))


def _cell(cls: type[RNN], s: Sizes, r: np.random.Generator, **kw) -> tuple[Module, tuple]:
    layer = cls.create(s["D"], s["H"], r, dtype=F64, **kw)
    states = (_h(s, r), _h(s, r)) if cls is LSTM else (_h(s, r),)
    return layer, (_x(s, r), *states)


def _time(cls: type[TimeRecurrent], s: Sizes, r: np.random.Generator, **kw) -> tuple[Module, tuple]:
    """A stateful layer with a carried state, and an explicit h0 so its gradient is checked too."""
    layer = cls.create(s["D"], s["H"], r, dtype=F64, stateful=True, **kw)
    layer.forward(_seq(s, r))  # carry a state in (replaced by h0 below, but exercised)
    states = (_h(s, r), _h(s, r)) if cls is TimeLSTM else (_h(s, r),)
    return layer, (_seq(s, r), *states)


def _layer_norm(s: Sizes, rng: np.random.Generator) -> tuple[Module, tuple]:
    ln = LayerNorm(s["D"], dtype=F64)
    ln.params["gamma"][...] = rng.uniform(0.5, 1.5, s["D"])
    ln.params["beta"][...] = rng.standard_normal(s["D"])
    return ln, (_seq(s, rng),)


def _sdpa(s: Sizes, rng: np.random.Generator) -> tuple[Module, tuple]:
    """2 heads; q, k (N, 2, T, D), v (N, 2, T, H) and the causal mask (T, T)."""
    q, k = (rng.standard_normal((s["N"], 2, s["T"], s["D"])) for _ in range(2))
    v = rng.standard_normal((s["N"], 2, s["T"], s["H"]))
    return ScaledDotProductAttention(), (q, k, v, causal_mask(s["T"]))


def _mha(s: Sizes, rng: np.random.Generator) -> tuple[Module, tuple]:
    """2 heads of D features (d_model = 2D), cross-attention over T + 1 keys, the last key of
    the first sequence padding (hidden by a padding mask)."""
    d_model = 2 * s["D"]
    mha = MultiHeadAttention(d_model, 2, rng=rng, dtype=F64)
    for b in ("bq", "bk", "bv", "bo"):  # non-zero biases, so their gradients mean something
        mha.params[b][...] = rng.standard_normal(d_model) * 0.5
    ids = np.ones((s["N"], s["T"] + 1), dtype=np.int64)
    ids[0, -1] = 0
    query = rng.standard_normal((s["N"], s["T"], d_model))
    key_value = rng.standard_normal((s["N"], s["T"] + 1, d_model))
    return mha, (query, key_value, padding_mask(ids, 0))


def _feed_forward(activation: str) -> Factory:
    return lambda s, r: (
        FeedForward(s["D"], s["H"], activation, rng=r, dtype=F64),
        (_seq(s, r),),
    )


EXAMPLES: dict[str, tuple[str, Factory]] = {
    "affine": (
        "x (N, D) @ W (D, H) + b (H,)",
        lambda s, r: (Affine.create(s["D"], s["H"], r, init="xavier", dtype=F64), (_x(s, r),)),
    ),
    "relu": ("max(x, 0)", lambda s, r: (ReLU(), (_x(s, r),))),
    "sigmoid": ("1 / (1 + exp(-x))", lambda s, r: (Sigmoid(), (_x(s, r),))),
    "tanh": ("tanh(x)", lambda s, r: (Tanh(), (_x(s, r),))),
    "dropout": (
        "inverted dropout, p=0.5, training mode",
        lambda s, r: (Dropout(0.5, rng=np.random.default_rng(r.integers(2**32))), (_x(s, r),)),
    ),
    "batchnorm": (
        "batch normalisation, training mode",
        lambda s, r: (BatchNorm(s["D"], dtype=F64), (_x(s, r),)),
    ),
    "batchnorm-eval": ("batch normalisation, eval mode (running statistics)", _batchnorm_eval),
    "softmax-with-loss": (
        "softmax + cross-entropy, class-id labels",
        lambda s, r: (SoftmaxWithLoss(), (_x(s, r, "C"), _labels(s, r))),
    ),
    "sigmoid-with-loss": (
        "sigmoid + binary cross-entropy",
        lambda s, r: (SigmoidWithLoss(), (_x(s, r), r.integers(0, 2, (s["N"], s["D"])).astype(F64))),
    ),
    "rnn": ("one RNN step, tanh: h = tanh(x Wx + h_prev Wh + b)", lambda s, r: _cell(RNN, s, r)),
    "lstm": ("one LSTM step (gates i, f, g, o)", lambda s, r: _cell(LSTM, s, r)),
    "gru": ("one GRU step (torch's formulation)", lambda s, r: _cell(GRU, s, r)),
    "time-rnn": ("TimeRNN over T steps, with initial state h0", lambda s, r: _time(TimeRNN, s, r)),
    "time-lstm": ("TimeLSTM over T steps, with initial states h0, c0", lambda s, r: _time(TimeLSTM, s, r)),
    "time-gru": ("TimeGRU over T steps, with initial state h0", lambda s, r: _time(TimeGRU, s, r)),
    "bidirectional": (
        "Bidirectional(TimeLSTM, TimeLSTM): outputs concatenated",
        lambda s, r: (
            Bidirectional(
                TimeLSTM.create(s["D"], s["H"], r, dtype=F64), TimeLSTM.create(s["D"], s["H"], r, dtype=F64)
            ),
            (_seq(s, r),),
        ),
    ),
    "time-dropout": (
        "TimeDropout, p=0.5, training mode",
        lambda s, r: (TimeDropout(0.5, rng=np.random.default_rng(r.integers(2**32))), (_seq(s, r),)),
    ),
    "embedding": (
        "row lookup W[ids], with a repeated id",
        lambda s, r: (
            Embedding.create(s["C"] + 2, s["D"], r, init=1.0, dtype=F64),
            (np.r_[0, r.integers(0, s["C"] + 2, s["N"]), 0],),
        ),
    ),
    "time-embedding": (
        "TimeEmbedding over (N, T) ids",
        lambda s, r: (
            TimeEmbedding.create(s["C"] + 2, s["D"], r, init=1.0, dtype=F64),
            (r.integers(0, s["C"] + 2, (s["N"], s["T"])),),
        ),
    ),
    "embedding-dot": (
        "EmbeddingDot: np.sum(W[idx] * h, axis=1)",
        lambda s, r: (
            EmbeddingDot(r.standard_normal((s["C"] + 2, s["D"]))),
            (_x(s, r), r.integers(0, s["C"] + 2, s["N"])),
        ),
    ),
    "time-affine": (
        "TimeAffine: one matrix product over N*T rows",
        lambda s, r: (TimeAffine.create(s["D"], s["H"], r, dtype=F64), (_seq(s, r),)),
    ),
    "time-softmax-with-loss": (
        "TimeSoftmaxWithLoss over (N, T, C) scores",
        lambda s, r: (
            TimeSoftmaxWithLoss(),
            (r.standard_normal((s["N"], s["T"], s["C"])), r.integers(0, s["C"], (s["N"], s["T"]))),
        ),
    ),
    "time-attention": (
        "TimeAttention: dot-product weights over encoder states, weighted sum",
        lambda s, r: (TimeAttention(), (_seq(s, r), r.standard_normal((s["N"], s["T"] + 1, s["D"])))),
    ),
    "softmax": (
        "softmax over the last axis (attention's weights)",
        lambda s, r: (Softmax(), (_x(s, r, "C"),)),
    ),
    "layer-norm": ("layer normalisation over the last axis of (N, T, D)", _layer_norm),
    "gelu": (
        "GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
        lambda s, r: (GELU(), (_x(s, r),)),
    ),
    "scaled-dot-product-attention": ("softmax(q k^T / sqrt(dk)) v, 2 heads, causal mask", _sdpa),
    "multi-head-attention": ("MultiHeadAttention, 2 heads, with a padding mask", _mha),
    "positional-encoding": (
        "sinusoidal positional encoding added to x (N, T, D)",
        lambda s, r: (PositionalEncoding(s["T"] + 2, s["D"], dtype=F64), (_seq(s, r),)),
    ),
    "positional-encoding-learned": (
        "learned positional encoding: a parameter P (max_len, D) added to x",
        lambda s, r: (PositionalEncoding(s["T"] + 2, s["D"], learned=True, rng=r, dtype=F64), (_seq(s, r),)),
    ),
    "feed-forward": ("position-wise Affine -> ReLU -> Affine over (N, T, D)", _feed_forward("relu")),
    "feed-forward-gelu": ("position-wise Affine -> GELU -> Affine over (N, T, D)", _feed_forward("gelu")),
    "binary-addition": (
        "the course's binary-addition RNN (sigmoid, squared error, BPTT over 8 bits)",
        lambda s, r: (
            BinaryAdditionRNN(s["H"], weight_init_std=0.7, rng=r, dtype=F64),
            encode(r.integers(0, 128, s["N"]), r.integers(0, 128, s["N"]), dtype=F64),
        ),
    ),
    "convolution": (
        "Convolution: im2col, one matrix product, + b; stride 1, pad 1",
        lambda s, r: (
            Convolution.create(s["C"], s["H"], 3, 3, r, pad=1, init=0.5, dtype=F64),
            (r.standard_normal((s["N"], s["C"], s["D"], s["D"] + 1)),),
        ),
    ),
    "pooling": (
        "Pooling: 2x2 max, stride 2 (the gradient goes to each window's argmax)",
        lambda s, r: (
            Pooling(2, 2, stride=2),
            (r.standard_normal((s["N"], s["C"], 2 * s["D"], 2 * s["D"])),),
        ),
    ),
    "avg-pooling": (
        "Pooling: 2x2 average, stride 2",
        lambda s, r: (
            Pooling(2, 2, stride=2, mode="avg"),
            (r.standard_normal((s["N"], s["C"], 2 * s["D"], 2 * s["D"])),),
        ),
    ),
    "flatten": ("Flatten: (N, C, H, W) -> (N, C*H*W)", lambda s, r: (Flatten(), (_image(s, r),))),
    "batchnorm-4d": (
        "batch normalisation over (N, C, H, W), statistics per channel",
        lambda s, r: (BatchNorm(s["C"], dtype=F64), (_image(s, r),)),
    ),
    "simple-conv-net": (
        "book 1's SimpleConvNet, small: conv - relu - pool - affine - relu - affine",
        lambda s, r: (
            SimpleConvNet(
                (s["C"], 2 * s["D"] + 2, 2 * s["D"] + 2),
                filter_num=2,
                filter_size=3,
                hidden_size=s["H"],
                output_size=s["C"],
                weight_init_std=0.3,
                rng=r,
                dtype=F64,
            ),
            (r.standard_normal((s["N"], s["C"], 2 * s["D"] + 2, 2 * s["D"] + 2)), _labels(s, r)),
        ),
    ),
    "two-layer-net": (
        "book 1's TwoLayerNet (sigmoid) with SoftmaxWithLoss",
        lambda s, r: (
            TwoLayerNet(s["D"], s["H"], s["C"], weight_init_std=1.0, rng=r, dtype=F64),
            (_x(s, r), _labels(s, r)),
        ),
    ),
    "multi-layer-net": (
        "MultiLayerNet: 2 hidden ReLU layers, BatchNorm, Dropout",
        lambda s, r: (
            MultiLayerNet(s["D"], (s["H"], s["H"]), s["C"], batchnorm=True, dropout=0.3, rng=r, dtype=F64),
            (_x(s, r), _labels(s, r)),
        ),
    ),
}


def parse_sizes(text: str | None) -> Sizes:
    """``"N=3,D=2,H=4"`` -> sizes (others keep their defaults)."""
    sizes = dict(DEFAULT_SIZES)
    for part in filter(None, (text or "").split(",")):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in sizes or not value.strip().isdigit() or int(value) < 1:
            raise InputError(
                f"--sizes: expected KEY=positive integer with KEY in {sorted(sizes)}, got {part!r}"
            )
        sizes[key] = int(value)
    return sizes


class UsedSizes(dict):
    """Sizes that remember which of them a factory read, so that reports name
    only the sizes that shaped the example (binary addition ignores T and D)."""

    def __init__(self, sizes: Sizes) -> None:
        super().__init__(sizes)
        self.read: list[str] = []

    def __getitem__(self, key: str) -> int:
        if key not in self.read:
            self.read.append(key)
        return super().__getitem__(key)

    def used(self) -> Sizes:
        return {k: dict.__getitem__(self, k) for k in self if k in self.read}


def sizes_text(sizes: Sizes) -> str:
    """``N=3, D=4`` (the used ones when ``sizes`` is a :class:`UsedSizes`)."""
    shown = sizes.used() if isinstance(sizes, UsedSizes) else sizes
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "fixed"


def make_example(name: str, sizes: Sizes, seed: int = 0) -> tuple[Module, tuple]:
    if name not in EXAMPLES:
        raise InputError(f"unknown layer {name!r}; known: {', '.join(EXAMPLES)}")
    return EXAMPLES[name][1](sizes, np.random.default_rng(seed))
