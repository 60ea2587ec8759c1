"""The RNN cell of the teratail question "RNNの逆伝播でdbをaxis=0でsumする理由に関して"
(ゼロから作るDeep Learning ❷, p.199), written the way the question has it.

RNN is the question's code and is correct. RNNWithoutSum is what the asker's first
idea ("the add node passes its gradient through unchanged") gives: db = dt, not
summed over the batch. Its ``self.grads[2][...] = db`` line raises NumPy's
broadcast ValueError ((N, H) into (H,)) whenever N > 1; with N == 1 it runs.
"""

import numpy as np


class RNN:
    """Correct: the question's RNN cell, db = np.sum(dt, axis=0)."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        t = np.dot(h_prev, Wh) + np.dot(x, Wx) + b
        h_next = np.tanh(t)

        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache

        dt = dh_next * (1 - h_next ** 2)
        db = np.sum(dt, axis=0)  # こちらが該当箇所です
        dWh = np.dot(h_prev.T, dt)
        dh_prev = np.dot(dt, Wh.T)
        dWx = np.dot(x.T, dt)
        dx = np.dot(dt, Wx.T)

        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db

        return dx, dh_prev


class RNNWithoutSum:
    """Bias gradient not summed over the batch: db = dt (the grads[2][...] line raises)."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        t = np.dot(h_prev, Wh) + np.dot(x, Wx) + b
        h_next = np.tanh(t)

        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache

        dt = dh_next * (1 - h_next ** 2)
        db = dt  # 加算ノードは伝わってきた値をそのまま流すので sum しない(と考えた)
        dWh = np.dot(h_prev.T, dt)
        dh_prev = np.dot(dt, Wh.T)
        dWx = np.dot(x.T, dt)
        dx = np.dot(dt, Wx.T)

        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db  # ValueError: could not broadcast (N, H) into (H,)

        return dx, dh_prev
