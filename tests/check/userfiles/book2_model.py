"""Book 2's TwoLayerNet (chapter 1) as a reader writes it: layers in a list, their params and
grads gathered into the model's own lists, forward(x, t) -> loss, backward(dout=1)."""

import numpy as np


class Affine:
    """Correct book 2 Affine."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        W, b = self.params
        self.x = x
        return np.dot(x, W) + b

    def backward(self, dout):
        W, b = self.params
        dx = np.dot(dout, W.T)
        self.grads[0][...] = np.dot(self.x.T, dout)
        self.grads[1][...] = np.sum(dout, axis=0)
        return dx


class Sigmoid:
    """Correct: dout * (1 - y) * y."""

    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class SoftmaxWithLoss:
    """Softmax and cross-entropy over labels t."""

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x, t):
        x = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        self.t = t
        return -np.log(self.y[np.arange(len(t)), t] + 1e-7).mean()

    def backward(self, dout=1):
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx * dout / len(self.t)


class TwoLayerNet:
    """Affine, Sigmoid, Affine and the loss; the model's params list is its layers'."""

    def __init__(self, input_size, hidden_size, output_size):
        I, H, O = input_size, hidden_size, output_size
        W1 = 0.01 * np.random.randn(I, H)
        b1 = np.zeros(H)
        W2 = 0.01 * np.random.randn(H, O)
        b2 = np.zeros(O)
        self.layers = [Affine(W1, b1), Sigmoid(), Affine(W2, b2)]
        self.loss_layer = SoftmaxWithLoss()
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x, t):
        score = self.predict(x)
        return self.loss_layer.forward(score, t)

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


class SigmoidFromDout(Sigmoid):
    """The question's slip inside a model: the derivative from dout."""

    def backward(self, dout):
        return dout * (1.0 - dout)


class TwoLayerNetWithSlip(TwoLayerNet):
    """The same model with SigmoidFromDout in the middle."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__(input_size, hidden_size, output_size)
        self.layers[1] = SigmoidFromDout()
