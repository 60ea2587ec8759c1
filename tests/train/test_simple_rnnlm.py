"""``zerokara train simple-rnnlm`` (book 2, chapter 5): the trainer is book 2's
ch05/train_custom_loop.py step for step, the state carries across epochs and
checkpoints (bitwise resume), the command end to end on a synthetic corpus,
one-line errors; and the book's full run on real PTB (make test-book)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.realdata import real_data_dir
from zerokara.cli import main
from zerokara.data.ptb import Vocab
from zerokara.io import load_checkpoint
from zerokara.models import SimpleRnnlm
from zerokara.optim import SGD
from zerokara.train.simple_rnnlm import (
    DEFAULTS,
    SimpleRnnlmConfig,
    SimpleRnnlmTrainer,
    train_simple_rnnlm,
)
from zerokara.train.state import CHECKPOINT

V = 40


def synthetic_corpus(n: int = 600, seed: int = 0) -> np.ndarray:
    """Ids in order of first appearance, as PTB's: a cycle of 11 words with noise."""
    rng = np.random.default_rng(seed)
    c = np.arange(n) % 11
    noise = rng.random(n) < 0.15
    c[noise] = rng.integers(0, V, int(noise.sum()))
    _, first = np.unique(c, return_index=True)
    order = np.argsort(np.argsort(first))  # relabel: the first new word is 0, the next 1, ...
    return order[np.searchsorted(np.unique(c), c)].astype(np.int64)


@pytest.fixture
def synthetic_ptb(monkeypatch):
    corpus = synthetic_corpus()
    words = [f"w{i}" for i in range(V)]
    words[0], words[1] = "you", "say"
    vocab = Vocab({w: i for i, w in enumerate(words)}, words)
    monkeypatch.setattr("zerokara.data.load_ptb", lambda split="train": (corpus, vocab))
    return corpus


def book_loop(model, corpus, epochs, batch_size, time_size, lr):
    """book 2's ch05/train_custom_loop.py, loop for loop (model and optimizer ours)."""
    xs, ts = corpus[:-1], corpus[1:]
    data_size = len(xs)
    max_iters = data_size // (batch_size * time_size)
    jump = (len(corpus) - 1) // batch_size
    offsets = [i * jump for i in range(batch_size)]
    time_idx, ppl_list, opt = 0, [], SGD(lr)
    for _ in range(epochs):
        total_loss, loss_count = 0.0, 0
        for _ in range(max_iters):
            batch_x = np.empty((batch_size, time_size), dtype=np.int64)
            batch_t = np.empty((batch_size, time_size), dtype=np.int64)
            for t in range(time_size):
                for i, offset in enumerate(offsets):
                    batch_x[i, t] = xs[(offset + time_idx) % data_size]
                    batch_t[i, t] = ts[(offset + time_idx) % data_size]
                time_idx += 1
            loss = model.forward(batch_x, batch_t)
            model.backward()
            opt.update(model.parameters(), model.gradients())
            total_loss += loss
            loss_count += 1
        ppl_list.append(math.exp(total_loss / loss_count))
    return ppl_list


def test_trainer_is_the_books_loop_step_for_step():
    """Same weights, same batches, the state never reset: the same parameters and
    the same per-epoch perplexities as the book's loop (3 epochs of 7 updates)."""
    corpus = synthetic_corpus(200)
    V0 = int(corpus.max()) + 1
    book = SimpleRnnlm(V0, 8, 12, rng=np.random.default_rng(1))
    ours = SimpleRnnlm(V0, 8, 12, rng=np.random.default_rng(1))
    want = book_loop(book, corpus, 3, batch_size=4, time_size=7, lr=0.5)
    trainer = SimpleRnnlmTrainer(ours, SGD(0.5), streams="continue")
    metrics = trainer.fit(corpus, epochs=3, batch_size=4, time_size=7)
    got = [r["perplexity"] for r in trainer.history["epochs"]]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    for k, v in book.parameters().items():
        np.testing.assert_array_equal(ours.parameters()[k], v, err_msg=k)
    np.testing.assert_array_equal(ours.layers["rnn"].h, book.layers["rnn"].h)  # carried, never reset
    assert metrics["iterations"] == 3 * (199 // 28) and metrics["perplexity"] == got[-1]
    assert metrics["first_perplexity"] == got[0] and trainer.history["perplexity"] == pytest.approx(got)


def run_cmd(out, *extra: str) -> int:
    return main(["train", "simple-rnnlm", "--words", "500", "--wordvec", "8", "--hidden", "16",
                 "--batch-size", "5", "--lr", "0.5", "--out", str(out), "--no-progress", *extra])


def test_command_trains_and_writes_the_run(tmp_path, synthetic_ptb, capsys):
    out = tmp_path / "run"
    assert run_cmd(out, "--epochs", "8") == 0
    text = capsys.readouterr().out
    assert "simple-rnnlm: 500 words, V=" in text and "batch 5 x time 5, 8 epochs" in text
    assert "perplexity" in text and f"wrote {out}/" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 8 and metrics["iterations"] == 8 * (499 // 25)
    assert metrics["perplexity"] < 0.5 * metrics["first_perplexity"]  # it learns the cycle
    for name in ("perplexity.png", "history.json", CHECKPOINT):
        assert (out / name).is_file()
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    cfg = meta["config"]
    V0 = int(synthetic_ptb[:500].max()) + 1  # book 2: vocab_size = max(corpus) + 1
    assert cfg["task"] == "simple-rnnlm" and cfg["vocab_size"] == V0 and len(meta["vocab"]) == V0
    assert tensors["model/embed.W"].shape == (V0, 8) and tensors["model/rnn.Wh"].shape == (16, 16)
    assert "state/rnn.h" in tensors  # the state goes on into the next epoch: it is saved
    assert {k: cfg[k] for k in ("time_size", "optimizer", "max_grad")} == {
        "time_size": 5, "optimizer": "sgd", "max_grad": None}


def test_resume_is_bitwise(tmp_path, synthetic_ptb):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cmd(a, "--epochs", "4") == 0
    assert run_cmd(b, "--epochs", "2") == 0
    assert run_cmd(b, "--epochs", "4", "--resume") == 0
    ta, ma = load_checkpoint(a / CHECKPOINT)
    tb, mb = load_checkpoint(b / CHECKPOINT)
    assert ma["iteration"] == mb["iteration"] == 4 * (499 // 25)
    assert ta.keys() == tb.keys()
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
    ha = json.loads((a / "history.json").read_text())["epochs"]
    hb = json.loads((b / "history.json").read_text())["epochs"]
    assert [r["perplexity"] for r in ha] == [r["perplexity"] for r in hb]


def test_resume_inside_an_epoch_is_bitwise(tmp_path, synthetic_ptb):
    corpus = synthetic_ptb[:300]
    V0 = int(corpus.max()) + 1

    def trainer(out):
        return SimpleRnnlmTrainer(SimpleRnnlm(V0, 6, 10, rng=np.random.default_rng(0)), SGD(0.3),
                                  out_dir=out, config={"x": 1})

    full = trainer(tmp_path / "full")
    full.fit(corpus, epochs=2, batch_size=4, time_size=5)
    part = trainer(tmp_path / "part")
    part.fit(corpus, epochs=2, batch_size=4, time_size=5, max_iters=20)  # stops inside epoch 2
    assert part.pos > 0
    again = trainer(tmp_path / "part")
    again.resume()
    again.fit(corpus, epochs=2, batch_size=4, time_size=5)
    for k, v in full.model.parameters().items():
        np.testing.assert_array_equal(again.model.parameters()[k], v, err_msg=k)


@pytest.mark.parametrize("extra,message", [
    # values outside an option's declared range: tests/test_options.py (exit status 2)
    (["--words", "1"], "--words: expected at least 2 words, got 1"),
    (["--words", "100000"], "--words: expected at most 600 (PTB's training text), got 100,000"),
    (["--batch-size", "50", "--time-size", "20"], "500 words are fewer than one batch needs"),
])
def test_bad_input_is_one_clear_line(tmp_path, synthetic_ptb, capsys, extra, message):
    out = tmp_path / "bad"
    assert run_cmd(out, *extra) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()  # bad input leaves no run folder


def test_resume_with_other_settings_is_refused(tmp_path, synthetic_ptb, capsys):
    out = tmp_path / "run"
    assert run_cmd(out, "--epochs", "1") == 0
    capsys.readouterr()
    assert run_cmd(out, "--epochs", "2", "--resume", "--time-size", "7") == 1
    assert "cannot resume with time_size=7" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "simple-rnnlm", "--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0 and "--time-size" in text and "--words" in text


def test_defaults_are_the_books():
    cfg = SimpleRnnlmConfig().record()
    assert {k: cfg[k] for k in DEFAULTS} == {
        "words": 1000, "wordvec": 100, "hidden": 100, "batch_size": 10, "time_size": 5,
        "optimizer": "sgd", "lr": 0.1, "epochs": 100, "max_grad": None}


def test_book_run_on_real_ptb(monkeypatch):
    """book 2's full run: the first 1,000 PTB words (V = 418), 100 epochs, 1,900
    updates, about a second. Measured: perplexity 389.7 in epoch 1 and 5.51 in
    epoch 100 (seed 0); seeds 0-4 end at 5.51-6.67."""
    root = real_data_dir("ptb", ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"))
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(root))
    run = train_simple_rnnlm(SimpleRnnlmConfig())
    m = run.metrics
    assert run.config["vocab_size"] == 418 and m["iterations"] == 1900
    assert 350 < m["first_perplexity"] < 430 and m["perplexity"] < 8


def test_generate_reads_a_simple_rnnlm_run(tmp_path, synthetic_ptb):
    """``zerokara generate`` (load_model) takes a simple-rnnlm run folder: its last model."""
    from zerokara.train.rnnlm import load_model

    out = tmp_path / "run"
    assert main(["train", "simple-rnnlm", "--words", "200", "--epochs", "2", "--out", str(out),
                 "--no-progress"]) == 0
    model, cfg, words = load_model(out)
    assert type(model).__name__ == "SimpleRnnlm" and cfg["task"] == "simple-rnnlm" and len(words) > 2
