"""Data parallelism over threads: one training step on several cores.

NumPy runs its element-wise operations on one core; only the matrix products
use the BLAS threads. :class:`DataParallel` splits each batch by rows into
``workers`` parts and runs forward and backward of each part in its own thread,
on its own replica of the model. The replicas share the parameter arrays. Each
replica's BLAS runs on one thread, so the parts use one core each. NumPy releases
Python's GIL inside its array operations, so the parts run at the same time.

The gradients are the same as the whole batch's, up to float rounding. A
zerokara loss is a mean over the batch rows, so the batch's gradient is the
row-weighted mean of the parts' gradients.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from zerokara.errors import InputError
from zerokara.layers.base import Array, Module


class DataParallel:
    """Wrap a model so that ``forward``/``backward`` run ``workers`` row-parts of
    the batch in parallel threads.

    The wrapper has the model's training interface: ``forward(*arrays) -> loss``
    (every argument split along axis 0), ``backward(dout=1.0, **kw)``, ``gradients()``,
    ``parameters()``, ``state_dict()``/``load_state_dict()``, ``train()``/``eval()``.
    Anything else (``accuracy``, ``generate``, ...) is the wrapped model's own,
    run on the whole input in the calling thread.

    Limits, checked:
    - The model must not draw random numbers while training (dropout, negative
      sampling): its replicas would need generators of their own, and the run
      could not be reproduced or resumed.
    - A batch needs at least ``workers`` rows.
    """

    def __init__(self, model: Module, workers: int = 2) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise InputError(f"DataParallel: workers expected a positive integer, got {workers!r}")
        gens = model.generators()
        if gens and workers > 1:
            raise InputError(
                f"DataParallel: {type(model).__name__} draws random numbers in training "
                f"({', '.join(sorted(gens))}); its replicas would draw the same ones. "
                "Train it with workers=1"
            )
        self.module, self.workers = model, workers
        params = model.parameters()
        shared = {id(a): a for a in params.values()}  # deepcopy keeps these, copies the rest
        self.replicas = [model] + [copy.deepcopy(model, dict(shared)) for _ in range(workers - 1)]
        self._pool = ThreadPoolExecutor(workers - 1) if workers > 1 else None
        self._weights: list[float] = [1.0]
        self._grads: dict[str, Any] | None = None
        self._blas: Any = None
        if workers > 1:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()

    def _run(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Make each call: the first in this thread, the rest in the pool; BLAS
        on one thread meanwhile (one core per part)."""
        if self._pool is None:
            return [calls[0]()]
        with self._blas.limit(limits=1, user_api="blas"):
            futures = [self._pool.submit(c) for c in calls[1:]]
            first = calls[0]()
            return [first] + [f.result() for f in futures]

    def forward(self, *arrays: np.ndarray) -> float:
        """arrays: each (N, ...) -> the batch's mean loss (the parts' row-weighted mean)."""
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise InputError(f"DataParallel: the inputs' first dimensions differ: {[len(a) for a in arrays]}")
        if n < self.workers:
            raise InputError(f"DataParallel: a batch of {n} rows cannot be split over {self.workers} workers")
        bounds = [n * k // self.workers for k in range(self.workers + 1)]
        parts = [tuple(a[lo:hi] for a in arrays) for lo, hi in itertools.pairwise(bounds)]
        self._weights = [(hi - lo) / n for lo, hi in itertools.pairwise(bounds)]
        losses = self._run(
            [functools.partial(m.forward, *p) for m, p in zip(self.replicas, parts, strict=True)]
        )
        return float(sum(w * loss for w, loss in zip(self._weights, losses, strict=True)))

    def backward(self, dout: float = 1.0, **kwargs: Any) -> None:
        """Each part's backward from ``dout`` x (part's rows / N): its gradients
        come out already weighted for the batch's mean."""
        self._grads = None
        self._run(
            [
                functools.partial(m.backward, dout * w, **kwargs)
                for m, w in zip(self.replicas, self._weights, strict=True)
            ]
        )

    def gradients(self) -> dict[str, Array]:
        """The batch's gradients: the sum of the parts' (weighted) gradients,
        added up in the first replica's arrays (the wrapped model's own), once
        per backward."""
        if self._grads is None:
            total = dict(self.module.gradients())
            for m in self.replicas[1:]:
                for name, g in m.gradients().items():
                    if isinstance(total[name], np.ndarray):
                        total[name] += g  # in place: a new array each step costs page faults
                    else:
                        total[name] = total[name] + g  # sparse rows (RowGrad)
            self._grads = total
        return self._grads

    def parameters(self) -> dict[str, Array]:
        return self.module.parameters()

    def state_dict(self) -> dict[str, Array]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray], **kw: Any) -> None:
        self.module.load_state_dict(state, **kw)  # the replicas share these arrays

    def train(self, mode: bool = True) -> DataParallel:
        for m in self.replicas:
            m.train(mode)
        return self

    def eval(self) -> DataParallel:
        return self.train(False)

    def __getattr__(self, name: str) -> Any:
        if name in ("module", "replicas"):  # not set yet: during __init__ / unpickling
            raise AttributeError(name)
        return getattr(self.module, name)

    def __repr__(self) -> str:
        return f"DataParallel({self.module!r}, workers={self.workers})"
