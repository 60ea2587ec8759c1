"""The hand-written two-layer sigmoid network of the question "逆伝播におけるバイアス項の勾配"
(Data Science Stack Exchange, translated), made into book-1-style classes.

Net keeps the question's lines: z1, h1, z2, h2 in forward; in backward the sigmoid
derivative taken from the incoming gradient (``dz2 = dh2 * (1 - dh2)``, and the
same for layer 1) and ``db = np.sum(dz, axis=0, keepdims=True)``, which is (1, H)
for a bias of shape (H,).

AnswerNet is the last answer's code as a class. It keeps that answer's
derivative at the pre-activation, ``d_h1 = (1 - out_l1) * out_l1 * grad_1``.
Two changes were needed to make it a runnable layer (see the comments):
``out_l2 = np.dot(x, W_2)`` becomes ``np.dot(out_s1, W_2)`` (the answer's typo
only runs when D == H), and ``grad = out_s2 - y`` becomes the upstream gradient
passed to backward (a layer has no y); dx is added since the answer has none.
Its ``grad_1 = np.sum(d_W2.T, axis=0, keepdims=True)`` runs, so it is kept: it
is a second mistake (the gradient reaching layer 1 should be d_h2 @ W_2.T).
AnswerNetPreActivation is the same with only grad_1 corrected, so the
pre-activation derivative (and keepdims) are its only mistakes.

FixedNet is the network done right.
"""

import numpy as np


class Net:
    """Sigmoid derivative computed from dout (dh2 * (1 - dh2)) and db kept as (1, H)."""

    def __init__(self, theta1, b1, theta2, b2):
        self.theta1 = theta1
        self.b1 = b1
        self.theta2 = theta2
        self.b2 = b2
        self.dtheta1 = None
        self.db1 = None
        self.dtheta2 = None
        self.db2 = None

    def forward(self, x):
        self.x = x
        z1 = x.dot(self.theta1) + self.b1
        h1 = 1 / (1 + np.exp(-z1))
        z2 = h1.dot(self.theta2) + self.b2
        h2 = 1 / (1 + np.exp(-z2))
        self.h1 = h1
        self.h2 = h2
        return h2

    def backward(self, dh2):
        # back prop
        dz2 = dh2 * (1 - dh2)
        H1 = np.transpose(self.h1)
        dw2 = np.dot(H1, dz2)
        db2 = np.sum(dz2, axis=0, keepdims=True)

        dh1 = np.dot(dz2, np.transpose(self.theta2))
        dz1 = dh1 * (1 - dh1)
        X = np.transpose(self.x)
        dw1 = np.dot(X, dz1)
        db1 = np.sum(dz1, axis=0, keepdims=True)

        dx = np.dot(dz1, np.transpose(self.theta1))

        self.dtheta1 = dw1
        self.db1 = db1
        self.dtheta2 = dw2
        self.db2 = db2
        return dx


f = lambda x: 1.0 / (1.0 + np.exp(-x))  # the answer's own sigmoid


class AnswerNet:
    """Layer-1 sigmoid derivative taken at the pre-activation out_l1; grad_1 and keepdims also wrong."""

    def __init__(self, W_1, b_1, W_2, b_2):
        self.W_1 = W_1
        self.b_1 = b_1
        self.W_2 = W_2
        self.b_2 = b_2

    def forward(self, x):
        # pass through layer 1
        out_l1 = np.dot(x, self.W_1) + self.b_1

        out_s1 = f(out_l1)

        # pass through layer 2
        # the answer has np.dot(x, W_2) here: fixed to out_s1 (it only runs when D == H)
        out_l2 = np.dot(out_s1, self.W_2) + self.b_2

        out_s2 = f(out_l2)

        self.x, self.out_l1, self.out_s1, self.out_s2 = x, out_l1, out_s1, out_s2
        return out_s2

    def backward(self, grad):
        # BACKWARD PASS
        # the answer has grad = out_s2 - y; as a layer, grad is the upstream gradient
        x, out_l1, out_s1, out_s2 = self.x, self.out_l1, self.out_s1, self.out_s2

        d_h2 = (1 - out_s2) * out_s2 * grad

        # Accumulate the gradient come from all examples
        d_W2 = out_s1.T.dot(d_h2)
        d_b2 = np.sum(d_h2, axis=0, keepdims=True)

        # sum of gradient come out from prev node:
        grad_1 = np.sum(d_W2.T, axis=0, keepdims=True)
        d_h1 = (1 - out_l1) * out_l1 * grad_1

        d_W1 = x.T.dot(d_h1)
        d_b1 = np.sum(d_h1, axis=0, keepdims=True)

        self.dW_1, self.db_1, self.dW_2, self.db_2 = d_W1, d_b1, d_W2, d_b2
        return d_h1.dot(self.W_1.T)  # added: the answer stops at the weights


class AnswerNetPreActivation:
    """Layer-1 sigmoid derivative taken at the pre-activation out_l1 (and db kept as (1, H))."""

    def __init__(self, W_1, b_1, W_2, b_2):
        self.W_1 = W_1
        self.b_1 = b_1
        self.W_2 = W_2
        self.b_2 = b_2

    def forward(self, x):
        out_l1 = np.dot(x, self.W_1) + self.b_1
        out_s1 = f(out_l1)
        out_l2 = np.dot(out_s1, self.W_2) + self.b_2
        out_s2 = f(out_l2)
        self.x, self.out_l1, self.out_s1, self.out_s2 = x, out_l1, out_s1, out_s2
        return out_s2

    def backward(self, grad):
        x, out_l1, out_s1, out_s2 = self.x, self.out_l1, self.out_s1, self.out_s2

        d_h2 = (1 - out_s2) * out_s2 * grad
        d_W2 = out_s1.T.dot(d_h2)
        d_b2 = np.sum(d_h2, axis=0, keepdims=True)

        grad_1 = d_h2.dot(self.W_2.T)  # corrected: the gradient reaching out_s1
        d_h1 = (1 - out_l1) * out_l1 * grad_1

        d_W1 = x.T.dot(d_h1)
        d_b1 = np.sum(d_h1, axis=0, keepdims=True)

        self.dW_1, self.db_1, self.dW_2, self.db_2 = d_W1, d_b1, d_W2, d_b2
        return d_h1.dot(self.W_1.T)


class FixedNet:
    """Correct: sigmoid derivative from the outputs h (h * (1 - h)), db summed to (H,)."""

    def __init__(self, theta1, b1, theta2, b2):
        self.theta1 = theta1
        self.b1 = b1
        self.theta2 = theta2
        self.b2 = b2
        self.dtheta1 = None
        self.db1 = None
        self.dtheta2 = None
        self.db2 = None

    def forward(self, x):
        self.x = x
        z1 = x.dot(self.theta1) + self.b1
        h1 = 1 / (1 + np.exp(-z1))
        z2 = h1.dot(self.theta2) + self.b2
        h2 = 1 / (1 + np.exp(-z2))
        self.h1 = h1
        self.h2 = h2
        return h2

    def backward(self, dh2):
        dz2 = dh2 * (1 - self.h2) * self.h2
        H1 = np.transpose(self.h1)
        dw2 = np.dot(H1, dz2)
        db2 = np.sum(dz2, axis=0)

        dh1 = np.dot(dz2, np.transpose(self.theta2))
        dz1 = dh1 * (1 - self.h1) * self.h1
        X = np.transpose(self.x)
        dw1 = np.dot(X, dz1)
        db1 = np.sum(dz1, axis=0)

        dx = np.dot(dz1, np.transpose(self.theta1))

        self.dtheta1 = dw1
        self.db1 = db1
        self.dtheta2 = dw2
        self.db2 = db2
        return dx
