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
    trainer = Word2VecTrainer(model, opt, rng=rng, words=vocab.id_to_word,
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


# -- options beyond the book: shrinking windows, linear lr, gensim init, presets ----

def test_draw_reach_is_gensims_reduced_window():
    """Each target's effective window is uniform on 1..w, so a context word d
    positions away is used with probability (w - d + 1) / w (near words weigh more)."""
    from zerokara.models.word2vec import window_mask
    from zerokara.train.word2vec import draw_reach

    r = draw_reach(np.random.default_rng(0), 200_000, 5)
    assert r.min() == 1 and r.max() == 5 and r.dtype.kind == "i"
    np.testing.assert_allclose(np.bincount(r)[1:] / len(r), 0.2, atol=0.005)
    used = window_mask(r, 10).mean(axis=0)
    expect = [(5 - d + 1) / 5 for d in (5, 4, 3, 2, 1, 1, 2, 3, 4, 5)]
    np.testing.assert_allclose(used, expect, atol=0.005)


class RecordingAdam:
    """An Adam that remembers the lr of every update."""

    def __init__(self, lr):
        from zerokara.optim import Adam

        self.inner, self.lrs = Adam(lr=lr), []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __setattr__(self, name, value):
        if name == "lr":
            self.inner.lr = value
        else:
            super().__setattr__(name, value)

    def update(self, params, grads):
        self.lrs.append(self.inner.lr)
        self.inner.update(params, grads)


def _toy(corpus_file, **config):
    from zerokara.train.word2vec import DEFAULTS, read_corpus

    corpus, words = read_corpus(corpus_file)
    cfg = {**DEFAULTS, "window": 2, "hidden": 8, **config}
    rng = np.random.default_rng(0)
    model, _, contexts, target = build(cfg, corpus, len(words), rng)
    return cfg, corpus, words, rng, model, contexts, target


def test_linear_lr_schedule_values(corpus_file):
    from zerokara.train.word2vec import scheduled_lr

    assert scheduled_lr(0.01, "constant", 0.7) == 0.01
    assert [scheduled_lr(0.01, "linear", d) for d in (0, 0.25, 0.5, 0.99)] == pytest.approx(
        [0.01, 0.0075, 0.005, 0.0001])
    _, _, words, rng, model, contexts, target = _toy(corpus_file)
    opt = RecordingAdam(0.004)
    trainer = Word2VecTrainer(model, opt, rng=rng, words=words,
                              lr_schedule="linear")
    trainer.fit(contexts, target, epochs=2, batch_size=10)  # 160 pairs: 16 steps per epoch
    assert len(opt.lrs) == 32
    np.testing.assert_allclose(opt.lrs, 0.004 * (1 - np.arange(32) / 32), rtol=1e-12)
    with pytest.raises(Exception, match="lr_schedule expected one of"):
        Word2VecTrainer(model, opt, rng=rng, words=words, lr_schedule="cosine")


def test_default_training_is_book_2s_loop(corpus_file):
    """The defaults draw nothing beyond book 2's loop: the same weights as a
    plain shuffle / forward / backward / Adam loop (the book's figures stay)."""
    from zerokara.optim import Adam

    cfg, _, words, rng, model, contexts, target = _toy(corpus_file)
    opt = Adam(lr=cfg["lr"])
    Word2VecTrainer(model, opt, rng=rng, words=words).fit(
        contexts, target, epochs=2, batch_size=10)
    _, _, _, rng2, model2, _, _ = _toy(corpus_file)
    opt2 = Adam(lr=cfg["lr"])
    for _ in range(2):
        perm = rng2.permutation(len(target))
        for i in range(16):
            idx = perm[i * 10:(i + 1) * 10]
            model2.forward(contexts[idx], target[idx])
            model2.backward()
            opt2.update(model2.parameters(), model2.gradients())
    np.testing.assert_array_equal(model.word_vecs, model2.word_vecs)
    assert not cfg["shrink_window"] and cfg["lr_schedule"] == "constant" and cfg["init"] == "book"
    assert cfg["subsample"] == 0 and cfg["lr"] == 0.001 and cfg["batch_size"] == 100


def test_shrink_window_trains_on_shrunk_windows(corpus_file, monkeypatch):
    """--shrink-window hands the model one effective window per pair, in 1..w."""
    _, _, words, rng, model, contexts, target = _toy(corpus_file)
    seen = []
    forward = model.forward

    def spy(c, t, negatives=None, reach=None):
        seen.append(reach)
        return forward(c, t, negatives, reach)

    monkeypatch.setattr(model, "forward", spy)
    from zerokara.optim import Adam

    Word2VecTrainer(model, Adam(), rng=rng, words=words,
                    shrink_window=True).fit(contexts, target, epochs=2, batch_size=10)
    reach = np.concatenate(seen)
    assert len(seen) == 32 and reach.shape == (320,) and set(reach.tolist()) == {1, 2}


def _interrupt_after_first_epoch(monkeypatch):
    save = Word2VecTrainer.save

    def save_then_stop(self, final=False):
        save(self, final)
        if self.epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(Word2VecTrainer, "save", save_then_stop)
    return lambda: monkeypatch.setattr(Word2VecTrainer, "save", save)


def test_gensim_like_run_resumes_bit_exact(corpus_file, questions, tmp_path, monkeypatch):
    """Subsampling, shrinking windows and the linear schedule all resume bit for
    bit: a run interrupted after epoch 1 ends with the same weights."""
    a, b = tmp_path / "a", tmp_path / "b"
    opts = ("--epochs", "3", "--preset", "gensim-like", "--subsample", "0.05", "--init", "gensim",
            "--lr-schedule", "linear")
    assert train(corpus_file, a, *opts) == 0
    restore = _interrupt_after_first_epoch(monkeypatch)
    assert train(corpus_file, b, *opts) == 130  # interrupted
    assert load_checkpoint(b / CHECKPOINT)[1]["epoch"] == 1
    restore()
    assert train(corpus_file, b, *opts, "--resume") == 0
    ta, ma = load_checkpoint(a / CHECKPOINT)
    tb, mb = load_checkpoint(b / CHECKPOINT)
    assert ma["iteration"] == mb["iteration"] and ma["lr"] == mb["lr"]
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
    cfg = ma["config"]
    assert cfg["shrink_window"] is True and cfg["lr_schedule"] == "linear"
    assert cfg["subsample"] == 0.05 and cfg["init"] == "gensim" and cfg["preset"] == "gensim-like"


def test_linear_schedule_resume_needs_the_same_epochs(corpus_file, questions, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(corpus_file, out, "--epochs", "1", "--lr-schedule", "linear") == 0
    capsys.readouterr()
    assert train(corpus_file, out, "--epochs", "3", "--lr-schedule", "linear", "--resume") == 1
    err = capsys.readouterr().err
    assert "the linear lr schedule spans the run's 1 epochs; resume with --epochs 1" in err
    assert train(corpus_file, out, "--epochs", "3", "--resume") == 1  # schedule differs
    assert "cannot resume with lr_schedule='constant'" in capsys.readouterr().err


def test_presets_and_explicit_options(corpus_file, questions, tmp_path):
    from zerokara.train.word2vec import DEFAULTS, PRESETS

    assert PRESETS["book"] == {} and set(PRESETS["gensim-like"]) <= set(DEFAULTS)
    assert train(corpus_file, tmp_path / "g", "--epochs", "1", "--preset", "gensim-like") == 0
    cfg = load_checkpoint(tmp_path / "g" / CHECKPOINT)[1]["config"]
    assert {k: cfg[k] for k in PRESETS["gensim-like"]} == PRESETS["gensim-like"]
    assert train(corpus_file, tmp_path / "h", "--epochs", "1", "--preset", "gensim-like",
                 "--lr", "0.002", "--subsample", "0") == 0
    cfg = load_checkpoint(tmp_path / "h" / CHECKPOINT)[1]["config"]
    assert cfg["lr"] == 0.002 and cfg["subsample"] == 0 and cfg["shrink_window"] is True
    assert train(corpus_file, tmp_path / "d", "--epochs", "1") == 0
    cfg = load_checkpoint(tmp_path / "d" / CHECKPOINT)[1]["config"]
    given = {"epochs": 1, "batch_size": 10, "window": 2, "hidden": 8}  # by train() above
    assert {k: cfg[k] for k in DEFAULTS} == {**DEFAULTS, **given}


def test_checkpoint_without_the_new_options_resumes(corpus_file, questions, tmp_path):
    """A checkpoint written before --shrink-window, --lr-schedule and --init
    existed (no such keys in its config) resumes as book 2's settings."""
    from zerokara.io import save_checkpoint

    out = tmp_path / "run"
    assert train(corpus_file, out, "--epochs", "1") == 0
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    for key in ("shrink_window", "lr_schedule", "init"):
        del meta["config"][key]
    save_checkpoint(out / CHECKPOINT, tensors, meta)
    assert train(corpus_file, out, "--epochs", "2", "--resume") == 0
    assert load_checkpoint(out / CHECKPOINT)[1]["epoch"] == 2
    assert train(corpus_file, out, "--epochs", "3", "--resume", "--shrink-window") == 1
