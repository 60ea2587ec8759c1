"""Book 2 chapter 7's plain seq2seq on addition.txt, as the book's own code
does it: per-step LSTM layers (gate order f, g, i, o), the global np.random,
the book's Adam (eps 1e-7 outside the root), clip_grads, Trainer and split.
Written independently of zerokara (no zerokara import) from the book's
description, to measure what the book's setup reaches on this machine next
to ``zerokara train seq2seq`` -- see docs/seq2seq.md.

Usage: ZEROKARA_DATA_DIR=../shared/data python docs/reference/book2_seq2seq.py SEED [--reverse]
"""
import os
import sys
import time

import numpy as np

seed = int(sys.argv[1]); reverse = "--reverse" in sys.argv
np.random.seed(seed)
f32 = np.float32

# --- data: book's load_data('addition.txt', seed=1984)
lines = open(os.path.join(os.environ.get('ZEROKARA_DATA_DIR', os.path.expanduser('~/.cache/zerokara')), 'seq2seq', 'addition.txt')).read().splitlines()
qs, ans = [], []
for line in lines:
    i = line.find('_'); qs.append(line[:i]); ans.append(line[i:])
chars = {}
for s in qs + ans:
    for c in s:
        if c not in chars: chars[c] = len(chars)
x = np.array([[chars[c] for c in s] for s in qs], dtype=np.int64)
t = np.array([[chars[c] for c in s] for s in ans], dtype=np.int64)
idx = np.arange(len(x)); rs = np.random.RandomState(1984); rs.shuffle(idx)
x, t = x[idx], t[idx]
split = len(x) - len(x) // 10
x_train, x_test, t_train, t_test = x[:split], x[split:], t[:split], t[split:]
if reverse:
    x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
V, D, H = len(chars), 16, 128


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


def lstm(stateful):
    return TimeLSTM((np.random.randn(D, 4 * H) / np.sqrt(D)).astype(f32),
                    (np.random.randn(H, 4 * H) / np.sqrt(H)).astype(f32), np.zeros(4 * H, f32), stateful)


enc_embed = Embed((np.random.randn(V, D) * 0.01).astype(f32)); enc_lstm = lstm(False)
dec_embed = Embed((np.random.randn(V, D) * 0.01).astype(f32)); dec_lstm = lstm(True)
aff = Affine((np.random.randn(H, V) / np.sqrt(H)).astype(f32), np.zeros(V, f32))
layers = [enc_embed, enc_lstm, dec_embed, dec_lstm, aff]
params = [p for l in layers for p in l.params]; grads = [g for l in layers for g in l.grads]


def forward(xs, ts):
    hs = enc_lstm.forward(enc_embed.forward(xs)); h = hs[:, -1]
    dec_lstm.h, dec_lstm.c = h, None
    score = aff.forward(dec_lstm.forward(dec_embed.forward(ts[:, :-1])))
    N, T, Vv = score.shape; s = score.reshape(N * T, Vv); tt = ts[:, 1:].reshape(-1)
    s = s - s.max(1, keepdims=True); y = np.exp(s); y /= y.sum(1, keepdims=True)
    loss = -np.log(y[np.arange(N * T), tt] + 1e-7).mean()
    dy = y; dy[np.arange(N * T), tt] -= 1; dy /= N * T
    return loss, dy.reshape(N, T, Vv), hs.shape


def backward(dscore, hshape):
    d = dec_lstm.backward(aff.backward(dscore)); dec_embed.backward(d)
    dhs = np.zeros(hshape, f32); dhs[:, -1] = dec_lstm.dh
    enc_embed.backward(enc_lstm.backward(dhs))


def generate(xs, start, n):
    hs = enc_lstm.forward(enc_embed.forward(xs)); dec_lstm.h, dec_lstm.c = hs[:, -1], None
    out = []; x_ = start
    for _ in range(n):
        s = aff.forward(dec_lstm.forward(dec_embed.forward(x_[:, None])))
        x_ = s[:, 0].argmax(1); out.append(x_)
    return np.stack(out, 1)


m = [np.zeros_like(p) for p in params]; v = [np.zeros_like(p) for p in params]; it = 0
B = 128; iters = len(x_train) // B
for epoch in range(25):
    t0 = time.time(); perm = np.random.permutation(len(x_train)); xe, te = x_train[perm], t_train[perm]
    for k in range(iters):
        loss, ds, hshape = forward(xe[k * B:(k + 1) * B], te[k * B:(k + 1) * B]); backward(ds, hshape)
        norm = np.sqrt(sum(float((g ** 2).sum()) for g in grads)); rate = 5.0 / (norm + 1e-6)
        if rate < 1:
            for g in grads: g *= rate
        it += 1; lr_t = 0.001 * np.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it)
        for p, g, mm, vv in zip(params, grads, m, v):
            mm += 0.1 * (g - mm); vv += 0.001 * (g ** 2 - vv); p -= lr_t * mm / (np.sqrt(vv) + 1e-7)
    guess = generate(x_test, t_test[:, 0], t_test.shape[1] - 1)
    acc = float((guess == t_test[:, 1:]).all(1).mean())
    print(f"epoch {epoch + 1} loss {loss:.3f} acc {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
