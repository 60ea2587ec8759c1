"""optimizer-compare and weight-init-compare (book 1, 6.1.8 and 6.2.4) on real MNIST, in
their quick form, and the helper they share: the same start and the same batches for
every model, so the curves differ only by what the experiment varies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.realdata import real_mnist  # noqa: F401  (fixture)
from zerokara.experiments import curves, run_experiment
from zerokara.experiments import optimizer_compare as oc
from zerokara.experiments import weight_init_compare as wic
from zerokara.optim import SGD
from zerokara.train.report import RecordingReporter

LN10 = math.log(10)


def test_every_optimizer_starts_from_the_same_weights():
    runs = oc.start(np.random.SeedSequence(7))
    assert list(runs) == list(oc.RATES)
    first = runs["SGD"][0].parameters()
    assert len(first) == 10  # five Affine layers, W and b each
    for name, (model, opt) in runs.items():
        assert opt.lr == oc.RATES[name]
        params = model.parameters()
        for p in first:
            np.testing.assert_array_equal(params[p], first[p], err_msg=f"{name} {p}")
            assert name == "SGD" or params[p] is not first[p], "each optimizer must train its own copy"
    other = oc.start(np.random.SeedSequence(8))["SGD"][0].parameters()
    assert not np.array_equal(other["affine1.W"], first["affine1.W"])


def test_inits_are_the_same_draws_at_book_1s_scales():
    """Xavier is std sqrt(1/n), He sqrt(2/n), n the layer's inputs (book 1, 6.2.2-6.2.3)."""
    seed = np.random.SeedSequence(3)
    nets = {name: curves.mlp(init, seed) for name, init in wic.INITS.items()}
    for p in ("affine1.W", "affine3.W", "affine5.W"):
        he, xavier, small = (nets[n].parameters()[p] for n in ("He", "Xavier", "std=0.01"))
        n_in = he.shape[0]
        np.testing.assert_allclose(he / math.sqrt(2 / n_in), xavier / math.sqrt(1 / n_in), rtol=1e-5)
        np.testing.assert_allclose(small / 0.01, he / math.sqrt(2 / n_in), rtol=1e-5)
        assert abs(float(np.std(he)) - math.sqrt(2 / n_in)) < 0.1 * math.sqrt(2 / n_in)


def test_side_by_side_gives_every_model_the_same_batches():
    rng = np.random.default_rng(0)
    x = rng.random((300, 784), dtype=np.float32)
    t = rng.integers(0, 10, 300)
    idx = curves.batches(len(x), 16, 6, np.random.default_rng(1))
    assert idx.shape == (6, 16) and all(len(set(row)) == 16 for row in idx)
    np.testing.assert_array_equal(idx, curves.batches(len(x), 16, 6, np.random.default_rng(1)))
    seed = np.random.SeedSequence(0)
    runs = {name: (curves.mlp("he", seed), SGD(lr=0.1)) for name in ("a", "b")}
    rep = RecordingReporter()
    losses = curves.train_side_by_side(runs, x, t, idx, rep, "twins")
    assert losses["a"].shape == (6,)
    np.testing.assert_array_equal(losses["a"], losses["b"])  # same start, same batches, same steps
    assert rep.started == [("twins", 6, 0)] and rep.updates[-1][0] == 6
    # the loss recorded at an iteration is that batch's loss before its step
    fresh = curves.mlp("he", seed)
    assert losses["a"][0] == pytest.approx(fresh.forward(x[idx[0]], t[idx[0]]), rel=1e-6)
    assert not np.array_equal(runs["a"][0].parameters()["affine1.W"], fresh.parameters()["affine1.W"])


def test_curve_summaries():
    loss = np.concatenate([np.full(150, 2.0), np.full(150, 0.1)])
    assert curves.final_window(300) == 20 and curves.final_window(2000) == 100
    assert curves.final_loss(loss) == pytest.approx(0.1)
    # windows of 5: iterations 150-154 (one 2.0, four 0.1) are the first to average below 0.5
    assert curves.iterations_to(loss, 0.5) == 154
    assert curves.iterations_to(loss, 0.05) is None
    s = curves.smoothed(loss)
    assert s["iteration"][:2] == [20, 40] and s["loss"][0] == 2.0 and s["loss"][-1] == 0.1


def test_optimizer_compare_sgd_is_slowest(tmp_path, real_mnist):  # noqa: F811
    rep = RecordingReporter()
    out = run_experiment("optimizer-compare", tmp_path, quick=True, reporter=rep)
    f = out.figures
    assert f["iterations"] == curves.QUICK["iterations"] and rep.started[0][1] == f["iterations"]
    sgd = f["SGD_final_loss"]
    assert 0.3 < sgd < 1.5  # SGD at lr 0.01 learns, slowly
    for name in ("Momentum", "AdaGrad", "Adam", "Nesterov"):
        assert f[f"{name}_final_loss"] < sgd / 2, name
        assert f[f"{name}_test_accuracy"] > f["SGD_test_accuracy"], name
        assert f[f"{name}_iterations_to_0.5"] is not None, name
    assert f["RMSprop_final_loss"] < sgd
    assert f["SGD_iterations_to_0.5"] is None or f["SGD_iterations_to_0.5"] > f["Adam_iterations_to_0.5"]
    assert all(0.1 < f[f"{n}_test_accuracy"] <= 1 for n in oc.RATES)
    assert (tmp_path / "optimizer-compare.png").stat().st_size > 10_000
    record = json.loads((tmp_path / "optimizer-compare.json").read_text())
    assert set(record["figures"]["curves"]) == set(oc.RATES)


def test_weight_init_compare_std_001_does_not_learn_and_he_is_fastest(tmp_path, real_mnist):  # noqa: F811
    f = run_experiment("weight-init-compare", tmp_path, quick=True).figures
    # std 0.01: the activations shrink ~14 times per layer, the scores are ~0, the loss ln 10
    assert abs(f["std_0.01_final_loss"] - LN10) < 0.01
    assert f["std_0.01_iterations_to_0.5"] is None
    assert f["std_0.01_last_hidden_std_at_start"] < 1e-3 * f["He_last_hidden_std_at_start"]
    assert f["std_0.01_first_grad_norm_at_start"] < 1e-3 * f["He_first_grad_norm_at_start"]
    # He keeps the scale through ReLU; Xavier loses sqrt(2) per layer: 4 after four layers
    assert abs(f["He_last_hidden_std_at_start"] / f["Xavier_last_hidden_std_at_start"] - 4) < 0.01
    assert f["He_final_loss"] < LN10 - 1
    assert f["He_final_loss"] <= f["Xavier_final_loss"] + 0.05
    assert f["He_test_accuracy"] > 0.7 and f["std_0.01_test_accuracy"] < 0.2
    assert (tmp_path / "weight-init-compare.png").stat().st_size > 10_000
