"""Optimizers and gradient clipping.

Every optimizer updates parameters in place from gradients keyed by the same
dotted names (``model.parameters()``, ``model.gradients()``), the way book 1
calls ``optimizer.update(params, grads)``. State (velocities, moments) is kept
per name, so it can be saved in a checkpoint and reloaded by name.

Update rules are the standard ones (as torch.optim writes them), which equal
the books' for a constant learning rate; where they differ it is said below.

Sparse gradients: an embedding's gradient is a :class:`RowGrad` (only the rows
a batch looked up). Every optimizer then updates only those rows, and only
those rows' state: the "lazy" semantics of torch.optim.SparseAdam. For SGD
this is exactly the dense update; for the stateful ones a row's velocity or
moments decay only on the steps in which the row is used (a dense update would
also move rows whose gradient is zero, through their old momentum).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zerokara.errors import InputError, check_positive_float, check_probability, shape_str
from zerokara.layers.base import Array
from zerokara.layers.embedding import RowGrad


class Optimizer:
    """Base class. ``update(params, grads)`` changes ``params`` in place."""

    #: names of per-parameter state buffers, e.g. ("v",) for Momentum
    slots: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        self.lr = check_positive_float(type(self).__name__, "lr", lr)
        self.t = 0  # number of updates done
        self.state: dict[str, dict[str, Array]] = {s: {} for s in self.slots}

    def _buf(self, slot: str, name: str, like: Array) -> Array:
        buf = self.state[slot].get(name)
        if buf is None:
            buf = self.state[slot][name] = np.zeros_like(like)
        return buf

    def update(self, params: dict[str, Array], grads: dict[str, Array]) -> None:
        for name, p in params.items():  # all checked before any is changed
            g = grads.get(name)
            if getattr(g, "shape", None) != p.shape:
                self._refuse(name, p, g, grads)
        self.t += 1
        for name, p in params.items():
            self._update_one(name, p, grads[name])

    def _refuse(self, name: str, p: Array, g: object, grads: dict[str, Array]) -> None:
        """The one-line error for a gradient that does not fit its parameter: missing,
        not an array, or of another shape (NumPy would broadcast a (1,) into a (3,))."""
        where = f"{type(self).__name__}.update: gradient of {name!r}"
        if name not in grads:
            others = sorted(set(grads) - {name})
            raise InputError(
                f"{where} expected (grads keyed like params), got none; grads has {others[:5]}"
                + ("..." if len(others) > 5 else "")
            )
        if not hasattr(g, "shape"):
            raise InputError(
                f"{where} expected an array of shape {shape_str(p.shape)}, got {type(g).__name__}"
            )
        shape = g.shape
        raise InputError(
            f"{where} expected shape {shape_str(p.shape)} (the parameter's), got {shape_str(shape)}"
        )

    def _update_one(self, name: str, p: Array, g: Array | RowGrad) -> None:
        bufs = [self._buf(slot, name, p) for slot in self.slots]
        if not isinstance(g, RowGrad):
            self._rule(p, g, *bufs)
            return
        # gather the touched rows, apply the same rule to them, scatter them back
        idx = g.idx
        rows = np.take(p, idx, axis=0)
        row_bufs = [np.take(b, idx, axis=0) for b in bufs]
        self._rule(rows, g.rows, *row_bufs)
        p[idx] = rows
        for b, rb in zip(bufs, row_bufs, strict=True):
            b[idx] = rb

    def _rule(self, *args: Any, **kwargs: Any) -> None:
        """``_rule(p, g, *bufs)``: the update, in place on p and on the state buffers (one per
        slot, same shapes as p). Each optimizer names its own buffers (``v``; ``m, v``), so
        the base takes anything and each override narrows it."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat arrays for a checkpoint: ``"<slot>.<param name>"`` and ``"t"``."""
        out: dict[str, np.ndarray] = {"t": np.array([self.t], dtype=np.int64)}
        for slot, bufs in self.state.items():
            for name, buf in bufs.items():
                out[f"{slot}.{name}"] = buf
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"][0]) if "t" in state else 0
        self.state = {s: {} for s in self.slots}
        for key, arr in state.items():
            if key == "t":
                continue
            slot, _, name = key.partition(".")
            if slot not in self.state:
                raise InputError(f"{type(self).__name__}: unknown state {key!r} in checkpoint")
            self.state[slot][name] = np.array(arr)

    def __repr__(self) -> str:
        hyper = {k: v for k, v in vars(self).items() if k not in ("state", "t")}
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in hyper.items())})"


class SGD(Optimizer):
    """``p -= lr * g``."""

    def _rule(self, p: Array, g: Array) -> None:
        p -= self.lr * g


class Momentum(Optimizer):
    """``v = momentum * v + g; p -= lr * v`` (torch's form).

    book 1 writes ``v = momentum * v - lr * g; p += v``: the same steps while
    lr is constant; with a decaying lr this form applies the new lr to the
    whole velocity at once.
    """

    slots = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        check_probability(type(self).__name__, "momentum", momentum)
        self.momentum = momentum

    def _rule(self, p: Array, g: Array, v: Array) -> None:
        v *= self.momentum
        v += g
        p -= self.lr * v


class Nesterov(Momentum):
    """Nesterov momentum as torch.optim.SGD(nesterov=True) and Sutskever et al.
    (2013) write it for the current parameters:
    ``v = momentum * v + g; p -= lr * (g + momentum * v)``.
    """

    def _rule(self, p: Array, g: Array, v: Array) -> None:
        v *= self.momentum
        v += g
        p -= self.lr * (g + self.momentum * v)


class AdaGrad(Optimizer):
    """``h += g * g; p -= lr * g / (sqrt(h) + eps)`` (eps as book 1: 1e-7)."""

    slots = ("h",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-7) -> None:
        super().__init__(lr)
        check_positive_float("AdaGrad", "eps", eps)
        self.eps = eps

    def _rule(self, p: Array, g: Array, h: Array) -> None:
        h += g * g
        p -= self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """``h = alpha * h + (1 - alpha) * g * g; p -= lr * g / (sqrt(h) + eps)``."""

    slots = ("h",)

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-7) -> None:
        super().__init__(lr)
        check_probability("RMSprop", "alpha", alpha)
        check_positive_float("RMSprop", "eps", eps)
        self.alpha, self.eps = alpha, eps

    def _rule(self, p: Array, g: Array, h: Array) -> None:
        h *= self.alpha
        h += (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), eps outside the square root of the bias-corrected
    second moment, as the paper and torch write it:
    ``m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    (book 1 folds both corrections into lr and adds eps to sqrt(v) unscaled.)
    """

    slots = ("m", "v")

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        check_probability("Adam", "beta1", beta1)
        check_probability("Adam", "beta2", beta2)
        check_positive_float("Adam", "eps", eps)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _rule(self, p: Array, g: Array, m: Array, v: Array) -> None:
        b1, b2 = self.beta1, self.beta2
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        step = self.lr / (1 - b1**self.t)
        denom = np.sqrt(v / (1 - b2**self.t))
        denom += self.eps
        p -= step * m / denom


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def make_optimizer(name: str, lr: float) -> Optimizer:
    if not isinstance(name, str):
        raise InputError(f"optimizer: name expected one of {sorted(OPTIMIZERS)}, got {name!r}")
    try:
        cls = OPTIMIZERS[name.lower()]
    except KeyError:
        raise InputError(f"optimizer: unknown name {name!r}; expected one of {sorted(OPTIMIZERS)}") from None
    return cls(lr=lr)


def clip_grads(grads: dict[str, Array], max_norm: float) -> float:
    """Scale all gradients in place so their global L2 norm is at most max_norm.

    Returns the norm before clipping (as torch.nn.utils.clip_grad_norm_ does).
    """
    check_positive_float("clip_grads", "max_norm", max_norm)
    total = float(
        np.sqrt(sum(g.sq_norm() if isinstance(g, RowGrad) else float(np.vdot(g, g)) for g in grads.values()))
    )
    rate = max_norm / (total + 1e-6)
    if rate < 1:
        for g in grads.values():
            g *= rate
    return total
