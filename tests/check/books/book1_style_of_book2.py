"""Book 2's layers (ゼロから作るDeep Learning 2: common/layers.py, time_layers.py,
negative_sampling_layer.py, attention_layer.py) written in book 1's style.

Test fixtures for ``zerokara check``: the layers of book 2 as a reader who learnt from
book 1 writes them, with parameters as attributes (``self.W``, ``self.Wx``) and their
gradients set by backward as ``self.dW``, ``self.dWx``; the constructor arguments keep
book 2's names so that the check can build every class from names alone. Written
independently; buffers take the input's dtype (float64 safe). Every class here is correct.
"""

import numpy as np


# -- functions -------------------------------------------------------------------


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    """Softmax over the last axis."""
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


# -- layers.py -------------------------------------------------------------------


class MatMul:
    """out = x W."""

    def __init__(self, W):
        self.W = W
        self.dW = None
        self.x = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W)

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        return np.dot(dout, self.W.T)


class Affine:
    """out = x W + b for 2-D x."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.dW = None
        self.db = None
        self.x = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T)


class Softmax:
    """Softmax over the last axis; dx = y * (dout - sum(y * dout))."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = softmax(x)
        return self.out

    def backward(self, dout):
        dx = self.out * dout
        return dx - self.out * np.sum(dx, axis=-1, keepdims=True)


class SoftmaxWithLoss:
    """Softmax + cross-entropy; t labels (N,) or one-hot (N, C)."""

    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, x, t):
        if t.size == x.size:
            t = t.argmax(axis=1)
        self.t = t
        self.y = softmax(x)
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout=1):
        N = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(N), self.t] -= 1
        return dx * dout / N


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class SigmoidWithLoss:
    """Sigmoid + binary cross-entropy; x scores (N,), t 0/1 labels (N,)."""

    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = sigmoid(x)
        return cross_entropy_error(np.c_[1 - self.y, self.y], self.t)

    def backward(self, dout=1):
        N = self.t.shape[0]
        return (self.y - self.t) * dout / N


class Dropout:
    """Drops with np.random.rand in training, scales by (1 - ratio) at test."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class Embedding:
    """out = W[idx]; backward adds dout into the rows of dW (ids may repeat)."""

    def __init__(self, W):
        self.W = W
        self.dW = None
        self.idx = None

    def forward(self, idx):
        self.idx = idx
        return self.W[idx]

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        np.add.at(self.dW, self.idx, dout)
        return None


# -- time_layers.py: RNN ---------------------------------------------------------


class RNN:
    """h_next = tanh(x Wx + h_prev Wh + b)."""

    def __init__(self, Wx, Wh, b):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.dWx = None
        self.dWh = None
        self.db = None
        self.cache = None

    def forward(self, x, h_prev):
        h_next = np.tanh(np.dot(x, self.Wx) + np.dot(h_prev, self.Wh) + self.b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next ** 2)
        self.dWx = np.dot(x.T, dt)
        self.dWh = np.dot(h_prev.T, dt)
        self.db = np.sum(dt, axis=0)
        dx = np.dot(dt, self.Wx.T)
        dh_prev = np.dot(dt, self.Wh.T)
        return dx, dh_prev


class TimeRNN:
    """xs (N, T, D) -> hs (N, T, H), one RNN per step."""

    def __init__(self, Wx, Wh, b, stateful=False):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.dWx = None
        self.dWh = None
        self.db = None
        self.stateful = stateful
        self.layers = None
        self.h = None
        self.dh = None

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.Wh.shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)

        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = RNN(self.Wx, self.Wh, self.b)
            self.h = layer.forward(xs[:, t, :], self.h)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        N, T, H = dhs.shape
        D = self.Wx.shape[0]
        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        self.dWx = np.zeros_like(self.Wx)
        self.dWh = np.zeros_like(self.Wh)
        self.db = np.zeros_like(self.b)

        dh = 0
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            self.dWx += layer.dWx
            self.dWh += layer.dWh
            self.db += layer.db
        self.dh = dh
        return dxs

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None


# -- time_layers.py: the other time layers ---------------------------------------


class TimeEmbedding:
    """ids xs (N, T) -> (N, T, D), one Embedding per step."""

    def __init__(self, W):
        self.W = W
        self.dW = None
        self.layers = None

    def forward(self, xs):
        N, T = xs.shape
        out = np.empty((N, T, self.W.shape[1]), dtype=self.W.dtype)
        self.layers = []
        for t in range(T):
            layer = Embedding(self.W)
            out[:, t, :] = layer.forward(xs[:, t])
            self.layers.append(layer)
        return out

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        for t, layer in enumerate(self.layers):
            layer.backward(dout[:, t, :])
            self.dW += layer.dW
        return None


class TimeAffine:
    """Affine on every step at once: x (N, T, D) -> (N, T, H)."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.dW = None
        self.db = None
        self.x = None

    def forward(self, x):
        N, T, D = x.shape
        self.x = x
        out = np.dot(x.reshape(N * T, D), self.W) + self.b
        return out.reshape(N, T, -1)

    def backward(self, dout):
        N, T, D = self.x.shape
        dout = dout.reshape(N * T, -1)
        rx = self.x.reshape(N * T, D)
        self.dW = np.dot(rx.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T).reshape(N, T, D)


class TimeSoftmaxWithLoss:
    """Softmax cross-entropy over xs (N, T, V), ts (N, T); label -1 is ignored."""

    def __init__(self):
        self.cache = None
        self.ignore_label = -1

    def forward(self, xs, ts):
        N, T, V = xs.shape
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        ts = ts.reshape(N * T)
        mask = ts != self.ignore_label
        ys = softmax(xs.reshape(N * T, V))
        ls = np.log(ys[np.arange(N * T), ts]) * mask
        self.cache = (ts, ys, mask, (N, T, V))
        return -np.sum(ls) / mask.sum()

    def backward(self, dout=1):
        ts, ys, mask, (N, T, V) = self.cache
        dx = ys.copy()
        dx[np.arange(N * T), ts] -= 1
        dx *= dout / mask.sum()
        dx *= mask[:, np.newaxis]
        return dx.reshape(N, T, V)


class TimeDropout:
    """Inverted dropout over xs; train/test by self.train_flg."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self.train_flg = True

    def forward(self, xs):
        if not self.train_flg:
            return xs
        keep = np.random.rand(*xs.shape) > self.dropout_ratio
        self.mask = keep.astype(xs.dtype) / (1.0 - self.dropout_ratio)
        return xs * self.mask

    def backward(self, dout):
        return dout * self.mask


class TimeSigmoidWithLoss:
    """SigmoidWithLoss on each step, averaged: xs (N, T), ts (N, T)."""

    def __init__(self):
        self.layers = None
        self.xs_shape = None

    def forward(self, xs, ts):
        N, T = xs.shape
        self.xs_shape = xs.shape
        self.layers = []
        loss = 0
        for t in range(T):
            layer = SigmoidWithLoss()
            loss += layer.forward(xs[:, t], ts[:, t])
            self.layers.append(layer)
        return loss / T

    def backward(self, dout=1):
        N, T = self.xs_shape
        dxs = np.empty(self.xs_shape)
        for t, layer in enumerate(self.layers):
            dxs[:, t] = layer.backward(dout / T)
        return dxs


# -- time_layers.py: LSTM --------------------------------------------------------


class LSTM:
    """One LSTM step; Wx (D, 4H), Wh (H, 4H), b (4H,) hold the gates f, g, i, o."""

    def __init__(self, Wx, Wh, b):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.dWx = None
        self.dWh = None
        self.db = None
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        H = h_prev.shape[1]
        A = np.dot(x, self.Wx) + np.dot(h_prev, self.Wh) + self.b
        f = sigmoid(A[:, :H])
        g = np.tanh(A[:, H:2 * H])
        i = sigmoid(A[:, 2 * H:3 * H])
        o = sigmoid(A[:, 3 * H:])

        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, f, g, i, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        x, h_prev, c_prev, f, g, i, o, c_next = self.cache
        tanh_c = np.tanh(c_next)
        ds = dc_next + dh_next * o * (1 - tanh_c ** 2)

        df = ds * c_prev * f * (1 - f)
        dg = ds * i * (1 - g ** 2)
        di = ds * g * i * (1 - i)
        do = dh_next * tanh_c * o * (1 - o)
        dA = np.hstack((df, dg, di, do))

        self.dWx = np.dot(x.T, dA)
        self.dWh = np.dot(h_prev.T, dA)
        self.db = dA.sum(axis=0)

        dx = np.dot(dA, self.Wx.T)
        dh_prev = np.dot(dA, self.Wh.T)
        dc_prev = ds * f
        return dx, dh_prev, dc_prev


class TimeLSTM:
    """xs (N, T, D) -> hs (N, T, H), one LSTM per step; keeps h and c if stateful."""

    def __init__(self, Wx, Wh, b, stateful=False):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.dWx = None
        self.dWh = None
        self.db = None
        self.stateful = stateful
        self.layers = None
        self.h = None
        self.c = None
        self.dh = None

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.Wh.shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype=xs.dtype)

        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = LSTM(self.Wx, self.Wh, self.b)
            self.h, self.c = layer.forward(xs[:, t, :], self.h, self.c)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        N, T, H = dhs.shape
        D = self.Wx.shape[0]
        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        self.dWx = np.zeros_like(self.Wx)
        self.dWh = np.zeros_like(self.Wh)
        self.db = np.zeros_like(self.b)

        dh, dc = 0, 0
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)
            dxs[:, t, :] = dx
            self.dWx += layer.dWx
            self.dWh += layer.dWh
            self.db += layer.db
        self.dh = dh
        return dxs

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def reset_state(self):
        self.h, self.c = None, None


class TimeBiLSTM:
    """A TimeLSTM forwards and one over reversed time; outputs side by side (N, T, 2H)."""

    def __init__(self, Wx1, Wh1, b1, Wx2, Wh2, b2, stateful=False):
        self.Wx1, self.Wh1, self.b1 = Wx1, Wh1, b1
        self.Wx2, self.Wh2, self.b2 = Wx2, Wh2, b2
        self.dWx1 = self.dWh1 = self.db1 = None
        self.dWx2 = self.dWh2 = self.db2 = None
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

        f, b = self.forward_lstm, self.backward_lstm
        self.dWx1, self.dWh1, self.db1 = f.dWx, f.dWh, f.db
        self.dWx2, self.dWh2, self.db2 = b.dWx, b.dWh, b.db
        return dxs1 + dxs2


# -- time_layers.py: GRU ---------------------------------------------------------


class GRU:
    """One GRU step; Wx (D, 3H), Wh (H, 3H), b (3H,) hold z, r and the candidate h~."""

    def __init__(self, Wx, Wh, b):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.dWx = None
        self.dWh = None
        self.db = None
        self.cache = None

    def forward(self, x, h_prev):
        H = self.Wh.shape[0]
        ax = np.dot(x, self.Wx) + self.b
        ah = np.dot(h_prev, self.Wh[:, :2 * H])
        z = sigmoid(ax[:, :H] + ah[:, :H])
        r = sigmoid(ax[:, H:2 * H] + ah[:, H:])
        h_hat = np.tanh(ax[:, 2 * H:] + np.dot(r * h_prev, self.Wh[:, 2 * H:]))
        h_next = (1 - z) * h_prev + z * h_hat
        self.cache = (x, h_prev, z, r, h_hat)
        return h_next

    def backward(self, dh_next):
        x, h_prev, z, r, h_hat = self.cache
        H = self.Wh.shape[0]
        Whz, Whr, Whh = self.Wh[:, :H], self.Wh[:, H:2 * H], self.Wh[:, 2 * H:]

        dz = dh_next * (h_hat - h_prev) * z * (1 - z)
        dhh = dh_next * z * (1 - h_hat ** 2)
        drh = np.dot(dhh, Whh.T)  # gradient of r * h_prev
        dr = drh * h_prev * r * (1 - r)
        dA = np.hstack((dz, dr, dhh))

        self.dWx = np.dot(x.T, dA)
        self.dWh = np.hstack((np.dot(h_prev.T, dz), np.dot(h_prev.T, dr), np.dot((r * h_prev).T, dhh)))
        self.db = dA.sum(axis=0)

        dx = np.dot(dA, self.Wx.T)
        dh_prev = dh_next * (1 - z) + drh * r + np.dot(dz, Whz.T) + np.dot(dr, Whr.T)
        return dx, dh_prev


class TimeGRU:
    """xs (N, T, D) -> hs (N, T, H), one GRU per step."""

    def __init__(self, Wx, Wh, b, stateful=False):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.dWx = None
        self.dWh = None
        self.db = None
        self.stateful = stateful
        self.layers = None
        self.h = None
        self.dh = None

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.Wh.shape[0]
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=xs.dtype)

        hs = np.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = GRU(self.Wx, self.Wh, self.b)
            self.h = layer.forward(xs[:, t, :], self.h)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        N, T, H = dhs.shape
        D = self.Wx.shape[0]
        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        self.dWx = np.zeros_like(self.Wx)
        self.dWh = np.zeros_like(self.Wh)
        self.db = np.zeros_like(self.b)

        dh = 0
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            self.dWx += layer.dWx
            self.dWh += layer.dWh
            self.db += layer.db
        self.dh = dh
        return dxs

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None


# -- negative_sampling_layer.py --------------------------------------------------


class EmbeddingDot:
    """out[n] = W[idx[n]] . h[n]: h (N, D), idx (N,) -> (N,)."""

    def __init__(self, W):
        self.W = W
        self.dW = None
        self.cache = None

    def forward(self, h, idx):
        target_W = self.W[idx]
        self.cache = (h, idx, target_W)
        return np.sum(target_W * h, axis=1)

    def backward(self, dout):
        h, idx, target_W = self.cache
        dout = dout.reshape(-1, 1)
        self.dW = np.zeros_like(self.W)
        np.add.at(self.dW, idx, dout * h)
        return dout * target_W


# -- attention_layer.py ----------------------------------------------------------


class WeightSum:
    """c = sum over t of a[:, t] * hs[:, t]: hs (N, T, H), a (N, T) -> (N, H)."""

    def __init__(self):
        self.cache = None

    def forward(self, hs, a):
        ar = a[:, :, np.newaxis]
        self.cache = (hs, ar)
        return np.sum(hs * ar, axis=1)

    def backward(self, dc):
        hs, ar = self.cache
        dt = dc[:, np.newaxis, :]  # the sum over T broadcasts back
        dhs = dt * ar
        da = np.sum(dt * hs, axis=2)
        return dhs, da


class AttentionWeight:
    """a = softmax over t of hs[:, t] . h: hs (N, T, H), h (N, H) -> (N, T)."""

    def __init__(self):
        self.softmax = Softmax()
        self.cache = None

    def forward(self, hs, h):
        hr = h[:, np.newaxis, :]
        self.cache = (hs, hr)
        return self.softmax.forward(np.sum(hs * hr, axis=2))

    def backward(self, da):
        hs, hr = self.cache
        ds = self.softmax.backward(da)[:, :, np.newaxis]
        dhs = ds * hr
        dh = np.sum(ds * hs, axis=1)
        return dhs, dh


class Attention:
    """AttentionWeight then WeightSum: hs (N, T, H), h (N, H) -> context (N, H)."""

    def __init__(self):
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight = None

    def forward(self, hs, h):
        a = self.attention_weight_layer.forward(hs, h)
        self.attention_weight = a
        return self.weight_sum_layer.forward(hs, a)

    def backward(self, dout):
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention:
    """Attention for each decoder step: hs_enc (N, T_enc, H), hs_dec (N, T, H) -> (N, T, H)."""

    def __init__(self):
        self.layers = None
        self.attention_weights = None

    def forward(self, hs_enc, hs_dec):
        N, T, H = hs_dec.shape
        out = np.empty_like(hs_dec)
        self.layers = []
        self.attention_weights = []
        for t in range(T):
            layer = Attention()
            out[:, t, :] = layer.forward(hs_enc, hs_dec[:, t, :])
            self.layers.append(layer)
            self.attention_weights.append(layer.attention_weight)
        return out

    def backward(self, dout):
        dhs_enc = 0
        dhs_dec = np.empty_like(dout)
        for t, layer in enumerate(self.layers):
            dhs, dh = layer.backward(dout[:, t, :])
            dhs_enc += dhs
            dhs_dec[:, t, :] = dh
        return dhs_enc, dhs_dec
