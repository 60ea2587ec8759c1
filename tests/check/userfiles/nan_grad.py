"""A Sigmoid whose backward computes y(1 - y) in the log domain with a sign slip,
np.log(self.out - 1) instead of np.log(1 - self.out): the log of a negative number,
so every gradient is NaN (RuntimeWarning: invalid value encountered in log)."""

import numpy as np


class Sigmoid:
    """backward takes np.log of a negative number (out - 1 < 0): dx is all NaN."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        # y(1 - y) = exp(log y + log(1 - y))
        dx = dout * np.exp(np.log(self.out) + np.log(self.out - 1))
        return dx
