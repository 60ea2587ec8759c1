"""Misuse of an optimizer or of gradient clipping is one clear InputError (issue 19):
hyper-parameters out of range, a gradient that does not fit its parameter (NumPy would
broadcast a (1,) gradient into a (3,) parameter silently), a max norm that is not a
finite positive number. Each message names the optimizer (or clip_grads) and the argument.

Every optimizer in ``OPTIMIZERS`` is covered; :func:`test_every_hyper_parameter_is_covered`
fails for a constructor argument no table below knows, so a new optimizer (or a new
argument) is covered by naming its range once.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zerokara.errors import InputError
from zerokara.layers.embedding import RowGrad
from zerokara.optim import OPTIMIZERS, SGD, Momentum, clip_grads, make_optimizer

#: arguments that must lie in [0, 1) (a decay: 1 would never forget, above 1 diverges)
RATES = {"momentum", "alpha", "beta1", "beta2"}
#: arguments that must be finite and > 0
POSITIVE = {"lr", "eps"}

NOT_NUMBERS = ["0.1", None, [0.1], np.array([0.1, 0.2]), True]
NON_POSITIVE = [0, -1, -1e-12, float("nan"), float("inf"), -float("inf")]
OUTSIDE_UNIT = [1, 1.0, 5, -0.1, 1.5, float("nan"), float("inf")]


def _args(cls) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _cases(kind: set[str]) -> list[tuple[str, str]]:
    return [(name, arg) for name, cls in OPTIMIZERS.items() for arg in _args(cls) if arg in kind]


def test_every_hyper_parameter_is_covered():
    for name, cls in OPTIMIZERS.items():
        unknown = set(_args(cls)) - RATES - POSITIVE
        assert not unknown, f"{name}: say the range of {sorted(unknown)} in RATES or POSITIVE here"


def _refused(name: str, arg: str, value: object) -> str:
    cls = OPTIMIZERS[name]
    with pytest.raises(InputError) as e:
        cls(**{arg: value})
    text = str(e.value)
    assert text.startswith(f"{cls.__name__}: {arg} expected "), text
    assert ", got " in text and "\n" not in text
    return text


# -- hyper-parameters ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,arg", _cases(POSITIVE))
@pytest.mark.parametrize("value", NON_POSITIVE + NOT_NUMBERS, ids=repr)
def test_lr_and_eps_must_be_finite_and_positive(name, arg, value):
    text = _refused(name, arg, value)
    assert "> 0 (a finite number)" in text


@pytest.mark.parametrize("name,arg", _cases(RATES))
@pytest.mark.parametrize("value", OUTSIDE_UNIT + NOT_NUMBERS, ids=repr)
def test_decays_must_lie_in_0_1(name, arg, value):
    text = _refused(name, arg, value)
    assert "in [0, 1)" in text


@pytest.mark.parametrize("name,arg", _cases(RATES))
@given(value=st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 <= v < 1))
def test_decays_outside_0_1_any_float(name, arg, value):
    _refused(name, arg, value)


@pytest.mark.parametrize("name,arg", _cases(POSITIVE))
@given(value=st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 < v < math.inf))
def test_lr_and_eps_not_positive_any_float(name, arg, value):
    _refused(name, arg, value)


@pytest.mark.parametrize("name,arg", _cases(RATES) + _cases(POSITIVE))
@given(value=st.floats(min_value=1e-6, max_value=0.999))
def test_values_in_range_are_accepted_and_kept(name, arg, value):
    opt = OPTIMIZERS[name](**{arg: value})
    assert getattr(opt, arg) == value


@pytest.mark.parametrize("value", [0, 0.0, np.float32(0.5), np.float64(0.9)], ids=repr)
def test_momentum_boundaries_and_numpy_scalars(value):
    assert Momentum(momentum=value).momentum == value


def test_exact_messages():
    with pytest.raises(InputError) as e:
        SGD(lr="0.1")
    assert str(e.value) == "SGD: lr expected > 0 (a finite number), got '0.1' (str)"
    with pytest.raises(InputError) as e:
        OPTIMIZERS["adam"](beta1=1)
    assert str(e.value) == "Adam: beta1 expected in [0, 1), got 1"


def test_make_optimizer_passes_the_check_on():
    with pytest.raises(InputError, match=r"^Adam: lr expected > 0"):
        make_optimizer("adam", -0.01)
    with pytest.raises(InputError, match=r"^optimizer: name expected one of"):
        make_optimizer(3, 0.1)


# -- gradients that do not fit ----------------------------------------------------------------
BAD_GRADS = [
    ((3,), np.zeros(1), r"expected shape \(3,\) \(the parameter's\), got \(1,\)"),
    ((3, 4), np.zeros((1, 4)), r"expected shape \(3, 4\) \(the parameter's\), got \(1, 4\)"),
    ((3, 4), np.zeros((4, 3)), r"expected shape \(3, 4\).*got \(4, 3\)"),
    ((3,), np.zeros(()), r"expected shape \(3,\).*got \(\)"),
    ((3,), [0.0, 0.0, 0.0], r"expected an array of shape \(3,\), got list"),
    ((3,), None, r"expected an array of shape \(3,\), got NoneType"),
    ((5, 2), RowGrad(np.array([1]), np.ones((1, 2)), (4, 2)), r"expected shape \(5, 2\).*got \(4, 2\)"),
]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("shape,g,message", BAD_GRADS, ids=[str(i) for i in range(len(BAD_GRADS))])
def test_gradient_of_another_shape_is_refused_and_nothing_moves(name, shape, g, message, rng):
    opt = make_optimizer(name, 0.1)
    params = {"a.W": rng.standard_normal((2, 2)), "b.W": rng.standard_normal(shape)}
    before = {k: v.copy() for k, v in params.items()}
    grads = {"a.W": np.ones((2, 2)), "b.W": g}
    cls = type(opt).__name__
    with pytest.raises(InputError, match=rf"^{cls}\.update: gradient of 'b\.W' {message}"):
        opt.update(params, grads)
    for k in params:  # refused before anything changed: a.W (first in order) did not move
        np.testing.assert_array_equal(params[k], before[k])
    assert opt.t == 0 and all(not bufs for bufs in opt.state.values())


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_missing_gradient_is_refused(name, rng):
    opt = make_optimizer(name, 0.1)
    params = {"affine1.W": rng.standard_normal((2, 2))}
    with pytest.raises(
        InputError, match=rf"^{type(opt).__name__}\.update: gradient of 'affine1\.W'.*'affine\.W'"
    ):
        opt.update(params, {"affine.W": np.ones((2, 2))})


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fitting_gradients_still_update(name, rng):
    opt = make_optimizer(name, 0.1)
    W = rng.standard_normal((4, 2))
    params = {"W": W, "E": rng.standard_normal((5, 2))}
    start = {k: v.copy() for k, v in params.items()}
    opt.update(params, {"W": np.ones((4, 2)), "E": RowGrad(np.array([1, 3]), np.ones((2, 2)), (5, 2))})
    assert opt.t == 1 and params["W"] is W and not np.allclose(params["W"], start["W"])
    np.testing.assert_array_equal(params["E"][[0, 2, 4]], start["E"][[0, 2, 4]])


# -- clipping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm", [-1, 0, 0.0, float("nan"), float("inf"), "1", None], ids=repr)
def test_clip_grads_max_norm_must_be_finite_and_positive(max_norm):
    g = {"w": np.ones(3)}
    with pytest.raises(InputError) as e:
        clip_grads(g, max_norm)
    text = str(e.value)
    assert text.startswith("clip_grads: max_norm expected > 0 (a finite number), got ") and "\n" not in text
    np.testing.assert_array_equal(g["w"], np.ones(3))


@given(max_norm=st.floats(min_value=1e-3, max_value=1e3))
def test_clip_grads_accepts_any_positive_norm(max_norm):
    g = {"w": np.full(4, 10.0)}
    total = clip_grads(g, max_norm)
    assert total == pytest.approx(20.0)
    assert np.linalg.norm(g["w"]) <= max(max_norm, 20.0) * (1 + 1e-6)
