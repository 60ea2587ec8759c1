"""Workload ``transformer``: one training epoch of zerokara's TransformerSeq2seq on
book 2's date.txt against the same model in PyTorch, built from nn modules
(nn.Embedding, nn.MultiheadAttention, nn.LayerNorm, nn.Linear, nn.Dropout: the
paper's post-norm blocks, dropout on each sub-layer's output and on the
embedding + positional encoding sum, as zerokara places it; none inside the
attention or the feed-forward network), with zerokara's weights copied in.

Both sides start from the same weights, see the same batches in the same order
(45,000 training pairs -> 351 updates of 128), and take Adam lr 0.001 steps with
the gradients clipped to 5.0; they differ only in their dropout masks (each
draws its own). Both use the harness's thread count inside their kernels (BLAS
for zerokara: a model with dropout trains on one worker, as ``zerokara train
seq2seq --model transformer`` does). Uses ``$ZEROKARA_DATA_DIR/seq2seq/date.txt`` or, when it is
absent, 50,000 generated dates of the same shape (noted in the result).
"""

from __future__ import annotations

import math

import numpy as np

from bench.harness import Pair, Workload
from bench.seq2seq import _data, epoch_runs

BATCH, SEED = 128, 0
#: the model's sizes: zerokara's TransformerSeq2seq defaults
D_MODEL, HEADS, LAYERS, D_FF, DROPOUT = 64, 4, 2, 256, 0.1


def torch_model(model, V: int, dropout: float = DROPOUT):
    """The same network in torch, with zerokara's weights copied in (float32 to time,
    float64 in the parity test)."""
    import torch
    from torch import nn

    p = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.parameters().items()}
    dt = p["encoder.embed.W"].dtype

    def attention(prefix: str) -> nn.MultiheadAttention:
        m = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True, dtype=dt)
        with torch.no_grad():  # torch packs q, k, v and computes x @ W.T
            m.in_proj_weight.copy_(torch.cat([p[f"{prefix}.W{c}"].T for c in "qkv"]))
            m.in_proj_bias.copy_(torch.cat([p[f"{prefix}.b{c}"] for c in "qkv"]))
            m.out_proj.weight.copy_(p[f"{prefix}.Wo"].T)
            m.out_proj.bias.copy_(p[f"{prefix}.bo"])
        return m

    def norm(prefix: str) -> nn.LayerNorm:
        m = nn.LayerNorm(D_MODEL, eps=1e-5, dtype=dt)
        with torch.no_grad():
            m.weight.copy_(p[f"{prefix}.gamma"])
            m.bias.copy_(p[f"{prefix}.beta"])
        return m

    def linear(W: torch.Tensor, b: torch.Tensor) -> nn.Linear:
        m = nn.Linear(*W.shape, dtype=dt)
        with torch.no_grad():
            m.weight.copy_(W.T)
            m.bias.copy_(b)
        return m

    class FFN(nn.Module):
        def __init__(self, prefix: str) -> None:
            super().__init__()
            self.l1 = linear(p[f"{prefix}.W1"], p[f"{prefix}.b1"])
            self.l2 = linear(p[f"{prefix}.W2"], p[f"{prefix}.b2"])

        def forward(self, x):
            return self.l2(torch.relu(self.l1(x)))

    class Block(nn.Module):
        """One sub-layer in the paper's post-norm residual: LN(x + Dropout(f(x)))."""

        def __init__(self, f: nn.Module, ln: nn.LayerNorm) -> None:
            super().__init__()
            self.f, self.ln, self.drop = f, ln, nn.Dropout(dropout)

    class EncoderLayer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            pre = f"encoder.layer{i}"
            self.attn, self.ffn = attention(f"{pre}.attn"), FFN(f"{pre}.ffn")
            self.n1, self.n2 = norm(f"{pre}.norm1"), norm(f"{pre}.norm2")
            self.d1, self.d2 = nn.Dropout(dropout), nn.Dropout(dropout)

        def forward(self, x):
            x = self.n1(x + self.d1(self.attn(x, x, x, need_weights=False)[0]))
            return self.n2(x + self.d2(self.ffn(x)))

    class DecoderLayer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            pre = f"decoder.layer{i}"
            self.self_attn, self.cross = attention(f"{pre}.self_attn"), attention(f"{pre}.cross_attn")
            self.ffn = FFN(f"{pre}.ffn")
            self.n1, self.n2, self.n3 = (norm(f"{pre}.norm{k}") for k in (1, 2, 3))
            self.d1, self.d2, self.d3 = (nn.Dropout(dropout) for _ in range(3))

        def forward(self, x, memory, causal):
            x = self.n1(x + self.d1(self.self_attn(x, x, x, attn_mask=causal, need_weights=False)[0]))
            x = self.n2(x + self.d2(self.cross(x, memory, memory, need_weights=False)[0]))
            return self.n3(x + self.d3(self.ffn(x)))

    class TorchTransformerSeq2seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc_embed = nn.Embedding(V, D_MODEL, dtype=dt)
            self.dec_embed = nn.Embedding(V, D_MODEL, dtype=dt)
            with torch.no_grad():
                self.enc_embed.weight.copy_(p["encoder.embed.W"])
                self.dec_embed.weight.copy_(p["decoder.embed.W"])
            self.register_buffer("pe", torch.from_numpy(model.encoder.pos.table.copy()).to(dt))
            self.enc = nn.ModuleList(EncoderLayer(i) for i in range(1, LAYERS + 1))
            self.dec = nn.ModuleList(DecoderLayer(i) for i in range(1, LAYERS + 1))
            self.d_enc, self.d_dec = nn.Dropout(dropout), nn.Dropout(dropout)
            self.out = linear(p["decoder.affine.W"], p["decoder.affine.b"])

        def embed(self, emb, drop, ids):
            return drop(emb(ids) * math.sqrt(D_MODEL) + self.pe[: ids.shape[1]])

        def forward(self, xs, ts):
            x = self.embed(self.enc_embed, self.d_enc, xs)
            for layer in self.enc:
                x = layer(x)
            T = ts.shape[1] - 1
            causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True: hidden
            y = self.embed(self.dec_embed, self.d_dec, ts[:, :-1])
            for layer in self.dec:
                y = layer(y, x, causal)
            scores = self.out(y)
            return nn.functional.cross_entropy(scores.reshape(-1, V), ts[:, 1:].reshape(-1))

    return TorchTransformerSeq2seq()


def setup(scale: float = 1.0, dropout: float = DROPOUT) -> Pair:
    from zerokara.models.transformer import TransformerSeq2seq

    data, source = _data()
    (x, t), _ = data.split()
    V = len(data.vocab)
    iters = max(1, round(len(x) // BATCH * scale))
    order = np.random.default_rng(SEED).permutation(len(x))[: iters * BATCH].reshape(iters, BATCH)
    batches = [(x[i], t[i]) for i in order]

    model = TransformerSeq2seq(
        V, D_MODEL, HEADS, LAYERS, D_FF, dropout, max_len=max(x.shape[1], t.shape[1]),
        rng=np.random.default_rng(SEED),
    )
    tmodel = torch_model(model, V, dropout)
    zerokara_run, torch_run = epoch_runs(model, model.parameters(), tmodel, batches)

    notes = {
        "data": source,
        "updates": iters,
        "shape": f"N={BATCH} Tx={x.shape[1]} Ty={t.shape[1] - 1} d={D_MODEL} h={HEADS} "
        f"layers={LAYERS} d_ff={D_FF} V={V}",
    }
    return Pair(zerokara_run, torch_run, notes)


WORKLOAD = Workload(
    name="transformer",
    peer="torch",
    description=f"TransformerSeq2seq, one epoch on date.txt (351 Adam updates, batch {BATCH}, "
    f"d={D_MODEL} h={HEADS} {LAYERS}+{LAYERS} layers, d_ff={D_FF}, dropout {DROPOUT}), float32",
    setup=setup,
)
