"""``zerokara train word2vec --data toy``: book 2's chapter 3 (SimpleCBOW and
SimpleSkipGram on "You say goodbye and I say hello.") with ch03/train.py's
settings; the vectors printed, ``similar`` on the run, bitwise resume, one-line
errors; and our id-based models against the book's one-hot formulation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import assert_close
from zerokara.check import gradcheck
from zerokara.cli import main
from zerokara.io import load_checkpoint
from zerokara.models import SimpleCBOW, SimpleSkipGram, create_contexts_target
from zerokara.train.toy_word2vec import toy_corpus
from zerokara.train.word2vec import (
    CHECKPOINT,
    TOY_DEFAULTS,
    Word2VecConfig,
    load_word_vectors,
    train_word2vec,
)

WORDS = ["you", "say", "goodbye", "and", "i", "hello", "."]


def train(out, *extra: str) -> int:
    return main(["train", "word2vec", "--data", "toy", "--out", str(out), "--no-progress", *extra])


def test_toy_corpus_is_book_2s_preprocess():
    corpus, words = toy_corpus()
    assert corpus.tolist() == [0, 1, 2, 3, 4, 1, 5, 6] and words == WORDS


def test_defaults_are_ch03_train_py():
    c = Word2VecConfig(data="toy").record()
    assert {k: c[k] for k in TOY_DEFAULTS} == {
        "model": "cbow", "window": 1, "hidden": 5, "batch_size": 3, "epochs": 1000,
        "optimizer": "adam", "lr": 0.001, "lr_schedule": "constant"}
    assert c["data"] == "toy" and c["negatives"] is None
    assert Word2VecConfig().record()["data"] == "ptb"  # the default is chapter 4's PTB run


def test_book_run_loss_falls_vectors_printed_and_similar_works(tmp_path, capsys):
    """ch03/train.py's run: 1000 epochs of 2 updates. The loss starts at ln 7
    (every word equally likely) and, measured over seeds 0-4, ends at 0.31-0.59
    (seed 0: 0.589)."""
    out = tmp_path / "cbow"
    assert train(out) == 0
    text = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 2000 and metrics["epochs"] == 1000
    assert metrics["first_loss"] == pytest.approx(math.log(7), abs=2e-3)
    assert metrics["final_loss"] < 0.7
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["loss"]) == 1000 and hist["iteration"][:2] == [2, 4]  # a point per epoch of 2 steps
    assert np.all(np.diff(hist["loss"]) < 1e-3)  # falls all the way (small full-ish batches)
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln.split() and ln.split()[0] in WORDS}
    assert set(lines) == set(WORDS)
    wv = load_word_vectors(out)
    assert wv.words == WORDS and wv.vectors.shape == (7, 5)
    for w, i in zip(WORDS, range(7), strict=True):
        printed = [float(x) for x in lines[w].split("[")[1].rstrip("]").split()]
        np.testing.assert_allclose(printed, wv.vectors[i], atol=5e-4)
    assert "[query] you:" in text and (out / "loss.png").is_file()
    assert main(["similar", str(out), "you", "--top", "6"]) == 0
    sims = [ln.split("\t") for ln in capsys.readouterr().out.strip().splitlines()]
    assert sorted(w for w, _ in sims) == sorted(set(WORDS) - {"you"})
    # "you" and "hello" are both the context of "say" with a word that also
    # precedes "and": the same role, nearly the same vector
    assert sims[0][0] == "hello" and float(sims[0][1]) > 0.95


def test_skipgram(tmp_path, capsys):
    out = tmp_path / "sg"
    assert train(out, "--model", "skipgram", "--epochs", "300") == 0
    text = capsys.readouterr().out
    assert "SimpleSkipGram" in text
    m = json.loads((out / "metrics.json").read_text())
    # two context words, each first predicted at ln 7: the loss is their sum
    assert m["first_loss"] == pytest.approx(2 * math.log(7), abs=4e-3) and m["final_loss"] < 3.2
    # the first and last words are never targets with window 1: their W_in rows keep their
    # 0.01 * randn start, the rows of the other words grow
    vecs = load_word_vectors(out).vectors
    norms = np.linalg.norm(vecs, axis=1)
    assert norms[[0, 6]].max() < 0.05 and norms[1:6].min() > 0.3


def test_resume_continues_bitwise(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(a, "--epochs", "30") == 0
    assert train(b, "--epochs", "15") == 0
    assert train(b, "--epochs", "30", "--resume") == 0
    ta, ma = load_checkpoint(a / CHECKPOINT)
    tb, mb = load_checkpoint(b / CHECKPOINT)
    assert ma["iteration"] == mb["iteration"] == 60
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)


def test_checkpoints_are_thinned_but_the_last_epoch_is_saved(tmp_path):
    run = train_word2vec(Word2VecConfig(data="toy", epochs=150), out_dir=tmp_path / "r")
    _, meta = load_checkpoint(tmp_path / "r" / CHECKPOINT)
    assert meta["epoch"] == 150 and run.metrics["epochs"] == 150


@pytest.mark.parametrize("extra,message", [
    (["--negatives", "3", "--corpus", "x.txt"],
     ("--data toy trains book 2's chapter 3 models (a softmax over the words of one sentence, "
      "no negative sampling): --negatives, --corpus do not apply")),
    (["--preset", "gensim-like"], "no negative sampling): --preset does not apply"),
    (["--batch-size", "7"], "--batch-size expected in [1, 6]"),
    (["--window", "4"], "window 4 needs a corpus of at least 9 words"),
    # values outside an option's declared range: tests/test_options.py (exit status 2)
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, extra, message):
    out = tmp_path / "bad"
    assert train(out, *extra) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_resume_names_the_runs_data(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--epochs", "2") == 0
    capsys.readouterr()
    assert main(["train", "word2vec", "--out", str(out), "--resume", "--no-progress"]) == 1
    assert "cannot resume with --data ptb; the run was trained with --data toy" in capsys.readouterr().err


# -- the book's one-hot formulation -------------------------------------------------


def one_hot(a: np.ndarray, v: int = 7) -> torch.Tensor:
    return torch.from_numpy(np.eye(v)[a])


@pytest.mark.parametrize("cls", [SimpleCBOW, SimpleSkipGram])
@pytest.mark.parametrize("window", [1, 2])
def test_ids_match_the_books_one_hot_matmuls(rng, cls, window):
    """book 2 feeds one-hot rows (N, C, V) through MatMul(W_in); our models look the
    rows up. Same loss and gradients as the book's one-hot network (torch autograd):
    CBOW h = mean_c(x_c @ W_in); skip-gram h = x_target @ W_in, loss = sum over the
    C context positions of each position's mean cross-entropy."""
    corpus = np.tile(toy_corpus()[0], 2)
    contexts, target = create_contexts_target(corpus, window)
    model = cls(7, 4, rng=rng, dtype=np.float64)
    W_in, W_out = rng.standard_normal((7, 4)), rng.standard_normal((4, 7))
    model.load_state_dict({"embed_in.W": W_in, "out.W": W_out})
    loss = model.forward(contexts, target)
    model.backward()
    g = {k: np.asarray(v) for k, v in model.gradients().items()}

    a, b = torch.tensor(W_in, requires_grad=True), torch.tensor(W_out, requires_grad=True)
    if cls is SimpleCBOW:
        h = (one_hot(contexts) @ a).mean(dim=1)  # (N, C, V) @ (V, H) -> (N, C, H) -> (N, H)
        loss_t = F.cross_entropy(h @ b, torch.from_numpy(target))
    else:
        s = (one_hot(target) @ a) @ b
        loss_t = sum(F.cross_entropy(s, torch.from_numpy(contexts[:, c])) for c in range(contexts.shape[1]))
    loss_t.backward()
    assert_close(loss, loss_t.item())
    assert_close(g["embed_in.W"], a.grad)
    assert_close(g["out.W"], b.grad)
    # and the numerical gradient agrees (tests/models/test_word2vec.py checks more shapes)
    rep = gradcheck(model, contexts, target)
    assert rep.ok, str(rep)
