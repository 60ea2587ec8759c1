"""Book 2's layers as its own code writes them (per-step LSTM with gate order
f, g, i, o; Embedding with np.add.at; Affine over (N, T, D)), shared by the
reference scripts in this folder. Written independently of zerokara (no
zerokara import) from the book's description.
"""
import numpy as np

f32 = np.float32


def sigmoid(a): return 1 / (1 + np.exp(-a))


class TimeLSTM:
    def __init__(self, Wx, Wh, b, stateful):
        self.params = [Wx, Wh, b]; self.grads = [np.zeros_like(p) for p in self.params]
        self.stateful = stateful; self.h = self.c = None; self.dh = None

    def forward(self, xs):
        Wx, Wh, b = self.params; N, T, _ = xs.shape; Hh = Wh.shape[0]
        hs = np.empty((N, T, Hh), dtype=f32); self.cache = []
        if not self.stateful or self.h is None: self.h = np.zeros((N, Hh), f32)
        if not self.stateful or self.c is None: self.c = np.zeros((N, Hh), f32)
        for k in range(T):
            h_prev, c_prev = self.h, self.c
            A = xs[:, k] @ Wx + h_prev @ Wh + b
            f, g, i, o = sigmoid(A[:, :Hh]), np.tanh(A[:, Hh:2*Hh]), sigmoid(A[:, 2*Hh:3*Hh]), sigmoid(A[:, 3*Hh:])
            c = f * c_prev + g * i; h = o * np.tanh(c)
            self.cache.append((xs[:, k], h_prev, c_prev, i, f, g, o, c))
            self.h, self.c = h, c; hs[:, k] = h
        return hs

    def backward(self, dhs):
        Wx, Wh, b = self.params; N, T, Hh = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), f32); dh = 0; dc = 0
        for g_ in self.grads: g_[...] = 0
        for k in reversed(range(T)):
            x_, h_prev, c_prev, i, f, g, o, c = self.cache[k]
            dh_ = dhs[:, k] + dh; tc = np.tanh(c)
            ds = dc + (dh_ * o) * (1 - tc ** 2)
            dc = ds * f
            di, df, do, dg = ds * g, ds * c_prev, dh_ * tc, ds * i
            di *= i * (1 - i); df *= f * (1 - f); do *= o * (1 - o); dg *= (1 - g ** 2)
            dA = np.hstack((df, dg, di, do))
            self.grads[0] += x_.T @ dA; self.grads[1] += h_prev.T @ dA; self.grads[2] += dA.sum(0)
            dxs[:, k] = dA @ Wx.T; dh = dA @ Wh.T
        self.dh = dh
        return dxs


class Embed:
    def __init__(self, W): self.params = [W]; self.grads = [np.zeros_like(W)]
    def forward(self, ids): self.ids = ids; return self.params[0][ids]
    def backward(self, d):
        self.grads[0][...] = 0; np.add.at(self.grads[0], self.ids, d)


class Affine:
    def __init__(self, W, b): self.params = [W, b]; self.grads = [np.zeros_like(W), np.zeros_like(b)]
    def forward(self, xs):
        self.xs = xs; N, T, _ = xs.shape
        return (xs.reshape(N * T, -1) @ self.params[0] + self.params[1]).reshape(N, T, -1)
    def backward(self, d):
        N, T, _ = d.shape; d2 = d.reshape(N * T, -1)
        self.grads[0][...] = self.xs.reshape(N * T, -1).T @ d2; self.grads[1][...] = d2.sum(0)
        return (d2 @ self.params[0].T).reshape(N, T, -1)
