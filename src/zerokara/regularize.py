"""Weight decay: a penalty on the size of the weights, added to the loss (book 1, 6.4.2).

L2 (book 1): ``loss + 0.5 * lam * sum(W ** 2)`` over every weight matrix, so each
weight's gradient gets ``+ lam * W``: every step pulls the weights a little toward 0,
and large weights, which overfitting needs, cost loss. L1 (the course's Day 2):
``loss + lam * sum(|W|)``, gradient ``+ lam * sign(W)``: the same pull whatever the
size, so small weights go to exactly 0.

The weights are the parameters of two or more dimensions: Affine's and
Convolution's W, the recurrent Wx and Wh, embeddings. Biases and BatchNorm's gamma
and beta (one dimension) are left alone, as book 1 leaves them.

The trainer uses one :class:`WeightDecay` on any model (``Trainer(weight_decay=...)``);
:class:`Decayed` wraps a model so that its own forward and backward include the
penalty, for a gradient check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.layers.base import Array, Module

KINDS = ("l2", "l1")


class WeightDecay:
    """``lam`` (lambda) times the L2 (half the squared norm) or L1 norm of the weights."""

    def __init__(self, lam: float, kind: str = "l2") -> None:
        if not np.isfinite(lam) or lam < 0:
            raise InputError(f"weight decay: lambda expected a number >= 0, got {lam}")
        if kind not in KINDS:
            raise InputError(f"weight decay: kind expected one of {KINDS}, got {kind!r}")
        self.lam, self.kind = float(lam), kind

    def __repr__(self) -> str:
        return f"WeightDecay({self.lam:g}, {self.kind!r})"

    @staticmethod
    def weights(params: dict[str, Array]) -> list[str]:
        """The names of the parameters it decays: those of two or more dimensions."""
        return [name for name, p in params.items() if p.ndim >= 2]

    def penalty(self, params: dict[str, Array]) -> float:
        """The term added to the loss: 0.5 * lam * sum(W**2) (L2) or lam * sum(|W|) (L1)."""
        if not self.lam:
            return 0.0
        total = 0.0
        for name in self.weights(params):
            w = params[name]
            # float64 sums: the penalty of a large float32 model is a long sum
            total += float(np.vdot(w, w)) / 2 if self.kind == "l2" else float(np.abs(w).sum(dtype=np.float64))
        return self.lam * total

    def add_gradient(self, params: dict[str, Array], grads: dict[str, Any], scale: float = 1.0) -> None:
        """Add the penalty's gradient, times ``scale`` (the loss's dout), to ``grads``: in place
        into each array; an embedding's sparse :class:`~zerokara.layers.embedding.RowGrad` is
        replaced in ``grads`` by the dense sum."""
        if not self.lam:
            return
        for name in self.weights(params):
            w, g = params[name], grads[name]
            step = (self.lam * scale) * (w if self.kind == "l2" else np.sign(w))
            if isinstance(g, np.ndarray):
                g += step
            else:  # an embedding's sparse rows: the penalty reaches every row, so it turns dense
                grads[name] = np.asarray(g) + step


class Decayed(Module):
    """``model`` with the weight decay's penalty in its loss and gradient.

    forward(*inputs) -> model's loss + penalty; backward(dout=1.0) -> model's backward,
    then every weight's gradient + dout * the penalty's. Parameter names are the model's.
    """

    def __init__(self, model: Module, decay: WeightDecay) -> None:
        super().__init__()
        self.model, self.decay = model, decay

    def children(self) -> dict[str, Module]:
        return {"": self.model}  # the empty name: the model's own names, unprefixed

    def forward(self, *inputs: Any) -> float:
        return self.model.forward(*inputs) + self.decay.penalty(self.model.parameters())

    def backward(self, dout: float = 1.0) -> Any:
        dx = self.model.backward(dout)
        # into the layers' own gradients, once per array: a tied weight's first owner
        seen: set[int] = set()
        for _, mod, key in self.model._named_slots():
            w = mod.params[key]
            if id(w) not in seen:
                seen.add(id(w))
                grads = {key: mod.grads[key]}
                self.decay.add_gradient({key: w}, grads, dout)
                mod.grads[key] = grads[key]  # the same array, or a sparse gradient made dense
        return dx
