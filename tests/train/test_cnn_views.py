"""What book 1 shows of a trained CNN: filters before and after, the misclassified digits,
the float16 experiment; ``zerokara evaluate`` on a CNN run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.realdata import real_mnist  # noqa: F401 -- a fixture
from zerokara.cli import main
from zerokara.errors import CheckpointError
from zerokara.train import CNNConfig, train_cnn
from zerokara.train.cnn_views import half_precision_accuracy, initial_model, load_cnn


@pytest.fixture
def cnn_run(real_mnist, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    run = train_cnn(CNNConfig(train_size=300, test_size=300, epochs=1, seed=2), out_dir=out)
    return out, run


def test_load_cnn_gives_the_trained_model_and_the_first_one_again(cnn_run):
    out, run = cnn_run
    model, config = load_cnn(out)
    for name, p in run.model.parameters().items():
        assert np.array_equal(model.parameters()[name], p)
    first = initial_model(config).parameters()["convolution1.W"]
    assert not np.array_equal(first, model.parameters()["convolution1.W"])  # training moved it
    assert not model.training


def test_half_precision_keeps_the_accuracy_and_the_weights(cnn_run):
    out, _ = cnn_run
    model, _ = load_cnn(out)
    x = np.random.default_rng(0).random((50, 1, 28, 28), dtype=np.float32)
    t = model.predict(x).argmax(axis=1)
    before = {k: v.copy() for k, v in model.parameters().items()}
    assert half_precision_accuracy(model, x, t) >= 0.9  # book 1: rounding to float16 costs ~nothing
    for k, v in model.parameters().items():
        assert np.array_equal(v, before[k])  # the float32 weights are given back


def test_commands_write_the_pictures_and_the_accuracies(cnn_run, tmp_path, capsys):
    out, _ = cnn_run
    assert main(["filters", str(out), "--out", str(tmp_path / "f.png")]) == 0
    assert main(["misclassified", str(out), "--out", str(tmp_path / "m.png"), "--most", "5"]) == 0
    assert (tmp_path / "f.png").stat().st_size > 1000 and (tmp_path / "m.png").stat().st_size > 1000
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["model"] == "SimpleConvNet" and figures["images"] == 10000
    assert abs(figures["test_accuracy"] - figures["test_accuracy_float16"]) < 0.01


def test_a_checkpoint_of_another_task_is_refused(tmp_path):
    from zerokara.train import MLPConfig, train_mlp

    train_mlp(MLPConfig(data="spiral", epochs=1), out_dir=tmp_path / "spiral")
    with pytest.raises(CheckpointError, match="not a CNN checkpoint"):
        load_cnn(tmp_path / "spiral")
