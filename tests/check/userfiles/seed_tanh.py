"""Plain functions from the study note "Day 3 - Section 1 再帰型ニューラルネットワークの概念
のまとめ" (JDLA E-qualification course, Day 3): the note's own tanh derivative, the
answer key's (the typo name d_tann is the key's), and sigmoid / d_sigmoid as the
course's common/functions.py has them. The note uses np.tanh itself for tanh.

All four are correct: d_tanh(x) = 4 / (e^x + e^-x)^2 = 1 / cosh(x)^2 = d_tann(x),
and d_sigmoid takes the pre-activation x, not sigmoid's output.
"""

import numpy as np


def sigmoid(x):
    """Correct: the logistic function."""
    return 1 / (1 + np.exp(-x))


def d_sigmoid(x):
    """Correct: sigmoid's derivative at the pre-activation x."""
    dx = (1.0 - sigmoid(x)) * sigmoid(x)
    return dx


# 自分の解答
def d_tanh(x):
    """Correct: tanh's derivative written with exponentials."""
    return 4 / (np.exp(x) + np.exp(-x)) ** 2


# 模範解答
def d_tann(x):
    """Correct: tanh's derivative, 1 / cosh(x)^2 (the answer key's name, typo kept)."""
    return 1/(np.cosh(x) ** 2)
