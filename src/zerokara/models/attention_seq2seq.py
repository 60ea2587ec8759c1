"""Seq2seq with attention (book 2, chapter 8; 深層学習 Day 3, section 6).

The decoder of :class:`~zerokara.models.seq2seq.Seq2seq` sees the question
only through the encoder's last state h (N, H). Here the encoder keeps every
step's state hs (N, Tx, H) and the decoder, at each answer step, weighs them
(:class:`~zerokara.layers.attention.TimeAttention`) into a context vector
that it reads beside its own state. The encoder may be a bidirectional LSTM
(``bidirectional=True``).

:func:`build_seq2seq` lives here because this is the module that sees all
three kinds (plain and peeky come from :mod:`zerokara.models.seq2seq`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError
from zerokara.layers.attention import TimeAttention
from zerokara.layers.base import Array, Module
from zerokara.layers.embedding import TimeEmbedding
from zerokara.layers.time import Bidirectional, TimeAffine, TimeLSTM
from zerokara.models.seq2seq import KINDS, PeekySeq2seq, Seq2seq, Stepping, book_lstm


class AttentionEncoder(Module):
    """Embedding -> LSTM (or bidirectional LSTM); every step's state is kept.

    Shapes: forward xs (N, Tx) -> hs (N, Tx, H); backward dhs (N, Tx, H) -> None.

    Bidirectional: a forward and a backward LSTM of H/2 units each, their
    states concatenated to H per step. The summary state for the decoder
    (:meth:`last_state`) is then both directions' *final* states: the forward
    one at step Tx-1 and the backward one at step 0.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
        *,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.bidirectional = bidirectional
        self.embed = TimeEmbedding.create(vocab_size, wordvec_size, rng, dtype=dtype)
        if bidirectional:
            if hidden_size % 2:
                raise InputError(
                    f"AttentionEncoder: a bidirectional encoder splits hidden_size "
                    f"between two directions; expected an even size, got {hidden_size}"
                )
            half = hidden_size // 2
            self.lstm: Bidirectional | TimeLSTM = Bidirectional(
                book_lstm(wordvec_size, half, rng, dtype), book_lstm(wordvec_size, half, rng, dtype)
            )
        else:
            self.lstm = book_lstm(wordvec_size, hidden_size, rng, dtype)

    def forward(self, xs: np.ndarray) -> Array:
        return self.lstm.forward(self.embed.forward(xs))

    def backward(self, dhs: Array) -> None:
        self.embed.backward(self.lstm.backward(dhs))

    def last_state(self, hs: Array) -> Array:
        """hs (N, Tx, H) -> the decoder's initial state (N, H)."""
        if not self.bidirectional:
            return hs[:, -1]
        half = hs.shape[2] // 2
        return np.concatenate([hs[:, -1, :half], hs[:, 0, half:]], axis=1)

    def last_state_backward(self, dhs: Array, dh: Array) -> None:
        """Add the gradient of :meth:`last_state`'s output into dhs, in place."""
        if not self.bidirectional:
            dhs[:, -1] += dh
            return
        half = dhs.shape[2] // 2
        dhs[:, -1, :half] += dh[:, :half]
        dhs[:, 0, half:] += dh[:, half:]


class AttentionDecoder(Module):
    """Embedding -> LSTM -> attention over the encoder states -> Affine.

    At each step the context c_t (attention over hs_enc with the decoder
    state as the query) is concatenated in front of the decoder state, and
    the Affine reads both (2H -> V).

    Shapes: forward xs (N, Ty), hs_enc (N, Tx, H), h (N, H) -> scores (N, Ty, V);
    backward dscores -> (dhs_enc (N, Tx, H), dh (N, H)).
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
        H = hidden_size
        self.embed = TimeEmbedding.create(vocab_size, wordvec_size, rng, dtype=dtype)
        self.lstm = book_lstm(wordvec_size, H, rng, dtype)
        self.attention = TimeAttention()
        self.affine = TimeAffine.create(H + H, vocab_size, rng, dtype=dtype)

    def forward(self, xs: np.ndarray, hs_enc: Array, h: Array) -> Array:
        dec_hs = self.lstm.forward(self.embed.forward(xs), h)
        c = self.attention.forward(hs_enc, dec_hs)
        return self.affine.forward(np.concatenate([c, dec_hs], axis=2))

    def backward(self, dscores: Array) -> tuple[Array, Array]:
        H = self.lstm.hidden_size
        d = self.affine.backward(dscores)
        assert d is not None  # the Affine's input_grad is on
        dhs_enc, ddec = self.attention.backward(d[:, :, :H])
        ddec += d[:, :, H:]  # the decoder states fed both the attention and the Affine
        dxs, dh, _ = self.lstm.backward(ddec)
        self.embed.backward(dxs)
        return dhs_enc, dh

    def generate(
        self, hs_enc: Array, h: Array, start_ids: np.ndarray, length: int
    ) -> tuple[np.ndarray, Array]:
        """Greedy: -> (ids (N, length), attention weights (N, length, Tx))."""
        N, Tx, _ = hs_enc.shape
        out = np.empty((N, length), dtype=np.int64)
        weights = np.empty((N, length, Tx), dtype=hs_enc.dtype)
        x = start_ids
        with Stepping(self.lstm, h) as lstm:
            for t in range(length):
                dec = lstm.forward(self.embed.params["W"][x][:, None, :])
                c = self.attention.forward(hs_enc, dec)
                assert self.attention.attention_weights is not None
                weights[:, t] = self.attention.attention_weights[:, 0]
                scores = self.affine.forward(np.concatenate([c, dec], axis=2))
                x = out[:, t] = scores[:, 0].argmax(axis=1)
        return out, weights


class AttentionSeq2seq(Seq2seq):
    """Seq2seq with attention (book 2's AttentionSeq2seq), optionally with a
    bidirectional encoder.

    ``attention_map(xs, start_ids, length)`` returns the greedy answer and the
    weights (N, length, Tx), with Tx in the question's own order even when the
    encoder reads it reversed.
    """

    kind = "attention"
    # not Seq2seq's kinds of encoder and decoder (this decoder reads every encoder state):
    # the subclass shares Seq2seq's loop, not its parts' types
    encoder: AttentionEncoder  # type: ignore[assignment]
    decoder: AttentionDecoder  # type: ignore[assignment]

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int = 16,
        hidden_size: int = 256,
        *,
        reverse: bool = False,
        bidirectional: bool = False,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        self.bidirectional = bidirectional
        super().__init__(vocab_size, wordvec_size, hidden_size, reverse=reverse, rng=rng, dtype=dtype)

    def _build(self, V: int, D: int, H: int, rng: np.random.Generator, dtype: DTypeLike) -> None:
        self.encoder = AttentionEncoder(V, D, H, rng, dtype, bidirectional=self.bidirectional)
        self.decoder = AttentionDecoder(V, D, H, rng, dtype)

    def extra_repr(self) -> str:
        return ", ".join(k for k in ("reverse", "bidirectional") if getattr(self, k))

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        self._answers(ts, len(xs))
        hs = self.encoder.forward(self._questions(xs))
        scores = self.decoder.forward(ts[:, :-1], hs, self.encoder.last_state(hs))
        return self.loss.forward(scores, ts[:, 1:])

    def backward(self, dout: float = 1.0) -> None:
        dhs, dh = self.decoder.backward(self.loss.backward(dout))
        self.encoder.last_state_backward(dhs, dh)
        self.encoder.backward(dhs)

    def attention_map(self, xs: np.ndarray, start_ids: np.ndarray, length: int) -> tuple[np.ndarray, Array]:
        hs = self.encoder.forward(self._questions(xs))
        ids, w = self.decoder.generate(hs, self.encoder.last_state(hs), np.asarray(start_ids), length)
        return ids, (w[:, :, ::-1] if self.reverse else w)

    def generate(self, xs: np.ndarray, start_ids: np.ndarray, length: int) -> np.ndarray:
        return self.attention_map(xs, start_ids, length)[0]


MODELS: dict[str, type[Seq2seq]] = {"plain": Seq2seq, "peeky": PeekySeq2seq, "attention": AttentionSeq2seq}


def build_seq2seq(
    kind: str,
    vocab_size: int,
    wordvec_size: int,
    hidden_size: int,
    *,
    reverse: bool = False,
    bidirectional: bool = False,
    rng: np.random.Generator | None = None,
    dtype: DTypeLike = np.float32,
) -> Seq2seq:
    """A model by name: ``plain``, ``peeky`` or ``attention``."""
    if kind not in MODELS:
        raise InputError(f"seq2seq: model expected one of {', '.join(KINDS)}, got {kind!r}")
    if bidirectional and kind != "attention":
        raise InputError(
            "seq2seq: a bidirectional encoder is an option of the attention model "
            f"(--model attention), not of {kind!r}"
        )
    kw = {"bidirectional": bidirectional} if kind == "attention" else {}
    return MODELS[kind](vocab_size, wordvec_size, hidden_size, reverse=reverse, rng=rng, dtype=dtype, **kw)


__all__ = ["AttentionEncoder", "AttentionDecoder", "AttentionSeq2seq", "build_seq2seq", "MODELS"]
