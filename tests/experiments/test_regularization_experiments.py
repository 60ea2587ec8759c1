"""The overfit and hyperparameter-search experiments on real MNIST, in their quick forms:
weight decay and dropout narrow the gap between train and test accuracy; the random
search runs through zerokara sweep on a validation split and ranks by it."""

from __future__ import annotations

import json

import numpy as np

from tests.realdata import real_mnist  # noqa: F401  (fixture)
from zerokara.experiments import run_experiment


def test_overfit_weight_decay_and_dropout_narrow_the_gap(tmp_path, real_mnist):  # noqa: F811
    f = run_experiment("overfit", tmp_path, quick=True).figures
    assert f["none_train_accuracy"] > 0.85  # 300 images: learned almost by heart ...
    assert f["none_gap"] > 0.1  # ... and a tenth of the way short on the test set
    assert f["weight_decay_gap"] < f["none_gap"]
    assert f["dropout_gap"] < f["none_gap"]
    assert len(f["curves"]["none"]["train"]) == f["epochs"]
    assert (tmp_path / "overfit.png").stat().st_size > 10_000


def test_hyperparameter_search_samples_on_a_log_scale_and_ranks_by_validation(tmp_path, real_mnist):  # noqa: F811
    out = run_experiment("hyperparameter-search", tmp_path, quick=True)
    f = out.figures
    assert f["finished"] == f["trials"] == 8
    ranking = f["ranking"]
    accs = [r["valid_accuracy"] for r in ranking]
    assert accs == sorted(accs, reverse=True)
    lrs = np.array([r["lr"] for r in ranking])
    assert lrs.min() >= 1e-6 and lrs.max() <= 1e-2
    assert np.log10(lrs).max() - np.log10(lrs).min() > 1.5  # spread over orders of magnitude
    # the learning rate decides: the best trial's lr is above the median of the trials'
    assert ranking[0]["lr"] > np.median(lrs)
    # the trials went through the sweep, with its table and the validation split
    table = (tmp_path / "hyperparameter-search-sweep" / "results.csv").read_text()
    assert "valid_accuracy" in table.splitlines()[0]
    record = json.loads((tmp_path / "hyperparameter-search.json").read_text())
    assert record["book"]["top5_lr_range"]["value"] == "0.001 to 0.01"
    assert (tmp_path / "hyperparameter-search.png").is_file()
