"""Book 2 chapter 5's SimpleRnnlm on the first 1,000 words of Penn Treebank
(ch05/train_custom_loop.py), as the book's own code does it: ptb.load_data's
vocabulary (words in order of first appearance, line ends as <eos>), the vocabulary
size max(id) + 1 of those words, a tanh RNN kept stateful across batches, the book's
init and the global np.random, batch 10, time 5, SGD lr 0.1, no clipping, 100 epochs,
batch offsets i * (999 // 10) whose time index runs on across epochs, and the
perplexity of each epoch as exp(mean loss). Written independently of zerokara (no
zerokara import) from the book's description, to measure what the book's setup
reaches on this machine next to ``zerokara train simple-rnnlm`` -- see
docs/reproduce.md.

Usage: ZEROKARA_DATA_DIR=../shared/data python docs/reference/book2_simple_rnnlm.py SEED [SEED ...]
"""
import os
import sys

import numpy as np

from book2_layers import Affine, Embed, f32

root = os.path.join(os.environ.get('ZEROKARA_DATA_DIR', os.path.expanduser('~/.cache/zerokara')), 'ptb')
text = open(os.path.join(root, 'ptb.train.txt')).read().replace('\n', '<eos>').strip().split()
word_to_id = {}
for w in text:
    if w not in word_to_id: word_to_id[w] = len(word_to_id)
corpus = np.array([word_to_id[w] for w in text[:1000]])
V, D, H = int(corpus.max()) + 1, 100, 100
batch_size, time_size, lr, max_epoch = 10, 5, 0.1, 100


class TimeRNN:
    """tanh RNN over (N, T, D), stateful: h carries over from one batch to the next."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]; self.grads = [np.zeros_like(p) for p in self.params]; self.h = None

    def forward(self, xs):
        Wx, Wh, b = self.params; N, T, _ = xs.shape
        if self.h is None: self.h = np.zeros((N, Wh.shape[0]), f32)
        hs = np.empty((N, T, Wh.shape[0]), f32); self.cache = []
        for k in range(T):
            h_prev = self.h
            self.h = np.tanh(h_prev @ Wh + xs[:, k] @ Wx + b)
            self.cache.append((xs[:, k], h_prev, self.h)); hs[:, k] = self.h
        return hs

    def backward(self, dhs):
        Wx, Wh, b = self.params; N, T, _ = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), f32); dh = 0
        for g in self.grads: g[...] = 0
        for k in reversed(range(T)):
            x, h_prev, h = self.cache[k]
            dt = (dhs[:, k] + dh) * (1 - h ** 2)
            self.grads[0] += x.T @ dt; self.grads[1] += h_prev.T @ dt; self.grads[2] += dt.sum(0)
            dxs[:, k] = dt @ Wx.T; dh = dt @ Wh.T
        return dxs


def run(seed):
    np.random.seed(seed); rn = np.random.randn
    embed = Embed((rn(V, D) / 100).astype(f32))
    rnn = TimeRNN((rn(D, H) / np.sqrt(D)).astype(f32), (rn(H, H) / np.sqrt(H)).astype(f32), np.zeros(H, f32))
    aff = Affine((rn(H, V) / np.sqrt(H)).astype(f32), np.zeros(V, f32))
    layers = [embed, rnn, aff]
    params = [p for l in layers for p in l.params]; grads = [g for l in layers for g in l.grads]
    xs, ts = corpus[:-1], corpus[1:]
    data_size = len(xs); jump = data_size // batch_size; max_iters = data_size // (batch_size * time_size)
    offsets = np.arange(batch_size) * jump
    time_idx = 0; ppl = []
    for epoch in range(max_epoch):
        total = 0.0
        for it in range(max_iters):
            bx = np.empty((batch_size, time_size), np.int64); bt = np.empty_like(bx)
            for k in range(time_size):
                pos = (offsets + time_idx) % data_size
                bx[:, k], bt[:, k] = xs[pos], ts[pos]; time_idx += 1
            score = aff.forward(rnn.forward(embed.forward(bx)))
            N, T, Vv = score.shape; s = score.reshape(N * T, Vv); tt = bt.reshape(-1)
            s = s - s.max(1, keepdims=True); y = np.exp(s); y /= y.sum(1, keepdims=True)
            total += float(-np.log(y[np.arange(N * T), tt]).mean())
            y[np.arange(N * T), tt] -= 1; y /= N * T
            embed.backward(rnn.backward(aff.backward(y.reshape(N, T, Vv))))
            for p, g in zip(params, grads): p -= lr * g
        ppl.append(np.exp(total / max_iters))
    return ppl


for seed in [int(a) for a in sys.argv[1:]] or [0]:
    ppl = run(seed)
    print(f"seed {seed}: perplexity after epoch 1 {ppl[0]:.2f}, after epoch 100 {ppl[-1]:.2f}", flush=True)
