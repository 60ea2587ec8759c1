"""The gradient check itself: it catches deliberately wrong layers, names the
mistake, and leaves the user's module alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from zerokara.check import GradReport, gradcheck
from zerokara.check.gradcheck import check_all
from zerokara.layers import (Affine, BatchNorm, Dropout, Module, ReLU, Sequential, Sigmoid,
                             SoftmaxWithLoss, Tanh)

# ---------------------------------------------------------------------------
# deliberately wrong layers
# ---------------------------------------------------------------------------


class UnsummedBiasAffine(Affine):
    """Forgets that b was broadcast over the batch: db = dout, not dout.sum(axis=0)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout
        return dx


class SigmoidFromDout(Sigmoid):
    """The MLP's bug in the question "逆伝播におけるバイアス項の勾配" (``dz2 = dh2 * (1 - dh2)``):
    the derivative computed from dout instead of the output (docs/bias-gradient.md)."""

    def backward(self, dout):
        return dout * (1 - dout)


class NoMeanSoftmaxWithLoss(SoftmaxWithLoss):
    """Forgets the 1/N of the mean: gradient N times too large."""

    def backward(self, dout=1.0):
        return super().backward(dout) * self.y.shape[0]


class DoubleMeanSoftmaxWithLoss(SoftmaxWithLoss):
    """Applies the 1/N twice."""

    def backward(self, dout=1.0):
        return super().backward(dout) / self.y.shape[0]


class SumAffine(Affine):
    """Forward divides by N (a mean over the batch) but dW forgets it."""

    def forward(self, x):
        return super().forward(x) / x.shape[0]

    def backward(self, dout):
        n = dout.shape[0]
        dx = super().backward(dout / n)
        self.grads["W"] = self.grads["W"] * n
        return dx


class NoneBackward(Tanh):
    def backward(self, dout):
        super().backward(dout)
        return None


class FlippedTanh(Tanh):
    def backward(self, dout):
        return -super().backward(dout)


class ForgetfulAffine(Affine):
    """Never stores dW (leaves the zeros)."""

    def backward(self, dout):
        W, x = self.params["W"], self.x
        self.grads["b"] = dout.sum(axis=0)
        self.grads["W"] = np.zeros_like(W)
        return dout @ W.T


class TransposedGradAffine(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"].T.copy()
        return dx


def _affine(rng, d, h):
    return Affine(rng.standard_normal((d, h)), rng.standard_normal(h))


# ---------------------------------------------------------------------------
# (a) un-summed bias
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 4])
def test_unsummed_bias_is_caught_and_explained(rng, n):
    layer = UnsummedBiasAffine(rng.standard_normal((3, 2)), rng.standard_normal(2))
    report = gradcheck(layer, rng.standard_normal((n, 3)))
    assert not report.ok
    assert report["x"].ok and report["W"].ok
    b = report["b"]
    assert not b.ok and b.kind == "param"
    assert [e.name for e in report.failures()] == ["b"]
    diag = b.diagnosis
    assert "b" in diag and "axis 0" in diag and "sum" in diag
    assert "np.sum(dout, axis=0)" in diag
    assert f"({n}, 2)" in diag and "(2,)" in diag
    # the check also tells that summing fixes it
    assert "summed that way it matches" in diag
    assert "FAIL" in str(report) and "axis 0" in str(report)


# ---------------------------------------------------------------------------
# (b) that wrong sigmoid inside a model
# ---------------------------------------------------------------------------


def test_sigmoid_from_dout_after_affine_fails_and_names_parameters(rng):
    model = Sequential(_affine(rng, 4, 3), SigmoidFromDout())
    assert list(model.layers) == ["affine1", "sigmoidfromdout1"]
    report = gradcheck(model, rng.standard_normal((5, 4)))
    assert not report.ok
    failing = {e.name for e in report.failures()}
    assert {"affine1.W", "affine1.b"} <= failing
    assert "x" in failing
    for name in ("affine1.W", "affine1.b"):
        assert report[name].kind == "param"
    assert "formula" in report["affine1.W"].diagnosis
    # the bias just before the sigmoid carries the sigmoid's local gradient: the slip is named there
    assert report["affine1.b"].codes == ["derivative-from-dout"]
    assert "from dout" in report["affine1.b"].diagnosis
    assert "affine1.W" in str(report)


def test_correct_sigmoid_in_same_model_passes(rng):
    model = Sequential(_affine(rng, 4, 3), Sigmoid(), _affine(rng, 3, 2))
    report = gradcheck(model, rng.standard_normal((5, 4)))
    assert report.ok, str(report)
    assert [e.name for e in report.entries] == ["x", "affine1.W", "affine1.b", "affine2.W", "affine2.b"]


# ---------------------------------------------------------------------------
# (c) off by the batch size
# ---------------------------------------------------------------------------


def test_loss_gradient_n_times_too_large(rng):
    n = 4
    x, t = rng.standard_normal((n, 3)), rng.integers(0, 3, n)
    report = gradcheck(NoMeanSoftmaxWithLoss(), x, t)
    assert not report.ok
    diag = report["x"].diagnosis
    assert "batch size" in diag and "too large" in diag and f"N={n}" in diag


def test_loss_gradient_one_over_n_twice(rng):
    n = 5
    report = gradcheck(DoubleMeanSoftmaxWithLoss(), rng.standard_normal((n, 3)),
                       rng.integers(0, 3, n))
    assert not report.ok
    diag = report["x"].diagnosis
    assert "batch size" in diag and "too small" in diag


def test_affine_weight_gradient_n_times_too_large(rng):
    n = 3
    layer = SumAffine(rng.standard_normal((4, 2)), rng.standard_normal(2))
    report = gradcheck(layer, rng.standard_normal((n, 4)))
    assert report["x"].ok and report["b"].ok
    assert not report["W"].ok
    assert "batch size" in report["W"].diagnosis


# ---------------------------------------------------------------------------
# (d) and other wrong backwards
# ---------------------------------------------------------------------------


def test_backward_returning_none(rng):
    report = gradcheck(NoneBackward(), rng.standard_normal((3, 2)))
    assert not report.ok
    assert not report["x"].ok
    assert "no gradient" in report["x"].diagnosis and "x" in report["x"].diagnosis


def test_flipped_sign(rng):
    report = gradcheck(FlippedTanh(), rng.standard_normal((3, 2)))
    assert not report.ok
    assert "sign" in report["x"].diagnosis


def test_gradient_never_stored(rng):
    report = gradcheck(ForgetfulAffine(rng.standard_normal((3, 2)), np.zeros(2)),
                       rng.standard_normal((4, 3)))
    assert report["x"].ok and report["b"].ok
    assert not report["W"].ok
    assert "all zeros" in report["W"].diagnosis


def test_gradient_of_wrong_shape(rng):
    report = gradcheck(TransposedGradAffine(rng.standard_normal((3, 2)), np.zeros(2)),
                       rng.standard_normal((4, 3)))
    assert not report["W"].ok
    assert "(2, 3)" in report["W"].diagnosis and "(3, 2)" in report["W"].diagnosis


def test_unused_input_is_reported():
    class IgnoresX(Module):
        def forward(self, x):
            return np.ones(3)

        def backward(self, dout):
            return np.ones(3)  # claims a gradient, but the output ignores x

    report = gradcheck(IgnoresX(), np.zeros(3))
    assert not report.ok
    assert "numerical gradient is zero" in report["x"].diagnosis


# ---------------------------------------------------------------------------
# the check leaves the user's module alone; randomness is replayed
# ---------------------------------------------------------------------------


def test_does_not_modify_float32_module(rng):
    model = Sequential(Affine.create(4, 3, rng, init="he"), ReLU(), BatchNorm(3),
                       Dropout(0.3, rng=np.random.default_rng(5)), Affine.create(3, 2, rng))
    before = {k: v.copy() for k, v in model.parameters().items()}
    arrays = {k: v for k, v in model.parameters().items()}
    bn = model["batchnorm1"]
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    state = copy.deepcopy(model["dropout1"].rng.bit_generator.state)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    x0 = x.copy()

    report = gradcheck(model, x)
    assert report.ok, str(report)

    params = model.parameters()
    assert params.keys() == before.keys()
    for k, v in params.items():
        assert v is arrays[k]
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, before[k])
    for g in model.gradients().values():
        assert g.dtype == np.float32
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
    assert model["dropout1"].rng.bit_generator.state == state
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, x0)
    assert model.training and all(m.training for _, m in model.named_modules())


def test_does_not_modify_float64_inputs(rng):
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    W = rng.standard_normal((4, 2))
    W0 = W.copy()
    gradcheck(Affine(W, np.zeros(2)), x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(W, W0)


def test_dropout_randomness_is_replayed(rng):
    model = Sequential(_affine(rng, 5, 6), Dropout(0.5, rng=np.random.default_rng(11)),
                       Tanh(), _affine(rng, 6, 3))
    report = gradcheck(model, rng.standard_normal((4, 5)))
    assert report.ok, str(report)
    assert model.generators().keys() == {"dropout1.rng"}


_OUTSIDE = np.random.default_rng(11)


def test_without_replay_dropout_would_fail(rng):
    """Guard: a generator the layer does not hold (a module-level one, which no copy of
    the layer resets) gives a new mask per evaluation, and the check then fails; so the
    replay is what makes the passing test above pass."""

    class OutsideRngDropout(Dropout):
        def forward(self, x):
            self.mask = (_OUTSIDE.random(x.shape) >= 0.5) / 0.5
            return x * self.mask

        def backward(self, dout):
            return dout * self.mask

    report = gradcheck(OutsideRngDropout(0.5), rng.standard_normal((4, 5)))
    assert not report.ok


def test_book_style_dropout_on_numpy_global_generator_is_replayed(rng):
    """Book 1's Dropout draws with np.random.rand: the global state is reset before each
    forward and restored afterwards."""

    class BookDropout:
        def __init__(self, dropout_ratio=0.5):
            self.dropout_ratio = dropout_ratio
            self.mask = None

        def forward(self, x, train_flg=True):
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask

        def backward(self, dout):
            return dout * self.mask

    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    report = gradcheck(BookDropout(), rng.standard_normal((4, 5)))
    assert report.ok, str(report)
    assert report.style == "book1"
    assert np.array_equal(np.random.get_state()[1], before)


# ---------------------------------------------------------------------------
# options and report
# ---------------------------------------------------------------------------


def test_explicit_dout_and_scalar_output(rng):
    layer = _affine(rng, 3, 2)
    x = rng.standard_normal((4, 3))
    assert gradcheck(layer, x, dout=np.ones((4, 2))).ok
    report = gradcheck(SoftmaxWithLoss(), rng.standard_normal((4, 3)), np.array([0, 1, 2, 0]))
    assert report.ok


def test_max_elements_samples_elements(rng):
    layer = UnsummedBiasAffine(rng.standard_normal((30, 20)), rng.standard_normal(20))
    report = gradcheck(layer, rng.standard_normal((6, 30)), max_elements=5)
    assert report["W"].ok and report["x"].ok
    assert not report["b"].ok


def test_integer_inputs_are_passed_through(rng):
    t = rng.integers(0, 3, 4)
    t0 = t.copy()
    report = gradcheck(SoftmaxWithLoss(), rng.standard_normal((4, 3)), t)
    assert [e.name for e in report.entries] == ["x"]
    np.testing.assert_array_equal(t, t0)


def test_report_lookup_and_text(rng):
    report = gradcheck(_affine(rng, 2, 2), rng.standard_normal((3, 2)))
    assert isinstance(report, GradReport)
    assert report.layer == "Affine"
    assert str(report).startswith("gradient check of Affine: PASS")
    assert report.failures() == []
    with pytest.raises(KeyError, match="'x', 'W', 'b'"):
        report["nope"]
    for e in report.entries:
        assert e.max_abs_err < 1e-7 and e.rel_err < 1e-5


def test_check_all_names_reports(rng):
    reports = check_all([
        ("good", lambda: (_affine(rng, 2, 2), (rng.standard_normal((3, 2)),))),
        ("bad", lambda: (UnsummedBiasAffine(rng.standard_normal((2, 2)), np.zeros(2)),
                         (rng.standard_normal((3, 2)),))),
    ])
    assert [r.layer for r in reports] == ["good", "bad"]
    assert [r.ok for r in reports] == [True, False]


@pytest.mark.parametrize("which", ["input", "param"])
def test_fortran_ordered_arrays(rng, which):
    W = rng.standard_normal((4, 3))
    x = rng.standard_normal((5, 4))
    if which == "input":
        x = np.asfortranarray(x)  # e.g. a transposed batch, x = data.T
    else:
        W = np.asfortranarray(W)  # e.g. a tied weight W = E.T
    report = gradcheck(Affine(W, np.zeros(3)), x)
    assert report.ok, str(report)
