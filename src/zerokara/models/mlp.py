"""Multi-layer perceptrons of book 1: TwoLayerNet (chapters 4-5) and
MultiLayerNet (chapter 6: any depth, init choice, BatchNorm, Dropout).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from zerokara.errors import InputError
from zerokara.layers import (
    Affine,
    BatchNorm,
    Dropout,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxWithLoss,
    Tanh,
)
from zerokara.layers.base import Array

ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def activation(name: str) -> Module:
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        raise InputError(f"activation: unknown {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


class Classifier(Module):
    """A network ``self.net`` of layers followed by SoftmaxWithLoss.

    Shapes:
        predict: x (N, D) -> scores (N, C)
        forward: x (N, D), t (N,) class ids -> mean loss ()
        backward: dout () -> dx (N, D)
    """

    net: Sequential

    def __init__(self) -> None:
        super().__init__()
        self.loss_layer = SoftmaxWithLoss()

    def children(self) -> dict[str, Module]:
        # the layers of net are named directly ("affine1.W"), as book 1 names W1
        return {**self.net.layers, "loss": self.loss_layer}

    def predict(self, x: Array) -> Array:
        return self.net.forward(x)

    def forward(self, x: Array, t: np.ndarray) -> float:
        return self.loss_layer.forward(self.net.forward(x), t)

    #: return dL/dx from backward; a trainer turns it off (the data's gradient is
    #: never used, and skipping it saves the first layer's largest matrix product)
    input_grad = True

    def backward(self, dout: float = 1.0) -> Array | None:
        """Gradients of every parameter; returns dL/dx (None if ``input_grad`` is off)."""
        next(iter(self.net.layers.values())).input_grad = self.input_grad
        return self.net.backward(self.loss_layer.backward(dout))

    def accuracy(self, x: Array, t: np.ndarray, batch_size: int = 1000) -> float:
        """Fraction of correct argmax predictions, in eval mode, in batches."""
        was_training = self.training
        self.eval()
        try:
            labels = t.argmax(axis=1) if t.ndim == 2 else t
            correct = sum(
                int(np.sum(self.predict(x[i : i + batch_size]).argmax(axis=1) == labels[i : i + batch_size]))
                for i in range(0, len(x), batch_size)
            )
        finally:
            self.train(was_training)
        return correct / len(x)


class TwoLayerNet(Classifier):
    """Affine -> activation -> Affine -> SoftmaxWithLoss, as book 1's TwoLayerNet.

    book 1 (chapter 4) uses sigmoid and ``weight_init_std=0.01``; chapter 5
    swaps in ReLU. Parameters: ``affine1.W`` (D, H), ``affine1.b`` (H,),
    ``affine2.W`` (H, C), ``affine2.b`` (C,).
    """

    def __init__(
        self,
        input_size: int = 784,
        hidden_size: int = 50,
        output_size: int = 10,
        *,
        activation_name: str = "sigmoid",
        weight_init_std: float | str = 0.01,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng(0)
        self.net = Sequential(
            Affine.create(input_size, hidden_size, rng, init=weight_init_std, dtype=dtype),
            activation(activation_name),
            Affine.create(hidden_size, output_size, rng, init=weight_init_std, dtype=dtype),
        )


class MultiLayerNet(Classifier):
    """A fully connected net of any depth, as book 1's MultiLayerNet(Extend).

    Each hidden block is Affine -> [BatchNorm] -> activation -> [Dropout];
    the last Affine gives the class scores.

    Args:
        hidden_sizes: sizes of the hidden layers, e.g. (100, 100).
        init: "he", "xavier", "std" (with ``std``) or a float std.
        batchnorm: insert BatchNorm after each hidden Affine.
        dropout: drop probability after each hidden activation (0: none).
    """

    def __init__(
        self,
        input_size: int = 784,
        hidden_sizes: Sequence[int] = (100, 100),
        output_size: int = 10,
        *,
        activation_name: str = "relu",
        init: str | float = "he",
        std: float = 0.01,
        batchnorm: bool = False,
        dropout: float = 0.0,
        rng: np.random.Generator | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        if not hidden_sizes or any(h < 1 for h in hidden_sizes):
            raise InputError(f"MultiLayerNet: hidden_sizes expected positive sizes, got {list(hidden_sizes)}")
        rng = rng if rng is not None else np.random.default_rng(0)
        layers: list[Module] = []
        sizes = [input_size, *hidden_sizes]
        for d_in, d_out in itertools.pairwise(sizes):
            layers.append(Affine.create(d_in, d_out, rng, init=init, std=std, dtype=dtype))
            if batchnorm:
                layers.append(BatchNorm(d_out, dtype=dtype))
            layers.append(activation(activation_name))
            if dropout > 0:
                # its own stream, split off the model's, so dropout is reproducible and resumable
                layers.append(Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))))
        layers.append(Affine.create(sizes[-1], output_size, rng, init=init, std=std, dtype=dtype))
        self.net = Sequential(*layers)
