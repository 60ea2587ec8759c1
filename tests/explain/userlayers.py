"""Layers written outside the package, as a user would, for ``zerokara explain module:Class``."""

from __future__ import annotations

import numpy as np

from zerokara.layers.base import Module


class WrongSigmoid(Module):
    """Sigmoid with the mistake of the MLP in the question "逆伝播におけるバイアス項の勾配"
    (``dz2 = dh2 * (1 - dh2)``): backward uses dout where it needs the output y."""

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1 - dout)  # should be dout * self.out * (1 - self.out)


class _Bias(Module):
    """A layer whose one parameter is a bias b (D,), made by ``create`` as explain does."""

    def __init__(self, b):
        super().__init__()
        self.params = {"b": b}
        self.grads = {"b": np.zeros_like(b)}

    @classmethod
    def create(cls, D, H, rng, dtype=np.float64):
        return cls(rng.standard_normal(D).astype(dtype))


class BiasNoSum(_Bias):
    """x + b, whose backward forgets to sum db over the batch (the question
    "RNNの逆伝播でdbをaxis=0でsumする理由", answered in docs/bias-gradient.md)."""

    def forward(self, x):
        return x + self.params["b"]

    def backward(self, dout):
        self.grads["b"] = dout  # should be dout.sum(axis=0)
        return dout


class FixedAffine(Module):
    """x @ W with W fixed at (4, 5): other sizes of x do not fit."""

    def __init__(self):
        super().__init__()
        self.params = {"W": np.ones((4, 5))}
        self.grads = {"W": np.zeros((4, 5))}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, dout):
        self.grads["W"][...] = self.x.T @ dout
        return dout @ self.params["W"].T


class NotALayer:
    """Has forward but no backward."""

    def forward(self, x):
        return x


class TimeTanh(Module):
    """tanh of each step, written into a preallocated time-major buffer (np.empty, out=, slices)."""

    def forward(self, xs):
        N, T, D = xs.shape
        self.hs = np.empty((T, N, D))
        for t in range(T):
            np.tanh(xs[:, t], out=self.hs[t])
        return self.hs.transpose(1, 0, 2)

    def backward(self, dhs):
        dxs = np.empty_like(dhs)
        for t in range(dhs.shape[1]):
            dxs[:, t] = dhs[:, t] * (1 - self.hs[t] ** 2)
        return dxs


from numpy import zeros as plain_zeros  # noqa: E402  (bound before any trace: never traced)


class PlainCopy(_Bias):
    """2 x + b through a buffer the tracer cannot see being filled (a plain ndarray copy)."""

    def forward(self, x):
        buf = plain_zeros(x.shape)
        buf[...] = x * 2  # a plain buffer's __setitem__: the copy itself is not seen
        return buf + self.params["b"]

    def backward(self, dout):
        self.grads["b"][...] = dout.sum(axis=0)
        return 2 * dout


class PeekyConcat(Module):
    """Peeky seq2seq's input: h (N, H) repeated over the T steps of xs (N, T, D), concatenated."""

    @classmethod
    def example(cls, sizes, rng):
        N, T, D, H = sizes["N"], sizes["T"], sizes["D"], sizes["H"]
        return cls(), (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)))

    def forward(self, xs, h):
        self.D = xs.shape[2]
        hs = np.repeat(h[:, None, :], xs.shape[1], axis=1)
        return np.concatenate([xs, hs], axis=2)

    def backward(self, dout):
        return dout[:, :, :self.D], dout[:, :, self.D:].sum(axis=1)  # h was repeated over T


class NeedsArgs(Module):
    """A layer whose constructor needs arguments and which has no create() or example()."""

    def __init__(self, W):
        super().__init__()
        self.params = {"W": W}

    def forward(self, x):
        return x @ self.params["W"]

    def backward(self, dout):
        return dout @ self.params["W"].T
