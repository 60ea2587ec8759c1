"""Book 1's layers (ゼロから作るDeep Learning: common/layers.py, util.py) written in book 2's style.

Test fixtures for ``zerokara check``: the layers of book 1 as a reader of book 2 writes
them, with ``self.params`` and ``self.grads`` as lists in the constructor's order and
gradients set in place with ``self.grads[0][...] = dW``; the constructor arguments keep
book 1's names so that the check can build every class from names alone. Written
independently; every class here is correct.
"""

import numpy as np


# -- functions.py / util.py ------------------------------------------------------


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """Mean cross-entropy of probabilities y (N, C); t labels (N,) or one-hot (N, C)."""
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1)
    if t.size == y.size:
        t = t.argmax(axis=1)
    N = y.shape[0]
    return -np.sum(np.log(y[np.arange(N), t] + 1e-7)) / N


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """(N, C, H, W) -> (N * out_h * out_w, C * filter_h * filter_w), one row per window."""
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = np.empty((N, C, filter_h, filter_w, out_h, out_w), dtype=input_data.dtype)
    for i in range(filter_h):
        for j in range(filter_w):
            col[:, :, i, j] = img[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col: each window's entries are added back to where they came from."""
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for i in range(filter_h):
        for j in range(filter_w):
            img[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += col[:, :, i, j]
    return img[:, :, pad:H + pad, pad:W + pad]


# -- layers.py -------------------------------------------------------------------


class Relu:
    def __init__(self):
        self.params, self.grads = [], []
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


class Sigmoid:
    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    """out = x W + b; x (N, ...) is flattened to (N, D) as book 1 does."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None
        self.original_x_shape = None

    def forward(self, x):
        W, b = self.params
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, W) + b

    def backward(self, dout):
        W, b = self.params
        self.grads[0][...] = np.dot(self.x.T, dout)
        self.grads[1][...] = np.sum(dout, axis=0)
        dx = np.dot(dout, W.T)
        return dx.reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax + cross-entropy; t labels (N,) or one-hot (N, C)."""

    def __init__(self):
        self.params, self.grads = [], []
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout=1):
        N = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = self.y - self.t
        else:
            dx = self.y.copy()
            dx[np.arange(N), self.t] -= 1
        return dx * dout / N


class Dropout:
    """Drops with np.random.rand in training, scales by (1 - ratio) at test."""

    def __init__(self, dropout_ratio=0.5):
        self.params, self.grads = [], []
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    """Normalises over the batch, then gamma * xn + beta; 4-D x is flattened to (N, C*H*W)."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.params = [gamma, beta]
        self.grads = [np.zeros_like(gamma), np.zeros_like(beta)]
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.input_shape = None
        self.cache = None

    def forward(self, x, train_flg=True):
        gamma, beta = self.params
        self.input_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])

        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.cache = (xc, xn, std)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + 10e-7)

        out = gamma * xn + beta
        return out.reshape(self.input_shape)

    def backward(self, dout):
        gamma, beta = self.params
        xc, xn, std = self.cache
        N = xc.shape[0]
        dout = dout.reshape(N, -1)

        self.grads[0][...] = np.sum(dout * xn, axis=0)
        self.grads[1][...] = np.sum(dout, axis=0)

        dxn = gamma * dout
        dxc = dxn / std
        dstd = -np.sum(dxn * xc / (std * std), axis=0)
        dvar = 0.5 * dstd / std
        dxc += (2.0 / N) * xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / N
        return dx.reshape(self.input_shape)


class Convolution:
    """Filters W (FN, C, FH, FW), bias b (FN,): x (N, C, H, W) -> (N, FN, out_h, out_w)."""

    def __init__(self, W, b, stride=1, pad=0):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.stride = stride
        self.pad = pad
        self.cache = None

    def forward(self, x):
        W, b = self.params
        FN, C, FH, FW = W.shape
        N, C, H, Wd = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (Wd + 2 * self.pad - FW) // self.stride + 1

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = W.reshape(FN, -1).T
        out = np.dot(col, col_W) + b
        self.cache = (x.shape, col, col_W)
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)

    def backward(self, dout):
        W, b = self.params
        FN, C, FH, FW = W.shape
        x_shape, col, col_W = self.cache
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.grads[0][...] = np.dot(col.T, dout).T.reshape(FN, C, FH, FW)
        self.grads[1][...] = np.sum(dout, axis=0)

        dcol = np.dot(dout, col_W.T)
        return col2im(dcol, x_shape, FH, FW, self.stride, self.pad)


class Pooling:
    """Max pooling over pool_h x pool_w windows; backward sends dout to each window's max."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.params, self.grads = [], []
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.cache = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        out_w = (W + 2 * self.pad - self.pool_w) // self.stride + 1

        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        self.cache = (x.shape, arg_max)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        x_shape, arg_max = self.cache
        dout = dout.transpose(0, 2, 3, 1).reshape(-1)
        dmax = np.zeros((dout.size, self.pool_h * self.pool_w), dtype=dout.dtype)
        dmax[np.arange(dout.size), arg_max] = dout
        dcol = dmax.reshape(-1, x_shape[1] * self.pool_h * self.pool_w)
        return col2im(dcol, x_shape, self.pool_h, self.pool_w, self.stride, self.pad)
