"""Checking plain functions as the course's exercises and book 1's common/functions.py write them:
the activations and their derivatives, on a grid of x.

``check_derivative(d_tanh, np.tanh)`` compares a hand-written derivative with the central
difference of the function on a grid of x and says where they disagree; ``check_values(fn, ref)``
compares an activation with its reference the same way. Softmax, cross-entropy and the pair book 1's
layers rely on, and ``check_function(fn, name)``, which picks the check from the book's name of the
function, are in :mod:`~zerokara.check.loss_functions`.

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

Fn = Callable[..., Any]


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
BOTH = Msg("{en}", "{ja}")  # a text put together apart in each language
_NOTHING = Msg("", "")
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


def two_figures(v: float) -> str:
    return f"{float(v):.2g}"


def _err(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return text if len(text) <= 90 else text[:87] + "..."


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
    return BOTH(en=en, ja=ja)


def call_on_copies(fn: Fn, *args: Any) -> tuple[Any, str | None]:
    """fn on copies of the args (it may write into them): (its result, None) or (None, its error)."""
    try:
        with np.errstate(all="ignore"):
            return fn(*(a.copy() if isinstance(a, np.ndarray) else a for a in args)), None
    except Exception as e:  # noqa: BLE001 - the reader's function may fail any way; it is reported
        return None, _err(e)


def _evaluate(f: Fn, x: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """f on the whole array, else one x at a time: (values or None if f fails, the array call's error)."""
    out, first = call_on_copies(
        lambda v: np.broadcast_to(np.asarray(f(v), dtype=np.float64), x.shape).copy(), x
    )
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
    res.figures = FIGURES(abs=two_figures(res.max_abs_err), rel=two_figures(res.max_rel_err))
    big = float(np.abs(want[fin]).max(initial=0.0)) > 1  # errors of large values are relative
    err = RELATIVE(err=two_figures(res.max_rel_err)) if big else two_figures(res.max_abs_err)
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
