"""Workload ``seq2seq``: one training epoch of book 2's attention seq2seq on
date.txt (chapter 8: wordvec 16, hidden 256, batch 128, Adam lr 0.001, clip
5.0, reversed input), zerokara's AttentionSeq2seq against the same model
written in PyTorch (nn.Embedding, nn.LSTM, batched dot-product attention,
nn.Linear, cross-entropy, torch.optim.Adam, clip_grad_norm_).

Both sides start from the same weights and see the same batches in the same
order: 45,000 training pairs -> 351 updates. Both use the harness's thread
count: torch inside its kernels, zerokara as ``zerokara train seq2seq --workers
N`` does (:class:`zerokara.parallel.DataParallel`: each batch split by rows over
N threads, one core each, the same gradients up to rounding). Each run
continues training from where the previous one stopped (like a next epoch); the
work per run is the same. Uses book 2's date.txt from ``$ZEROKARA_DATA_DIR/seq2seq/`` or, when it
is absent, 50,000 generated dates of the same shape (noted in the result).
"""

from __future__ import annotations

import numpy as np

from bench.harness import Pair, Workload

BATCH, WORDVEC, HIDDEN, SEED = 128, 16, 256, 0


def _data():
    from zerokara.data.sequence import load_sequence, make_date, parse_lines
    from zerokara.errors import DataError

    try:
        return load_sequence("date"), "date.txt"
    except DataError:
        return parse_lines(make_date(50000, SEED)), "generated dates (date.txt absent)"


def torch_model(model, V: int):
    """The same network in torch, with zerokara's weights copied in."""
    import torch
    from torch import nn

    p = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.parameters().items()}
    dt = p["decoder.affine.W"].dtype  # float32 to time, float64 in the parity test

    def lstm(prefix: str, D: int) -> nn.LSTM:
        m = nn.LSTM(D, HIDDEN, batch_first=True, dtype=dt)
        with torch.no_grad():
            m.weight_ih_l0.copy_(p[f"{prefix}.Wx"].T)
            m.weight_hh_l0.copy_(p[f"{prefix}.Wh"].T)
            m.bias_ih_l0.copy_(p[f"{prefix}.b"])
            m.bias_hh_l0.zero_()
        # zerokara's LSTM has one bias; a second trainable one would move twice as fast under Adam
        m.bias_hh_l0.requires_grad_(False)
        return m

    class TorchAttentionSeq2seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc_embed = nn.Embedding(V, WORDVEC, dtype=dt)
            self.dec_embed = nn.Embedding(V, WORDVEC, dtype=dt)
            self.enc_lstm = lstm("encoder.lstm", WORDVEC)
            self.dec_lstm = lstm("decoder.lstm", WORDVEC)
            self.affine = nn.Linear(2 * HIDDEN, V, dtype=dt)
            with torch.no_grad():
                self.enc_embed.weight.copy_(p["encoder.embed.W"])
                self.dec_embed.weight.copy_(p["decoder.embed.W"])
                self.affine.weight.copy_(p["decoder.affine.W"].T)
                self.affine.bias.copy_(p["decoder.affine.b"])

        def forward(self, xs, ts):
            enc, _ = self.enc_lstm(self.enc_embed(xs))
            h0 = enc[:, -1].unsqueeze(0).contiguous()
            dec, _ = self.dec_lstm(self.dec_embed(ts[:, :-1]), (h0, torch.zeros_like(h0)))
            a = torch.softmax(dec @ enc.transpose(1, 2), dim=-1)
            scores = self.affine(torch.cat([a @ enc, dec], dim=2))
            return nn.functional.cross_entropy(scores.reshape(-1, V), ts[:, 1:].reshape(-1))

    return TorchAttentionSeq2seq()


def epoch_runs(net, params, tmodel, batches) -> tuple:
    """(zerokara_run, torch_run): one pass over ``batches`` on each side, Adam lr 0.001
    and the gradients clipped to 5.0 (book 2's seq2seq settings); each returns the last
    loss. ``net`` is the zerokara model (or its DataParallel), ``params`` its parameters."""
    import torch

    from zerokara.optim import Adam, clip_grads

    opt = Adam(lr=0.001)
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.001)
    tbatches = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]

    def zerokara_run() -> float:
        for xb, tb in batches:
            loss = net.forward(xb, tb)
            net.backward()
            grads = net.gradients()
            clip_grads(grads, 5.0)
            opt.update(params, grads)
        return loss

    def torch_run() -> float:
        for xb, tb in tbatches:
            topt.zero_grad(set_to_none=True)
            loss = tmodel(xb, tb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 5.0)
            topt.step()
        return float(loss.detach())

    return zerokara_run, torch_run


def setup(scale: float = 1.0) -> Pair:
    from bench.harness import thread_count
    from zerokara.models.attention_seq2seq import AttentionSeq2seq
    from zerokara.parallel import DataParallel

    data, source = _data()
    (x, t), _ = data.split()
    x = np.ascontiguousarray(x[:, ::-1])  # book 2 reverses the questions (both sides get them so)
    V = len(data.vocab)
    iters = max(1, round(len(x) // BATCH * scale))
    order = np.random.default_rng(SEED).permutation(len(x))[:iters * BATCH].reshape(iters, BATCH)
    batches = [(x[i], t[i]) for i in order]

    model = AttentionSeq2seq(V, WORDVEC, HIDDEN, rng=np.random.default_rng(SEED))
    tmodel = torch_model(model, V)
    workers = thread_count()
    net = DataParallel(model, workers)
    zerokara_run, torch_run = epoch_runs(net, model.parameters(), tmodel, batches)

    return Pair(zerokara_run, torch_run, {"data": source, "updates": iters, "zerokara_workers": workers,
                                          "shape": f"N={BATCH} Tx={x.shape[1]} Ty={t.shape[1] - 1} "
                                                   f"D={WORDVEC} H={HIDDEN} V={V}"})


WORKLOAD = Workload(
    name="seq2seq", peer="torch",
    description=f"AttentionSeq2seq, one epoch on date.txt (351 Adam updates, batch {BATCH}, "
                f"H={HIDDEN}), float32",
    setup=setup)
