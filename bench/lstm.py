"""Workloads ``lstm-h100`` and ``lstm-h650`` (group ``lstm``): forward and
backward of one LSTM layer over a sequence, TimeLSTM against torch.nn.LSTM.

N=20 sequences of T=35 steps, D=H (100: book 2's Rnnlm; 650: Zaremba's
medium model), float32, a random upstream gradient; both sides compute the
input gradient and every parameter gradient. One run is ``REPS`` passes on the
same data with the same weights (torch's are copied from zerokara's).
"""

from __future__ import annotations

import numpy as np

from bench.harness import Pair, Workload

N, T, REPS, SEED = 20, 35, 10, 0


def sides(N: int, T: int, D: int, H: int, passes: int, seed: int = SEED):
    """(layer, zerokara_run, torch_run): ``passes`` forward+backward passes of a
    TimeLSTM and of an nn.LSTM holding the same weights, on the same data."""
    import torch

    from zerokara.layers import TimeLSTM

    rng = np.random.default_rng(seed)
    layer = TimeLSTM.create(D, H, rng)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    dhs = rng.standard_normal((N, T, H)).astype(np.float32)

    def zerokara_run() -> float:
        for _ in range(passes):
            layer.forward(xs)
            dxs = layer.backward(dhs)
        return float(dxs[0, 0, 0])

    lstm = torch.nn.LSTM(D, H, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(layer.params["Wx"].T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(layer.params["Wh"].T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(layer.params["b"]))
        lstm.bias_hh_l0.zero_()
    xt = torch.from_numpy(xs).requires_grad_(True)
    dt = torch.from_numpy(dhs)

    def torch_run() -> float:
        for _ in range(passes):
            xt.grad = None
            for p in lstm.parameters():
                p.grad = None  # zerokara overwrites its gradients; torch would accumulate
            out, _ = lstm(xt)
            out.backward(dt)
        return float(xt.grad[0, 0, 0])

    return layer, zerokara_run, torch_run


def make_setup(H: int):
    def setup(scale: float = 1.0) -> Pair:
        reps = max(1, round(REPS * scale))
        _, zerokara_run, torch_run = sides(N, T, H, H, reps)
        return Pair(zerokara_run, torch_run, {"shape": f"N={N} T={T} D=H={H}", "passes": reps})

    return setup


WORKLOADS = [
    Workload(name=f"lstm-h{H}", peer="torch",
             description=f"TimeLSTM forward+backward x{REPS}, N={N} T={T} D=H={H}, float32",
             setup=make_setup(H))
    for H in (100, 650)
]
