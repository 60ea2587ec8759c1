"""The simple RNN that learns binary addition (深層学習 Day 3, section 1, the
course's exercise "3_1_simple_RNN"), in the course's own names.

Two numbers a, b in [0, 128) are written as 8 bits each and fed to the RNN one
bit pair per time step, least-significant bit first, so that the carry of one
step can be remembered in the hidden state for the next. At every step the
network outputs one bit of a + b (< 256, so 8 bits are enough).

The course's formulas (batch-first, one row per sequence):

    u^t = x^t W_in + z^{t-1} W + b          x^t (N, 2), z^0 = 0
    z^t = f(u^t)                             f = sigmoid (course), tanh or relu
    v^t = z^t W_out + c
    y^t = g(v^t)                             g = sigmoid: the probability that bit t is 1

Loss (``loss="mse"``, the course's): squared error summed over the 8 bits,
``E = sum_t 1/2 (y^t - d^t)^2``, averaged over the N sequences of a batch (the
course trains one sequence per step, N = 1, and plots this E). ``loss="bce"``
is binary cross-entropy summed over the bits instead.

The course's code omits b and c ("バイアスは簡単のため省略"); the course's
formulas have them, and so do we (both start at zero). The course's code
also multiplies the output error by ``d_sigmoid(y)`` = sigma'(y), the sigmoid's
derivative taken at the *output* y instead of at v; the derivative of its loss
is y (1 - y) = sigma'(v). We use the true derivative (a gradient check proves
it); docs/binary-addition.md measures what the difference does.

Weight names map to :class:`~zerokara.layers.time.TimeRNN`'s: W_in = Wx, W = Wh.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError, check_dtype, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.recurrent import ACTIVATIONS, check_activation, rnn_act, rnn_act_grad, sigmoid

BITS = 8  #: the course's binary_dim
LARGEST = 2 ** (BITS - 1)  #: a, b in [0, LARGEST) so that a + b < 2**BITS
LOSSES = ("mse", "bce")
INITS = ("std", "xavier", "he")

#: BIT_TABLE[n, t] is bit t (t = 0 least significant) of n, for n in [0, 256)
BIT_TABLE = ((np.arange(2**BITS)[:, None] >> np.arange(BITS)) & 1).astype(np.int8)
#: the value of bit t
POWERS = (1 << np.arange(BITS)).astype(np.int64)


def encode(a: np.ndarray, b: np.ndarray, dtype: DTypeLike = np.float32) -> tuple[Array, Array]:
    """Pairs (a, b) -> inputs x (N, 8, 2) and targets d (N, 8), least-significant bit first.

    x[n, t] = (bit t of a[n], bit t of b[n]); d[n, t] = bit t of a[n] + b[n].
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(
            f"encode: a and b expected equal 1-d shapes, got {shape_str(a.shape)} and {shape_str(b.shape)}"
        )
    if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= LARGEST):
        raise InputError(
            f"encode: a and b expected in [0, {LARGEST}), got values in "
            f"[{min(a.min(), b.min())}, {max(a.max(), b.max())}]"
        )
    x = np.stack([BIT_TABLE[a], BIT_TABLE[b]], axis=-1).astype(dtype)
    return x, BIT_TABLE[a + b].astype(dtype)


def decode(bits: np.ndarray) -> np.ndarray:
    """Bits (..., 8), least-significant first (0/1 or probabilities, rounded at 0.5) -> integers (...)."""
    return (np.asarray(bits) > 0.5).astype(np.int64) @ POWERS


def all_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Every pair: a, b (16384,) with a = i // 128, b = i % 128 (pair index i = a * 128 + b)."""
    i = np.arange(LARGEST * LARGEST)
    return i // LARGEST, i % LARGEST


def course_bits(n: int) -> str:
    """n as the course prints it: np.unpackbits order, most-significant bit first: [0 1 1 0 ...]."""
    return "[" + " ".join(str(int(c)) for c in format(int(n), f"0{BITS}b")[-BITS:]) + "]"


class BinaryAdditionRNN(Module):
    """The course's simple RNN for binary addition, forward and BPTT by hand.

    Parameters (course names): W_in (2, H), W (H, H), b (H,), W_out (H, 1), c (1,).

    Shapes:
        predict:  x (N, T, 2) -> y (N, T), the probability of each output bit
        forward:  x (N, T, 2), d (N, T) 0/1 targets -> loss ()
        backward: dout () -> dx (N, T, 2) (None if ``input_grad`` is off: the
                  trainer never needs the gradient of the bits); fills every
                  parameter's gradient

    T is 8 for the exercise, but any length works.
    """

    def __init__(
        self,
        hidden_size: int = 16,
        *,
        activation: str = "sigmoid",
        init: str = "std",
        weight_init_std: float = 1.0,
        loss: str = "mse",
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        if hidden_size < 1:
            raise InputError(f"BinaryAdditionRNN: hidden_size expected >= 1, got {hidden_size}")
        if init not in INITS:
            raise InputError(f"BinaryAdditionRNN: init expected one of {INITS}, got {init!r}")
        if loss not in LOSSES:
            raise InputError(f"BinaryAdditionRNN: loss expected one of {LOSSES}, got {loss!r}")
        if not weight_init_std > 0:
            raise InputError(f"BinaryAdditionRNN: weight_init_std expected > 0, got {weight_init_std}")
        self.activation = check_activation("BinaryAdditionRNN", activation)
        self.loss, self.init, self.weight_init_std = loss, init, float(weight_init_std)
        rng = rng if rng is not None else np.random.default_rng(0)
        H = hidden_size

        def draw(shape: tuple[int, int]) -> Array:
            # the course: weight_init_std * randn; Xavier randn / sqrt(n); He randn * sqrt(2 / n)
            # (n = the number of inputs of the layer; Xavier and He ignore weight_init_std)
            return initlib.weight(shape, rng, init, std=self.weight_init_std, dtype=dtype)

        self.params = {
            "W_in": draw((2, H)),
            "W": draw((H, H)),
            "b": np.zeros(H, dtype=dtype),
            "W_out": draw((H, 1)),
            "c": np.zeros(1, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache: tuple | None = None

    def extra_repr(self) -> str:
        return (
            super().extra_repr()
            + f", activation={self.activation}, init={self.init}"
            + (f", weight_init_std={self.weight_init_std:g}" if self.init == "std" else "")
            + f", loss={self.loss}"
        )

    @property
    def hidden_size(self) -> int:
        return self.params["W"].shape[0]

    # -- forward -----------------------------------------------------------------
    def _hidden(self, x: Array) -> Array:
        """z (N, T+1, H), z[:, 0] = 0: the recurrence, the only loop over time.

        x W_in + b does not depend on the recurrence, so it is one product over
        all N*T rows before the loop (b is repeated over batch and time).
        """
        check_input("BinaryAdditionRNN", "x", x, ndim=3, last=2, expected="(N, T, 2)")
        p = self.params
        check_dtype("BinaryAdditionRNN", "x", x, p["W"].dtype, owner="model")
        N, T, _ = x.shape
        A = x.reshape(N * T, 2) @ p["W_in"]
        A += p["b"]
        A = A.reshape(N, T, -1)
        z = np.empty((N, T + 1, A.shape[2]), dtype=x.dtype)
        z[:, 0] = 0
        W, act = p["W"], self.activation
        for t in range(T):
            u = z[:, t] @ W
            u += A[:, t]
            z[:, t + 1] = rnn_act(u, act)
        return z

    def _logits(self, z: Array) -> Array:
        """v (N, T) = z^t W_out + c for every step at once."""
        N, T1, H = z.shape
        v = z[:, 1:].reshape(N * (T1 - 1), H) @ self.params["W_out"]
        v += self.params["c"]
        return v.reshape(N, T1 - 1)

    def predict(self, x: Array) -> Array:
        return sigmoid(self._logits(self._hidden(x)))

    def forward(self, x: Array, d: Array) -> float:
        z = self._hidden(x)
        if not isinstance(d, np.ndarray) or d.shape != x.shape[:2]:
            got = shape_str(d.shape) if isinstance(d, np.ndarray) else type(d).__name__
            raise InputError(
                f"BinaryAdditionRNN: d expected shape {shape_str(x.shape[:2])} "
                f"(one target bit per step), got {got}"
            )
        v = self._logits(z)
        y = sigmoid(v)
        N = x.shape[0]
        if self.loss == "mse":
            e = y - d
            loss = 0.5 * float(np.vdot(e, e)) / N
        else:  # -[d log y + (1 - d) log(1 - y)] = log(1 + e^v) - d v, exact for large |v|
            loss = float(np.sum(np.logaddexp(0, v) - d * v)) / N
        self.cache = (x, d, z, y)
        return loss

    # -- backward (BPTT) ---------------------------------------------------------------
    def backward(self, dout: float = 1.0) -> Array | None:
        """BPTT over the whole sequence.

        delta_out^t = dE/dv^t: (y - d) y (1 - y) for mse, y - d for bce (each / N, the batch mean).
        delta^t = dE/du^t = (delta_out^t W_out^T + delta^{t+1} W^T) * f'(u^t): step t's
        hidden state feeds both its own output and step t+1.
        W_in, W and b are used at every step, so their gradients sum over time as well
        as over the batch: dW_in = sum_t x^t^T delta^t, dW = sum_t z^{t-1}^T delta^t,
        db = sum over (n, t) of delta (np.sum over axes 0 and 1: b was repeated over both).
        """
        assert self.cache is not None
        x, d, z, y = self.cache
        p, g = self.params, self.grads
        N, T, _ = x.shape
        H = p["W"].shape[0]
        dv = y - d
        if self.loss == "mse":
            dv *= y * (1 - y)
        dv *= dout / N  # (N, T)
        zs = z[:, 1:].reshape(N * T, H)
        dv2 = dv.reshape(N * T, 1)
        np.matmul(zs.T, dv2, out=g["W_out"])
        g["c"][...] = dv.sum()  # c was repeated over batch and time
        dz_out = (dv2 @ p["W_out"].T).reshape(N, T, H)  # what each step's output sends to z^t
        delta = np.empty((N, T, H), dtype=dz_out.dtype)
        dnext = np.zeros((N, H), dtype=dz_out.dtype)  # delta^{t+1} W^T; zero after the last step
        WT, act = p["W"].T, self.activation
        for t in reversed(range(T)):
            dz = dz_out[:, t]
            dz += dnext
            delta[:, t] = rnn_act_grad(z[:, t + 1], dz, act)
            dnext = delta[:, t] @ WT
        delta2 = delta.reshape(N * T, H)
        np.matmul(x.reshape(N * T, 2).T, delta2, out=g["W_in"])
        np.matmul(z[:, :-1].reshape(N * T, H).T, delta2, out=g["W"])
        np.sum(delta2, axis=0, out=g["b"])
        return (delta2 @ p["W_in"].T).reshape(x.shape) if self.input_grad else None


def evaluate(model: BinaryAdditionRNN, x: Array, d: Array, batch_size: int | None = None) -> dict[str, float]:
    """Loss, bit accuracy and exact-sum accuracy of ``model`` on x (M, T, 2), d (M, T).

    loss: the training loss averaged over the M sequences; bit_accuracy: the
    fraction of output bits right (y > 0.5 means 1); exact_accuracy: the fraction
    of sums with every bit right.

    batch_size (default: about 2**18 / H**2 rows, at least 64) keeps each step's
    product z W small enough that OpenBLAS runs it on one thread: on a busy
    2-core machine a threaded (4096, 16) @ (16, 16) was measured 10-25x slower.
    """
    if batch_size is None:
        batch_size = max(64, min(4096, 2**18 // model.hidden_size**2))
    loss = bits_ok = exact_ok = 0.0
    for i in range(0, len(x), batch_size):
        xb, db = x[i : i + batch_size], d[i : i + batch_size]
        loss += model.forward(xb, db) * len(xb)
        assert model.cache is not None
        right = (model.cache[3] > 0.5) == (db > 0.5)
        bits_ok += float(right.sum())
        exact_ok += float(right.all(axis=1).sum())
    n = max(len(x), 1)
    return {"loss": loss / n, "bit_accuracy": bits_ok / (n * d.shape[1]), "exact_accuracy": exact_ok / n}


__all__ = [
    "BinaryAdditionRNN",
    "encode",
    "decode",
    "all_pairs",
    "evaluate",
    "course_bits",
    "BITS",
    "LARGEST",
    "ACTIVATIONS",
    "LOSSES",
    "INITS",
]
