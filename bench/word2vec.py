"""Workloads ``word2vec-gensim`` and ``word2vec-torch`` (group ``word2vec``):
one epoch of CBOW with negative sampling on Penn Treebank, book 2's settings.

zerokara: window 5, hidden 100, 5 negatives (counts ** 0.75), batch 100,
Adam lr 0.001 with sparse (lazy) row updates, float32: 9,295 updates over the
929,579 (contexts, target) pairs, in one fixed shuffled order.

Peers, timed in the same process on the same corpus:

* gensim ``Word2Vec`` (CBOW, window 5, size 100, negative 5, workers=2,
  min_count 1 so the vocabulary is the same 10,000 words): one ``train``
  epoch over the same token stream (cut into 10,000-token sentences, gensim's
  limit). Its own algorithm: per-word SGD in C, frequent-word subsampling and
  a shrinking window, so it is the speed to aim for, not the same arithmetic.
* PyTorch: the same model as zerokara's -- ``nn.Embedding(sparse=True)`` for
  W_in and W_out, the same initial weights, the same batches, negatives drawn
  the same way (inverse CDF, collisions redrawn), ``torch.optim.SparseAdam``.

``python -m bench.word2vec quality`` trains zerokara's CBOW and gensim (its
defaults, and ``sample=0``) for the book's 10 epochs and prints the book's
queries and the analogy accuracy of each, side by side (minutes; not part of
the timing). ``--preset gensim-like``, ``--shrink-window``, ``--subsample``,
``--lr``, ``--lr-schedule``, ``--init`` change zerokara's side.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from bench.harness import Pair, Workload

WINDOW, HIDDEN, NEGATIVES, BATCH, LR, SEED = 5, 100, 5, 100, 0.001, 0


def load_corpus(scale: float = 1.0) -> tuple[np.ndarray, list[str], str]:
    """(ids, words, source): PTB train (its first ``scale`` fraction), or a
    random Zipf corpus of the same size and vocabulary when PTB is absent."""
    from bench.mlp import _find_data_dir

    _find_data_dir()
    from zerokara.data import data_dir, load_ptb

    folder = data_dir() / "ptb"
    if (folder / "ptb.train.txt").is_file():
        corpus, vocab = load_ptb("train")
        words, source = vocab.id_to_word, f"ptb ({folder})"
    else:
        print(f"[bench] word2vec: using a RANDOM Zipf corpus: {folder}/ptb.train.txt absent",
              file=sys.stderr)
        rng = np.random.default_rng(SEED)
        corpus = np.minimum(rng.zipf(1.2, 929_589) - 1, 9_999).astype(np.int64)
        words, source = [f"w{i}" for i in range(10_000)], "random zipf"
    n = max(BATCH + 2 * WINDOW, int(len(corpus) * scale))
    return corpus[:n], words, source


def sentences(corpus: np.ndarray, words: list[str]) -> list[list[str]]:
    """The token stream as gensim sentences of at most 10,000 words."""
    toks = [words[i] for i in corpus]
    return [toks[i:i + 10_000] for i in range(0, len(toks), 10_000)]


def _zerokara_side(corpus: np.ndarray, V: int, batches: list[np.ndarray]):
    from zerokara.models.word2vec import CBOW, create_contexts_target
    from zerokara.optim import Adam

    contexts, target = create_contexts_target(corpus, WINDOW)
    model = CBOW(V, HIDDEN, corpus, sample_size=NEGATIVES, rng=np.random.default_rng(SEED))
    init = {k: v.copy() for k, v in model.state_dict().items()}
    rng_state = model.ns_loss.rng.bit_generator.state

    def run() -> float:
        model.load_state_dict(init)
        model.ns_loss.rng.bit_generator.state = rng_state
        opt = Adam(lr=LR)
        params = model.parameters()
        total = 0.0
        for idx in batches:
            loss = model.forward(contexts[idx], target[idx])
            if not math.isfinite(loss):
                raise FloatingPointError(f"zerokara loss became {loss}")
            model.backward()
            opt.update(params, model.gradients())
            total += loss
        return total / len(batches)

    return run, model, init, contexts, target


def setup_torch(scale: float = 1.0) -> Pair:
    import torch
    import torch.nn.functional as F

    corpus, words, source = load_corpus(scale)
    V = len(words)
    n = len(corpus) - 2 * WINDOW
    perm = np.random.default_rng(SEED).permutation(n)
    batches = [perm[i * BATCH:(i + 1) * BATCH] for i in range(n // BATCH)]
    z_run, model, init, contexts, target = _zerokara_side(corpus, V, batches)

    emb_in = torch.nn.Embedding(V, HIDDEN, sparse=True)
    emb_out = torch.nn.Embedding(V, HIDDEN, sparse=True)
    w_in0 = torch.from_numpy(init["embed_in.W"].copy())
    w_out0 = torch.from_numpy(init["ns_loss.embed_dot.W"].copy())
    p = model.ns_loss.sampler.p
    cdf = torch.from_numpy(model.ns_loss.sampler.cdf)
    ctx_t, tgt_t = torch.from_numpy(contexts), torch.from_numpy(target)
    tb = [torch.from_numpy(b) for b in batches]
    gen = torch.Generator().manual_seed(SEED)
    assert p.shape == (V,)

    def negatives(t: torch.Tensor) -> torch.Tensor:
        neg = torch.searchsorted(cdf, torch.rand(len(t), NEGATIVES, generator=gen, dtype=torch.float64),
                                 right=True)
        bad = neg == t[:, None]
        while bool(bad.any()):
            neg[bad] = torch.searchsorted(cdf, torch.rand(int(bad.sum()), generator=gen,
                                                          dtype=torch.float64), right=True)
            bad = neg == t[:, None]
        return neg

    def torch_run() -> float:
        with torch.no_grad():
            emb_in.weight.copy_(w_in0)
            emb_out.weight.copy_(w_out0)
        gen.manual_seed(SEED)
        opt = torch.optim.SparseAdam([emb_in.weight, emb_out.weight], lr=LR)
        total = 0.0
        for idx in tb:
            c, t = ctx_t[idx], tgt_t[idx]
            h = emb_in(c).mean(dim=1)                                   # (N, H)
            w = emb_out(torch.cat([t[:, None], negatives(t)], dim=1))   # (N, 1 + k, H)
            s = (w * h[:, None, :]).sum(dim=2)
            loss_t = (F.softplus(-s[:, 0]).sum() + F.softplus(s[:, 1:]).sum()) / len(t)
            opt.zero_grad(set_to_none=True)
            loss_t.backward()
            opt.step()
            loss = loss_t.item()
            if not math.isfinite(loss):
                raise FloatingPointError(f"torch loss became {loss}")
            total += loss
        return total / len(tb)

    return Pair(z_run, torch_run, {"data": source, "updates": len(batches)})


def setup_gensim(scale: float = 1.0) -> Pair:
    from gensim.models import Word2Vec

    corpus, words, source = load_corpus(scale)
    V = len(words)
    n = len(corpus) - 2 * WINDOW
    perm = np.random.default_rng(SEED).permutation(n)
    batches = [perm[i * BATCH:(i + 1) * BATCH] for i in range(n // BATCH)]
    z_run = _zerokara_side(corpus, V, batches)[0]
    sents = sentences(corpus, words)
    g = Word2Vec(vector_size=HIDDEN, window=WINDOW, min_count=1, sg=0, negative=NEGATIVES,
                 workers=2, seed=SEED)
    g.build_vocab(sents)

    def gensim_run() -> int:
        return g.train(sents, total_examples=len(sents), epochs=1)[0]  # words trained on

    return Pair(z_run, gensim_run, {"data": source, "updates": len(batches), "gensim_workers": 2,
                                    "gensim_vocab": len(g.wv)})


WORKLOADS = [
    Workload(name="word2vec-gensim", peer="gensim",
             description="1 PTB epoch of CBOW, window 5, H=100, 5 negatives, batch 100, Adam "
                         "(gensim: its own SGD, workers=2)",
             setup=setup_gensim),
    Workload(name="word2vec-torch", peer="torch",
             description="1 PTB epoch of CBOW, window 5, H=100, 5 negatives, batch 100, Adam "
                         "(torch: same model, sparse Embedding + SparseAdam)",
             setup=setup_torch),
]


# ---------------------------------------------------------------------------
# quality: zerokara's CBOW and gensim's, the book's settings, side by side
# ---------------------------------------------------------------------------


def quality(epochs: int = 10, questions: str | None = None, scale: float = 1.0,
            progress: bool = True, subsample: float = 0.0, lr: float = LR,
            shrink_window: bool = False, lr_schedule: str = "constant", init: str = "book",
            seed: int = SEED, gensim_workers: int = 2) -> dict:
    """zerokara's CBOW (book 2's settings, changed by the arguments) and gensim's,
    twice: its defaults (``sample=1e-3``) and ``sample=0`` (no subsampling, as
    book 2), all scored by the same ``analogy_accuracy``."""
    from gensim.models import Word2Vec

    from zerokara.train.word2vec import Word2VecTrainer, build, resampler
    from zerokara.word_vectors import (BOOK_ANALOGIES, BOOK_QUERIES, WordVectors,
                                       analogy_accuracy, find_questions_file)

    qfile = questions or find_questions_file()
    corpus, words, source = load_corpus(scale)
    config = {"model": "cbow", "window": WINDOW, "hidden": HIDDEN, "negatives": NEGATIVES,
              "optimizer": "adam", "lr": lr, "subsample": subsample,
              "shrink_window": shrink_window, "lr_schedule": lr_schedule, "init": init}
    rng = np.random.default_rng(seed)
    model, opt, contexts, target = build(config, corpus, len(words), rng)
    t0 = time.perf_counter()
    Word2VecTrainer(model, opt, rng=rng, words=words, progress=progress,
                    shrink_window=shrink_window, lr_schedule=lr_schedule).fit(
        contexts, target, epochs=epochs, batch_size=BATCH, resample=resampler(corpus, config))
    z_sec = time.perf_counter() - t0
    ours = WordVectors(model.word_vecs, words)

    sents = sentences(corpus, words)
    out = {"data": source, "epochs": epochs, "seed": seed,
           "zerokara": {k: v for k, v in config.items() if k not in ("model", "optimizer")},
           "zerokara_seconds": round(z_sec, 1)}
    sides = [("zerokara", ours)]
    for sample, name in ((1e-3, "gensim"), (0.0, "gensim_sample0")):
        t0 = time.perf_counter()
        g = Word2Vec(sents, vector_size=HIDDEN, window=WINDOW, min_count=1, sg=0,
                     negative=NEGATIVES, workers=gensim_workers, seed=seed, epochs=epochs,
                     sample=sample)
        out[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
        sides.append((name, WordVectors(g.wv.vectors, list(g.wv.index_to_key))))
        if qfile and sample:  # gensim's own evaluator, as a cross-check of ours
            out["gensim_accuracy_by_gensim"] = g.wv.evaluate_word_analogies(qfile)[0]
    for name, wv in sides:
        print(f"\n== {name} ==")
        for q in BOOK_QUERIES:
            if q in wv:
                print(f"[query] {q}: " + ", ".join(f"{w} {s:.3f}" for w, s in wv.most_similar(q)))
        for a, b, c in BOOK_ANALOGIES:
            if a in wv and b in wv and c in wv:
                print(f"[analogy] {a}:{b} = {c}:? " +
                      ", ".join(f"{w} {s:.3f}" for w, s in wv.analogy(a, b, c)))
        if qfile:
            res = analogy_accuracy(wv, qfile)
            print(res.summary())
            out[f"{name}_accuracy"], out[f"{name}_asked"] = res.accuracy, res.asked
            out["coverage"], out["questions"] = res.coverage, res.total
    print()
    print(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.word2vec")
    p.add_argument("what", choices=["quality"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--questions")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--subsample", type=float, default=None,
                   help="zerokara's frequent-word subsampling threshold (default 0: book 2)")
    p.add_argument("--lr", type=float, default=None,
                   help="zerokara's Adam lr (default 0.001: book 2)")
    p.add_argument("--shrink-window", action="store_true",
                   help="zerokara: gensim's shrinking (reduced) windows")
    p.add_argument("--lr-schedule", choices=["constant", "linear"], default="constant",
                   help="zerokara: lr constant (book 2) or decaying linearly to 0 (gensim)")
    p.add_argument("--init", choices=["book", "gensim"], default="book")
    p.add_argument("--preset", choices=["book", "gensim-like"],
                   help="zerokara: `zerokara train word2vec --preset`'s settings (explicit "
                        "options above still win where given)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--gensim-workers", type=int, default=2)
    a = p.parse_args(argv)
    kw = {"subsample": a.subsample or 0.0, "lr": a.lr if a.lr is not None else LR,
          "shrink_window": a.shrink_window, "lr_schedule": a.lr_schedule, "init": a.init}
    if a.preset:
        from zerokara.train.word2vec import PRESETS

        given = {"subsample": a.subsample is not None, "lr": a.lr is not None,
                 "shrink_window": a.shrink_window, "lr_schedule": a.lr_schedule != "constant",
                 "init": a.init != "book"}
        kw.update({k: v for k, v in PRESETS[a.preset].items() if not given[k]})
    quality(a.epochs, a.questions, a.scale, progress=not a.no_progress, seed=a.seed,
            gensim_workers=a.gensim_workers, **kw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
