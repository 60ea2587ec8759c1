"""Language models of book 2: SimpleRnnlm (chapter 5, a plain RNN), and the
LSTM models of chapter 6, Rnnlm and BetterRnnlm.

All read a batch of word-id sequences and score the next word at every step::

    ids (N, T) -> TimeEmbedding -> (N, T, D) -> TimeLSTM [xL] -> (N, T, H)
               -> TimeAffine -> scores (N, T, V) -> TimeSoftmaxWithLoss (ts (N, T)) -> loss

(SimpleRnnlm has one TimeRNN where the others have LSTMs.)

The recurrent layers are stateful: the state at the end of one batch is the start of the
next, as truncated BPTT needs; :meth:`LanguageModel.reset_state` starts again
from zeros (a new epoch, an evaluation, a generation).

Weight tying (BetterRnnlm, Press & Wolf 2017): the output layer uses the
embedding matrix itself, ``TimeAffine(embed.W, b, transpose_W=True)``. It is
the same array object, so :meth:`Module.parameters` lists it once (as
``embed.W``) and :meth:`Module.gradients` returns the sum of both layers'
gradients: the loss depends on W through the lookup *and* through the output
scores, and a value that fans out collects the gradient of every branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError
from zerokara.layers import (
    Module,
    TimeAffine,
    TimeDropout,
    TimeEmbedding,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    softmax,
)
from zerokara.layers.base import Array
from zerokara.layers.time_base import TimeRecurrent


class LanguageModel(Module):
    """The layers ``self.layers`` (by name, in order) followed by TimeSoftmaxWithLoss.

    Shapes:
        predict:  ids (N, T) -> scores (N, T, V)
        forward:  ids (N, T), ts (N, T) next-word ids -> mean loss over N*T words ()
        backward: dout () -> None (word ids have no gradient); fills every parameter's gradient
    """

    layers: dict[str, Module]

    def __init__(self) -> None:
        super().__init__()
        self.loss_layer = TimeSoftmaxWithLoss()

    def children(self) -> dict[str, Module]:
        return {**self.layers, "loss": self.loss_layer}

    @property
    def vocab_size(self) -> int:
        return self.layers["embed"].params["W"].shape[0]

    def lstms(self) -> list[TimeLSTM]:
        return [m for m in self.layers.values() if isinstance(m, TimeLSTM)]

    def recurrent(self) -> list[TimeRecurrent]:
        """The layers that carry a state (TimeLSTM, TimeRNN)."""
        return [m for m in self.layers.values() if isinstance(m, TimeRecurrent)]

    def reset_state(self) -> None:
        for layer in self.recurrent():
            layer.reset_state()

    def get_state(self) -> dict[str, Array]:
        """The carried states by name (``lstm.h``, ``lstm.c``; ``rnn.h``), for a checkpoint."""
        out = {}
        for name, m in self.layers.items():
            if isinstance(m, TimeRecurrent):
                for s in m.state_names:
                    if getattr(m, s) is not None:
                        out[f"{name}.{s}"] = getattr(m, s)
        return out

    def set_state(self, state: dict[str, Array]) -> None:
        self.reset_state()
        for key, arr in state.items():
            name, _, s = key.rpartition(".")
            setattr(self.layers[name], s, np.array(arr))

    def predict(self, ids: np.ndarray) -> Array:
        x = ids
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def forward(self, ids: np.ndarray, ts: np.ndarray) -> float:
        return self.loss_layer.forward(self.predict(ids), ts)

    def backward(self, dout: float = 1.0) -> None:
        d = self.loss_layer.backward(dout)
        for layer in reversed(self.layers.values()):
            d = layer.backward(d)
        return None

    # -- generation -------------------------------------------------------------------
    def generate(
        self,
        start_ids: Sequence[int],
        length: int,
        rng: np.random.Generator,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        skip_ids: Sequence[int] = (),
    ) -> list[int]:
        """Sample ``length`` words after ``start_ids`` (book 2's RnnlmGen.generate).

        The start words are read in one call (their state primes the LSTMs);
        then each sampled word is fed back. ``temperature`` divides the scores
        (below 1: safer, above 1: more varied); ``top_k`` samples among the k
        likeliest words only; ``skip_ids`` are never sampled. The model is put
        in eval mode (no dropout) and its state is reset first and last.

        Returns the start ids followed by the sampled ids.
        """
        V = self.vocab_size
        start = np.asarray(start_ids)
        if start.ndim != 1 or start.size == 0:
            raise InputError("generate: start_ids expected a non-empty list of word ids")
        if not temperature > 0:
            raise InputError(f"generate: temperature expected > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k <= V:
            raise InputError(f"generate: top_k expected in [1, {V}], got {top_k}")
        banned = np.zeros(V, dtype=bool)
        banned[np.asarray(list(skip_ids), dtype=np.intp)] = True
        was_training = self.training
        self.eval()
        self.reset_state()
        out = [int(i) for i in start]
        try:
            scores = self.predict(start.astype(np.int64).reshape(1, -1))[0, -1]
            for _ in range(length):
                s = scores.astype(np.float64) / temperature
                s[banned] = -np.inf
                if top_k is not None and top_k < V:
                    kth = np.partition(s, V - top_k)[V - top_k]
                    s[s < kth] = -np.inf
                p = softmax(s)
                nxt = int(rng.choice(V, p=p))
                out.append(nxt)
                scores = self.predict(np.array([[nxt]], dtype=np.int64))[0, -1]
        finally:
            self.reset_state()
            self.train(was_training)
        return out


def _weight(
    shape: tuple[int, ...],
    rng: np.random.Generator,
    init: str | float,
    book: str | float,
    scale: float,
    dtype: DTypeLike,
) -> Array:
    """book 2's init for this matrix, unless ``init`` overrides it ("uniform": U(-scale, scale))."""
    return initlib.weight(shape, rng, book if init == "book" else init, scale=scale, dtype=dtype)


class _OneLayerLM(LanguageModel):
    """Embedding -> one recurrent layer (``_cell``) -> affine, with book 2's init: what
    SimpleRnnlm (chapter 5) and Rnnlm (chapter 6) share. Parameters ``embed.W`` (V, D),
    the cell's under its name, ``affine.W`` (H, V), ``affine.b`` (V,)."""

    cell_name = "rnn"

    def __init__(
        self,
        vocab_size: int = 10_000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
        *,
        rng: np.random.Generator | None = None,
        init: str | float = "book",
        init_scale: float = 0.1,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        _check_sizes(
            type(self).__name__, vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size
        )
        rng = rng if rng is not None else np.random.default_rng(0)
        V, D, H = vocab_size, wordvec_size, hidden_size

        def w(shape: tuple[int, ...], book: str | float) -> Array:
            return _weight(shape, rng, init, book, init_scale, dtype)

        self.layers = {
            "embed": TimeEmbedding(w((V, D), 0.01)),
            self.cell_name: self._cell(w, D, H, dtype),
            "affine": TimeAffine(w((H, V), "xavier"), np.zeros(V, dtype=dtype)),
        }

    def _cell(
        self, w: Callable[[tuple[int, ...], str | float], Array], D: int, H: int, dtype: DTypeLike
    ) -> Module:
        raise NotImplementedError


class SimpleRnnlm(_OneLayerLM):
    """book 2's SimpleRnnlm (chapter 5): embedding -> one plain (tanh) RNN -> affine.

    Parameters: ``embed.W`` (V, D), ``rnn.Wx`` (D, H), ``rnn.Wh`` (H, H),
    ``rnn.b`` (H,), ``affine.W`` (H, V), ``affine.b`` (V,).

    init: "book" (as book 2's ch05/simple_rnnlm.py: embedding randn / 100, RNN
    and affine Xavier randn / sqrt(fan_in), biases 0), "uniform"
    (U(-init_scale, init_scale)), or any :func:`zerokara.init.weight` kind for
    every weight matrix.
    """

    cell_name = "rnn"

    def _cell(
        self, w: Callable[[tuple[int, ...], str | float], Array], D: int, H: int, dtype: DTypeLike
    ) -> Module:
        return TimeRNN(w((D, H), "xavier"), w((H, H), "xavier"), np.zeros(H, dtype=dtype), stateful=True)


class Rnnlm(_OneLayerLM):
    """book 2's Rnnlm (chapter 6): embedding -> one LSTM -> affine.

    Parameters: ``embed.W`` (V, D), ``lstm.Wx`` (D, 4H), ``lstm.Wh`` (H, 4H),
    ``lstm.b`` (4H,), ``affine.W`` (H, V), ``affine.b`` (V,).

    init: "book" (embedding N(0, 0.01^2), LSTM and affine Xavier std 1/sqrt(fan_in),
    biases 0, as book 2), "uniform" (U(-init_scale, init_scale), Zaremba et al.),
    or any :func:`zerokara.init.weight` kind for every weight matrix.
    """

    cell_name = "lstm"

    def _cell(
        self, w: Callable[[tuple[int, ...], str | float], Array], D: int, H: int, dtype: DTypeLike
    ) -> Module:
        return TimeLSTM(
            w((D, 4 * H), "xavier"), w((H, 4 * H), "xavier"), np.zeros(4 * H, dtype=dtype), stateful=True
        )


class BetterRnnlm(LanguageModel):
    """book 2's BetterRnnlm (chapter 6.5): stacked LSTMs with dropout, and weight tying.

    ``embed -> drop0 -> lstm1 -> drop1 -> ... -> lstmL -> dropL -> affine``;
    book 2 has L = 2. Dropout (inverted, independent mask per element) acts on
    the embedding and on each LSTM's output, never on the recurrent state.

    With ``tie_weights`` the affine layer's W is ``embed.W`` itself (used as
    W.T), which needs the last hidden size to equal the word-vector size.

    Parameters: ``embed.W`` (V, D), ``lstm{k}.Wx/Wh/b``, ``affine.b`` (V,)
    [+ ``affine.W`` (H, V) when untied].
    """

    def __init__(
        self,
        vocab_size: int = 10_000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        *,
        num_layers: int = 2,
        dropout: float = 0.5,
        tie_weights: bool = True,
        rng: np.random.Generator | None = None,
        init: str | float = "book",
        init_scale: float = 0.1,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        _check_sizes(
            "BetterRnnlm",
            vocab_size=vocab_size,
            wordvec_size=wordvec_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        if tie_weights and wordvec_size != hidden_size:
            raise InputError(
                f"BetterRnnlm: weight tying needs wordvec_size == hidden_size "
                f"(the output layer reuses the (V, D) embedding), got "
                f"{wordvec_size} and {hidden_size}; pass tie_weights=False"
            )
        rng = rng if rng is not None else np.random.default_rng(0)
        V, D, H = vocab_size, wordvec_size, hidden_size
        w = lambda shape, book: _weight(shape, rng, init, book, init_scale, dtype)  # noqa: E731

        def drop() -> TimeDropout:
            # each dropout layer its own stream, split off the model's: reproducible and resumable
            return TimeDropout(dropout, rng=np.random.default_rng(rng.integers(2**63)))

        embed = TimeEmbedding(w((V, D), 0.01))
        layers: dict[str, Module] = {"embed": embed}
        if dropout > 0:
            layers["drop0"] = drop()
        d_in = D
        for k in range(1, num_layers + 1):
            layers[f"lstm{k}"] = TimeLSTM(
                w((d_in, 4 * H), "xavier"),
                w((H, 4 * H), "xavier"),
                np.zeros(4 * H, dtype=dtype),
                stateful=True,
            )
            if dropout > 0:
                layers[f"drop{k}"] = drop()
            d_in = H
        b = np.zeros(V, dtype=dtype)
        layers["affine"] = (
            TimeAffine(embed.params["W"], b, transpose_W=True)
            if tie_weights
            else TimeAffine(w((H, V), "xavier"), b)
        )
        self.layers = layers
        self.dropout, self.tie_weights = dropout, tie_weights


def _check_sizes(model: str, **sizes: int) -> None:
    for name, v in sizes.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{model}: {name} expected a positive integer, got {v!r}")
