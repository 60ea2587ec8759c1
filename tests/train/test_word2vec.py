"""``zerokara train word2vec``, ``similar`` and ``analogy``: the checkpoint
(vectors + vocabulary), resume, one-line errors; a short real-PTB run."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.realdata import real_data_dir
from zerokara.cli import main
from zerokara.io import load_checkpoint
from zerokara.train.word2vec import CHECKPOINT, Word2VecTrainer, build, load_word_vectors

TEXT = "you say goodbye and i say hello .\nthe cat sat on the mat .\n" * 10


@pytest.fixture
def corpus_file(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT)
    return p


def train(corpus_file, out, *extra: str) -> int:
    return main(["train", "word2vec", "--corpus", str(corpus_file), "--window", "2", "--hidden", "8",
                 "--batch-size", "10", "--out", str(out), "--no-progress", "--questions",
                 str(corpus_file.parent / "q.txt"), *extra])


@pytest.fixture
def questions(corpus_file):
    (corpus_file.parent / "q.txt").write_text(": s\nyou say i say\ncat mat the king\n")


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def test_train_writes_vectors_and_vocabulary(corpus_file, questions, tmp_path, model, capsys):
    out = tmp_path / "run"
    assert train(corpus_file, out, "--model", model, "--epochs", "3") == 0
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    assert meta["kind"] == "word2vec" and meta["epoch"] == 3
    assert meta["vocab"][:3] == ["you", "say", "goodbye"] and len(meta["vocab"]) == 13
    assert tensors["model/embed_in.W"].shape == (13, 8)
    assert tensors["model/embed_in.W"].dtype == np.float32
    assert {"optim/m.embed_in.W", "optim/v.ns_loss.embed_dot.W"} <= set(tensors)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["analogy_total"] == 2 and metrics["analogy_asked"] == 1
    text = capsys.readouterr().out
    assert "[query] you:" in text and "coverage 50.0% of 2" in text
    assert (out / "loss.png").is_file() and (out / "history.json").is_file()
    wv = load_word_vectors(out)
    assert wv.words == meta["vocab"]


def test_similar_and_analogy_commands(corpus_file, questions, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(corpus_file, out, "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["similar", str(out), "say", "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(len(line.split("\t")) == 2 for line in lines)
    assert "say" not in [line.split("\t")[0] for line in lines]
    assert main(["analogy", str(out / CHECKPOINT), "you", "say", "i"]) == 0
    words = [line.split("\t")[0] for line in capsys.readouterr().out.strip().splitlines()]
    assert len(words) == 5 and {"you", "say", "i"}.isdisjoint(words)


def test_resume_continues_to_the_same_vectors(corpus_file, questions, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(corpus_file, a, "--epochs", "3") == 0
    assert train(corpus_file, b, "--epochs", "1") == 0
    assert train(corpus_file, b, "--epochs", "3", "--resume") == 0
    ta, ma = load_checkpoint(a / CHECKPOINT)
    tb, mb = load_checkpoint(b / CHECKPOINT)
    assert ma["iteration"] == mb["iteration"]
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zerokara", *args], capture_output=True, text=True,
                          timeout=120)


def test_bad_input_is_one_clear_line(corpus_file, questions, tmp_path):
    out = tmp_path / "run"
    assert train(corpus_file, out, "--epochs", "1") == 0
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    cases = [
        (["similar", str(out), "dog"], "unknown word 'dog': not in the 13-word vocabulary"),
        (["analogy", str(out), "you", "say", "zebra"], "unknown word 'zebra'"),
        (["train", "word2vec", "--corpus", str(empty), "--out", str(tmp_path / "e")],
         f"corpus {empty} is empty (no words)"),
        (["train", "word2vec", "--corpus", str(corpus_file), "--window", "90", "--out",
          str(tmp_path / "w")], "window 90 needs a corpus of at least 181 words (w on each side "
                                "of a target), got 170"),
        (["train", "word2vec", "--corpus", str(corpus_file), "--batch-size", "1000", "--out",
          str(tmp_path / "b")], "--batch-size expected in [1, 160]"),
        (["similar", str(tmp_path / "nothing"), "you"], "not found"),
    ]
    for args, message in cases:
        res = run_cli(*args)
        assert res.returncode == 1, args
        assert res.stderr.strip().count("\n") == 0 and message in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    for name in "ewb":
        assert not (tmp_path / name).exists()  # bad input leaves no empty run folder


def test_real_ptb_short_run_learns():
    """Real PTB (skipped when absent): 300 CBOW updates with book 2's settings
    on the first 30,000 pairs. The loss starts at 6 log 2 = 4.159 (all scores
    near 0); the mean of the last 100 steps must fall below 3.4 (measured:
    4.09, 3.61, 3.17 for the three blocks of 100). Training takes ~1.5 s of
    CPU time (measured as process time, so other jobs on a shared machine do
    not count); bounded at 10 s so a large slowdown of the hot path shows."""
    root = real_data_dir("ptb", ("ptb.train.txt",))
    import os

    os.environ["ZEROKARA_DATA_DIR"] = str(root)
    from zerokara.data import load_ptb

    corpus, vocab = load_ptb("train")
    corpus = corpus[:30_010]
    config = {"model": "cbow", "window": 5, "hidden": 100, "negatives": 5, "optimizer": "adam",
              "lr": 0.001}
    rng = np.random.default_rng(0)
    model, opt, contexts, target = build(config, corpus, len(vocab), rng)
    trainer = Word2VecTrainer(model, opt, rng=rng, words=vocab.id_to_word, progress=False,
                              log_every=100)
    start = time.process_time()
    trainer.fit(contexts, target, epochs=1, batch_size=100)
    seconds = time.process_time() - start
    losses = trainer.history["loss"]
    assert len(losses) == 3 and losses[0] > 3.9 and losses[-1] < 3.4, losses
    assert seconds < 10, f"{seconds:.1f} s of CPU for 300 updates"


def test_subsample_drops_frequent_words_keeps_rare_ones():
    from zerokara.train.word2vec import subsample

    corpus = np.array([0] * 9000 + list(range(1, 1001)))  # word 0: 90% of the corpus
    kept = subsample(corpus, 1e-3, np.random.default_rng(0))
    counts = np.bincount(kept, minlength=1001)
    f0 = 0.9
    p0 = (np.sqrt(f0 / 1e-3) + 1) * 1e-3 / f0  # gensim's keep probability, ~0.034
    assert counts[0] == pytest.approx(9000 * p0, rel=0.2)
    assert np.all(counts[1:] == 1)  # each rare word (f = 1e-4 < t) always kept


def test_subsampled_run_resumes_identically(corpus_file, questions, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(corpus_file, a, "--epochs", "2", "--subsample", "0.05") == 0
    assert train(corpus_file, b, "--epochs", "1", "--subsample", "0.05") == 0
    assert train(corpus_file, b, "--epochs", "2", "--subsample", "0.05", "--resume") == 0
    ta, _ = load_checkpoint(a / CHECKPOINT)
    tb, _ = load_checkpoint(b / CHECKPOINT)
    np.testing.assert_array_equal(ta["model/embed_in.W"], tb["model/embed_in.W"])
