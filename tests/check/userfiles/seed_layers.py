"""The book-1 layers of the study slides "【ゼロから作るDeep Learning】5.5-5.6"
(a Kyoto University reading group), with the slides' type hints.

All four are right in value. Relu's backward ``dout[self.mask] = 0; dx = dout``
(as in the book) writes the zeros into the caller's dout array. SoftmaxWithLoss's
``dx = (self.y - self.t) / batch_size`` needs t one-hot (float, shape (N, C)), as
its type hint says; softmax and cross_entropy_error are book 1's
(common/functions.py).
"""

import numpy as np
import numpy.typing as npt


def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T

    x = x - np.max(x)  # オーバーフロー対策
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    # 教師データがone-hot-vectorの場合、正解ラベルのインデックスに変換
    if t.size == y.size:
        t = t.argmax(axis=1)

    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class Relu:
    """Right values, but backward writes the zeros into the caller's dout (dout[self.mask] = 0)."""

    def __init__(self) -> None:
        # 準伝播時の入力値が0以下の要素をTrueとする配列
        self.mask: npt.NDArray[np.bool] = np.zeros(0)

    def forward(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # 逆伝播時に0以下の要素を0にする
        dout[self.mask] = 0
        dx = dout
        return dx


class Sigmoid:
    """Correct: dx = dout * (1.0 - out) * out."""

    def __init__(self) -> None:
        self.out: npt.NDArray[np.float64] = np.zeros(0)

    def forward(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = 1.0 / (1.0 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Affine:
    """Correct: dW = x.T @ dout, db = dout summed over the batch (axis=0)."""

    def __init__(self, W: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> None:
        self.W: npt.NDArray[np.float64] = W
        self.b: npt.NDArray[np.float64] = b
        self.x: npt.NDArray[np.float64] = np.zeros(0)
        self.dW: npt.NDArray[np.float64] = np.zeros(0)
        self.db: npt.NDArray[np.float64] = np.zeros(0)

    def forward(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        self.x = x
        out = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        dx = np.dot(dout, self.W.T)
        # x方向以外の微分も求める
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class SoftmaxWithLoss:
    """Correct for a one-hot t: dx = (y - t) / batch_size."""

    def __init__(self) -> None:
        self.loss: float = 0.0
        self.y: npt.NDArray[np.float64] = np.zeros(0)
        self.t: npt.NDArray[np.float64] = np.zeros(0)

    def forward(self, x: npt.NDArray[np.float64], t: npt.NDArray[np.float64]) -> float:
        self.t = t
        self.y = softmax(x)
        self.loss = float(cross_entropy_error(self.y, self.t))
        return self.loss

    def backward(self, dout: float = 1) -> npt.NDArray[np.float64]:
        batch_size = self.t.shape[0]
        # バッチサイズで割ることで、1サンプルあたりの誤差を求める
        dx = (self.y - self.t) / batch_size
        return dx
