"""One broken layer per mistake ``zerokara check`` must name, and the correct layer
next to it that it must not flag. Written as readers of the books write them: book 1
(self.W, self.b -> self.dW, self.db) or book 2 (self.params / self.grads lists filled
with ``self.grads[i][...] = ...``). EXPECT at the bottom lists the diagnosis codes
expected for every class ([] for the correct ones).

Sizes the tool has to pick for some mistakes to show (see the docstrings):
repeated ids in idx (assign-not-add), N > 1 and T > 1 (the unsummed biases raise
NumPy's broadcast ValueError at their ``self.grads[i][...] =`` line), N != H
(bias-wrong-axis), D != H (transposed dW of Affine, wrong-weight).
"""

import numpy as np


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)  # オーバーフロー対策
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # 教師データがone-hot-vectorの場合、正解ラベルのインデックスに変換
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


# ---------------------------------------------------------------- Affine (book 1)


class Affine:
    """Correct: dW = x.T @ dout, db = np.sum(dout, axis=0)."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        out = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class AffineDbNotSummed(Affine):
    """Bias gradient not summed over the batch: db = dout."""

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = dout
        return dx


class AffineDbWrongAxis(Affine):
    """Bias gradient summed over the wrong axis: np.sum(dout, axis=1)."""

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=1)
        return dx


class AffineDbKeepdims(Affine):
    """Bias gradient kept as (1, H) by keepdims=True for a bias of shape (H,)."""

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0, keepdims=True)
        return dx


class AffineDWTransposed(Affine):
    """Weight gradient transposed: dW = dout.T @ x, shape (H, D) instead of (D, H)."""

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(dout.T, self.x)
        self.db = np.sum(dout, axis=0)
        return dx


# ---------------------------------------------------------------- Affine (book 2)


class AffineBook2:
    """Correct: the book-2 Affine, grads written in place with [...]."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        W, b = self.params
        out = np.dot(x, W) + b
        self.x = x
        return out

    def backward(self, dout):
        W, b = self.params
        dx = np.dot(dout, W.T)
        dW = np.dot(self.x.T, dout)
        db = np.sum(dout, axis=0)

        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


class AffineGradsListRebound(AffineBook2):
    """self.grads[0] = dW puts a new array in the list; the optimizer keeps the old zeros."""

    def backward(self, dout):
        W, b = self.params
        dx = np.dot(dout, W.T)
        dW = np.dot(self.x.T, dout)
        db = np.sum(dout, axis=0)

        self.grads[0] = dW
        self.grads[1][...] = db
        return dx


class AffineGradsLocalRebound(AffineBook2):
    """dW, db = self.grads then dW = ... rebinds the local names; self.grads stays zero."""

    def backward(self, dout):
        W, b = self.params
        dW, db = self.grads
        dx = np.dot(dout, W.T)
        dW = np.dot(self.x.T, dout)
        db = np.sum(dout, axis=0)
        return dx


# ---------------------------------------------------------------- TimeAffine (book 2)


class TimeAffine:
    """Correct: the book-2 TimeAffine, db summed over batch and time."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        N, T, D = x.shape
        W, b = self.params

        rx = x.reshape(N * T, -1)
        out = np.dot(rx, W) + b
        self.x = x
        return out.reshape(N, T, -1)

    def backward(self, dout):
        x = self.x
        N, T, D = x.shape
        W, b = self.params

        dout = dout.reshape(N * T, -1)
        rx = x.reshape(N * T, -1)

        db = np.sum(dout, axis=0)
        dW = np.dot(rx.T, dout)
        dx = np.dot(dout, W.T)
        dx = dx.reshape(*x.shape)

        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


class TimeAffineDbOverBatchOnly(TimeAffine):
    """Bias gradient summed over the batch only: (T, H), time not summed (grads[1][...] raises)."""

    def backward(self, dout):
        x = self.x
        N, T, D = x.shape
        W, b = self.params

        db = np.sum(dout, axis=0)  # dout is still (N, T, H) here
        dout = dout.reshape(N * T, -1)
        rx = x.reshape(N * T, -1)

        dW = np.dot(rx.T, dout)
        dx = np.dot(dout, W.T)
        dx = dx.reshape(*x.shape)

        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx


# ---------------------------------------------------------------- activations (book 1)


class Sigmoid:
    """Correct: dx = dout * (1.0 - out) * out."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class SigmoidFromDout(Sigmoid):
    """Derivative computed from dout instead of the output: dout * (1.0 - dout)."""

    def backward(self, dout):
        dx = dout * (1.0 - dout)
        return dx


class SigmoidAtInput:
    """Derivative y(1 - y) evaluated at the input x instead of the output y."""

    def __init__(self):
        self.x = None
        self.out = None

    def forward(self, x):
        self.x = x
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * self.x * (1 - self.x)
        return dx


class Tanh:
    """Correct: dx = dout * (1 - out ** 2)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = np.tanh(x)
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1 - self.out ** 2)
        return dx


class TanhAtInput:
    """Derivative 1 - y**2 evaluated at the input x instead of the output y."""

    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, dout):
        dx = dout * (1 - self.x ** 2)
        return dx


class Relu:
    """Correct: copies dout before zeroing the masked entries."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class ReluModifiesDout(Relu):
    """Right values, but backward zeroes entries of the caller's dout in place."""

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


# ---------------------------------------------------------------- SoftmaxWithLoss (book 1)


class SoftmaxWithLoss:
    """Correct: (y - t) / batch_size, for one-hot or integer labels t."""

    def __init__(self):
        self.loss = None
        self.y = None  # softmaxの出力
        self.t = None  # 教師データ

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:  # 教師データがone-hot-vectorの場合
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


class SoftmaxWithLossNoMean(SoftmaxWithLoss):
    """Forgets to divide by batch_size: the gradient is N times too large."""

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = self.y - self.t
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
        return dx


class SoftmaxWithLossDoubleMean(SoftmaxWithLoss):
    """Divides by batch_size twice: the gradient is N times too small."""

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        dx = dx / batch_size  # 1サンプルあたりの誤差にする
        return dx


# ---------------------------------------------------------------- RNN (book 2)


class RNN:
    """Correct: the book-2 RNN cell."""

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
        db = np.sum(dt, axis=0)
        dWh = np.dot(h_prev.T, dt)
        dh_prev = np.dot(dt, Wh.T)
        dWx = np.dot(x.T, dt)
        dx = np.dot(dt, Wx.T)

        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db
        return dx, dh_prev


class RNNDWhTransposed(RNN):
    """dWh transposed: dt.T @ h_prev instead of h_prev.T @ dt (same (H, H) shape)."""

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache

        dt = dh_next * (1 - h_next ** 2)
        db = np.sum(dt, axis=0)
        dWh = np.dot(dt.T, h_prev)
        dh_prev = np.dot(dt, Wh.T)
        dWx = np.dot(x.T, dt)
        dx = np.dot(dt, Wx.T)

        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db
        return dx, dh_prev


class RNNDhPrevWithWx(RNN):
    """dh_prev multiplied by the wrong weight: dt @ Wx.T instead of dt @ Wh.T."""

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache

        dt = dh_next * (1 - h_next ** 2)
        db = np.sum(dt, axis=0)
        dWh = np.dot(h_prev.T, dt)
        dh_prev = np.dot(dt, Wx.T)
        dWx = np.dot(x.T, dt)
        dx = np.dot(dt, Wx.T)

        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db
        return dx, dh_prev


class RNNNoTanhDerivative(RNN):
    """tanh's derivative left out: dt = dh_next."""

    def backward(self, dh_next):
        Wx, Wh, b = self.params
        x, h_prev, h_next = self.cache

        dt = dh_next
        db = np.sum(dt, axis=0)
        dWh = np.dot(h_prev.T, dt)
        dh_prev = np.dot(dt, Wh.T)
        dWx = np.dot(x.T, dt)
        dx = np.dot(dt, Wx.T)

        self.grads[0][...] = dWx
        self.grads[1][...] = dWh
        self.grads[2][...] = db
        return dx, dh_prev


# ---------------------------------------------------------------- Embedding (book 2)


class Embedding:
    """Correct: the book's loop with += (repeated ids accumulate)."""

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
        dW[...] = 0
        for i, word_id in enumerate(self.idx):
            dW[word_id] += dout[i]
        return None


class EmbeddingAddAt(Embedding):
    """Correct: np.add.at(dW, self.idx, dout)."""

    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        np.add.at(dW, self.idx, dout)
        return None


class EmbeddingAssignLoop(Embedding):
    """Assigns instead of adding in the loop: a repeated id keeps only its last row."""

    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        for i, word_id in enumerate(self.idx):
            dW[word_id] = dout[i]
        return None


class EmbeddingAssignVectorised(Embedding):
    """dW[self.idx] = dout assigns: a repeated id keeps one row instead of the sum."""

    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        dW[self.idx] = dout
        return None


class AffineGradsAccumulate(AffineBook2):
    """Adds into the gradient (+=) that nothing sets: book 2's optimizer never zeroes grads."""

    def backward(self, dout):
        W, b = self.params
        self.grads[0] += np.dot(self.x.T, dout)
        self.grads[1][...] = np.sum(dout, axis=0)
        return np.dot(dout, W.T)


class EmbeddingAddAtNoZero(Embedding):
    """np.add.at into dW without dW[...] = 0 first: each step adds the last ones again."""

    def backward(self, dout):
        dW, = self.grads
        np.add.at(dW, self.idx, dout)
        return None


EXPECT: dict[str, list[str]] = {
    # Affine (book 1)
    "Affine": [],
    "AffineDbNotSummed": ["bias-not-summed"],
    "AffineDbWrongAxis": ["bias-wrong-axis"],
    "AffineDbKeepdims": ["bias-keepdims"],
    "AffineDWTransposed": ["transposed"],
    # Affine (book 2)
    "AffineBook2": [],
    "AffineGradsListRebound": ["grads-rebound"],
    "AffineGradsLocalRebound": ["grads-rebound"],
    # TimeAffine (book 2)
    "TimeAffine": [],
    "TimeAffineDbOverBatchOnly": ["bias-not-summed"],
    # activations (book 1)
    "Sigmoid": [],
    "SigmoidFromDout": ["derivative-from-dout"],
    "SigmoidAtInput": ["derivative-at-input"],
    "Tanh": [],
    "TanhAtInput": ["derivative-at-input"],
    "Relu": [],
    "ReluModifiesDout": ["dout-modified"],
    # SoftmaxWithLoss (book 1)
    "SoftmaxWithLoss": [],
    "SoftmaxWithLossNoMean": ["missing-1/N"],
    "SoftmaxWithLossDoubleMean": ["double-1/N"],
    # RNN (book 2)
    "RNN": [],
    "RNNDWhTransposed": ["transposed"],
    "RNNDhPrevWithWx": ["wrong-weight"],
    "RNNNoTanhDerivative": ["derivative-left-out"],
    # Embedding (book 2)
    "Embedding": [],
    "EmbeddingAddAt": [],
    "EmbeddingAssignLoop": ["assign-not-add"],
    "EmbeddingAssignVectorised": ["assign-not-add"],
    # gradients added into, never set (book 2)
    "AffineGradsAccumulate": ["grads-accumulate"],
    "EmbeddingAddAtNoZero": ["grads-accumulate"],
}
