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


# -- book-style layers (no Module, no example()): built from their argument names -------------


class Scale:
    """Book 1 style, x @ table: the name ``table`` says no shape (--init "table=(4,5)")."""

    def __init__(self, table):
        self.table = table
        self.dtable = None

    def forward(self, x):
        self.x = x
        return x @ self.table

    def backward(self, dout):
        self.dtable = self.x.T @ dout
        return dout @ self.table.T


class LateAffine:
    """Book 1 style whose __init__ does not set self.dW: W and b are parameters only
    because backward sets dW and db."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class CreateFails(LateAffine):
    """A create() that raises: the class is built from its argument names instead."""

    @classmethod
    def create(cls, D, H, rng, dtype=np.float64):
        raise RuntimeError("create is broken")


class ConstructorFails:
    """A constructor with a typo: it raises whatever it is given."""

    def __init__(self, W):
        self.W = w  # noqa: F821 -- the reader's typo

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout


class _Affine2:
    """Book 2's Affine (a part of Book2Net)."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]

    def forward(self, x):
        W, b = self.params
        self.x = x
        return np.dot(x, W) + b

    def backward(self, dout):
        W, b = self.params
        self.grads[0][...] = np.dot(self.x.T, dout)
        self.grads[1][...] = np.sum(dout, axis=0)
        return np.dot(dout, W.T)


class _Sigmoid2:
    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Book2Net:
    """Book 2's TwoLayerNet without the loss: its params list gathers its layers' arrays."""

    def __init__(self, W1, b1, W2, b2):
        self.layers = [_Affine2(W1, b1), _Sigmoid2(), _Affine2(W2, b2)]
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout
