"""Workloads ``cnn-simple`` and ``cnn-deep`` (group ``cnn``): training steps of
book 1's convolutional networks, zerokara against the same network in PyTorch.

cnn-simple: SimpleConvNet (chapter 7): conv 30 5x5 - relu - 2x2 max pool -
    affine 100 - relu - affine 10; weights drawn with std 0.01.
cnn-deep: DeepConvNet (chapter 8): six 3x3 convolutions (16, 16, 32, 32, 64,
    64 filters) with a 2x2 max pool after every second, affine 50, dropout 0.5
    after each affine; He initialisation.

Both: MNIST-shaped (1, 28, 28) float32 images, batch 100, Adam lr 0.001
(book 1's settings), softmax cross-entropy. Real MNIST training images when
present (as ``bench.mlp``), else random ones; the work is the same.

PyTorch: nn.Conv2d, nn.MaxPool2d(2, 2), nn.Linear, nn.Dropout,
F.cross_entropy, torch.optim.Adam, the weights copied from zerokara's. Each run
restores the initial weights and starts a fresh optimizer on both sides, so
every run trains the same steps. Dropout draws its own masks on each side
(different masks, the same work).

``python -m bench.breakdown cnn-simple cnn-deep`` shows where one training
step's time goes (:func:`breakdown`).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from bench.harness import Pair, Workload, _timed, torch_steps

BATCH, LR, SEED = 100, 0.001, 0
STEPS = {"simple": 20, "deep": 8}  # training steps per timed run (a few seconds)


def build(kind: str, rng: np.random.Generator):
    """zerokara's model and the same network in torch (weights copied from zerokara's)."""
    import torch
    from torch import nn

    from zerokara.models import DeepConvNet, SimpleConvNet
    from zerokara.models.cnn import DEEP_CONVS

    if kind == "simple":
        model = SimpleConvNet((1, 28, 28), rng=rng, dtype=np.float32)
        layers: list[nn.Module] = [nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                                   nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10)]
    elif kind == "deep":
        model = DeepConvNet((1, 28, 28), rng=rng, dtype=np.float32)
        layers, c = [], 1
        for k, (filters, pad) in enumerate(DEEP_CONVS):
            layers += [nn.Conv2d(c, filters, 3, padding=pad), nn.ReLU()]
            c = filters
            if k % 2 == 1:
                layers.append(nn.MaxPool2d(2, 2))
        layers += [nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(), nn.Dropout(0.5),
                   nn.Linear(50, 10), nn.Dropout(0.5)]
    else:
        raise ValueError(f"kind expected 'simple' or 'deep', got {kind!r}")
    net = nn.Sequential(*layers)
    params = model.parameters()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(convs, start=1):  # the same (FN, C, FH, FW) layout
            m.weight.copy_(torch.from_numpy(params[f"convolution{i}.W"]))
            m.bias.copy_(torch.from_numpy(params[f"convolution{i}.b"]))
        for i, m in enumerate(linears, start=1):  # zerokara's Affine W is (in, out): x @ W
            m.weight.copy_(torch.from_numpy(params[f"affine{i}.W"].T))
            m.bias.copy_(torch.from_numpy(params[f"affine{i}.b"]))
    return model, net


def setup(kind: str, scale: float = 1.0, data: str = "auto") -> Pair:
    """Both sides for ``kind`` ("simple" or "deep"); ``scale`` < 1 runs that
    fraction of the steps (at least one)."""
    import torch

    from bench.mlp import load_data
    from zerokara.optim import Adam

    steps = max(1, round(STEPS[kind] * scale))
    x, t, source = load_data(steps * BATCH, data)
    x = np.ascontiguousarray(x.reshape(-1, 1, 28, 28), dtype=np.float32)
    xs = [x[i * BATCH:(i + 1) * BATCH] for i in range(steps)]
    ts = [t[i * BATCH:(i + 1) * BATCH] for i in range(steps)]

    model, net = build(kind, np.random.default_rng(SEED))
    model.input_grad = False  # as the trainer: the images' gradient is never used
    init_state = {k: v.copy() for k, v in model.state_dict().items()}

    def zerokara_run() -> float:
        model.load_state_dict(init_state)
        model.train()
        optimizer = Adam(lr=LR)
        losses = []
        for xb, tb in zip(xs, ts, strict=True):
            loss = model.forward(xb, tb)
            if not math.isfinite(loss):
                raise FloatingPointError(f"zerokara loss became {loss}")
            model.backward()
            optimizer.update(model.parameters(), model.gradients())
            losses.append(loss)
        return float(np.mean(losses))

    torch_init = [p.detach().clone() for p in net.parameters()]
    txs = [torch.from_numpy(xb) for xb in xs]
    tts = [torch.from_numpy(tb) for tb in ts]

    def torch_run() -> float:
        with torch.no_grad():
            for p, p0 in zip(net.parameters(), torch_init, strict=True):
                p.copy_(p0)
        net.train()
        return torch_steps(net, torch.optim.Adam(net.parameters(), lr=LR), zip(txs, tts, strict=True))

    return Pair(zerokara_run, torch_run, {"data": source, "steps": steps})


WORKLOADS = [
    Workload(name="cnn-simple", peer="torch",
             description=f"SimpleConvNet train step x{STEPS['simple']} (conv30 5x5, pool, 100, 10), "
                         f"Adam, batch {BATCH}, float32",
             setup=lambda scale: setup("simple", scale)),
    Workload(name="cnn-deep", peer="torch",
             description=f"DeepConvNet train step x{STEPS['deep']} (6 conv 3x3, 3 pools, dropout), "
                         f"Adam, batch {BATCH}, float32",
             setup=lambda scale: setup("deep", scale)),
]


# ---------------------------------------------------------------------------
# breakdown: where one training step's time goes
# ---------------------------------------------------------------------------

PIECES = ("im2col", "gemm", "dx", "pooling")


class _Pieces:
    """perf_counter around zerokara's own pieces of a step, by monkeypatching them:
    conv.im2col and conv.input_grad (Convolution's dx: a product and an add per kernel
    offset, what book 1 does with dcol and col2im), Pooling.forward and .backward (all
    of a pooling, including any im2col / col2im inside it).
    Convolution.backward is wrapped to keep each layer's dout, for :meth:`gemm`."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PIECES, 0.0)
        self.douts: dict[int, Any] = {}
        self._in_pooling = False

    @contextmanager
    def patched(self) -> Iterator[None]:
        from zerokara.layers import conv
        from zerokara.layers.pooling import Pooling

        originals = {"im2col": conv.im2col, "dx": conv.input_grad,
                     "pool_f": Pooling.forward, "pool_b": Pooling.backward,
                     "conv_b": conv.Convolution.backward}

        def timed(name: str, fn: Callable) -> Callable:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if self._in_pooling:  # pooling's own im2col counts as pooling
                    return fn(*args, **kwargs)
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds[name] += time.perf_counter() - start
            return wrapper

        def pooling(fn: Callable) -> Callable:
            def wrapper(layer: Any, *args: Any) -> Any:
                self._in_pooling = True
                start = time.perf_counter()
                try:
                    return fn(layer, *args)
                finally:
                    self.seconds["pooling"] += time.perf_counter() - start
                    self._in_pooling = False
            return wrapper

        def conv_backward(layer: Any, dout: Any) -> Any:
            self.douts[id(layer)] = dout
            return originals["conv_b"](layer, dout)

        conv.im2col = timed("im2col", originals["im2col"])
        conv.input_grad = timed("dx", originals["dx"])
        Pooling.forward = pooling(originals["pool_f"])
        Pooling.backward = pooling(originals["pool_b"])
        conv.Convolution.backward = conv_backward
        try:
            yield
        finally:
            conv.im2col, conv.input_grad = originals["im2col"], originals["dx"]
            Pooling.forward, Pooling.backward = originals["pool_f"], originals["pool_b"]
            conv.Convolution.backward = originals["conv_b"]


def gemm_replay(model: Any, douts: dict[int, Any]) -> Callable[[], list]:
    """The two large matrix products each Convolution of ``model`` made in its last step
    (forward's and dW's), with the same operands (its cached col, its W, the dout it got)
    and nothing else. dx's products, one per kernel offset, are timed inside the dx piece.
    Returns a run that makes them and returns dW of each."""
    from zerokara.layers.conv import Convolution

    convs = [m for _, m in model.named_modules() if isinstance(m, Convolution)]
    jobs = []
    for layer in convs:
        W, col = layer.params["W"], layer.col
        FN = W.shape[0]
        dout_t = douts[id(layer)].transpose(1, 0, 2, 3).reshape(FN, -1)  # as Convolution.backward
        jobs.append((W.reshape(FN, -1), col, dout_t))

    def run() -> list:
        dWs = []
        for W2, col, dout_t in jobs:
            W2 @ col.T  # forward
            dWs.append(dout_t @ col)  # dW
        return dWs

    return run


def breakdown(kind: str, *, repeats: int = 5, steps: int = 3, data: str = "random") -> dict:
    """Median milliseconds per training step: zerokara's whole step, its pieces
    (im2col, GEMM, dx, pooling; rest = step - those), torch's whole step."""
    import torch
    import torch.nn.functional as F

    from bench.mlp import load_data
    from zerokara.optim import Adam

    x, t, _ = load_data(BATCH, data)
    x = np.ascontiguousarray(x.reshape(-1, 1, 28, 28), dtype=np.float32)
    model, net = build(kind, np.random.default_rng(SEED))
    model.input_grad = False
    model.train()
    net.train()
    opt, topt = Adam(lr=LR), torch.optim.Adam(net.parameters(), lr=LR)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)

    def z_step() -> None:
        model.forward(x, t)
        model.backward()
        opt.update(model.parameters(), model.gradients())

    def zerokara() -> None:
        for _ in range(steps):
            z_step()

    def torch_run() -> None:
        for _ in range(steps):
            loss = F.cross_entropy(net(xt), tt)
            topt.zero_grad(set_to_none=True)
            loss.backward()
            topt.step()

    pieces = _Pieces()
    with pieces.patched():
        z_step()
    gemm = gemm_replay(model, pieces.douts)

    def gemms() -> None:
        for _ in range(steps):
            gemm()

    def instrumented() -> None:
        with pieces.patched():
            for _ in range(steps):
                z_step()

    runs = {"zerokara": zerokara, "gemm": gemms, "torch": torch_run, "instrumented": instrumented}
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in (*runs, "im2col", "dx", "pooling")}
    for _ in range(repeats):
        for name, run in runs.items():
            if name == "instrumented":
                pieces.seconds = dict.fromkeys(PIECES, 0.0)
            times[name].append(_timed(run) * 1e3 / steps)
        for name in ("im2col", "dx", "pooling"):
            times[name].append(pieces.seconds[name] * 1e3 / steps)
    ms = {k: statistics.median(v) for k, v in times.items()}
    parts = ms["im2col"] + ms["gemm"] + ms["dx"] + ms["pooling"]
    return {"model": kind, "zerokara_ms": ms["zerokara"], "im2col_ms": ms["im2col"],
            "gemm_ms": ms["gemm"], "dx_ms": ms["dx"], "pooling_ms": ms["pooling"],
            "rest_ms": ms["zerokara"] - parts, "torch_ms": ms["torch"],
            "ratio": ms["zerokara"] / ms["torch"], "gemm_over_torch": ms["gemm"] / ms["torch"],
            "instrumented_ms": ms["instrumented"], "repeats": repeats, "steps": steps}


def print_breakdown(rows: list[dict], repeats: int, info: Any) -> None:
    print(f"ms per training step (batch {BATCH}, forward + backward + Adam), medians of {repeats}; "
          f"threads {info.threads}; {info.blas}")
    print(f"{'model':8s} {'zerokara':>9s} {'im2col':>7s} {'GEMM':>7s} {'dx':>7s} {'pooling':>8s} "
          f"{'rest':>7s} {'torch':>7s} {'ratio':>6s} {'GEMM/torch':>11s}")
    for r in rows:
        print(f"{r['model']:8s} {r['zerokara_ms']:9.2f} {r['im2col_ms']:7.2f} {r['gemm_ms']:7.2f} "
              f"{r['dx_ms']:7.2f} {r['pooling_ms']:8.2f} {r['rest_ms']:7.2f} {r['torch_ms']:7.2f} "
              f"{r['ratio']:6.2f} {r['gemm_over_torch']:11.2f}")
    for r in rows:
        print(json.dumps(r))
