"""Layers written in legitimate but less common ways, and a few slips among them: the check must
build each right, pass the right ones and name the wrong ones (found by a review that wrote
readers' files the way they come)."""

import numpy as np


class Base:
    """An abstract base: its forward only raises, so it is no layer to check."""

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


class ScaledDotProductAttention(Base):
    """softmax(q k^T / sqrt(d)) v over (N, T, D): q, k and v of one rank."""

    def forward(self, q, k, v):
        d = q.shape[-1]
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        a = np.exp(s - s.max(axis=-1, keepdims=True))
        a /= a.sum(axis=-1, keepdims=True)
        self.cache = (q, k, v, a, d)
        return a @ v

    def backward(self, dout):
        q, k, v, a, d = self.cache
        da = dout @ v.transpose(0, 2, 1)
        dv = a.transpose(0, 2, 1) @ dout
        ds = a * (da - np.sum(da * a, axis=-1, keepdims=True)) / np.sqrt(d)
        return ds @ k, ds.transpose(0, 2, 1) @ q, dv


class MulLayer:
    """Book 1's multiplication node, forward(x, y): y is a float input like x."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class MeanSquaredLoss:
    """0.5 * sum((y - t) ** 2) / N over a batch of outputs y."""

    def forward(self, y, t):
        self.y, self.t = y, t
        return 0.5 * np.sum((y - t) ** 2) / y.shape[0]

    def backward(self, dout=1):
        return dout * (self.y - self.t) / self.y.shape[0]


class MeanSquaredLossNoHalf(MeanSquaredLoss):
    """The loss without 0.5, the gradient still without the factor 2."""

    def forward(self, y, t):
        self.y, self.t = y, t
        return np.sum((y - t) ** 2) / y.shape[0]


class AffineSigmoid:
    """x @ W + b through a sigmoid written in two steps; only dW is wrong (transposed)."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.dW = self.db = None

    def forward(self, x):
        self.x = x
        e = np.exp(-(x @ self.W + self.b))
        self.y = 1 / (1 + e)
        return self.y

    def backward(self, dout):
        da = dout * self.y * (1 - self.y)
        self.dW = np.dot(da.T, self.x)
        self.db = np.sum(da, axis=0)
        return da @ self.W.T


class DictOut:
    """forward returns a dict: no output the check can take a gradient of."""

    def forward(self, x):
        return {"y": 2 * x}

    def backward(self, dout):
        return 2 * dout


def d_square(x):
    """A derivative of a function the check cannot know by name: say it with --of."""
    return 2 * x
