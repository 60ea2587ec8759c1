"""Workloads ``rnnlm-h100`` and ``rnnlm-h650`` (group ``rnnlm``): training
iterations of a language model -- forward, backward, gradient clipping, SGD
update -- zerokara against the same model in PyTorch.

rnnlm-h100: book 2's Rnnlm, V=10,000, D=H=100, N=20, T=35 (ch06/train_rnnlm.py).
rnnlm-h650: book 2's BetterRnnlm, V=10,000, D=H=650, 2 LSTM layers, dropout 0.5,
    weight tying, N=20, T=35 (ch06/train_better_rnnlm.py; Zaremba's medium size).

PyTorch: nn.Embedding, nn.LSTM (batch_first), nn.Dropout, nn.Linear (tied to
the embedding for h650), F.cross_entropy, clip_grad_norm_(0.25), optim.SGD(lr 20),
with the weights copied from zerokara's. Both carry the LSTM state from one
iteration to the next (truncated BPTT), both read the same batches of real
Penn Treebank ids when present (else random ids; the work is the same).
"""

from __future__ import annotations

import numpy as np

from bench.harness import Pair, Workload

V, N, T, LR, CLIP, SEED = 10_000, 20, 35, 20.0, 0.25, 0
ITERS = {100: 10, 650: 3}  # training iterations per timed run


def _batches(count: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    try:
        from zerokara.data import load_ptb
        from zerokara.train.lm import batch_indices

        corpus, _ = load_ptb("train")
        data = "ptb"
    except Exception:  # noqa: BLE001  (no data here: random ids do the same work)
        corpus, data = rng.integers(0, V, 200_000), "random ids"
    xs, ts = corpus[:-1], corpus[1:]
    idx = [batch_indices(len(xs), N, T, k) for k in range(count)]
    return [xs[i] for i in idx], [ts[i] for i in idx], data


def make_setup(H: int):
    def setup(scale: float = 1.0) -> Pair:
        import torch
        import torch.nn.functional as F

        from zerokara.models import BetterRnnlm, Rnnlm
        from zerokara.optim import SGD, clip_grads

        iters = max(1, round(ITERS[H] * scale))
        rng = np.random.default_rng(SEED)
        if H == 100:
            model, layers, drop, tie = Rnnlm(V, H, H, rng=rng), 1, 0.0, False
        else:
            model, layers, drop, tie = BetterRnnlm(V, H, H, num_layers=2, dropout=0.5, rng=rng), 2, 0.5, True
        opt = SGD(LR)
        bx, bt, data = _batches(iters, rng)

        def zerokara_run() -> float:
            for x, t in zip(bx, bt):
                loss = model.forward(x, t)
                model.backward()
                grads = model.gradients()
                clip_grads(grads, CLIP)
                opt.update(model.parameters(), grads)
            return loss

        p = {k: torch.from_numpy(np.array(v)) for k, v in model.parameters().items()}
        lstm_names = ["lstm"] if layers == 1 else [f"lstm{k}" for k in range(1, layers + 1)]

        class TorchLM(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embed = torch.nn.Embedding(V, H)
                self.lstm = torch.nn.LSTM(H, H, num_layers=layers, batch_first=True,
                                          dropout=drop if layers > 1 else 0.0)
                self.drop = torch.nn.Dropout(drop)
                self.affine = torch.nn.Linear(H, V)
                if tie:
                    self.affine.weight = self.embed.weight

            def forward(self, x, state):
                hs, state = self.lstm(self.drop(self.embed(x)), state)
                return self.affine(self.drop(hs)), state

        tm = TorchLM()
        with torch.no_grad():
            tm.embed.weight.copy_(p["embed.W"])
            for k, n in enumerate(lstm_names):
                getattr(tm.lstm, f"weight_ih_l{k}").copy_(p[f"{n}.Wx"].T)
                getattr(tm.lstm, f"weight_hh_l{k}").copy_(p[f"{n}.Wh"].T)
                getattr(tm.lstm, f"bias_ih_l{k}").copy_(p[f"{n}.b"])
                # torch's LSTM has two biases; b_hh held at 0 makes it zerokara's model exactly
                # (trained, it would get the same gradient and double the bias step)
                getattr(tm.lstm, f"bias_hh_l{k}").zero_()
                getattr(tm.lstm, f"bias_hh_l{k}").requires_grad_(False)
            if not tie:
                tm.affine.weight.copy_(p["affine.W"].T)
            tm.affine.bias.copy_(p["affine.b"])
        tx = [torch.from_numpy(x) for x in bx]
        tt = [torch.from_numpy(t.reshape(-1)) for t in bt]
        params = [q for q in tm.parameters() if q.requires_grad]
        topt = torch.optim.SGD(params, lr=LR)
        state = [None]

        def torch_run() -> float:
            for x, t in zip(tx, tt):
                topt.zero_grad(set_to_none=True)
                out, st = tm(x, state[0])
                state[0] = tuple(s.detach() for s in st)
                loss = F.cross_entropy(out.reshape(-1, V), t)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, CLIP)
                topt.step()
            return float(loss.detach())

        shape = f"V={V} D=H={H} layers={layers} N={N} T={T}" + (", dropout 0.5, tied" if tie else "")
        return Pair(zerokara_run, torch_run, {"shape": shape, "iterations": iters, "data": data})

    return setup


WORKLOADS = [
    Workload(name="rnnlm-h100", peer="torch",
             description=f"Rnnlm train step x{ITERS[100]} (fwd, bwd, clip, SGD), V=10k D=H=100 N={N} T={T}",
             setup=make_setup(100)),
    Workload(name="rnnlm-h650", peer="torch",
             description=f"BetterRnnlm train step x{ITERS[650]}, 2x650 LSTM, dropout, tied, N={N} T={T}",
             setup=make_setup(650)),
]
