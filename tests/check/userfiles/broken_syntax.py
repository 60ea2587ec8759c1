"""A book-1 Sigmoid whose backward line lacks its colon: the file does not even import
(SyntaxError: expected ':')."""

import numpy as np


class Sigmoid:
    """Missing ':' after def backward(self, dout): a SyntaxError, nothing runs."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout)
        dx = dout * (1.0 - self.out) * self.out
        return dx
