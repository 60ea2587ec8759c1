"""Encoder-decoder models on LSTMs (book 2, chapters 7-8; 深層学習 Day 3, section 5-6).

* :class:`Seq2seq`: the encoder's last hidden state h is the decoder's
  initial state; that single (N, H) vector carries the whole question.
* :class:`PeekySeq2seq`: h is also fed to every decoder step, both into the
  LSTM (concatenated to the embedding) and into the output Affine.
* :class:`~zerokara.models.attention_seq2seq.AttentionSeq2seq` (chapter 8,
  in its own module as in book 2): the decoder attends over *all* encoder
  states.

Every model reads question ids ``xs (N, Tx)`` and answer ids ``ts (N, Ty)``
whose first column is the start symbol: the decoder is fed ``ts[:, :-1]`` and
learns to predict ``ts[:, 1:]`` (teacher forcing). ``reverse=True`` feeds the
encoder the question reversed (book 2's "reverse input" trick: the first
answer characters then sit close to the question characters they depend on).

Generation is greedy and batched: one LSTM step for all N sequences at a
time, the argmax fed back as the next input.

Weights follow book 2: embeddings ~ N(0, 0.01^2), LSTM and Affine weights
~ N(0, 1/fan_in), biases zero.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.embedding import TimeEmbedding
from zerokara.layers.losses import TimeSoftmaxWithLoss
from zerokara.layers.time import TimeAffine, TimeLSTM

KINDS = ("plain", "peeky", "attention")


def book_lstm(D: int, H: int, rng: np.random.Generator, dtype: DTypeLike) -> TimeLSTM:
    """A TimeLSTM (D -> H) with book 2's init: weights ~ N(0, 1/fan_in), biases zero."""
    return TimeLSTM.create(D, H, rng, init="xavier", dtype=dtype)


class Stepping:
    """Run a TimeLSTM one step at a time from a given (h, c), for generation."""

    def __init__(self, lstm: TimeLSTM, h: Array) -> None:
        self.lstm, self.h = lstm, h

    def __enter__(self) -> TimeLSTM:
        self.was = self.lstm.stateful
        self.lstm.stateful = True
        self.lstm.set_state(self.h, np.zeros_like(self.h))
        return self.lstm

    def __exit__(self, *exc: object) -> None:
        self.lstm.stateful = self.was
        self.lstm.reset_state()


# -- encoders ------------------------------------------------------------------------
class Encoder(Module):
    """Embedding -> LSTM over the question; the last hidden state sums it up.

    Shapes: forward xs (N, Tx) ids -> h (N, H); backward dh (N, H) -> None.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.embed = TimeEmbedding.create(vocab_size, wordvec_size, rng, dtype=dtype)
        self.lstm = book_lstm(wordvec_size, hidden_size, rng, dtype)
        self.hs_shape: tuple[int, ...] = ()

    def forward(self, xs: np.ndarray) -> Array:
        hs = self.lstm.forward(self.embed.forward(xs))
        self.hs_shape = hs.shape
        return hs[:, -1, :]

    def backward(self, dh: Array) -> None:
        dhs = np.zeros(self.hs_shape, dtype=dh.dtype)
        dhs[:, -1, :] = dh  # only the last step's state was used
        dxs = self.lstm.backward(dhs)
        self.embed.backward(dxs)


# -- decoders ------------------------------------------------------------------------
class Decoder(Module):
    """Embedding -> LSTM (starting from the encoder's h, c = 0) -> Affine to scores.

    Shapes: forward xs (N, Ty) ids, h (N, H) -> scores (N, Ty, V);
    backward dscores (N, Ty, V) -> dh (N, H).
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.embed = TimeEmbedding.create(vocab_size, wordvec_size, rng, dtype=dtype)
        self.lstm = book_lstm(wordvec_size, hidden_size, rng, dtype)
        self.affine = TimeAffine.create(hidden_size, vocab_size, rng, dtype=dtype)

    def forward(self, xs: np.ndarray, h: Array) -> Array:
        hs = self.lstm.forward(self.embed.forward(xs), h)
        return self.affine.forward(hs)

    def backward(self, dscores: Array) -> Array:
        dhs = self.affine.backward(dscores)
        assert dhs is not None  # the Affine's input_grad is on
        dxs, dh, _ = self.lstm.backward(dhs)
        self.embed.backward(dxs)
        return dh

    def generate(self, h: Array, start_ids: np.ndarray, length: int) -> np.ndarray:
        """Greedy: (N, H), (N,) -> ids (N, length)."""
        out = np.empty((len(h), length), dtype=np.int64)
        x = start_ids
        with Stepping(self.lstm, h) as lstm:
            for t in range(length):
                hs = lstm.forward(self.embed.params["W"][x][:, None, :])
                x = out[:, t] = self.affine.forward(hs)[:, 0].argmax(axis=1)
        return out


class PeekyDecoder(Decoder):
    """Decoder that "peeks" at the encoder's h at every step (book 2, 7.4.2).

    h is repeated over the Ty steps and concatenated in front of the
    embedding (LSTM input H + D) and in front of the LSTM output (Affine input
    2H). Backward: the repeats over time sum their gradients over axis 1, and
    dh adds the LSTM's initial-state gradient and both peeks.

    Shapes: as :class:`Decoder`.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
    ) -> None:
        Module.__init__(self)
        H = hidden_size
        self.embed = TimeEmbedding.create(vocab_size, wordvec_size, rng, dtype=dtype)
        self.lstm = book_lstm(H + wordvec_size, H, rng, dtype)
        self.affine = TimeAffine.create(H + H, vocab_size, rng, dtype=dtype)

    def forward(self, xs: np.ndarray, h: Array) -> Array:
        N, T = xs.shape
        hr = np.broadcast_to(h[:, None, :], (N, T, h.shape[1]))  # h repeated over time
        out = np.concatenate([hr, self.embed.forward(xs)], axis=2)
        hs = self.lstm.forward(out, h)
        return self.affine.forward(np.concatenate([hr, hs], axis=2))

    def backward(self, dscores: Array) -> Array:
        H = self.lstm.hidden_size
        d = self.affine.backward(dscores)
        assert d is not None  # the Affine's input_grad is on
        dxs, dh, _ = self.lstm.backward(np.ascontiguousarray(d[:, :, H:]))
        self.embed.backward(dxs[:, :, H:])
        # undo the two repeats of h over time: sum over axis 1
        return dh + d[:, :, :H].sum(axis=1) + dxs[:, :, :H].sum(axis=1)

    def generate(self, h: Array, start_ids: np.ndarray, length: int) -> np.ndarray:
        out = np.empty((len(h), length), dtype=np.int64)
        x, hp = start_ids, h[:, None, :]
        with Stepping(self.lstm, h) as lstm:
            for t in range(length):
                hs = lstm.forward(np.concatenate([hp, self.embed.params["W"][x][:, None, :]], axis=2))
                scores = self.affine.forward(np.concatenate([hp, hs], axis=2))
                x = out[:, t] = scores[:, 0].argmax(axis=1)
        return out


# -- models --------------------------------------------------------------------------
class Seq2seq(Module):
    """Encoder + Decoder + TimeSoftmaxWithLoss (book 2's Seq2seq).

    Shapes:
        forward:  xs (N, Tx) question ids, ts (N, Ty) answer ids (ts[:, 0] = start) -> loss ()
        backward: dout () -> None (ids have no gradient); fills every parameter's gradient
        generate: xs (N, Tx), start_ids (N,), length -> ids (N, length)
    """

    kind = "plain"

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int = 16,
        hidden_size: int = 128,
        *,
        reverse: bool = False,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self.vocab_size, self.reverse = vocab_size, reverse
        self._build(vocab_size, wordvec_size, hidden_size, rng, dtype)
        self.loss = TimeSoftmaxWithLoss()

    def _build(self, V: int, D: int, H: int, rng: np.random.Generator, dtype: DTypeLike) -> None:
        self.encoder = Encoder(V, D, H, rng, dtype)
        self.decoder = Decoder(V, D, H, rng, dtype)

    def extra_repr(self) -> str:
        return "reverse" if self.reverse else ""

    def _questions(self, xs: np.ndarray) -> np.ndarray:
        if not isinstance(xs, np.ndarray) or xs.ndim != 2 or xs.dtype.kind not in "iu":
            got = shape_str(xs.shape) if isinstance(xs, np.ndarray) else type(xs).__name__
            raise InputError(f"{type(self).__name__}: xs expected integer ids of shape (N, Tx), got {got}")
        return xs[:, ::-1] if self.reverse else xs

    def _answers(self, ts: np.ndarray, n: int) -> None:
        if not isinstance(ts, np.ndarray) or ts.ndim != 2 or ts.shape[0] != n or ts.shape[1] < 2:
            got = shape_str(ts.shape) if isinstance(ts, np.ndarray) else type(ts).__name__
            raise InputError(
                f"{type(self).__name__}: ts expected ids of shape ({n}, Ty) with Ty >= 2 "
                f"(the start symbol and at least one character), got {got}"
            )

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        self._answers(ts, len(xs))
        h = self.encoder.forward(self._questions(xs))
        scores = self.decoder.forward(ts[:, :-1], h)
        return self.loss.forward(scores, ts[:, 1:])

    def backward(self, dout: float = 1.0) -> None:
        dh = self.decoder.backward(self.loss.backward(dout))
        self.encoder.backward(dh)

    def generate(self, xs: np.ndarray, start_ids: np.ndarray, length: int) -> np.ndarray:
        h = self.encoder.forward(self._questions(xs))
        return self.decoder.generate(h, np.asarray(start_ids), length)

    def accuracy(self, xs: np.ndarray, ts: np.ndarray, batch: int = 2048) -> float:
        """Exact match: the share of questions whose whole greedy answer is right."""
        right = 0
        for i in range(0, len(xs), batch):
            x, t = xs[i : i + batch], ts[i : i + batch]
            pred = self.generate(x, t[:, 0], t.shape[1] - 1)
            right += int(np.all(pred == t[:, 1:], axis=1).sum())
        return right / max(1, len(xs))


class PeekySeq2seq(Seq2seq):
    """Seq2seq with a :class:`PeekyDecoder` (book 2's PeekySeq2seq)."""

    kind = "peeky"

    def _build(self, V: int, D: int, H: int, rng: np.random.Generator, dtype: DTypeLike) -> None:
        self.encoder = Encoder(V, D, H, rng, dtype)
        self.decoder = PeekyDecoder(V, D, H, rng, dtype)


__all__ = ["Encoder", "Decoder", "PeekyDecoder", "Seq2seq", "PeekySeq2seq", "KINDS", "Stepping", "book_lstm"]
