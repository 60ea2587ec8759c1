"""``zerokara train cnn`` on real MNIST (a small seeded subset, so the suite stays quick):
it learns, writes the run files, and a resumed run equals the one that never stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.realdata import real_mnist  # noqa: F401 -- a fixture
from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.train import CNNConfig, train_cnn
from zerokara.train.cnn import CNN_DEFAULTS


def test_book1_settings_are_the_defaults():
    c = CNNConfig(model="deep").filled()
    assert (c.optimizer, c.lr, c.batch_size, c.epochs) == ("adam", 0.001, 100, 20)
    assert CNN_DEFAULTS["simple"] == CNN_DEFAULTS["deep"]
    with pytest.raises(InputError, match="model"):
        CNNConfig(model="lenet").filled()
    with pytest.raises(InputError, match="train-size"):
        CNNConfig(train_size=0).filled()
    with pytest.raises(InputError, match="test-size"):
        CNNConfig(test_size=-1).filled()


def test_simple_conv_net_learns_on_a_subset(real_mnist, tmp_path):  # noqa: F811
    run = train_cnn(CNNConfig(train_size=1000, epochs=2, seed=1), out_dir=tmp_path / "run")
    assert run.metrics["test_accuracy"] > 0.5  # 1,000 images, 2 epochs: far from book 1's 0.99
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"checkpoint.safetensors", "metrics.json", "history.json", "accuracy.png", "loss.png"} <= files
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"] == 2


def test_resume_equals_the_run_that_never_stopped(real_mnist, tmp_path):  # noqa: F811
    config = CNNConfig(model="deep", train_size=200, test_size=200, batch_size=50, seed=3)
    straight = train_cnn(CNNConfig(**{**config.__dict__, "epochs": 2}), out_dir=tmp_path / "a")
    train_cnn(CNNConfig(**{**config.__dict__, "epochs": 1}), out_dir=tmp_path / "b")
    resumed = train_cnn(CNNConfig(**{**config.__dict__, "epochs": 2}), out_dir=tmp_path / "b", resume=True)
    for name, p in straight.model.parameters().items():
        assert np.array_equal(p, resumed.model.parameters()[name]), name
    assert straight.metrics["test_accuracy"] == resumed.metrics["test_accuracy"]


def test_command_line(real_mnist, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "cli"
    status = main(["train", "cnn", "--train-size", "300", "--epochs", "1", "--out", str(out), "--no-progress"])
    assert status == 0
    text = capsys.readouterr().out
    assert "SimpleConvNet on mnist (300 training images)" in text and "test_accuracy" in text


@pytest.mark.book
def test_simple_conv_net_with_book1_settings_on_all_of_mnist(real_mnist, tmp_path):  # noqa: F811
    """Book 1, chapter 7: Adam lr 0.001, batch 100, 20 epochs; the book reports about 0.99.
    Seeds 0-3 ended at 0.9875, 0.9870, 0.9911, 0.9881 (docs/cnn.md): the bound is below
    every seed's, not the book's."""
    run = train_cnn(CNNConfig(model="simple", seed=0), out_dir=tmp_path / "run")
    assert run.metrics["test_accuracy"] >= 0.986, run.metrics


@pytest.mark.book
def test_deep_conv_net_with_book1_settings_on_all_of_mnist(real_mnist, tmp_path):  # noqa: F811
    """Book 1, chapter 8: DeepConvNet, Adam lr 0.001, batch 100, 20 epochs; the book
    reports 0.9938; here seed 0 ended at 0.9926, seed 1 at 0.9938 (docs/cnn.md). About 20
    minutes on 2 idle cores."""
    run = train_cnn(CNNConfig(model="deep", seed=0), out_dir=tmp_path / "run")
    assert run.metrics["test_accuracy"] >= 0.991, run.metrics
