"""Workload ``mlp``: one MNIST epoch of a 784-100-100-10 ReLU MLP, plain SGD.

60,000 images, batch 100, 600 updates, lr 0.1, float32, softmax
cross-entropy. One shuffled permutation is made once, outside the timing, and
both sides take the same batches in the same order from the same initial
weights (PyTorch's are copied from the zerokara model).

Per step each side does what ``zerokara.train.Trainer.step`` does, and no
more: gather the batch ``x[idx]``, forward to the loss (a Python float,
checked finite), backward, gradients, optimizer update, and keep the loss.
Each run starts by restoring the initial weights, so every run trains the
same epoch.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from bench.harness import Pair, Workload, torch_steps

N_TRAIN, D_IN, HIDDEN, CLASSES = 60_000, 784, (100, 100), 10
BATCH, LR, SEED = 100, 0.1, 0


def _find_data_dir() -> None:
    """Use ``../shared/data`` beside the repo, as .ci/run does, if
    ``$ZEROKARA_DATA_DIR`` is not set."""
    import os

    if os.environ.get("ZEROKARA_DATA_DIR"):
        return
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if (shared / "mnist").is_dir():
        os.environ["ZEROKARA_DATA_DIR"] = str(shared)


def load_data(n: int, data: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, t, source)``: the first ``n`` MNIST training images, or random
    data of the same shape and dtype when real MNIST is absent.

    ``data``: "auto" (MNIST if its files are on disk, else random), "mnist"
    (fail if absent) or "random".
    """
    if data not in ("auto", "mnist", "random"):
        raise ValueError(f"data expected 'auto', 'mnist' or 'random', got {data!r}")
    why = "asked for random data"
    if data != "random":
        _find_data_dir()
        try:
            from zerokara.data import data_dir, load_mnist
            from zerokara.data.mnist import FILE_NAMES, MNIST
        except ImportError as exc:
            why = f"zerokara.data not importable ({exc})"
        else:
            folder = data_dir() / MNIST.folder
            missing = [f for f in FILE_NAMES if not (folder / f).is_file()]
            if not missing:
                # present: load it, and let a corrupt file fail loudly rather than fall back
                (x, t), _ = load_mnist()
                return x[:n], t[:n], f"mnist ({folder})"
            why = f"MNIST absent: {', '.join(missing)} not in {folder}"
        if data == "mnist":
            raise FileNotFoundError(why)
    print(f"[bench] mlp: using RANDOM data of MNIST's shape: {why}", file=sys.stderr)
    rng = np.random.default_rng(SEED)
    x = rng.random((n, D_IN), dtype=np.float32)
    t = rng.integers(0, CLASSES, n, dtype=np.int64)
    return x, t, "random"


def setup(scale: float = 1.0, data: str = "auto") -> Pair:
    """Build both sides; ``scale`` < 1 trains on that fraction of the 60,000
    images (at least one batch), for quick tests."""
    import torch
    from torch import nn

    from zerokara.models import MultiLayerNet
    from zerokara.optim import SGD

    n = max(BATCH, int(N_TRAIN * scale) // BATCH * BATCH)
    x, t, source = load_data(n, data)
    steps = n // BATCH
    perm = np.random.default_rng(SEED).permutation(n)
    batches = [perm[i * BATCH:(i + 1) * BATCH] for i in range(steps)]

    # -- zerokara -------------------------------------------------------------
    model = MultiLayerNet(D_IN, HIDDEN, CLASSES, activation_name="relu", init="he",
                          rng=np.random.default_rng(SEED))
    model.input_grad = False  # as the trainer: the images' gradient is never used
    init_state = {k: v.copy() for k, v in model.state_dict().items()}
    optimizer = SGD(lr=LR)

    def zerokara_run() -> float:
        model.load_state_dict(init_state)
        model.train()
        losses = []
        for idx in batches:
            loss = model.forward(x[idx], t[idx])
            if not math.isfinite(loss):
                raise FloatingPointError(f"zerokara loss became {loss}")
            model.backward()
            grads = model.gradients()
            optimizer.update(model.parameters(), grads)
            losses.append(loss)
        return float(np.mean(losses))

    # -- torch ------------------------------------------------------------------
    net = nn.Sequential(nn.Linear(D_IN, HIDDEN[0]), nn.ReLU(),
                        nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(),
                        nn.Linear(HIDDEN[1], CLASSES))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    torch_init = []
    for i, lin in enumerate(linears, start=1):
        W, b = init_state[f"affine{i}.W"], init_state[f"affine{i}.b"]
        torch_init += [torch.from_numpy(W.T.copy()), torch.from_numpy(b.copy())]
    params = [p for lin in linears for p in (lin.weight, lin.bias)]
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    torch_batches = [torch.from_numpy(idx) for idx in batches]

    def torch_run() -> float:
        with torch.no_grad():
            for p, p0 in zip(params, torch_init):
                p.copy_(p0)
        net.train()
        return torch_steps(net, opt, ((xt[idx], tt[idx]) for idx in torch_batches))

    return Pair(zerokara_run, torch_run, {"data": source, "updates": steps})


WORKLOAD = Workload(
    name="mlp",
    description="1 MNIST epoch, 784-100-100-10 ReLU MLP, SGD lr 0.1, batch 100, float32",
    peer="torch",
    setup=setup,
)
