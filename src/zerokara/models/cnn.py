"""Convolutional networks of book 1: SimpleConvNet (chapter 7) and DeepConvNet (chapter 8).

Both are :class:`~zerokara.models.mlp.Classifier` s: a ``Sequential`` of layers, then
SoftmaxWithLoss, with parameters named by layer (``convolution1.W``, ``affine1.b``).

Shapes:
    predict: x (N, C, H, W) -> scores (N, 10)
    forward: x (N, C, H, W), t (N,) class ids -> mean loss ()
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError, shape_str
from zerokara.layers import Affine, Convolution, Dropout, Flatten, Module, Pooling, ReLU, Sequential
from zerokara.layers.base import Array
from zerokara.layers.conv import output_size
from zerokara.models.mlp import Classifier


class ConvClassifier(Classifier):
    """A Classifier of images of one size, said in the error when another size comes."""

    input_dim: tuple[int, int, int]

    def predict(self, x: Array) -> Array:
        if not isinstance(x, np.ndarray) or x.ndim != 4 or tuple(x.shape[1:]) != self.input_dim:
            got = shape_str(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
            raise InputError(
                f"{type(self).__name__}: x expected images (N, {', '.join(map(str, self.input_dim))}), "
                f"the size it was built for, got {got}"
            )
        return super().predict(x)

    def forward(self, x: Array, t: np.ndarray) -> float:
        return self.loss_layer.forward(self.predict(x), t)


class SimpleConvNet(ConvClassifier):
    """conv - relu - pool - affine - relu - affine - softmax, as book 1's SimpleConvNet.

    Book 1 (chapter 7): 30 filters 5x5, stride 1, pad 0; 2x2 max pooling with stride 2;
    a hidden Affine of 100; weights drawn with std 0.01. On MNIST (1, 28, 28): the
    convolution gives (30, 24, 24), the pooling (30, 12, 12), flattened 4320.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        *,
        filter_num: int = 30,
        filter_size: int = 5,
        pad: int = 0,
        stride: int = 1,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float | str = 0.01,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.input_dim = _dims(type(self).__name__, input_dim)
        rng = rng if rng is not None else np.random.default_rng(0)
        C, H, W = self.input_dim
        conv = Convolution.create(
            C,
            filter_num,
            filter_size,
            filter_size,
            rng,
            stride=stride,
            pad=pad,
            init=weight_init_std,
            dtype=dtype,
        )
        oh, ow = _after(type(self).__name__, (C, H, W), filter_size, stride, pad)
        ph, pw = _after(type(self).__name__, (filter_num, oh, ow), 2, 2, 0, pooling=True)
        self.net = Sequential(
            conv,
            ReLU(),
            Pooling(2, 2, stride=2),
            Flatten(),
            Affine.create(filter_num * ph * pw, hidden_size, rng, init=weight_init_std, dtype=dtype),
            ReLU(),
            Affine.create(hidden_size, output_size, rng, init=weight_init_std, dtype=dtype),
        )


#: book 1's DeepConvNet: (filters, pad) of the six 3x3 convolutions; a pool after every second
DEEP_CONVS = ((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1))


class DeepConvNet(ConvClassifier):
    """Book 1's DeepConvNet (chapter 8), with He initialisation:

    conv - relu - conv - relu - pool - conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool - affine - relu - dropout - affine - dropout - softmax

    Six 3x3 convolutions of 16, 16, 32, 32, 64, 64 filters (the fourth padded by 2, as the
    book, so MNIST's 28 goes 28-14-16-8-4), 2x2 max pooling with stride 2, a hidden Affine
    of 50 and Dropout 0.5 after each Affine. Book 1 trains it with Adam (lr 0.001).
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        *,
        convs: Sequence[tuple[int, int]] = DEEP_CONVS,
        hidden_size: int = 50,
        output_size: int = 10,
        dropout: float = 0.5,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_dim = _dims(name, input_dim)
        rng = rng if rng is not None else np.random.default_rng(0)
        C, H, W = self.input_dim
        layers: list[Module] = []
        for k, (filters, pad) in enumerate(convs):
            layers.append(Convolution.create(C, filters, 3, 3, rng, pad=pad, init="he", dtype=dtype))
            layers.append(ReLU())
            H, W = _after(name, (C, H, W), 3, 1, pad)
            C = filters
            if k % 2 == 1:
                layers.append(Pooling(2, 2, stride=2))
                H, W = _after(name, (C, H, W), 2, 2, 0, pooling=True)
        layers += [Flatten(), Affine.create(C * H * W, hidden_size, rng, init="he", dtype=dtype), ReLU()]
        if dropout > 0:  # each Dropout its own stream split off the model's: reproducible, resumable
            layers.append(Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))))
        layers.append(Affine.create(hidden_size, output_size, rng, init="he", dtype=dtype))
        if dropout > 0:
            layers.append(Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))))
        self.net = Sequential(*layers)


def _dims(name: str, input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(int(d) for d in input_dim)
    if len(dims) != 3 or min(dims) < 1:
        raise InputError(f"{name}: input_dim expected (C, H, W) of positive sizes, got {tuple(input_dim)}")
    return dims[0], dims[1], dims[2]


def _after(
    name: str, chw: tuple[int, int, int], k: int, stride: int, pad: int, *, pooling: bool = False
) -> tuple[int, int]:
    """(H, W) after a k x k window: the layers' own check, said for the model's input_dim."""
    kernel = ("pool_h", "pool_w") if pooling else ("FH", "FW")
    return output_size(name, (1, *chw), k, k, stride, pad, kernel)
