"""``zerokara check FILE.py``: every layer class and checkable function of a reader's file,
checked, and the table that ends the output (one row per class)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zerokara.check import adapt, source
from zerokara.check.findings import Finding
from zerokara.check.layer import LayerResult, check_layer
from zerokara.check.messages import Msg, pad


@dataclass
class FileResult:
    """Every layer (and derivative function) of a file, checked."""

    path: str
    layers: list[LayerResult] = field(default_factory=list)
    functions: list[Any] = field(default_factory=list)  # FunctionCheck results

    @property
    def status(self) -> int:
        """0 all pass, 1 a gradient is wrong, 2 something could not be checked."""
        if any(r.status == "error" for r in self.layers):
            return 2
        if any(r.status == "fail" for r in self.layers) or any(not f.ok for f in self.functions):
            return 1
        return 0


VERDICTS = {"pass": Msg("PASS", "合格"), "fail": Msg("FAIL", "不合格"), "error": Msg("ERROR", "エラー")}
SUMMARY = Msg(
    "{path}: {n} checked: {passed} pass, {failed} fail, {errors} error",
    "{path}: {n} 件をチェック: 合格 {passed}、不合格 {failed}、エラー {errors}",
)
LINES = Msg("line {n}", "{n} 行目")
HEADS = Msg("class|style|verdict|what was found", "クラス|書き方|判定|見つかったこと")


def table(result: FileResult, lang: str = "en") -> str:
    """One row per class: its style, verdict and the mistakes named (with their lines)."""
    h = HEADS.format(lang).split("|")
    width = max([24] + [len(r.name) + 1 for r in result.layers] + [len(f.name) + 1 for f in result.functions])

    def row(name: str, style: str, verdict: str, what: str) -> str:
        return f"{pad(name, width)} {pad(style, 7)} {pad(verdict, 7)} {what}"

    rows = [row(*h)]
    for r in result.layers:
        found = []
        for code in dict.fromkeys(c for c in r.codes if c not in ("downstream",)):
            lines = sorted({f.where.line for f in _all_findings(r) if f.code == code and f.where})
            found.append(code + (f" ({LINES.format(lang, n=', '.join(map(str, lines)))})" if lines else ""))
        if r.status == "error" and r.where is not None:
            found.append(LINES.format(lang, n=r.where.line))
        style = STYLES[r.style].render(lang) if r.style in STYLES else r.style
        rows.append(row(r.name, style, VERDICTS[r.status].render(lang), "; ".join(found) or "-"))
    for f in result.functions:
        verdict = VERDICTS["pass" if f.ok else "fail"].render(lang)
        what = "-" if f.ok else FUNCTION_WRONG.format(lang)
        rows.append(row(f.name, STYLES["func"].render(lang), verdict, what))
    counts = {s: sum(r.status == s for r in result.layers) for s in ("pass", "fail", "error")}
    counts["pass"] += sum(f.ok for f in result.functions)
    counts["fail"] += sum(not f.ok for f in result.functions)
    rows.append(
        SUMMARY.format(
            lang,
            path=result.path,
            n=len(result.layers) + len(result.functions),
            passed=counts["pass"],
            failed=counts["fail"],
            errors=counts["error"],
        )
    )
    return "\n".join(rows)


#: the table's short style names
STYLES = {
    "book1": Msg("book1", "1巻"),
    "book2": Msg("book2", "2巻"),
    "module": Msg("module", "Module"),
    "none": Msg("-", "-"),
    "model1": Msg("model1", "1巻model"),
    "func": Msg("func", "関数"),
}
FUNCTION_WRONG = Msg("disagrees (see above)", "不一致(上を参照)")


def _all_findings(r: LayerResult) -> list[Finding]:
    out = list(r.findings)
    if r.report is not None:
        out += [f for e in r.report.entries for f in e.findings] + r.report.notes
    return out


def check_file(
    path: str | Path,
    name: str | None = None,
    *,
    sizes: dict[str, int] | None = None,
    init: dict[str, Any] | None = None,
    of: str | None = None,
    seed: int = 0,
) -> FileResult:
    """Check every layer class of ``path`` (or the class or function ``name``).

    A function is checked as a derivative: against ``of`` (a function of the file, or a
    known one such as ``tanh``), or against the function its name belongs to (``d_tanh``,
    ``sigmoid_grad``). Raises :class:`~zerokara.check.source.FileError` when the file
    cannot be imported or has no such name.
    """
    module = source.load_file(path)
    result = FileResult(str(path))
    if name is not None:
        obj = getattr(module, name, None)
        if obj is None:
            have = [c.__name__ for c in source.classes_in(module)] + [
                f.__name__ for f in source.functions_in(module)
            ]
            raise source.FileError(NO_NAME(path=str(path), name=name, have=", ".join(have) or "nothing"))
        if inspect.isfunction(obj):
            _add_function(result, module, obj, of)
        else:
            result.layers.append(check_layer(obj, sizes=sizes, init=init, seed=seed))
        return result
    for cls in source.classes_in(module):
        has = [callable(getattr(cls, m, None)) for m in ("forward", "backward")]
        if (any(has) or adapt.is_loss_model(cls)) and not source.is_abstract(cls):
            result.layers.append(check_layer(cls, sizes=sizes, init=init, seed=seed))
    fns = source.functions_in(module)
    for fn in fns:
        if _derivative_target(fn.__name__) is not None or of is not None or _known(fn.__name__):
            _add_function(result, module, fn, of)
    by_name = {f.__name__: f for f in fns}
    if "softmax" in by_name and "cross_entropy_error" in by_name:
        from zerokara.check.loss_functions import check_loss_pair

        # the pair book 1's SoftmaxWithLoss rests on: d/dx of the loss of softmax is (y - t) / N
        result.functions.append(check_loss_pair(by_name["softmax"], by_name["cross_entropy_error"]))
    if not result.layers and not result.functions:
        raise source.FileError(NOTHING(path=str(path)))
    return result


NO_NAME = Msg("{path} has no {name!r}; it has: {have}", "{path} に {name!r} はありません。あるもの: {have}")
NOTHING = Msg(
    "{path} has no layer class (a class with forward and backward) and no derivative function "
    "(d_tanh, sigmoid_grad, ...)",
    "{path} にはレイヤのクラス(forward と backward を持つクラス)も"
    "微分の関数(d_tanh、sigmoid_grad など)もありません",
)
NO_TARGET = Msg(
    "{name}: which function is it the derivative of? say it with --of tanh or --of file.py:tanh",
    "{name}: どの関数の微分ですか?--of tanh か --of file.py:tanh で指定してください",
)


def _add_function(result: FileResult, module: Any, fn: Any, of: str | None) -> None:
    """A function's check, or its row saying why it could not be checked (the file goes on)."""
    if of is None and _derivative_target(fn.__name__) is None and not _known(fn.__name__):
        result.layers.append(LayerResult(fn.__name__, "error", "func", error=NO_TARGET(name=fn.__name__)))
        return
    try:
        result.functions.append(_check_function(module, fn, of))
    except source.FileError as e:
        result.layers.append(LayerResult(fn.__name__, "error", "func", error=e.text))


def _known(name: str) -> bool:
    from zerokara.check.functions import ACTIVATIONS

    return name in ACTIVATIONS or name in ("softmax", "cross_entropy_error")


def _derivative_target(name: str) -> str | None:
    from zerokara.check.functions import derivative_target

    return derivative_target(name)


def _check_function(module: Any, fn: Any, of: str | None) -> Any:
    from zerokara.check import functions, loss_functions

    if of is None:
        target_name = functions.derivative_target(fn.__name__)
        if target_name is None:
            return loss_functions.check_function(fn, fn.__name__)
        target = getattr(module, target_name, None) or loss_functions.known_function(target_name)
        if target is None:
            raise source.FileError(NO_TARGET(name=fn.__name__))
        return functions.check_derivative(fn, target, name=fn.__name__, of_name=target_name)
    if ":" in of:
        file, _, fname = of.rpartition(":")
        other = source.load_file(file)
        target = getattr(other, fname, None)
        if target is None:
            raise source.FileError(NO_NAME(path=file, name=fname, have="..."))
        of_name = fname
    else:
        target = getattr(module, of, None) or loss_functions.known_function(of)
        of_name = of
        if target is None:
            raise source.FileError(NO_TARGET(name=fn.__name__))
    return functions.check_derivative(fn, target, name=fn.__name__, of_name=of_name)
