"""Book 2 chapter 7's seq2seq on addition.txt (plain, or with --peeky the
PeekyDecoder of section 7.4), as the book's own code does it: per-step LSTM layers (gate order f, g, i, o), the global np.random,
the book's Adam (eps 1e-7 outside the root), clip_grads, Trainer and split.
Written independently of zerokara (no zerokara import) from the book's
description, to measure what the book's setup reaches on this machine next
to ``zerokara train seq2seq`` -- see docs/seq2seq.md.

Usage: ZEROKARA_DATA_DIR=../shared/data python docs/reference/book2_seq2seq.py SEED [--reverse] [--peeky]
"""
import os
import sys
import time

import numpy as np

from book2_layers import Affine, Embed, TimeLSTM, f32

seed = int(sys.argv[1]); reverse = "--reverse" in sys.argv; peeky = "--peeky" in sys.argv
np.random.seed(seed)

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


def lstm(stateful, d_in):
    return TimeLSTM((np.random.randn(d_in, 4 * H) / np.sqrt(d_in)).astype(f32),
                    (np.random.randn(H, 4 * H) / np.sqrt(H)).astype(f32), np.zeros(4 * H, f32), stateful)


# The peeky decoder sees the encoder's h twice more: beside every step's
# embedding (LSTM input H + D) and beside every step's output (Affine input H + H).
P = H if peeky else 0
enc_embed = Embed((np.random.randn(V, D) * 0.01).astype(f32)); enc_lstm = lstm(False, D)
dec_embed = Embed((np.random.randn(V, D) * 0.01).astype(f32)); dec_lstm = lstm(True, P + D)
aff = Affine((np.random.randn(P + H, V) / np.sqrt(P + H)).astype(f32), np.zeros(V, f32))


def peek(h, out):
    """(N, H) and (N, T, D) -> (N, T, H + D) in peeky mode, else out unchanged."""
    if not peeky: return out
    return np.concatenate((np.repeat(h[:, None], out.shape[1], axis=1), out), axis=2)
layers = [enc_embed, enc_lstm, dec_embed, dec_lstm, aff]
params = [p for l in layers for p in l.params]; grads = [g for l in layers for g in l.grads]


def forward(xs, ts):
    hs = enc_lstm.forward(enc_embed.forward(xs)); h = hs[:, -1]
    dec_lstm.h, dec_lstm.c = h, None
    score = aff.forward(peek(h, dec_lstm.forward(peek(h, dec_embed.forward(ts[:, :-1])))))
    N, T, Vv = score.shape; s = score.reshape(N * T, Vv); tt = ts[:, 1:].reshape(-1)
    s = s - s.max(1, keepdims=True); y = np.exp(s); y /= y.sum(1, keepdims=True)
    loss = -np.log(y[np.arange(N * T), tt] + 1e-7).mean()
    dy = y; dy[np.arange(N * T), tt] -= 1; dy /= N * T
    return loss, dy.reshape(N, T, Vv), hs.shape


def backward(dscore, hshape):
    d = aff.backward(dscore); dh = 0
    if peeky: dh = d[:, :, :H].sum(1); d = d[:, :, H:]
    d = dec_lstm.backward(d)
    if peeky: dh = dh + d[:, :, :H].sum(1); d = d[:, :, H:]
    dec_embed.backward(d)
    dhs = np.zeros(hshape, f32); dhs[:, -1] = dec_lstm.dh + dh
    enc_embed.backward(enc_lstm.backward(dhs))


def generate(xs, start, n):
    hs = enc_lstm.forward(enc_embed.forward(xs)); h = hs[:, -1]; dec_lstm.h, dec_lstm.c = h, None
    out = []; x_ = start
    for _ in range(n):
        s = aff.forward(peek(h, dec_lstm.forward(peek(h, dec_embed.forward(x_[:, None])))))
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
