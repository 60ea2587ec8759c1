"""Book 2 chapter 6's Rnnlm on Penn Treebank (ch06/train_rnnlm.py), as the book's
own code does it: ptb.load_data's vocabulary (words in order of first appearance,
line ends as <eos>), per-step LSTM (gate order f, g, i, o), the book's init and
the global np.random, RnnlmTrainer's batches (its time_idx runs on across epochs
and the LSTM state is never reset while training), clip_grads, SGD, and
eval_perplexity (10 streams, time 35) on test after model.reset_state().
Written independently of zerokara (no zerokara import) from the book's
description, to measure what the book's setup reaches on this machine next to
``zerokara train rnnlm`` -- see the README's results table.

Usage: ZEROKARA_DATA_DIR=../shared/data python docs/reference/book2_rnnlm.py SEED [MAX_ITERS]
(MAX_ITERS cuts each epoch short, for a quick check.)
"""
import os
import sys
import time

import numpy as np

from book2_layers import Affine, Embed, TimeLSTM, f32

seed = int(sys.argv[1]); cut = int(sys.argv[2]) if len(sys.argv) > 2 else None
np.random.seed(seed)
root = os.path.join(os.environ.get('ZEROKARA_DATA_DIR', os.path.expanduser('~/.cache/zerokara')), 'ptb')


def words(split):
    return open(os.path.join(root, f'ptb.{split}.txt')).read().replace('\n', '<eos>').strip().split()


word_to_id = {}
for w in words('train'):
    if w not in word_to_id: word_to_id[w] = len(word_to_id)
corpus = np.array([word_to_id[w] for w in words('train')])
corpus_test = np.array([word_to_id[w] for w in words('test')])
V, D, H = len(word_to_id), 100, 100
batch_size, time_size, lr, max_epoch, max_grad = 20, 35, 20.0, 4, 0.25
rn = np.random.randn


embed = Embed((rn(V, D) / 100).astype(f32))
lstm = TimeLSTM((rn(D, 4 * H) / np.sqrt(D)).astype(f32), (rn(H, 4 * H) / np.sqrt(H)).astype(f32),
                np.zeros(4 * H, f32), stateful=True)
aff = Affine((rn(H, V) / np.sqrt(H)).astype(f32), np.zeros(V, f32))
layers = [embed, lstm, aff]
params = [p for l in layers for p in l.params]; grads = [g for l in layers for g in l.grads]


def forward(xs, ts, train=True):
    score = aff.forward(lstm.forward(embed.forward(xs)))
    N, T, Vv = score.shape; s = score.reshape(N * T, Vv); tt = ts.reshape(-1)
    s = s - s.max(1, keepdims=True); y = np.exp(s); y /= y.sum(1, keepdims=True)
    loss = -np.log(y[np.arange(N * T), tt]).mean()
    if train:
        y[np.arange(N * T), tt] -= 1; y /= N * T
        embed.backward(lstm.backward(aff.backward(y.reshape(N, T, Vv))))
    return loss


xs, ts = corpus[:-1], corpus[1:]
data_size = len(xs); jump = data_size // batch_size
max_iters = data_size // (batch_size * time_size)
time_idx = 0; t0 = time.time()
for epoch in range(max_epoch):
    total = 0.0
    for it in range(cut or max_iters):
        bx = np.empty((batch_size, time_size), dtype=np.int64); bt = np.empty_like(bx)
        for k in range(time_size):  # RnnlmTrainer.get_batch: time_idx is never reset
            pos = (np.arange(batch_size) * jump + time_idx) % data_size
            bx[:, k], bt[:, k] = xs[pos], ts[pos]; time_idx += 1
        total += forward(bx, bt)
        norm = np.sqrt(sum(float((g ** 2).sum()) for g in grads)); rate = max_grad / (norm + 1e-6)
        if rate < 1:
            for g in grads: g *= rate
        for p, g in zip(params, grads): p -= lr * g
    print(f"epoch {epoch + 1} train perplexity {np.exp(total / (cut or max_iters)):.2f} "
          f"({time.time() - t0:.0f} s)", flush=True)

# eval_perplexity(model, corpus_test) after model.reset_state(): 10 streams, time 35
lstm.h = lstm.c = None
bs, n = 10, len(corpus_test)
iters = (n - 1) // (bs * time_size); jump = (n - 1) // bs; total = 0.0
for it in range(iters):
    pos = it * time_size + np.arange(bs)[:, None] * jump + np.arange(time_size)[None, :]
    total += forward(corpus_test[pos % n], corpus_test[(pos + 1) % n], train=False)
print(f"test perplexity {np.exp(total / iters):.2f} ({(time.time() - t0) / 60:.1f} min)")
