"""Bit-exact resume through the one loop, for every task: a run stopped by a
Ctrl-C inside an epoch (the loop finishes the step, checkpoints and stops) and
resumed ends with the same parameters, optimizer state, generators, history
and metrics as a run that never stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.realdata import real_data_dir
from tests.train.behaviour_runs import CORPUS, NEEDS
from zerokara.data.sequence import make_addition, write_sequence
from zerokara.io import load_checkpoint
from zerokara.train import (
    CHECKPOINT,
    CNNConfig,
    MLPConfig,
    Seq2seqConfig,
    Trainer,
    train_cnn,
    train_mlp,
    train_seq2seq,
)
from zerokara.train.binary_addition import AdditionConfig, train_binary_addition
from zerokara.train.rnnlm import LMConfig, train_lm
from zerokara.train.word2vec import Word2VecConfig, train_word2vec


def _runs(tmp):
    sums = write_sequence(tmp / "sums.txt", make_addition(400, 1))
    (tmp / "corpus.txt").write_text(CORPUS)
    return {
        # name: (real data or None, train function, config, step to stop after)
        "spiral": (None, train_mlp, MLPConfig(data="spiral", epochs=3, batch_size=40), 11),
        # BatchNorm's running statistics are buffers, not parameters: they must travel too
        "spiral-batchnorm": (None, train_mlp,
                             MLPConfig(data="spiral", model="multi-layer", hidden="10,10", batchnorm=True,
                                       epochs=3, batch_size=40), 11),
        "binary-addition": (None, train_binary_addition,
                            AdditionConfig(iters=120, batch_size=4, optimizer="adam", lr=0.01), 37),
        "word2vec": (None, train_word2vec,
                     Word2VecConfig(corpus=str(tmp / "corpus.txt"), epochs=3, hidden=6, window=2,
                                    batch_size=16, preset="gensim-like", subsample=0.05,
                                    lr_schedule="linear", questions=None), 13),
        "seq2seq": (None, train_seq2seq,
                    Seq2seqConfig(data=str(sums), model="attention", epochs=2, wordvec=6, hidden=8,
                                  batch_size=32, workers=2), 7),
        "mlp": ("mnist", train_mlp,
                MLPConfig(model="multi-layer", hidden="30,20", dropout=0.3, iters=700,
                          batch_size=200), 250),
        "cnn": ("mnist", train_cnn,
                CNNConfig(model="deep", train_size=300, test_size=100, epochs=2, batch_size=50), 4),
        "better-rnnlm": ("ptb", train_lm,
                         LMConfig(task="better-rnnlm", wordvec=8, hidden=8, data_slice=2000,
                                  epochs=2, batch_size=4, time_size=10, dropout=0.3), 61),
    }


RUN_NAMES = ["spiral", "spiral-batchnorm", "binary-addition", "word2vec", "seq2seq", "mlp", "cnn", "better-rnnlm"]


@pytest.mark.parametrize("name", RUN_NAMES)
def test_ctrl_c_inside_an_epoch_then_resume_is_bit_exact(name, tmp_path, monkeypatch):
    needs, train, config, stop_at = _runs(tmp_path)[name]
    if needs is not None:
        monkeypatch.setenv("ZEROKARA_DATA_DIR", str(real_data_dir(*NEEDS[needs])))
    straight = train(config, out_dir=tmp_path / "a")

    log = Trainer._log

    def ctrl_c_at(self, loss):  # as the SIGINT handler does: finish this step, then stop
        log(self, loss)
        if self.iteration == stop_at:
            self._stop = True
    monkeypatch.setattr(Trainer, "_log", ctrl_c_at)
    with pytest.raises(KeyboardInterrupt):
        train(config, out_dir=tmp_path / "b")
    monkeypatch.setattr(Trainer, "_log", log)
    _, meta = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert meta["iteration"] == stop_at and meta["pos"] > 0, "the stop must land inside an epoch"

    resumed = train(config, out_dir=tmp_path / "b", resume=True)
    a, ma = load_checkpoint(tmp_path / "a" / CHECKPOINT)
    b, mb = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert ma.get("rng") == mb.get("rng") and ma["model_rngs"] == mb["model_rngs"]
    drop = ("seconds",)
    ha = json.loads((tmp_path / "a" / "history.json").read_text())
    hb = json.loads((tmp_path / "b" / "history.json").read_text())
    assert ha[straight.trainer.series] == hb[straight.trainer.series]
    assert [{k: v for k, v in r.items() if k not in drop} for r in ha["epochs"]] == \
        [{k: v for k, v in r.items() if k not in drop} for r in hb["epochs"]]
    timing = [k for k in straight.metrics if "seconds" in k or k == "tokens_per_second"]
    assert {k: v for k, v in straight.metrics.items() if k not in timing} == \
        {k: v for k, v in resumed.metrics.items() if k not in timing}
    assert not list((tmp_path / "b").glob("*.tmp*")), "no temporary file left"


def _ctrl_c_at(monkeypatch, k: int):
    """Make the loop stop as a first Ctrl-C does (finish step k, checkpoint, stop)."""
    log = Trainer._log

    def stop(self, loss):
        log(self, loss)
        if self.iteration == k:
            self._stop = True
    monkeypatch.setattr(Trainer, "_log", stop)
    return lambda: monkeypatch.setattr(Trainer, "_log", log)


def test_a_changed_epoch_length_inside_an_epoch_is_refused(tmp_path, monkeypatch):
    from zerokara.errors import CheckpointError

    config = MLPConfig(data="spiral", epochs=3, batch_size=40)
    restore = _ctrl_c_at(monkeypatch, 11)
    with pytest.raises(KeyboardInterrupt):
        train_mlp(config, out_dir=tmp_path)
    restore()
    with pytest.raises(CheckpointError, match="cannot resume with batch_size=60; the checkpoint was "
                                              "trained with batch_size=40"):
        train_mlp(MLPConfig(data="spiral", epochs=3, batch_size=60), out_dir=tmp_path, resume=True)
    train_mlp(config, out_dir=tmp_path, resume=True)  # the run's own settings still resume


def test_binary_addition_resumed_inside_a_stretch_with_new_iters_ends_on_an_evaluation(
        tmp_path, monkeypatch):
    restore = _ctrl_c_at(monkeypatch, 26)
    with pytest.raises(KeyboardInterrupt):
        train_binary_addition(AdditionConfig(iters=100), out_dir=tmp_path)
    restore()
    run = train_binary_addition(AdditionConfig(iters=28), out_dir=tmp_path, resume=True)
    assert run.metrics["iterations"] == 28
    assert [r["iteration"] for r in run.trainer.evals] == [0, 10, 20, 28]


def test_checkpoint_buffers_are_the_batchnorm_running_statistics(tmp_path):
    """buffer/* holds every BatchNorm's running mean and variance, as the model has them at the
    end (drawing the spiral's decision boundary must not move them); a checkpoint whose buffers
    do not fit the model is refused with one line, and nothing is changed."""
    from zerokara.errors import CheckpointError
    from zerokara.io import save_checkpoint
    from zerokara.train.state import load_run

    out = tmp_path / "run"
    run = train_mlp(MLPConfig(data="spiral", model="multi-layer", hidden="10,10", batchnorm=True,
                              epochs=2, batch_size=40), out_dir=out)
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    names = {k for k in tensors if k.startswith("buffer/")}
    assert names == {f"buffer/batchnorm{i}.{s}" for i in (1, 2) for s in ("running_mean", "running_var")}
    model = run.model
    np.testing.assert_array_equal(tensors["buffer/batchnorm1.running_var"], model.buffers()["batchnorm1.running_var"])
    bad = dict(tensors)
    bad["buffer/batchnorm1.running_var"] = np.zeros(3, dtype=np.float32)
    save_checkpoint(tmp_path / "bad.safetensors", bad, meta)
    before = {k: v.copy() for k, v in model.buffers().items()}
    with pytest.raises(CheckpointError, match=r"buffer 'batchnorm1.running_var' expected float32\[10\], got float32\[3\]"):
        load_run(tmp_path / "bad.safetensors", model)
    assert all(np.array_equal(before[k], v) for k, v in model.buffers().items())


def test_a_finished_run_resumed_says_so_and_changes_nothing(tmp_path):
    from zerokara.train.report import RecordingReporter

    out = tmp_path / "run"
    first = train_mlp(MLPConfig(data="spiral", epochs=2, batch_size=40), out_dir=out)
    # the folder's .lock is taken and released, as by every run; the run's files are untouched
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir() if p.name != ".lock"}
    rep = RecordingReporter()
    again = train_mlp(MLPConfig(data="spiral", epochs=2, batch_size=40), out_dir=out, resume=True, reporter=rep)
    assert again.metrics == json.loads(json.dumps(first.metrics))
    assert any("the run is finished (epoch 2, iteration 14)" in line for line in rep.lines)
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir() if p.name != ".lock"} == before
