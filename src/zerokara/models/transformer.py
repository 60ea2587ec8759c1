"""The Transformer encoder-decoder (Vaswani et al., 2017, "Attention Is All You Need")
on book 2's character tasks, with the interface of the LSTM models in
:mod:`zerokara.models.seq2seq`.

* :class:`TransformerEncoderLayer`: self-attention, then a position-wise
  feed-forward network; each sub-layer is wrapped as the paper's post-norm
  block ``x = LayerNorm(x + Dropout(sublayer(x)))``.
* :class:`TransformerDecoderLayer`: causal (masked) self-attention,
  cross-attention over the encoder's output (the "memory"), feed-forward;
  each in the same residual block.
* :class:`TransformerEncoder` / :class:`TransformerDecoder`: embedding scaled
  by sqrt(d_model), plus the positional encoding, dropout on the sum, then N
  layers; the decoder ends in a TimeAffine to the vocabulary.
* :class:`TransformerSeq2seq`: encoder + decoder + TimeSoftmaxWithLoss, trained
  with teacher forcing exactly as :class:`~zerokara.models.seq2seq.Seq2seq`
  (the decoder reads ``ts[:, :-1]`` and predicts ``ts[:, 1:]``).

Padding: book 2's questions are padded with spaces, and a space is an ordinary
character of the vocabulary (it also separates the words of "september 27,
1994"), so there is no padding mask: the model attends to the padding and
learns to ignore it, as the LSTM models read it. The layers still take a mask
(``padding_mask`` of :mod:`zerokara.layers.transformer`) for data with a pad id.

Residual connections fan out: the block's input x goes both into the sub-layer
and around it into the sum, so backward *adds* the two gradients (the comments
say where). Self-attention reads x as query and as key/value: its backward
returns one gradient for each, and they add up too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError
from zerokara.layers.base import Array, Module
from zerokara.layers.core import Dropout
from zerokara.layers.embedding import TimeEmbedding
from zerokara.layers.losses import TimeSoftmaxWithLoss
from zerokara.layers.position_wise import FeedForward, LayerNorm, PositionalEncoding
from zerokara.layers.time import TimeAffine
from zerokara.layers.transformer import MultiHeadAttention, causal_mask
from zerokara.models.seq2seq import Seq2seq


def _dropout(p: float, rng: np.random.Generator) -> Dropout:
    """A Dropout with its own generator, drawn from the model's (as BetterRnnlm does)."""
    return Dropout(p, rng=np.random.default_rng(rng.integers(2**63)))


# -- layers --------------------------------------------------------------------------
class TransformerEncoderLayer(Module):
    """Self-attention and feed-forward, each as ``x = LN(x + Dropout(sublayer(x)))``.

    Shapes: forward x (N, T, d), mask (bool, broadcastable to (N, h, T, T), True =
    hidden) -> (N, T, d); backward dout (N, T, d) -> dx (N, T, d).
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self.attn = MultiHeadAttention(d_model, heads, rng=rng, dtype=dtype)
        self.drop1 = _dropout(dropout, rng)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.ffn = FeedForward(d_model, d_ff, activation, rng=rng, dtype=dtype)
        self.drop2 = _dropout(dropout, rng)
        self.norm2 = LayerNorm(d_model, dtype=dtype)

    def forward(self, x: Array, mask: np.ndarray | None = None) -> Array:
        h = self.norm1.forward(x + self.drop1.forward(self.attn.forward(x, x, mask)))
        return self.norm2.forward(h + self.drop2.forward(self.ffn.forward(h)))

    def backward(self, dout: Array) -> Array:
        ds = self.norm2.backward(dout)  # the gradient of the sum h + FFN(h)
        dh = ds + self.ffn.backward(self.drop2.backward(ds))  # h went around the FFN and through it
        ds = self.norm1.backward(dh)
        dq, dkv = self.attn.backward(self.drop1.backward(ds))
        return ds + dq + dkv  # x fed the residual, the query and the key/value


class TransformerDecoderLayer(Module):
    """Causal self-attention, cross-attention over ``memory``, feed-forward; each
    as ``x = LN(x + Dropout(sublayer(x)))``.

    The self-attention hides every later position (:func:`causal_mask`), so the
    output at step t depends on the inputs up to t only: teacher forcing trains
    all steps at once and greedy generation sees what training saw.

    Shapes: forward x (N, Ty, d), memory (N, Tx, d), memory_mask (broadcastable to
    (N, h, Ty, Tx)) -> (N, Ty, d); backward dout (N, Ty, d) -> (dx (N, Ty, d),
    dmemory (N, Tx, d)).
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self.self_attn = MultiHeadAttention(d_model, heads, rng=rng, dtype=dtype)
        self.drop1 = _dropout(dropout, rng)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.cross_attn = MultiHeadAttention(d_model, heads, rng=rng, dtype=dtype)
        self.drop2 = _dropout(dropout, rng)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.ffn = FeedForward(d_model, d_ff, activation, rng=rng, dtype=dtype)
        self.drop3 = _dropout(dropout, rng)
        self.norm3 = LayerNorm(d_model, dtype=dtype)

    def forward(self, x: Array, memory: Array, memory_mask: np.ndarray | None = None) -> Array:
        a = self.self_attn.forward(x, x, causal_mask(x.shape[1]))
        h1 = self.norm1.forward(x + self.drop1.forward(a))
        h2 = self.norm2.forward(h1 + self.drop2.forward(self.cross_attn.forward(h1, memory, memory_mask)))
        return self.norm3.forward(h2 + self.drop3.forward(self.ffn.forward(h2)))

    def backward(self, dout: Array) -> tuple[Array, Array]:
        ds = self.norm3.backward(dout)
        dh2 = ds + self.ffn.backward(self.drop3.backward(ds))  # residual around the FFN
        ds = self.norm2.backward(dh2)
        dq, dmemory = self.cross_attn.backward(self.drop2.backward(ds))
        dh1 = ds + dq  # h1 fed the residual and the cross-attention's query
        ds = self.norm1.backward(dh1)
        dq, dkv = self.self_attn.backward(self.drop1.backward(ds))
        return ds + dq + dkv, dmemory  # x fed the residual, the query and the key/value


# -- stacks --------------------------------------------------------------------------
class _Stack(Module):
    """Embedding * sqrt(d_model) + positional encoding, dropout on the sum, then
    ``layers`` layers of ``layer_class``, named ``layer1`` ... ``layerN`` (so in the
    parameters: ``layer1.attn.Wq``)."""

    layer_class: type[TransformerEncoderLayer] | type[TransformerDecoderLayer]

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        heads: int,
        d_ff: int,
        layers: int,
        *,
        dropout: float = 0.1,
        max_len: int = 64,
        activation: str = "relu",
        learned_positions: bool = False,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        # N(0, 1/d_model), times sqrt(d_model) in forward: unit-variance embeddings, the
        # scale of the sinusoids they are added to (the paper multiplies by sqrt(d_model))
        self.embed = TimeEmbedding.create(vocab_size, d_model, rng, init=d_model**-0.5, dtype=dtype)
        self.scale = float(np.sqrt(d_model))
        self.pos = PositionalEncoding(max_len, d_model, learned=learned_positions, rng=rng, dtype=dtype)
        self.drop = _dropout(dropout, rng)
        self.n_layers = layers
        for i in range(1, layers + 1):
            setattr(
                self, f"layer{i}", self.layer_class(d_model, heads, d_ff, dropout, activation, rng, dtype)
            )

    def _blocks(self) -> list[Any]:
        return [getattr(self, f"layer{i}") for i in range(1, self.n_layers + 1)]

    def _embed_forward(self, ids: np.ndarray) -> Array:
        return self.drop.forward(self.pos.forward(self.embed.forward(ids) * self.scale))

    def _embed_backward(self, dx: Array) -> None:
        self.embed.backward(self.pos.backward(self.drop.backward(dx)) * self.scale)


class TransformerEncoder(_Stack):
    """Shapes: forward xs (N, Tx) ids, mask (optional) -> memory (N, Tx, d);
    backward dmemory (N, Tx, d) -> None (ids have no gradient)."""

    layer_class = TransformerEncoderLayer

    def blocks(self) -> list[TransformerEncoderLayer]:
        return self._blocks()

    def forward(self, xs: np.ndarray, mask: np.ndarray | None = None) -> Array:
        x = self._embed_forward(xs)
        for layer in self.blocks():
            x = layer.forward(x, mask)
        return x

    def backward(self, dmemory: Array) -> None:
        d = dmemory
        for layer in reversed(self.blocks()):
            d = layer.backward(d)
        self._embed_backward(d)


class TransformerDecoder(_Stack):
    """The layers, then a TimeAffine to the vocabulary's scores.

    Shapes: forward xs (N, Ty) ids, memory (N, Tx, d), memory_mask (optional) ->
    scores (N, Ty, V); backward dscores (N, Ty, V) -> dmemory (N, Tx, d), the sum of
    every layer's (each layer's cross-attention reads the same memory).
    Arguments: as :class:`TransformerEncoder`'s."""

    layer_class = TransformerDecoderLayer

    def __init__(self, vocab_size: int, d_model: int, *args: Any, **kw: Any) -> None:
        super().__init__(vocab_size, d_model, *args, **kw)
        self.affine = TimeAffine.create(d_model, vocab_size, kw["rng"], dtype=kw.get("dtype", np.float32))

    def blocks(self) -> list[TransformerDecoderLayer]:
        return self._blocks()

    def forward(self, xs: np.ndarray, memory: Array, memory_mask: np.ndarray | None = None) -> Array:
        x = self._embed_forward(xs)
        for layer in self.blocks():
            x = layer.forward(x, memory, memory_mask)
        return self.affine.forward(x)

    def backward(self, dscores: Array) -> Array:
        d = self.affine.backward(dscores)
        assert d is not None  # the Affine's input_grad is on
        dmemory: Array | None = None
        for layer in reversed(self.blocks()):
            d, dm = layer.backward(d)
            # the memory fans out to every layer: its gradients add up
            dmemory = dm if dmemory is None else dmemory + dm
        self._embed_backward(d)
        assert dmemory is not None  # at least one layer
        return dmemory


# -- the model -----------------------------------------------------------------------
class TransformerSeq2seq(Seq2seq):
    """Transformer encoder + decoder + TimeSoftmaxWithLoss, with the interface of
    book 2's Seq2seq models (and a subclass of :class:`Seq2seq`, whose checks,
    ``reverse`` and exact-match ``accuracy`` it shares).

    Shapes:
        forward:  xs (N, Tx) question ids, ts (N, Ty) answer ids (ts[:, 0] = start) -> loss ()
        backward: dout () -> None; fills every parameter's gradient
        generate: xs (N, Tx), start_ids (N,), length -> ids (N, length), greedy
        attention_map: the same arguments -> (ids (N, length), weights by name:
            ``encoder.layerI`` (N, heads, Tx, Tx) self-attention,
            ``decoder.layerI`` (N, heads, length, Tx) cross-attention), the question's
            axes in its own order even when the encoder reads it reversed

    Tx and Ty - 1 (and ``length``) may be at most ``max_len``. ``generate``,
    ``accuracy`` and ``attention_map`` run in eval mode (no dropout) and restore the
    mode they found. Generation runs the decoder over the whole prefix at each step
    (no cache of the keys and values): simple, and the answers are short.
    """

    kind = "transformer"
    # not Seq2seq's kinds of encoder and decoder: the subclass shares Seq2seq's checks and
    # accuracy, not its parts' types
    encoder: TransformerEncoder  # type: ignore[assignment]
    decoder: TransformerDecoder  # type: ignore[assignment]

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        d_ff: int = 256,
        dropout: float = 0.1,
        max_len: int = 64,
        activation: str = "relu",
        learned_positions: bool = False,
        *,
        reverse: bool = False,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        Module.__init__(self)
        name = type(self).__name__
        for arg, v in (("d_model", d_model), ("heads", heads), ("layers", layers), ("d_ff", d_ff)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{name}: {arg} expected a positive integer, got {v!r}")
        if d_model % heads:
            raise InputError(
                f"{name}: d_model expected a multiple of heads={heads} (each head reads "
                f"d_model // heads features), got d_model={d_model}"
            )
        rng = rng if rng is not None else np.random.default_rng()
        self.vocab_size, self.reverse, self.max_len = vocab_size, reverse, max_len
        self.sizes = {"d_model": d_model, "heads": heads, "layers": layers, "d_ff": d_ff}
        kw: dict[str, Any] = {
            "dropout": dropout,
            "max_len": max_len,
            "activation": activation,
            "learned_positions": learned_positions,
            "rng": rng,
            "dtype": dtype,
        }
        self.encoder = TransformerEncoder(vocab_size, d_model, heads, d_ff, layers, **kw)
        self.decoder = TransformerDecoder(vocab_size, d_model, heads, d_ff, layers, **kw)
        self.loss = TimeSoftmaxWithLoss()

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        return sizes + (", reverse" if self.reverse else "")

    def _fits(self, what: str, T: int) -> None:
        if self.max_len < T:
            raise InputError(
                f"{type(self).__name__}: {what} has {T} positions; the model reads at most "
                f"max_len={self.max_len} (its positional encoding's length)"
            )

    def _questions(self, xs: np.ndarray) -> np.ndarray:
        q = super()._questions(xs)
        self._fits("a question (xs)", q.shape[1])
        return q

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        self._answers(ts, len(xs))
        self._fits("the decoder's input (ts[:, :-1])", ts.shape[1] - 1)
        memory = self.encoder.forward(self._questions(xs))
        scores = self.decoder.forward(ts[:, :-1], memory)
        return self.loss.forward(scores, ts[:, 1:])

    def backward(self, dout: float = 1.0) -> None:
        dmemory = self.decoder.backward(self.loss.backward(dout))
        self.encoder.backward(dmemory)

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[None]:
        was = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was)

    def _greedy(self, q: np.ndarray, start_ids: np.ndarray, length: int) -> tuple[np.ndarray, Array]:
        """q: the questions as the encoder reads them -> (ids (N, length), memory)."""
        self._fits("the answer (length)", length)
        N = len(q)
        ids = np.empty((N, length + 1), dtype=np.int64)
        ids[:, 0] = start_ids
        memory = self.encoder.forward(q)
        for t in range(length):
            scores = self.decoder.forward(ids[:, : t + 1], memory)  # causal: earlier rows unchanged
            ids[:, t + 1] = scores[:, -1].argmax(axis=1)
        return ids[:, 1:], memory

    def generate(self, xs: np.ndarray, start_ids: np.ndarray, length: int) -> np.ndarray:
        with self._evaluating():
            return self._greedy(self._questions(xs), np.asarray(start_ids), length)[0]

    def attention_map(
        self, xs: np.ndarray, start_ids: np.ndarray, length: int
    ) -> tuple[np.ndarray, dict[str, Array]]:
        """The greedy answer and every head's weights (see the class docstring). The
        decoder's weights are those of one teacher-forced pass over its own answer,
        which the causal mask makes equal to what each generation step saw."""
        start = np.asarray(start_ids)
        with self._evaluating():
            ids, memory = self._greedy(self._questions(xs), start, length)
            self.decoder.forward(np.concatenate([start[:, None], ids[:, :-1]], axis=1), memory)
        weights: dict[str, Array] = {}
        for i, enc in enumerate(self.encoder.blocks(), 1):
            w = enc.attn.weights  # (N, h, Tx, Tx): queries and keys both question positions
            assert w is not None  # the forward above ran
            weights[f"encoder.layer{i}"] = w[:, :, ::-1, ::-1] if self.reverse else w
        for i, dec in enumerate(self.decoder.blocks(), 1):
            w = dec.cross_attn.weights  # (N, h, length, Tx)
            assert w is not None
            weights[f"decoder.layer{i}"] = w[..., ::-1] if self.reverse else w
        return ids, weights


__all__ = [
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    "TransformerSeq2seq",
]
