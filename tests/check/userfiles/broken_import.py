"""A book-1 SoftmaxWithLoss importing the book's ``common.functions``, which is not on
the path here (ModuleNotFoundError: No module named 'common'). The book's scripts add
the repository root with ``sys.path.append(os.pardir)`` first; this file does not."""

import numpy as np
from common.functions import cross_entropy_error, softmax


class SoftmaxWithLoss:
    """Correct layer, but its module imports a package that does not exist here."""

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = (self.y - self.t) / batch_size
        return dx
