"""Embedding and EmbeddingDot of the teratail question
"ゼロから作るDeeplearning❷-word2vecに関して" (ゼロから作るDeep Learning ❷, p.149),
with the two typos of the question's code kept:

- Embedding.backward: ``dw[...] = 0`` (lowercase w) raises NameError;
- EmbeddingDot.backward: ``self.chace`` (for self.cache) raises AttributeError.
"""

import numpy as np


class Embedding:
    """Typo dw for dW in backward: NameError: name 'dw' is not defined."""

    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, idx):
        W, = self.params
        self.idx = idx
        out = W[idx]
        return out

    def backward(self, dout):
        dW, = self.grads
        dw[...] = 0
        for i, word_id in enumerate(self.idx):
            dW[word_id] += dout[i]
        return None


class EmbeddingDot:
    """Typo self.chace for self.cache in backward: AttributeError."""

    def __init__(self, W):
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h, idx):
        target_W = self.embed.forward(idx)
        out = np.sum(target_W * h, axis=1)  # ←※※ここの箇所です

        self.cache = (h, target_W)
        return out

    def backward(self, dout):
        h, target_W = self.chace
        dout = dout.reshape(dout.shape[0], 1)

        dtarget_W = dout * h
        self.embed.backward(dtarget_W)
        dh = dout * target_W
        return dh
