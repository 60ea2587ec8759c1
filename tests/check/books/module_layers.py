"""Every layer of the books written in zerokara's own Module style, as a user of the library would.

Test fixtures for ``zerokara check``: the layers of book 1's common/layers.py and of
book 2's common/layers.py, time_layers.py (with EmbeddingDot and the attention layers),
with ``params`` and ``grads`` as dicts keyed by the constructor's names and gradients
set with ``self.grads["W"][...] = ...``; train/test mode is the Module's ``training``.
Written independently; every class here is correct.
"""

import numpy as np

from zerokara.layers.base import Module


class Affine(Module):
    """out = x W + b; x (N, D) or (N, ...) flattened to (N, D) as book 1 does, W (D, H), b (H,)."""

    def __init__(self, W, b):
        super().__init__()
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.x = None
        self.x_shape = None

    def forward(self, x):
        self.x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"][...] = self.x.T @ dout
        self.grads["b"][...] = dout.sum(axis=0)
        return (dout @ self.params["W"].T).reshape(self.x_shape)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)); dx = dout * y * (1 - y)."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class RNN(Module):
    """One tanh RNN step: h_next = tanh(x Wx + h_prev Wh + b)."""

    def __init__(self, Wx, Wh, b):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def forward(self, x, h_prev):
        p = self.params
        h_next = np.tanh(x @ p["Wx"] + h_prev @ p["Wh"] + p["b"])
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)
        self.grads["Wx"][...] = x.T @ dt
        self.grads["Wh"][...] = h_prev.T @ dt
        self.grads["b"][...] = dt.sum(axis=0)
        return dt @ self.params["Wx"].T, dt @ self.params["Wh"].T


class Embedding(Module):
    """Row lookup out = W[idx]; returns no input gradient (ids are integers)."""

    def __init__(self, W):
        super().__init__()
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.idx = None

    def forward(self, idx):
        self.idx = idx
        return self.params["W"][idx]

    def backward(self, dout):
        dW = self.grads["W"]
        dW[...] = 0
        np.add.at(dW, self.idx, dout)
        return None


class SoftmaxWithLoss(Module):
    """Softmax + mean cross-entropy; x (N, C), t labels (N,) or one-hot (N, C)."""

    def __init__(self):
        super().__init__()
        self.y = None
        self.t = None

    def forward(self, x, t):
        if t.size == x.size:  # one-hot -> labels
            t = t.argmax(axis=1)
        x = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        self.t = t
        N = x.shape[0]
        return -np.log(self.y[np.arange(N), t]).mean()

    def backward(self, dout=1):
        N = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(N), self.t] -= 1
        return dx * (dout / N)


# -- functions -------------------------------------------------------------------


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    """Softmax over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def im2col(x, fh, fw, stride=1, pad=0):
    """(N, C, H, W) -> (N * out_h * out_w, C * fh * fw), one row per window."""
    N, C, H, W = x.shape
    out_h = (H + 2 * pad - fh) // stride + 1
    out_w = (W + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = np.empty((N, C, fh, fw, out_h, out_w), dtype=x.dtype)
    for i in range(fh):
        for j in range(fw):
            col[:, :, i, j] = img[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, shape, fh, fw, stride=1, pad=0):
    """The adjoint of im2col: window entries are added back where they came from."""
    N, C, H, W = shape
    out_h = (H + 2 * pad - fh) // stride + 1
    out_w = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, out_h, out_w, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for i in range(fh):
        for j in range(fw):
            img[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += col[:, :, i, j]
    return img[:, :, pad:H + pad, pad:W + pad]


# -- the rest of book 1's layers.py ----------------------------------------------


class Relu(Module):
    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Dropout(Module):
    """Book 1's dropout: drops with np.random.rand in training, scales by (1 - ratio) in eval."""

    def __init__(self, dropout_ratio=0.5):
        super().__init__()
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x):
        if not self.training:
            return x * (1.0 - self.dropout_ratio)
        self.mask = np.random.rand(*x.shape) > self.dropout_ratio
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization(Module):
    """Batch statistics in training, running ones in eval; x (N, D) or (N, C, H, W) as (N, C*H*W)."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        super().__init__()
        self.params = {"gamma": gamma, "beta": beta}
        self.grads = {"gamma": np.zeros_like(gamma), "beta": np.zeros_like(beta)}
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.cache = None

    def forward(self, x):
        shape = x.shape
        x = x.reshape(len(x), -1)
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if self.training:
            mu, var = x.mean(axis=0), x.var(axis=0)
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
        else:
            mu, var = self.running_mean, self.running_var
        std = np.sqrt(var + 1e-6)
        xn = (x - mu) / std
        self.cache = (xn, std, shape)
        return (self.params["gamma"] * xn + self.params["beta"]).reshape(shape)

    def backward(self, dout):
        xn, std, shape = self.cache
        dout = dout.reshape(len(dout), -1)
        self.grads["gamma"][...] = np.sum(dout * xn, axis=0)
        self.grads["beta"][...] = np.sum(dout, axis=0)
        dxn = dout * self.params["gamma"]
        # through the batch mean and variance: dx = (dxn - mean(dxn) - xn * mean(dxn * xn)) / std
        dx = (dxn - dxn.mean(axis=0) - xn * np.mean(dxn * xn, axis=0)) / std
        return dx.reshape(shape)


class Convolution(Module):
    """Filters W (FN, C, FH, FW), bias b (FN,): x (N, C, H, W) -> (N, FN, out_h, out_w)."""

    def __init__(self, W, b, stride=1, pad=0):
        super().__init__()
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.stride = stride
        self.pad = pad
        self.cache = None

    def forward(self, x):
        W = self.params["W"]
        FN, C, FH, FW = W.shape
        N, _, H, Wd = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (Wd + 2 * self.pad - FW) // self.stride + 1
        col = im2col(x, FH, FW, self.stride, self.pad)
        out = col @ W.reshape(FN, -1).T + self.params["b"]
        self.cache = (x.shape, col)
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)

    def backward(self, dout):
        W = self.params["W"]
        FN, C, FH, FW = W.shape
        x_shape, col = self.cache
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.grads["W"][...] = (dout.T @ col).reshape(W.shape)
        self.grads["b"][...] = dout.sum(axis=0)
        return col2im(dout @ W.reshape(FN, -1), x_shape, FH, FW, self.stride, self.pad)


class Pooling(Module):
    """Max pooling over pool_h x pool_w windows; dout goes to each window's max."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        super().__init__()
        self.pool_h, self.pool_w = pool_h, pool_w
        self.stride, self.pad = stride, pad
        self.cache = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        out_w = (W + 2 * self.pad - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        arg = col.argmax(axis=1)
        self.cache = (x.shape, arg)
        return col.max(axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        x_shape, arg = self.cache
        d = dout.transpose(0, 2, 3, 1).reshape(-1)
        dcol = np.zeros((d.size, self.pool_h * self.pool_w), dtype=d.dtype)
        dcol[np.arange(d.size), arg] = d
        dcol = dcol.reshape(-1, x_shape[1] * self.pool_h * self.pool_w)
        return col2im(dcol, x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


# -- the rest of book 2's layers.py ----------------------------------------------


class MatMul(Module):
    """out = x W."""

    def __init__(self, W):
        super().__init__()
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, dout):
        self.grads["W"][...] = self.x.T @ dout
        return dout @ self.params["W"].T


class Softmax(Module):
    """Softmax over the last axis; dx = y * (dout - sum(y * dout))."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        self.out = softmax(x)
        return self.out

    def backward(self, dout):
        y = self.out
        return y * (dout - np.sum(y * dout, axis=-1, keepdims=True))


class SigmoidWithLoss(Module):
    """Sigmoid + mean binary cross-entropy; x scores (N,), t 0/1 labels (N,)."""

    def __init__(self):
        super().__init__()
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.y = sigmoid(x)
        self.t = t
        return -np.mean(t * np.log(self.y) + (1 - t) * np.log(1 - self.y))

    def backward(self, dout=1):
        return (self.y - self.t) * (dout / self.y.size)


# -- time_layers.py --------------------------------------------------------------


class TimeRNN(Module):
    """xs (N, T, D) -> hs (N, T, H), one RNN per step; keeps h across calls if stateful."""

    def __init__(self, Wx, Wh, b, stateful=False):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stateful = stateful
        self.h = None
        self.dh = None
        self.layers = None

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.params["Wh"].shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)
        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = RNN(**self.params)
            self.h = layer.forward(xs[:, t], self.h)
            hs[:, t] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        dxs = np.empty((*dhs.shape[:2], self.params["Wx"].shape[0]), dtype=dhs.dtype)
        for g in self.grads.values():
            g[...] = 0
        dh = 0
        for t in reversed(range(dhs.shape[1])):
            layer = self.layers[t]
            dxs[:, t], dh = layer.backward(dhs[:, t] + dh)
            for k in self.grads:
                self.grads[k] += layer.grads[k]
        self.dh = dh
        return dxs


class TimeEmbedding(Module):
    """ids xs (N, T) -> (N, T, D)."""

    def __init__(self, W):
        super().__init__()
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.xs = None

    def forward(self, xs):
        self.xs = xs
        return self.params["W"][xs]

    def backward(self, dout):
        dW = self.grads["W"]
        dW[...] = 0
        np.add.at(dW, self.xs, dout)
        return None


class TimeAffine(Module):
    """Affine on every step: x (N, T, D) -> (N, T, H)."""

    def __init__(self, W, b):
        super().__init__()
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        D = self.x.shape[-1]
        self.grads["W"][...] = self.x.reshape(-1, D).T @ dout.reshape(-1, dout.shape[-1])
        self.grads["b"][...] = dout.sum(axis=(0, 1))
        return dout @ self.params["W"].T


class TimeSoftmaxWithLoss(Module):
    """Mean softmax cross-entropy over xs (N, T, V), ts (N, T); label -1 is ignored."""

    def __init__(self):
        super().__init__()
        self.ignore_label = -1
        self.cache = None

    def forward(self, xs, ts):
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        N, T, V = xs.shape
        ys = softmax(xs).reshape(N * T, V)
        ts = ts.reshape(N * T)
        mask = ts != self.ignore_label
        self.cache = (ys, ts, mask, xs.shape)
        return -np.sum(np.log(ys[np.arange(N * T), ts]) * mask) / mask.sum()

    def backward(self, dout=1):
        ys, ts, mask, shape = self.cache
        dx = ys.copy()
        dx[np.arange(len(ts)), ts] -= 1
        dx *= mask[:, None] * (dout / mask.sum())
        return dx.reshape(shape)


class TimeDropout(Module):
    """Inverted dropout: kept units scaled by 1 / (1 - ratio) in training; eval passes xs."""

    def __init__(self, dropout_ratio=0.5):
        super().__init__()
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, xs):
        if not self.training:
            return xs
        keep = np.random.rand(*xs.shape) > self.dropout_ratio
        self.mask = keep / (1.0 - self.dropout_ratio)
        return xs * self.mask

    def backward(self, dout):
        return dout * self.mask


class TimeSigmoidWithLoss(Module):
    """Mean binary cross-entropy over xs (N, T) and 0/1 labels ts (N, T)."""

    def __init__(self):
        super().__init__()
        self.loss = SigmoidWithLoss()

    def forward(self, xs, ts):
        return self.loss.forward(xs, ts)

    def backward(self, dout=1):
        return self.loss.backward(dout)


class LSTM(Module):
    """One LSTM step; Wx (D, 4H), Wh (H, 4H), b (4H,) hold the gates f, g, i, o."""

    def __init__(self, Wx, Wh, b):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        p = self.params
        H = h_prev.shape[1]
        A = x @ p["Wx"] + h_prev @ p["Wh"] + p["b"]
        f, i, o = sigmoid(A[:, :H]), sigmoid(A[:, 2 * H:3 * H]), sigmoid(A[:, 3 * H:])
        g = np.tanh(A[:, H:2 * H])
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, f, g, i, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        x, h_prev, c_prev, f, g, i, o, c_next = self.cache
        tc = np.tanh(c_next)
        dc = dc_next + dh_next * o * (1 - tc ** 2)
        dA = np.hstack((
            dc * c_prev * f * (1 - f),
            dc * i * (1 - g ** 2),
            dc * g * i * (1 - i),
            dh_next * tc * o * (1 - o),
        ))
        self.grads["Wx"][...] = x.T @ dA
        self.grads["Wh"][...] = h_prev.T @ dA
        self.grads["b"][...] = dA.sum(axis=0)
        return dA @ self.params["Wx"].T, dA @ self.params["Wh"].T, dc * f


class TimeLSTM(Module):
    """xs (N, T, D) -> hs (N, T, H), one LSTM per step; keeps h and c if stateful."""

    def __init__(self, Wx, Wh, b, stateful=False):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stateful = stateful
        self.h = self.c = None
        self.dh = None
        self.layers = None

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.params["Wh"].shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype=xs.dtype)
        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = LSTM(**self.params)
            self.h, self.c = layer.forward(xs[:, t], self.h, self.c)
            hs[:, t] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        dxs = np.empty((*dhs.shape[:2], self.params["Wx"].shape[0]), dtype=dhs.dtype)
        for g in self.grads.values():
            g[...] = 0
        dh = dc = 0
        for t in reversed(range(dhs.shape[1])):
            layer = self.layers[t]
            dxs[:, t], dh, dc = layer.backward(dhs[:, t] + dh, dc)
            for k in self.grads:
                self.grads[k] += layer.grads[k]
        self.dh = dh
        return dxs


class TimeBiLSTM(Module):
    """A TimeLSTM forwards and one over reversed time, outputs side by side (N, T, 2H);
    its parameters are the two children's (forward_lstm.Wx, ..., backward_lstm.b)."""

    def __init__(self, Wx1, Wh1, b1, Wx2, Wh2, b2, stateful=False):
        super().__init__()
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)

    def forward(self, xs):
        o1 = self.forward_lstm.forward(xs)
        o2 = self.backward_lstm.forward(xs[:, ::-1])[:, ::-1]
        return np.concatenate((o1, o2), axis=2)

    def backward(self, dhs):
        H = dhs.shape[2] // 2
        dxs1 = self.forward_lstm.backward(dhs[:, :, :H])
        dxs2 = self.backward_lstm.backward(dhs[:, ::-1, H:])[:, ::-1]
        return dxs1 + dxs2


class GRU(Module):
    """One GRU step; Wx (D, 3H), Wh (H, 3H), b (3H,) hold z, r and the candidate h~."""

    def __init__(self, Wx, Wh, b):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        H = Wh.shape[0]
        ax = x @ Wx + b
        z = sigmoid(ax[:, :H] + h_prev @ Wh[:, :H])
        r = sigmoid(ax[:, H:2 * H] + h_prev @ Wh[:, H:2 * H])
        h_hat = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ Wh[:, 2 * H:])
        self.cache = (x, h_prev, z, r, h_hat)
        return (1 - z) * h_prev + z * h_hat

    def backward(self, dh_next):
        x, h_prev, z, r, h_hat = self.cache
        Wx, Wh = self.params["Wx"], self.params["Wh"]
        H = Wh.shape[0]
        dz = dh_next * (h_hat - h_prev) * z * (1 - z)
        dhh = dh_next * z * (1 - h_hat ** 2)
        drh = dhh @ Wh[:, 2 * H:].T
        dr = drh * h_prev * r * (1 - r)
        dA = np.hstack((dz, dr, dhh))
        self.grads["Wx"][...] = x.T @ dA
        self.grads["Wh"][...] = np.hstack((h_prev.T @ dz, h_prev.T @ dr, (r * h_prev).T @ dhh))
        self.grads["b"][...] = dA.sum(axis=0)
        dh_prev = dh_next * (1 - z) + drh * r + np.hstack((dz, dr)) @ Wh[:, :2 * H].T
        return dA @ Wx.T, dh_prev


class TimeGRU(Module):
    """xs (N, T, D) -> hs (N, T, H), one GRU per step; keeps h if stateful."""

    def __init__(self, Wx, Wh, b, stateful=False):
        super().__init__()
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stateful = stateful
        self.h = None
        self.dh = None
        self.layers = None

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.params["Wh"].shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)
        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = GRU(**self.params)
            self.h = layer.forward(xs[:, t], self.h)
            hs[:, t] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        dxs = np.empty((*dhs.shape[:2], self.params["Wx"].shape[0]), dtype=dhs.dtype)
        for g in self.grads.values():
            g[...] = 0
        dh = 0
        for t in reversed(range(dhs.shape[1])):
            layer = self.layers[t]
            dxs[:, t], dh = layer.backward(dhs[:, t] + dh)
            for k in self.grads:
                self.grads[k] += layer.grads[k]
        self.dh = dh
        return dxs


# -- negative sampling and attention (book 2, chapters 4 and 8) -----------------


class EmbeddingDot(Module):
    """out[n] = W[idx[n]] . h[n]: h (N, D), idx (N,) -> (N,)."""

    def __init__(self, W):
        super().__init__()
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.cache = None

    def forward(self, h, idx):
        target_W = self.params["W"][idx]
        self.cache = (h, idx, target_W)
        return np.sum(h * target_W, axis=1)

    def backward(self, dout):
        h, idx, target_W = self.cache
        dout = dout[:, None]
        dW = self.grads["W"]
        dW[...] = 0
        np.add.at(dW, idx, dout * h)
        return dout * target_W


class WeightSum(Module):
    """c = sum over t of a[:, t] * hs[:, t]: hs (N, T, H), a (N, T) -> (N, H)."""

    def __init__(self):
        super().__init__()
        self.cache = None

    def forward(self, hs, a):
        self.cache = (hs, a)
        return np.einsum("nth,nt->nh", hs, a)

    def backward(self, dc):
        hs, a = self.cache
        return a[:, :, None] * dc[:, None, :], np.einsum("nth,nh->nt", hs, dc)


class AttentionWeight(Module):
    """a = softmax over t of hs[:, t] . h: hs (N, T, H), h (N, H) -> (N, T)."""

    def __init__(self):
        super().__init__()
        self.softmax = Softmax()
        self.cache = None

    def forward(self, hs, h):
        self.cache = (hs, h)
        return self.softmax.forward(np.einsum("nth,nh->nt", hs, h))

    def backward(self, da):
        hs, h = self.cache
        ds = self.softmax.backward(da)
        return ds[:, :, None] * h[:, None, :], np.einsum("nt,nth->nh", ds, hs)


class Attention(Module):
    """AttentionWeight then WeightSum: hs (N, T, H), h (N, H) -> context (N, H)."""

    def __init__(self):
        super().__init__()
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight = None

    def forward(self, hs, h):
        self.attention_weight = self.attention_weight_layer.forward(hs, h)
        return self.weight_sum_layer.forward(hs, self.attention_weight)

    def backward(self, dout):
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention(Module):
    """Attention for each decoder step: hs_enc (N, T_enc, H), hs_dec (N, T, H) -> (N, T, H)."""

    def __init__(self):
        super().__init__()
        self.layers = None

    def forward(self, hs_enc, hs_dec):
        out = np.empty_like(hs_dec)
        self.layers = []
        for t in range(hs_dec.shape[1]):
            layer = Attention()
            out[:, t] = layer.forward(hs_enc, hs_dec[:, t])
            self.layers.append(layer)
        return out

    def backward(self, dout):
        dhs_enc = 0
        dhs_dec = np.empty_like(dout)
        for t, layer in enumerate(self.layers):
            dhs, dhs_dec[:, t] = layer.backward(dout[:, t])
            dhs_enc = dhs_enc + dhs
        return dhs_enc, dhs_dec
