"""Checking plain functions as the course's exercises and book 1's common/functions.py write them.

``check_derivative(d_tanh, np.tanh)`` compares a hand-written derivative with the central
difference of the function on a grid of x and says where they disagree; ``check_softmax``,
``check_cross_entropy`` and ``check_loss_pair`` hold softmax and cross-entropy to what book 1's
layers rely on; ``check_function(fn, name)`` picks the check from the book's name of the function.

Where the function has a kink or a jump (relu and step_function at 0) it has no derivative:
such points are found from the one-sided differences, left out and named in the report.
Every finding is a :class:`~zerokara.check.messages.Text` (English and Japanese).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerokara.check.messages import Msg, Text
from zerokara.layers.core import sigmoid as _sigmoid
from zerokara.layers.losses import softmax as _softmax

Fn = Callable[..., Any]


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
H_GRID = Msg("{name} against {against} over [{lo}, {hi}] ({points} points)",
             "{name} と{against}を比較([{lo}, {hi}]、{points} 点)")
NUMERICAL_OF = Msg("the numerical derivative of {of}", " {of} の数値微分")
REFERENCE_OF = Msg("the reference {of}", "参照実装の {of} ")
DERIVATIVE_OF = Msg("{of}'s derivative", "{of} の導関数")
NUMERICAL = Msg("the numerical derivative", "数値微分")
FIGURES = Msg("max abs error {abs}, max relative error {rel}", "最大絶対誤差 {abs}、最大相対誤差 {rel}")
PASS_GRID = Msg("PASS: {name} agrees with {target} to {err} everywhere in [{lo}, {hi}]{left_out}",
                "一致: {name} は [{lo}, {hi}] の全域で {target}と一致します(誤差 {err}){left_out}")
FAIL_GRID = Msg("FAIL: {name} disagrees with {target} at {count} of {points} points",
                "不一致: {name} は {points} 点中 {count} 点で {target}と一致しません")
RELATIVE = Msg("{err} relative", "相対 {err}")
SKIPPED = Msg(" except the points left out below", "(下記の除外点を除く)")
WHERE = Msg("they disagree at x in {runs}", "一致しない範囲: x ∈ {runs}")
WORST = Msg("worst at x = {x}: {name} gives {got}, {other} gives {want}",
            "最大のずれは x = {x}: {name} は {got}、{other}は {want}")
NOT_FINITE = Msg("{name} gives {what} at x in {runs} (overflow?)",
                 "{name} は x ∈ {runs} で {what} になります(オーバーフロー?)")
LEFT_OUT = Msg("x in {runs} left out: {of} has no derivative there ({why})",
               "x ∈ {runs} は除外: {of} はそこで微分できません({why})")
KINK = Msg("a kink or a jump", "折れ曲がりか跳び")
UNDEFINED = Msg("it is not finite: overflow", "値が有限でない: オーバーフロー")
OUTPUT_FORM = Msg("{name} agrees when given the output y = {of}(x) instead of x: it is written in terms "
                  "of the output, as a layer's backward uses self.out",
                  "{name} は x でなく出力 y = {of}(x) を渡すと一致します: backward が self.out で"
                  "計算するときの、出力で書いた式です")
WRITE = Msg("write: {code}", "こう書きます: {code}")
RAISED = Msg("FAIL: {name} raised {err}", "不一致: {name} で {err} が発生しました")
ONE_AT_A_TIME = Msg("{name} does not take a whole array ({err}): it was called one x at a time",
                    "{name} は配列をそのまま受け取れない({err})ため、x を 1 つずつ渡しました")
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
_BOTH = Msg("{en}", "{ja}")  # a text put together apart in each language
_NOTHING = Msg("", "")
CASES = {
    "batch": _BOTH(en="a batch (4, 5)", ja="バッチ (4, 5) "),
    "vector": _BOTH(en="a vector (5,)", ja="ベクトル (5,) "),
    "large": _BOTH(en="x = [1000, 1010, 990]", ja="x = [1000, 1010, 990] "),
    "large_batch": _BOTH(en="a batch of large rows [[1000, 1010, 990], [-1000, -990, -1010]]",
                         ja="大きな値の行のバッチ [[1000, 1010, 990], [-1000, -990, -1010]] "),
    "batch_labels": _BOTH(en="a batch and labels t (4,)", ja="バッチとラベル t (4,) "),
    "batch_onehot": _BOTH(en="a batch and one-hot t (4, 5)", ja="バッチと one-hot の t (4, 5) "),
    "single_labels": _BOTH(en="one y (5,) and its label t", ja="1 件の y (5,) とラベル t "),
    "single_onehot": _BOTH(en="one y (5,) and one-hot t (5,)", ja="1 件の y (5,) と one-hot の t (5,) "),
    "zero": _BOTH(en="a probability of 0", ja="確率 0 の入力"),
}
#: activation -> (the reference, its derivative, the line to write for each)
ACTIVATIONS: dict[str, tuple[Fn, Fn, str, str]] = {
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
                "return 1 / (1 + np.exp(-x))", "return sigmoid(x) * (1 - sigmoid(x))"),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2, "return np.tanh(x)", "return 1 / np.cosh(x) ** 2"),
    "relu": (lambda x: np.maximum(0, x), lambda x: (np.asarray(x) > 0).astype(float),
             "return np.maximum(0, x)", "return (x > 0).astype(float)"),
    "step_function": (lambda x: np.array(x > 0, dtype=int), np.zeros_like,
                      "return np.array(x > 0, dtype=int)", "return np.zeros_like(x)"),
    "identity_function": (lambda x: x, np.ones_like, "return x", "return np.ones_like(x)"),
}
_REFERENCES: dict[str, Fn] = {k: v[0] for k, v in ACTIVATIONS.items()}
_REFERENCES |= {"softmax": _softmax, "cross_entropy_error": _cross_entropy_error}
_DERIVATIVE_NAMES = {"d_tanh": "tanh", "d_tann": "tanh", "tanh_grad": "tanh", "dtanh": "tanh",
                     "d_sigmoid": "sigmoid", "sigmoid_grad": "sigmoid", "dsigmoid": "sigmoid",
                     "d_relu": "relu", "relu_grad": "relu", "drelu": "relu"}
# fmt: on


def derivative_target(name: str) -> str | None:
    """The function a derivative's name belongs to (``d_tanh``, ``sigmoid_grad``: tanh, sigmoid), or None."""
    if name in _DERIVATIVE_NAMES:
        return _DERIVATIVE_NAMES[name]
    base = name
    for prefix in ("derivative_", "grad_", "d_"):
        base = base.removeprefix(prefix)
    for suffix in ("_derivative", "_grad"):
        base = base.removesuffix(suffix)
    return base if base and base != name else None


def known_function(name: str) -> Fn | None:
    """The reference function of that book name; for a derivative's name, the reference derivative."""
    if name in _REFERENCES:
        return _REFERENCES[name]
    target = derivative_target(name)
    return ACTIVATIONS[target][1] if target in ACTIVATIONS else None


@dataclass
class FunctionCheck:
    """The check of one function: ``ok``, the figures, and each finding in both languages."""

    name: str
    of: str | None  # the function checked against
    ok: bool
    lines: list[Text] = field(default_factory=list)
    header: Text | None = None
    figures: Text | None = None
    verdict: Text | None = None
    max_abs_err: float = math.nan
    max_rel_err: float = math.nan
    where: list[tuple[float, float]] = field(default_factory=list)  # x intervals where they disagree
    worst_x: float | None = None
    skipped: list[float] = field(default_factory=list)  # x left out: kinks and jumps of the function

    def render(self, lang: str = "en") -> str:
        out = [self.header.render(lang)] if self.header else []
        out += ["  " + self.figures.render(lang)] if self.figures else []
        out += [self.verdict.render(lang)] if self.verdict else []
        return "\n".join(out + ["  " + t.render(lang) for t in self.lines])


def _x(v: float) -> str:
    return f"{round(float(v), 10) + 0.0:.4g}"


def _g(v: float) -> str:
    return f"{float(v):.2g}"


def _err(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return text if len(text) <= 90 else text[:87] + "..."


def _arr(a: Any) -> str:
    flat = np.ravel(a)
    return "[" + ", ".join(f"{v:.4g}" for v in flat[:8]) + (", ...]" if flat.size > 8 else "]")


def _runs(x: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """The runs of consecutive True in mask, as (first x, last x)."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    cut = np.flatnonzero(np.diff(idx) > 1)
    starts, ends = np.r_[idx[0], idx[cut + 1]], np.r_[idx[cut], idx[-1]]
    return [(float(x[a]), float(x[b])) for a, b in zip(starts, ends, strict=True)]


def _runs_text(runs: list[tuple[float, float]], most: int = 4) -> Text:
    parts = [f"[{_x(a)}, {_x(b)}]" if a != b else "{" + _x(a) + "}" for a, b in runs[:most]]
    en = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    ja = "、".join(parts)
    if len(runs) > most:
        en, ja = en + f" and {len(runs) - most} more", ja + f" ほか {len(runs) - most} か所"
    return _BOTH(en=en, ja=ja)


def _call(fn: Fn, *args: Any) -> tuple[Any, str | None]:
    """fn on copies of the args (it may write into them): (its result, None) or (None, its error)."""
    try:
        with np.errstate(all="ignore"):
            return fn(*(a.copy() if isinstance(a, np.ndarray) else a for a in args)), None
    except Exception as e:  # noqa: BLE001 - the reader's function may fail any way; it is reported
        return None, _err(e)


def _evaluate(f: Fn, x: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """f on the whole array, else one x at a time: (values or None if f fails, the array call's error)."""
    out, first = _call(lambda v: np.broadcast_to(np.asarray(f(v), dtype=np.float64), x.shape).copy(), x)
    if first is None:
        return out, None
    values = []
    with np.errstate(all="ignore"):
        for v in x:
            try:
                values.append(float(f(float(v))))
            except (OverflowError, ZeroDivisionError):  # math.exp(1000): reported as not finite
                values.append(math.nan)
            except Exception as e:  # noqa: BLE001 - reported as the failure of the function
                return None, _err(e)
        return np.array(values), first


def _compare(res: FunctionCheck, x: np.ndarray, got: np.ndarray, want: np.ndarray, **how: Any) -> np.ndarray:
    """Fill res's figures, verdict and findings from got against want at x, except at ``how['skip']``;
    ``how`` also holds rtol, atol and the message fields. Returns where they disagree."""
    skip, tol = how["skip"], how["atol"] + how["rtol"] * np.abs(want)
    with np.errstate(all="ignore"):
        diff = np.abs(got - want)
        bad, inf = ~skip & ~(diff <= tol), ~skip & ~np.isfinite(got)
        fin = ~skip & ~inf
        scale = np.maximum(np.abs(got), np.abs(want))
        rel = np.where(scale > how["atol"], diff / np.where(scale > 0, scale, 1), 0.0)
    res.max_abs_err = math.inf if inf.any() else float(diff[fin].max(initial=0.0))
    res.max_rel_err = math.inf if inf.any() else float(rel[fin].max(initial=0.0))
    res.ok, res.where = not bad.any(), _runs(x, bad)
    res.figures = FIGURES(abs=_g(res.max_abs_err), rel=_g(res.max_rel_err))
    big = float(np.abs(want[fin]).max(initial=0.0)) > 1  # errors of large values are relative
    err = RELATIVE(err=_g(res.max_rel_err)) if big else _g(res.max_abs_err)
    fields = {**how, "name": res.name, "count": int(bad.sum()), "err": err}
    res.verdict = (FAIL_GRID if bad.any() else PASS_GRID)(
        **fields, left_out=(SKIPPED if skip.any() else _NOTHING)()
    )
    if inf.any():
        what = "/".join(sorted({str(v) for v in got[inf]}))
        res.lines.append(NOT_FINITE(name=res.name, what=what, runs=_runs_text(_runs(x, inf))))
    if bad.any():
        res.lines.append(WHERE(runs=_runs_text(res.where)))
        i = int(np.argmax(np.where(bad & fin, diff, -1.0))) if (bad & fin).any() else int(np.argmax(inf))
        res.worst_x = float(x[i])
        res.lines.append(WORST(x=_x(x[i]), got=f"{got[i]:.6g}", want=f"{want[i]:.6g}", **fields))
    return bad


def check_derivative(
    d_fn: Fn, fn: Fn, *, name: str = "d_fn", of_name: str = "fn", lo: float = -6.0, hi: float = 6.0,
    points: int = 241, rtol: float = 1e-6, atol: float = 1e-8,
) -> FunctionCheck:  # fmt: skip
    """``d_fn`` against the numerical derivative of ``fn`` on ``points`` x in [lo, hi] (float64).

    Central differences with steps h and h/2, h = 1e-5 relative to |x| (at least 1e-5), combined by
    Richardson extrapolation: truncation error O(h**4), rounding error near 1e-10, both far inside
    ``rtol``/``atol``. Where ``fn``'s one-sided differences disagree (a kink or a jump within a step
    of x: relu at 0) there is no derivative and the point is left out; where ``fn`` is not finite too.
    ``d_fn`` and ``fn`` are called on the whole array, or one x at a time if that fails.
    """
    x = np.linspace(lo, hi, points, dtype=np.float64)
    step = 1e-5 * np.maximum(1.0, np.abs(x))
    how = {"lo": _x(lo), "hi": _x(hi), "points": points, "rtol": rtol, "atol": atol, "of": of_name}
    how |= {"target": DERIVATIVE_OF(of=of_name), "other": NUMERICAL()}
    res = FunctionCheck(
        name, of_name, False, header=H_GRID(name=name, against=NUMERICAL_OF(of=of_name), **how)
    )
    at = [x, x + step, x - step, x + step / 2, x - step / 2]
    evals = [_evaluate(fn, v) for v in at]
    got, err = _evaluate(d_fn, x)
    if got is None or any(v is None for v, _ in evals):
        fn_err = next((e for v, e in evals if v is None), None)
        res.verdict = RAISED(name=name, err=err) if got is None else RAISED(name=of_name, err=fn_err)
        return res
    if err:
        res.lines.append(ONE_AT_A_TIME(name=name, err=err))
    f0, fp, fm, fp2, fm2 = (np.asarray(v) for v, _ in evals)
    with np.errstate(all="ignore"):  # Richardson: (4 D(h/2) - D(h)) / 3 cancels the h**2 error term
        num = (4 * (fp2 - fm2) / (at[3] - at[4]) - (fp - fm) / (at[1] - at[2])) / 3
        right, left = (fp - f0) / (at[1] - x), (f0 - fm) / (x - at[2])
        undefined = ~np.isfinite(num) | ~np.isfinite(f0)
        kink = ~undefined & (np.abs(right - left) > 1e-2 * np.maximum(1.0, np.maximum(abs(left), abs(right))))
    res.skipped = [float(v) for v in x[kink]]
    for mask, why in ((undefined, UNDEFINED), (kink, KINK)):
        if mask.any():
            res.lines.append(LEFT_OUT(runs=_runs_text(_runs(x, mask)), of=of_name, why=why()))
    _compare(res, x, got, num, skip=undefined | kink, **how)
    if not res.ok:  # is it the derivative written with the output y = fn(x), as backward has it?
        on_output, _ = _evaluate(d_fn, f0)
        probe = FunctionCheck(name, of_name, False)
        if (
            on_output is not None
            and not _compare(probe, x, on_output, num, skip=undefined | kink, **how).any()
        ):
            res.lines.append(OUTPUT_FORM(name=name, of=of_name))
        if of_name in ACTIVATIONS:
            res.lines.append(WRITE(code=ACTIVATIONS[of_name][3]))
    return res


def check_values(
    fn: Fn, ref: Fn, *, name: str = "fn", of_name: str = "ref", lo: float = -6.0, hi: float = 6.0,
    points: int = 241, rtol: float = 1e-6, atol: float = 1e-8,
) -> FunctionCheck:  # fmt: skip
    """``fn`` against ``ref`` on ``points`` x in [lo, hi] (float64); where ref is not finite is left out."""
    x = np.linspace(lo, hi, points, dtype=np.float64)
    how = {"lo": _x(lo), "hi": _x(hi), "points": points, "rtol": rtol, "atol": atol, "of": of_name}
    how |= {"target": REFERENCE_OF(of=of_name), "other": REFERENCE_OF(of=of_name)}
    res = FunctionCheck(
        name, of_name, False, header=H_GRID(name=name, against=REFERENCE_OF(of=of_name), **how)
    )
    want, ref_err = _evaluate(ref, x)
    got, err = _evaluate(fn, x)
    if want is None or got is None:
        res.verdict = RAISED(name=name, err=err) if got is None else RAISED(name=of_name, err=ref_err)
        return res
    if err:
        res.lines.append(ONE_AT_A_TIME(name=name, err=err))
    _compare(res, x, got, want, skip=~np.isfinite(want), **how)
    if not res.ok and of_name in ACTIVATIONS:
        res.lines.append(WRITE(code=ACTIVATIONS[of_name][2]))
    return res


def _softmax_case(fn: Fn, x: np.ndarray, case: Text) -> list[Text]:
    y, err = _call(lambda v: np.asarray(fn(v), dtype=np.float64), x)
    if err:
        return [CASE_RAISED(case=case, err=err), SM_FIX_SUM()]
    if y.shape != x.shape:
        return [SM_SHAPE(case=case, got=y.shape, want=x.shape), SM_FIX_SUM()]
    if not np.isfinite(y).all():
        return [SM_OVERFLOW(case=case, got=_arr(y)), SM_FIX_MAX()]
    if not np.allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-6):
        return [SM_ROWS(case=case, sums=_arr(y.sum(axis=-1))), SM_FIX_SUM()]
    gap = float(np.abs(y - _softmax(x.copy())).max())
    return [SM_DIFF(case=case, err=_g(gap))] if gap > 1e-9 else []


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
        got, err = _call(lambda *a: float(fn(*a)), yy, t)
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
    got, err = _call(
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

    y, err = _call(lambda v: np.asarray(softmax_fn(v), dtype=np.float64) - t, x)
    num, err = (None, err) if err else _call(gradient, x)
    if err or y is None or num is None:
        res.verdict = RAISED(name=name, err=err)
        return res
    want = y / N
    diff = np.abs(num - want)
    with np.errstate(all="ignore"):
        res.max_abs_err = float(diff.max())
        res.max_rel_err = float((diff / np.maximum(np.maximum(abs(num), abs(want)), 1e-12)).max())
    res.ok = bool(np.all(diff <= 1e-6 + 1e-5 * np.abs(want)))
    res.figures = FIGURES(abs=_g(res.max_abs_err), rel=_g(res.max_rel_err))
    res.verdict = (PASS_PAIR if res.ok else FAIL_PAIR)(softmax=softmax_name, err=_g(res.max_abs_err))
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
