"""Weight decay (book 1, 6.4.2; L1 as the course's Day 2): its penalty and gradient pass the
numerical check on MLPs and a CNN, match torch (the same loss term through autograd, and
SGD's weight_decay for L2), leave biases and BatchNorm's gamma/beta alone, join the loss the
trainer reports; the training subset and validation split; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import assert_close, to_torch
from zerokara.check import gradcheck
from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.models import MultiLayerNet, SimpleConvNet
from zerokara.optim import SGD
from zerokara.regularize import Decayed, WeightDecay
from zerokara.train.classifier import ClassifierTrainer, pick_rows


def _mlp(rng, d=5, hidden=(4, 3), c=3, **kw):
    # tanh: no kink for a central difference to straddle
    return MultiLayerNet(d, hidden, c, activation_name="tanh", init=0.5, rng=rng, dtype=np.float64, **kw)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["l2", "l1"]),
       lam=st.floats(0.01, 2.0), n=st.integers(1, 5), hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_gradcheck_with_the_decay_term(seed, kind, lam, n, hidden):
    rng = np.random.default_rng(seed)
    model = Decayed(_mlp(rng, hidden=tuple(hidden)), WeightDecay(lam, kind))
    report = gradcheck(model, rng.standard_normal((n, 5)), rng.integers(0, 3, n))
    assert report.ok, str(report)


def test_gradcheck_cnn_with_batchnorm_free_decay(rng):
    net = SimpleConvNet((1, 6, 6), filter_num=2, filter_size=3, hidden_size=4, output_size=3,
                        weight_init_std=0.3, rng=rng, dtype=np.float64)
    report = gradcheck(Decayed(net, WeightDecay(0.2)), rng.standard_normal((2, 1, 6, 6)), rng.integers(0, 3, 2))
    assert report.ok, str(report)
    assert {e.name for e in report.entries} >= {"convolution1.W", "affine1.W", "affine2.b"}


def test_the_penalty_is_half_lambda_times_the_squared_weights_and_skips_biases_and_batchnorm(rng):
    model = _mlp(rng, batchnorm=True)
    params = model.parameters()
    decayed = WeightDecay.weights(params)
    assert decayed == ["affine1.W", "affine2.W", "affine3.W"]  # no b, no gamma, no beta
    want = 0.5 * 0.1 * sum(float(np.sum(params[k] ** 2)) for k in decayed)
    assert WeightDecay(0.1).penalty(params) == pytest.approx(want, rel=1e-12)
    assert WeightDecay(0.1, "l1").penalty(params) == pytest.approx(
        0.1 * sum(float(np.abs(params[k]).sum()) for k in decayed), rel=1e-12)
    assert WeightDecay(0.0).penalty(params) == 0.0


def test_matches_torch_autograd_of_the_same_loss_term(rng):
    torch = pytest.importorskip("torch")
    model = _mlp(rng, hidden=(4,))
    x, t = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    for kind in ("l2", "l1"):
        d = Decayed(model, WeightDecay(0.3, kind))
        loss = d.forward(x, t)
        d.backward()
        p = {k: to_torch(v, grad=True) for k, v in model.parameters().items()}
        h = torch.tanh(to_torch(x) @ p["affine1.W"] + p["affine1.b"])
        scores = h @ p["affine2.W"] + p["affine2.b"]
        weights = [p["affine1.W"], p["affine2.W"]]
        term = 0.5 * sum((w**2).sum() for w in weights) if kind == "l2" else sum(w.abs().sum() for w in weights)
        lt = torch.nn.functional.cross_entropy(scores, torch.tensor(t)) + 0.3 * term
        lt.backward()
        assert_close(loss, lt.item(), rtol=1e-6)  # the books' log(y + 1e-7) floor
        for name, g in model.gradients().items():
            assert_close(g, p[name].grad, rtol=1e-5, atol=1e-9)


def test_one_trainer_step_matches_torch_sgd_weight_decay(rng):
    """zerokara's L2 step (gradient + lam * W) is torch's SGD(weight_decay=lam) on the
    weights; the biases go in a group without decay, as book 1 leaves them."""
    torch = pytest.importorskip("torch")
    model = _mlp(rng, hidden=(4,))
    x, t = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    p = {k: to_torch(v.copy(), grad=True) for k, v in model.parameters().items()}
    trainer = ClassifierTrainer(model, SGD(lr=0.1), rng=np.random.default_rng(0),
                                weight_decay=WeightDecay(0.3))
    trainer._params = model.parameters()
    trainer.step((x, t))
    opt = torch.optim.SGD([{"params": [p["affine1.W"], p["affine2.W"]], "weight_decay": 0.3},
                           {"params": [p["affine1.b"], p["affine2.b"]], "weight_decay": 0.0}], lr=0.1)
    h = torch.tanh(to_torch(x) @ p["affine1.W"] + p["affine1.b"])
    torch.nn.functional.cross_entropy(h @ p["affine2.W"] + p["affine2.b"], torch.tensor(t)).backward()
    opt.step()
    for name, v in model.parameters().items():
        assert_close(v, p[name].detach(), rtol=1e-5, atol=1e-9)


def test_the_trainer_reports_the_loss_with_its_penalty(rng):
    x, t = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    losses = {}
    for lam in (0.0, 1.0):
        model = _mlp(np.random.default_rng(3))
        decay = WeightDecay(lam) if lam else None
        trainer = ClassifierTrainer(model, SGD(lr=1e-12), rng=np.random.default_rng(0), weight_decay=decay)
        trainer.fit(x, t, epochs=1, batch_size=20)
        losses[lam] = trainer.history["epochs"][0]["loss"]
        penalty = WeightDecay(1.0).penalty(model.parameters())
    assert losses[1.0] == pytest.approx(losses[0.0] + penalty, rel=1e-9)  # lr ~0: the weights stay


def test_weight_decay_shrinks_the_weights(rng):
    x, t = rng.standard_normal((60, 5)), rng.integers(0, 3, 60)
    norms = {}
    for lam in (0.0, 0.5):
        model = _mlp(np.random.default_rng(3))
        trainer = ClassifierTrainer(model, SGD(lr=0.1), rng=np.random.default_rng(0),
                                    weight_decay=WeightDecay(lam) if lam else None)
        trainer.fit(x, t, epochs=20, batch_size=20)
        norms[lam] = sum(float(np.sum(w**2)) for k, w in model.parameters().items() if k.endswith("W"))
    assert norms[0.5] < 0.5 * norms[0.0]


def test_pick_rows_subset_and_validation_split():
    x, t = np.arange(100.0)[:, None], np.arange(100)
    (xs, ts), valid = pick_rows(x, t, train_size=30, seed=1)
    assert len(xs) == 30 and valid is None and len(set(ts)) == 30
    (xt, tt), (xv, tv) = pick_rows(x, t, train_size=30, valid_fraction=0.2, seed=1)
    assert len(xv) == 6 and len(xt) == 24
    assert set(tt) | set(tv) == set(ts) and not set(tt) & set(tv)  # the split is of the subset
    (xt2, _), (xv2, _) = pick_rows(x, t, train_size=30, valid_fraction=0.2, seed=1)
    assert np.array_equal(xv, xv2)  # seeded


@pytest.mark.parametrize("kw,message", [
    ({"train_size": 101}, "--train-size: expected 1 to 100 (the training rows there are), got 101"),
    ({"train_size": 0}, "--train-size: expected 1 to 100"),
    ({"valid_fraction": 0.0}, "--valid-fraction: expected a number between 0 and 1 (exclusive), got 0.0"),
    ({"valid_fraction": 1.0}, "--valid-fraction: expected a number between 0 and 1"),
    ({"train_size": 3, "valid_fraction": 0.1}, "leaves no rows for validation"),
])
def test_pick_rows_bad_input(kw, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pick_rows(np.zeros((100, 1)), np.zeros(100), **kw)


def test_weight_decay_bad_input():
    with pytest.raises(InputError, match="lambda expected a number >= 0, got -0.1"):
        WeightDecay(-0.1)
    with pytest.raises(InputError, match="kind expected one of"):
        WeightDecay(0.1, "l3")


@pytest.mark.parametrize("argv,message", [
    # values outside an option's declared range: tests/test_options.py (exit status 2)
    (["--train-size", "301"], "--train-size: expected 1 to 300"),
])
def test_cli_bad_input_is_one_line_and_leaves_no_run(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "spiral", *argv, "--out", str(out), "--no-progress"]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_cli_spiral_with_weight_decay_and_a_validation_split(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "spiral", "--weight-decay", "0.001", "--valid-fraction", "0.2", "--epochs", "3",
                 "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "weight decay 0.001 (l2), 240 training rows, 60 held out for validation" in text
    assert "valid_accuracy" in (out / "metrics.json").read_text()


def test_an_embeddings_sparse_gradient_gets_the_penalty_on_every_row(rng):
    """The penalty's gradient is lam * W on every row, used in the step or not."""
    from zerokara.layers.embedding import Embedding, RowGrad

    emb = Embedding(rng.standard_normal((6, 3)))
    emb.forward(np.array([1, 1, 4]))
    emb.backward(np.ones((3, 3)))
    params, grads = emb.params, dict(emb.grads)
    assert isinstance(grads["W"], RowGrad)
    want = np.asarray(grads["W"]) + 0.5 * params["W"]
    WeightDecay(0.5).add_gradient(params, grads)
    assert isinstance(grads["W"], np.ndarray)
    np.testing.assert_allclose(grads["W"], want)
    assert np.all(grads["W"][[0, 2, 3, 5]] == 0.5 * params["W"][[0, 2, 3, 5]])
