"""A few layers written in zerokara's own Module style, as a user of the library would.

Test fixtures for ``zerokara check``: the same layers as the book-style files
(Affine, Sigmoid, RNN, Embedding, SoftmaxWithLoss), but with ``params`` and
``grads`` as dicts keyed by name and gradients set with
``self.grads["W"][...] = ...``. Written independently; every class here is correct.
"""

import numpy as np

from zerokara.layers.base import Module


class Affine(Module):
    """out = x W + b; x (N, D), W (D, H), b (H,)."""

    def __init__(self, W, b):
        super().__init__()
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"][...] = self.x.T @ dout
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)); dx = dout * y * (1 - y)."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class RNN(Module):
    """One tanh RNN step: h_next = tanh(x Wx + h_prev Wh + b)."""

    def __init__(self, Wx, Wh, b):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def forward(self, x, h_prev):
        p = self.params
        h_next = np.tanh(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"])
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)
        self.grads["Wx"][...] = x.T @ dt
        self.grads["Wh"][...] = h_prev.T @ dt
        self.grads["b"][...] = dt.sum(axis=0)
        return dt @ self.params["Wx"].T, dt @ self.params["Wh"].T


class Embedding(Module):
    """Row lookup out = W[idx]; returns no input gradient (ids are integers)."""

    def __init__(self, W):
        super().__init__()
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.idx = None

    def forward(self, idx):
        self.idx = idx
        return self.params["W"][idx]

    def backward(self, dout):
        dW = self.grads["W"]
        dW[...] = 0
        np.add.at(dW, self.idx, dout)
        return None


class SoftmaxWithLoss(Module):
    """Softmax + mean cross-entropy; x (N, C), t labels (N,) or one-hot (N, C)."""

    def __init__(self):
        super().__init__()
        self.y = None
        self.t = None

    def forward(self, x, t):
        if t.size == x.size:  # one-hot -> labels
            t = t.argmax(axis=1)
        x = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        self.t = t
        N = x.shape[0]
        return -np.log(self.y[np.arange(N), t]).mean()

    def backward(self, dout=1):
        N = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(N), self.t] -= 1
        return dx * (dout / N)
