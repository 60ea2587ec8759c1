"""Checking softmax and cross_entropy_error as book 1's common/functions.py writes them, alone and
as the pair its layers rest on.

Book 1's SoftmaxWithLoss.backward returns ``(softmax(x) - t) / N`` without differentiating either
function: that holds only for a softmax whose rows sum to 1 and a cross_entropy_error that takes the
mean over the batch, so ``check_loss_pair`` compares the numerical gradient of
``cross_entropy_error(softmax(x), t)`` with it. ``check_softmax`` also gives it large inputs
(x = [1000, 1010, 990]): exp(x) overflows unless the row max is subtracted first, book 1's
countermeasure. ``check_cross_entropy`` holds it to book 1's on labels and one-hot t, a batch and one
sample, and a probability of 0, where only the ``+ 1e-7`` floor inside the log keeps log(0) = -inf out.

``check_function(fn, name)`` picks the check from the book's name of the function: these, or an
activation or a derivative from :mod:`~zerokara.check.functions`. It is here, where both are seen,
so that the imports run one way. Every finding is a :class:`~zerokara.check.messages.Text`
(English and Japanese).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zerokara.check.functions import (
    ACTIVATIONS,
    BOTH,
    FIGURES,
    RAISED,
    Fn,
    FunctionCheck,
    call_on_copies,
    check_derivative,
    check_values,
    derivative_target,
    two_figures,
)
from zerokara.check.messages import Msg, Text
from zerokara.layers.losses import softmax as _softmax


def _cross_entropy_error(y: Any, t: Any) -> float:
    """Book 1's cross_entropy_error: labels or one-hot t, a batch or one sample, mean over the batch."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size)


# fmt: off
# the message table, one message a line or two (ruff would give each four)
UNKNOWN = Msg("no check for a function named {name}: known are {known}, d_tanh, sigmoid_grad, ... (any other "
              "derivative: check_derivative(d_fn, fn))",
              "{name} という名前の関数は確認できません。既知の名前: {known}、d_tanh、sigmoid_grad など"
              "(ほかの導関数は check_derivative(d_fn, fn) で)")
PASS_ALL = Msg("PASS: {name} passes all {n} checks", "一致: {name} は {n} 項目すべて合格です")
FAIL_SOME = Msg("FAIL: {name} fails {k} of {n} checks", "不一致: {name} は {n} 項目中 {k} 項目で不合格です")
CASE_RAISED = Msg("on {case} it raised {err}", "{case}で {err} が発生しました")
H_SOFTMAX = Msg("{name} against the reference softmax: a batch (N, C), a vector (C,), large inputs",
                "{name} を参照実装の softmax と比較: バッチ (N, C)、ベクトル (C,)、大きな入力")
SM_SHAPE = Msg("on {case} the output has shape {got}, expected {want}",
               "{case}で出力の形が {got} です(正しくは {want})")
SM_OVERFLOW = Msg("on {case} it gives {got}: exp(x) overflows",
                  "{case}で {got} になります(exp(x) の桁あふれ)")
SM_ROWS = Msg("on {case} the rows sum to {sums}, not 1", "{case}で各行の和が 1 でなく {sums} です")
SM_DIFF = Msg("on {case} the values differ from softmax by up to {err}",
              "{case}で softmax との差が最大 {err} です")
SM_FIX_MAX = Msg("subtract the row max before exp: np.exp(x - np.max(x, axis=-1, keepdims=True))",
                 "exp の前に各行の最大値を引きます: np.exp(x - np.max(x, axis=-1, keepdims=True))")
SM_FIX_SUM = Msg("divide each row by its own sum (axis=-1 serves a vector and a batch alike): "
                 "e / np.sum(e, axis=-1, keepdims=True)",
                 "各行をその行の和で割ります(axis=-1 ならベクトルにもバッチにも使えます): "
                 "e / np.sum(e, axis=-1, keepdims=True)")
H_CE = Msg("{name} against book 1's cross_entropy_error: labels and one-hot t, batch and single, "
           "a zero probability", "{name} を本 1 の cross_entropy_error と比較: ラベルと one-hot の t、"
           "バッチと 1 件、確率 0")
CE_DIFF = Msg("with {case} it gives {got}, expected {want}", "{case}で {got} になります(正しくは {want})")
CE_ZERO = Msg("with {case} it gives {got}: log(0) = -inf", "{case}で {got} になります: log(0) = -inf")
CE_FIX_LOG = Msg("add a small constant inside the log: np.log(y + 1e-7)",
                 "log の中に小さな値を足します: np.log(y + 1e-7)")
CE_FIX_BATCH = Msg("divide by the batch size: ... / batch_size", "バッチサイズで割ります: ... / batch_size")
CE_FIX_LABELS = Msg("with labels t, take each row's probability of its class: y[np.arange(batch_size), t]",
                    "ラベルの t では各行の正解クラスの確率を取ります: y[np.arange(batch_size), t]")
CE_FIX_ONEHOT = Msg("turn one-hot t into labels first: if t.size == y.size: t = t.argmax(axis=1)",
                    "one-hot の t を先にラベルに直します: if t.size == y.size: t = t.argmax(axis=1)")
CE_FIX_SINGLE = Msg("treat one sample as a batch of one: if y.ndim == 1: t = t.reshape(1, t.size); "
                    "y = y.reshape(1, y.size)", "1 件はバッチ 1 件として扱います: if y.ndim == 1: "
                    "t = t.reshape(1, t.size); y = y.reshape(1, y.size)")
H_PAIR = Msg("numerical gradient of {name} with respect to x against ({softmax}(x) - t) / N (N = {n}), "
             "as SoftmaxWithLoss's backward assumes", "{name} の x についての数値微分と "
             "({softmax}(x) - t) / N(N = {n})を比較(SoftmaxWithLoss の backward の前提)")
PASS_PAIR = Msg("PASS: the gradient is ({softmax}(x) - t) / N to {err}",
                "一致: 勾配は ({softmax}(x) - t) / N と一致します(誤差 {err})")
FAIL_PAIR = Msg("FAIL: the gradient differs from ({softmax}(x) - t) / N by up to {err}",
                "不一致: 勾配と ({softmax}(x) - t) / N の差が最大 {err} です")
PAIR_SUMS = Msg("{softmax}'s rows sum to {sums}, not 1: (y - t) / N holds only for a normalised softmax",
                "{softmax} の各行の和が 1 でなく {sums} です: (y - t) / N は和が 1 のときだけ成り立ちます")
PAIR_N = Msg("the gradient is N times (y - t) / N: {ce} does not divide by the batch size",
             "勾配が (y - t) / N の N 倍です: {ce} がバッチサイズで割っていません")
CASES = {
    "batch": BOTH(en="a batch (4, 5)", ja="バッチ (4, 5) "),
    "vector": BOTH(en="a vector (5,)", ja="ベクトル (5,) "),
    "large": BOTH(en="x = [1000, 1010, 990]", ja="x = [1000, 1010, 990] "),
    "large_batch": BOTH(en="a batch of large rows [[1000, 1010, 990], [-1000, -990, -1010]]",
                        ja="大きな値の行のバッチ [[1000, 1010, 990], [-1000, -990, -1010]] "),
    "batch_labels": BOTH(en="a batch and labels t (4,)", ja="バッチとラベル t (4,) "),
    "batch_onehot": BOTH(en="a batch and one-hot t (4, 5)", ja="バッチと one-hot の t (4, 5) "),
    "single_labels": BOTH(en="one y (5,) and its label t", ja="1 件の y (5,) とラベル t "),
    "single_onehot": BOTH(en="one y (5,) and one-hot t (5,)", ja="1 件の y (5,) と one-hot の t (5,) "),
    "zero": BOTH(en="a probability of 0", ja="確率 0 の入力"),
}
_REFERENCES: dict[str, Fn] = {k: v[0] for k, v in ACTIVATIONS.items()}
_REFERENCES |= {"softmax": _softmax, "cross_entropy_error": _cross_entropy_error}
# fmt: on


def known_function(name: str) -> Fn | None:
    """The reference function of that book name; for a derivative's name, the reference derivative."""
    if name in _REFERENCES:
        return _REFERENCES[name]
    target = derivative_target(name)
    return ACTIVATIONS[target][1] if target in ACTIVATIONS else None


def _arr(a: Any) -> str:
    flat = np.ravel(a)
    return "[" + ", ".join(f"{v:.4g}" for v in flat[:8]) + (", ...]" if flat.size > 8 else "]")


def _softmax_case(fn: Fn, x: np.ndarray, case: Text) -> list[Text]:
    y, err = call_on_copies(lambda v: np.asarray(fn(v), dtype=np.float64), x)
    if err:
        return [CASE_RAISED(case=case, err=err), SM_FIX_SUM()]
    if y.shape != x.shape:
        return [SM_SHAPE(case=case, got=y.shape, want=x.shape), SM_FIX_SUM()]
    if not np.isfinite(y).all():
        return [SM_OVERFLOW(case=case, got=_arr(y)), SM_FIX_MAX()]
    if not np.allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-6):
        return [SM_ROWS(case=case, sums=_arr(y.sum(axis=-1))), SM_FIX_SUM()]
    gap = float(np.abs(y - _softmax(x.copy())).max())
    return [SM_DIFF(case=case, err=two_figures(gap))] if gap > 1e-9 else []


def check_softmax(fn: Fn, *, name: str = "softmax") -> FunctionCheck:
    """Rows sum to 1 and match the reference for a (N, C) batch and a (C,) vector, and stay finite for
    large inputs (book 1 subtracts the max before exp)."""
    xb = np.random.default_rng(0).standard_normal((4, 5)) * 3
    large = np.array([[1000.0, 1010.0, 990.0], [-1000.0, -990.0, -1010.0]])
    inputs = {"batch": xb, "vector": xb[1].copy(), "large": large[0].copy(), "large_batch": large}
    res = FunctionCheck(name, "softmax", False, header=H_SOFTMAX(name=name))
    failed = 0
    for key, x in inputs.items():
        found = _softmax_case(fn, x, CASES[key])
        failed += bool(found)
        res.lines += [t for t in found if t not in res.lines]
    res.ok = failed == 0
    res.verdict = (PASS_ALL if res.ok else FAIL_SOME)(name=name, n=len(inputs), k=failed)
    return res


def check_cross_entropy(fn: Fn, *, name: str = "cross_entropy_error") -> FunctionCheck:
    """Against book 1's cross_entropy_error on labels and one-hot t, a batch and one sample (the mean over
    the batch), and finite when a probability is 0 (its ``+ 1e-7`` inside the log)."""
    y = _softmax(np.random.default_rng(1).standard_normal((4, 5)))
    labels = np.array([1, 0, 4, 2])
    onehot = np.eye(5)[labels]
    cases = [
        ("batch_labels", y, labels, CE_FIX_LABELS),
        ("batch_onehot", y, onehot, CE_FIX_ONEHOT),
        ("single_labels", y[2].copy(), np.int64(labels[2]), CE_FIX_SINGLE),
        ("single_onehot", y[2].copy(), onehot[2].copy(), CE_FIX_SINGLE),
    ]
    res = FunctionCheck(name, "cross_entropy_error", False, header=H_CE(name=name))
    hints: list[Text] = []
    for key, yy, t, hint in cases:
        got, err = call_on_copies(lambda *a: float(fn(*a)), yy, t)
        want = _cross_entropy_error(yy, t)
        if err:
            res.lines.append(CASE_RAISED(case=CASES[key], err=err))
        elif not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-6):
            res.lines.append(CE_DIFF(case=CASES[key], got=f"{got:.6g}", want=f"{want:.6g}"))
            if yy.ndim == 2 and math.isclose(got, want * len(yy), rel_tol=1e-4):
                hint = CE_FIX_BATCH
        else:
            continue
        hints.append(hint())
    got, err = call_on_copies(
        lambda *a: float(fn(*a)), np.array([[0.0, 0.3, 0.7], [0.2, 0.8, 0.0]]), np.eye(3)[[0, 1]]
    )
    if err or not math.isfinite(got):
        zero = CASES["zero"]
        res.lines.append(CASE_RAISED(case=zero, err=err) if err else CE_ZERO(case=zero, got=got))
        hints.append(CE_FIX_LOG())
    failed = len(res.lines)
    res.lines += [h for i, h in enumerate(hints) if h not in hints[:i]]
    res.ok = failed == 0
    res.verdict = (PASS_ALL if res.ok else FAIL_SOME)(name=name, n=len(cases) + 1, k=failed)
    return res


def check_loss_pair(
    softmax_fn: Fn, ce_fn: Fn, *, softmax_name: str = "softmax", ce_name: str = "cross_entropy_error"
) -> FunctionCheck:
    """The numerical gradient of ``ce(softmax(x), t)`` with respect to x equals ``(softmax(x) - t) / N``:
    what book 1's SoftmaxWithLoss.backward returns without differentiating either function."""
    rng = np.random.default_rng(2)
    N, C, h = 3, 4, 1e-5
    x = rng.standard_normal((N, C))
    t = np.eye(C)[rng.integers(0, C, N)]
    name = f"{ce_name}({softmax_name}(x), t)"
    res = FunctionCheck(name, "SoftmaxWithLoss", False, header=H_PAIR(name=name, softmax=softmax_name, n=N))

    def gradient(x: np.ndarray) -> np.ndarray:
        num = np.zeros_like(x)
        for ix in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[ix] += h
            xm[ix] -= h
            num[ix] = (float(ce_fn(softmax_fn(xp), t.copy())) - float(ce_fn(softmax_fn(xm), t.copy()))) / (
                2 * h
            )
        return num

    y, err = call_on_copies(lambda v: np.asarray(softmax_fn(v), dtype=np.float64) - t, x)
    num, err = (None, err) if err else call_on_copies(gradient, x)
    if err or y is None or num is None:
        res.verdict = RAISED(name=name, err=err)
        return res
    want = y / N
    diff = np.abs(num - want)
    with np.errstate(all="ignore"):
        res.max_abs_err = float(diff.max())
        res.max_rel_err = float((diff / np.maximum(np.maximum(abs(num), abs(want)), 1e-12)).max())
    res.ok = bool(np.all(diff <= 1e-6 + 1e-5 * np.abs(want)))
    res.figures = FIGURES(abs=two_figures(res.max_abs_err), rel=two_figures(res.max_rel_err))
    res.verdict = (PASS_PAIR if res.ok else FAIL_PAIR)(softmax=softmax_name, err=two_figures(res.max_abs_err))
    if not res.ok:
        if not np.allclose((y + t).sum(axis=-1), 1.0, atol=1e-6):
            res.lines.append(PAIR_SUMS(softmax=softmax_name, sums=_arr((y + t).sum(axis=-1))))
        elif np.allclose(num, want * N, rtol=1e-4, atol=1e-6):
            res.lines.append(PAIR_N(ce=ce_name))
    return res


def check_function(fn: Fn, name: str) -> FunctionCheck:
    """The check for the function of that book name: softmax, cross_entropy_error, an activation (its
    values against the reference) or a derivative (``d_tanh``: against the numerical derivative)."""
    if name == "softmax":
        return check_softmax(fn, name=name)
    if name == "cross_entropy_error":
        return check_cross_entropy(fn, name=name)
    if name in ACTIVATIONS:
        return check_values(fn, ACTIVATIONS[name][0], name=name, of_name=name)
    target = derivative_target(name)
    if target in ACTIVATIONS:
        return check_derivative(fn, ACTIVATIONS[target][0], name=name, of_name=target)
    return FunctionCheck(name, None, False, verdict=UNKNOWN(name=name, known=", ".join(_REFERENCES)))
