"""Benchmarks: zerokara against a peer library, same work, same process.

Run ``python -m bench WORKLOAD`` (or ``all``) from the repository root. Each
workload is one module providing a :class:`bench.harness.Workload`; add it to
``WORKLOADS`` below to register it.
"""

from __future__ import annotations

from bench import cnn, lstm, mlp, rnnlm, seq2seq, transformer, word2vec
from bench.harness import Pair, Result, Workload, configure_threads, measure, run_all

WORKLOADS: dict[str, Workload] = {w.name: w for w in (mlp.WORKLOAD, *lstm.WORKLOADS,
                                                      *rnnlm.WORKLOADS, *word2vec.WORKLOADS,
                                                      seq2seq.WORKLOAD, *cnn.WORKLOADS,
                                                      transformer.WORKLOAD)}

__all__ = ["WORKLOADS", "Pair", "Result", "Workload", "configure_threads", "measure", "run_all"]
