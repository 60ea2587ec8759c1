"""Runs written by zerokara 0.1.0's trainers (checkpoint format 1, before the
one loop) resume under the one loop to the figures the old code reached.

The folders in format1/ were made by ``format1/make.py`` run with the old
code; ``format1/expected.json`` holds the metrics the old code's own resume
(or straight run) gave.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from zerokara.data.sequence import make_addition, write_sequence
from zerokara.errors import CheckpointError
from zerokara.io import load_checkpoint, save_checkpoint
from zerokara.models.rnnlm import BetterRnnlm
from zerokara.optim import SGD
from zerokara.train import CHECKPOINT, MLPConfig, Seq2seqConfig, Trainer, train_mlp, train_seq2seq
from zerokara.train.binary_addition import AdditionConfig, train_binary_addition
from zerokara.train.lm import LMTrainer
from zerokara.train.word2vec import Word2VecConfig, train_word2vec

HERE = Path(__file__).parent / "format1"
EXPECTED = json.loads((HERE / "expected.json").read_text())


def _figures(metrics: dict) -> dict:
    """Metrics without timings, and without the analogy figures (they need gensim's questions)."""
    return {k: v for k, v in metrics.items()
            if "seconds" not in k and k != "tokens_per_second" and not k.startswith("analogy")}


@pytest.fixture
def old_run(tmp_path, monkeypatch):
    """A copy of a format-1 run folder, with the data files it names made again."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text("you say goodbye and i say hello .\n" * 20)
    write_sequence(tmp_path / "sums.txt", make_addition(300, 5))

    def copy(name: str) -> Path:
        _, meta = load_checkpoint(HERE / name / CHECKPOINT)
        assert "run_format" not in meta  # really an old checkpoint
        return Path(shutil.copytree(HERE / name, tmp_path / name))
    return copy


def test_spiral_stopped_inside_an_epoch(old_run):
    out = old_run("spiral")
    run = train_mlp(MLPConfig(data="spiral", epochs=3), out_dir=out, resume=True)
    assert _figures(run.metrics) == _figures(EXPECTED["spiral"])


def test_binary_addition(old_run):
    out = old_run("binary-addition")
    run = train_binary_addition(AdditionConfig(iters=200), out_dir=out, resume=True)
    assert _figures(run.metrics) == _figures(EXPECTED["binary-addition"])
    assert [r["iteration"] for r in run.trainer.evals][:3] == [0, 10, 20]  # the old rows kept


def test_word2vec(old_run):
    out = old_run("word2vec")
    run = train_word2vec(Word2VecConfig(corpus="corpus.txt", hidden=5, window=2, batch_size=8,
                                        epochs=2), out_dir=out, resume=True)
    assert _figures(run.metrics) == _figures(EXPECTED["word2vec"])


def test_seq2seq(old_run):
    out = old_run("seq2seq")
    run = train_seq2seq(Seq2seqConfig(data="sums.txt", wordvec=4, hidden=6, batch_size=32, epochs=2),
                        out_dir=out, resume=True)
    assert _figures(run.metrics) == _figures(EXPECTED["seq2seq"])


def test_language_model_stopped_inside_an_epoch(old_run):
    """The old checkpoint holds the carried LSTM state and the log window ('loss_acc')."""
    out = old_run("lm")
    corpus = np.random.default_rng(3).integers(0, 30, 1500)
    model = BetterRnnlm(30, 6, 6, num_layers=2, dropout=0.3, tie_weights=True,
                        rng=np.random.default_rng(99))
    tr = LMTrainer(model, SGD(2.0), out_dir=out, max_grad=1.0, save_every=None, config={"task": "test"})
    tr.resume()
    m = tr.fit(corpus[:1200], corpus[1200:], epochs=2, batch_size=4, time_size=10)
    assert _figures(m) == _figures(EXPECTED["lm"])


def test_a_newer_format_is_refused_naming_both_versions(old_run, tmp_path):
    out = old_run("spiral")
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    save_checkpoint(out / CHECKPOINT, tensors, {**meta, "run_format": 99})
    with pytest.raises(CheckpointError, match="checkpoint format 99 is newer than this zerokara "
                                              r"reads \(2\)"):
        train_mlp(MLPConfig(data="spiral", epochs=3), out_dir=out, resume=True)


def test_an_old_epoch_resumed_and_stopped_again_inside_it_keeps_its_order(old_run, monkeypatch):
    """A format-1 epoch has no generator state to draw it again from: its order is
    carried in the new checkpoint until the epoch ends."""
    out = old_run("spiral")
    log = Trainer._log

    def ctrl_c_at_17(self, loss):  # as the SIGINT handler does: finish this step, then stop
        log(self, loss)
        if self.iteration == 17:
            self._stop = True
    monkeypatch.setattr(Trainer, "_log", ctrl_c_at_17)
    with pytest.raises(KeyboardInterrupt):
        train_mlp(MLPConfig(data="spiral", epochs=3), out_dir=out, resume=True)
    monkeypatch.setattr(Trainer, "_log", log)
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    assert meta["pos"] > 0 and meta["epoch_rng"] is None and "trainer/perm" in tensors
    run = train_mlp(MLPConfig(data="spiral", epochs=3), out_dir=out, resume=True)
    assert _figures(run.metrics) == _figures(EXPECTED["spiral"])
