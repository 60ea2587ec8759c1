"""Check a reader's layer as it is: build it from its names, check its gradients, name the
mistakes at the lines of the reader's file, and give one verdict.

:func:`check_layer` takes a class (or a built object, or a class with ``example()``);
:func:`check_file` every layer class (and derivative function) of a ``.py`` file. Both
return results that render in English or Japanese; nothing prints.
"""

from __future__ import annotations

import copy
import inspect
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerokara.check import adapt, code_rules, source
from zerokara.check.build import Built, NoFitError, build
from zerokara.check.diagnose import shape_findings
from zerokara.check.findings import Finding, Where
from zerokara.check.fixes import fix_at
from zerokara.check.gradcheck import LayerCodeError, global_random_state, gradcheck, set_global_random_state
from zerokara.check.messages import Msg, Text, pad
from zerokara.check.report import BAD, GradReport
from zerokara.check.seen import Seen
from zerokara.introspect import arg_names

STYLE_NAMES = {
    "module": Msg("params/grads dicts, as a zerokara Module", "params/grads の辞書: zerokara の Module 形式"),
    "book2": Msg("book 2 style: params/grads lists", "2 巻の書き方: params/grads のリスト"),
    "book1": Msg("book 1 style: self.W and self.dW", "1 巻の書き方: self.W と self.dW"),
    "none": Msg("no parameters", "パラメータなし"),
    "model1": Msg("book 1 model: loss and gradient", "1 巻のモデル: loss と gradient"),
}
BUILT = Msg("built: {what}", "組み立て: {what}")
PASS = Msg(
    "PASS: every gradient matches the numerical gradient (largest relative error {rel:.1e})",
    "合格: すべての勾配が数値微分と一致しました(最大相対誤差 {rel:.1e})",
)
PASS_WARN = Msg(
    "PASS with {n} warning(s): the gradients are right (largest relative error {rel:.1e}), see above",
    "合格(警告 {n} 件): 勾配は正しいです(最大相対誤差 {rel:.1e})。上の警告を見てください",
)
FAIL = Msg(
    "FAIL: {n} of {m} gradient(s) wrong: {names}",
    "不合格: {m} 個中 {n} 個の勾配が違います: {names}",
)
NOTHING_TO_CHECK = Msg(
    "nothing to check: forward got no float input and the layer has no parameters (its inputs were "
    'guessed as integers: say them with --init "y=(3,4)" or an example() classmethod)',
    "チェックするものがありません: forward に浮動小数点の入力がなく、パラメータもありません"
    '(入力が整数と推測されました。--init "y=(3,4)" か example() クラスメソッドで指定してください)',
)
FAIL_NOTES = Msg(
    "FAIL: the gradients match, but backward is wrong: {codes}",
    "不合格: 勾配の値は一致しますが、逆伝播に誤りがあります: {codes}",
)
ERROR = Msg("ERROR: the check could not run", "エラー: チェックを実行できませんでした")
DOWNSTREAM = Msg(
    "probably follows from a mistake named in this check; fix that first",
    "このチェックで指摘した別の誤りから続いている可能性が高いです。先にそちらを直してください",
)
BROADCAST_INTO = re.compile(
    r"could not broadcast input array from shape \(([\d, ]*)\) into shape \(([\d, ]*)\)"
)
NO_FORWARD = Msg(
    "{cls} has {has} but no {missing}: a layer needs forward(*inputs) and backward(dout)",
    "{cls} には {has} がありますが {missing} がありません。"
    "レイヤには forward(*inputs) と backward(dout) が要ります",
)


@dataclass
class LayerResult:
    """One class checked: its verdict, the report, or the error that stopped the check."""

    name: str
    status: str  # "pass", "fail" or "error"
    style: str = ""
    built: str = ""
    report: GradReport | None = None
    error: Text | None = None
    where: Where | None = None
    findings: list[Finding] = field(default_factory=list)  # failures found without a report

    @property
    def codes(self) -> list[str]:
        return (self.report.codes if self.report else []) + [f.code for f in self.findings]

    @property
    def warnings(self) -> list[Finding]:
        return [n for n in self.report.notes if n.warning] if self.report else []

    def verdict(self, lang: str = "en") -> str:
        if self.status == "error":
            return ERROR.format(lang)
        if self.status == "pass":
            rel = max((e.rel_err for e in self.report.entries), default=0.0) if self.report else 0.0
            w = self.warnings
            return (PASS_WARN(n=len(w), rel=rel) if w else PASS(rel=rel)).render(lang)
        entries = self.report.entries if self.report else []
        notes = [n.code for n in self.report.notes if not n.warning] if self.report else []
        if self.report is not None and notes and all(e.ok for e in entries):
            return FAIL_NOTES.format(lang, codes=", ".join(notes))
        bad = [e.name for e in entries if not e.ok] or [f.extra.get("name", "?") for f in self.findings]
        return FAIL.format(lang, n=len(bad), m=max(len(entries), len(bad)), names=", ".join(bad))

    def render(self, lang: str = "en") -> str:
        style = STYLE_NAMES[self.style].render(lang) if self.style in STYLE_NAMES else ""
        lines = [f"== {self.name}" + (f" ({style})" if style else "")]
        if self.built:
            lines.append(BUILT.format(lang, what=self.built))
        if self.error is not None:
            lines.append(self.error.render(lang))
            if self.where is not None:
                lines.append(f"  {self.where}")
        if self.report is not None:
            lines += self.report.render(lang).split("\n")[1:]
        for f in self.findings:
            lines.append("  " + pad(BAD.render(lang), 4) + " " + f.render(lang).replace("\n", "\n       "))
        lines.append(self.verdict(lang))
        return "\n".join(lines)


def check_layer(
    cls: Any,
    *,
    sizes: dict[str, int] | None = None,
    init: dict[str, Any] | None = None,
    seed: int = 0,
    name: str | None = None,
) -> LayerResult:
    """Build ``cls`` from its argument names and check its gradients (see the module docstring).

    NumPy's warnings (overflow, log of a negative) are silenced while the reader's code runs:
    what they warn of is reported as a finding (NaN in a gradient) instead.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _check_layer(cls, sizes=sizes, init=init, seed=seed, name=name)


def _check_layer(
    cls: Any, *, sizes: dict[str, int] | None, init: dict[str, Any] | None, seed: int, name: str | None
) -> LayerResult:
    name = str(name or getattr(cls, "__name__", type(cls).__name__))
    kind = cls if inspect.isclass(cls) else type(cls)
    missing = [m for m in ("forward", "backward") if not callable(getattr(kind, m, None))]
    if missing and not adapt.is_loss_model(kind):
        has = [m for m in ("forward", "backward") if m not in missing]
        return LayerResult(
            name,
            "error",
            error=NO_FORWARD(cls=name, has=" and ".join(has) or "neither", missing=" and ".join(missing)),
        )
    try:
        b = build(cls, sizes=sizes, init=init, seed=seed)
    except NoFitError as e:
        return LayerResult(name, "error", error=e.text)
    except Exception as e:  # noqa: BLE001 -- the user's example() or constructor failing is their error
        return LayerResult(
            name,
            "error",
            error=RAISED_AT(what="building", error=f"{type(e).__name__}: {e}"),
            where=source.user_line(e, _file_of(kind)),
        )
    if b.error is not None and b.error[1] == "constructor":
        err = b.error[0]
        return LayerResult(
            name,
            "error",
            error=RAISED_AT(what="the constructor", error=f"{type(err).__name__}: {err}"),
            where=source.user_line(err, _file_of(kind)),
        )
    style = adapt.style_of(b.layer)
    try:
        report = gradcheck(b.layer, *b.inputs, seed=seed, names=b.names, letters=b.letters)
    except LayerCodeError as e:
        return _failed(name, kind, style, b, e, seed)
    report.layer = name
    if not report.entries:  # no float input, no parameter: a PASS would say nothing
        return LayerResult(name, "error", "none", b.described, error=NOTHING_TO_CHECK())
    if isinstance(b.layer, adapt.LossModel):
        style = "model1"
    if style == "book1" and not any(e.kind == "param" for e in report.entries):
        style = "none"  # nothing tells book 1 from book 2 in a layer without parameters
    _locate(kind, report, b)
    return LayerResult(name, "pass" if report.ok else "fail", style, b.described, report)


RAISED_AT = Msg("{what} raised {error}", "{what} で {error} が発生しました")


def _file_of(cls: Any) -> str | None:
    try:
        return inspect.getsourcefile(cls)
    except TypeError:
        return None


def _failed(name: str, kind: Any, style: str, b: Built, e: LayerCodeError, seed: int) -> LayerResult:
    """The layer's code raised: a gradient written into a buffer of the wrong shape is a
    failure with its diagnosis; anything else is the error at its line."""
    where = source.user_line(e.error, _file_of(kind)) if e.error is not None else None
    m = BROADCAST_INTO.search(str(e.error)) if e.phase == "backward" and e.error is not None else None
    if m is not None:
        got = tuple(int(v) for v in m.group(1).replace(" ", "").split(",") if v)
        want = tuple(int(v) for v in m.group(2).replace(" ", "").split(",") if v)
        slots = [s for s in adapt.slots(b.layer, b.names) if s.value(b.layer).shape == want]
        layer = copy.deepcopy(b.layer)
        np_state = global_random_state()
        try:
            out = layer.forward(*[x.copy() if isinstance(x, np.ndarray) else x for x in b.inputs])
        finally:
            set_global_random_state(np_state)
        outs = out if isinstance(out, tuple) else (out,)
        names = arg_names(b.layer.forward, len(b.inputs))
        seen = Seen(list(b.inputs), names, outs, outs, b.letters)
        pname = slots[0].name if len(slots) == 1 else "/".join(s.name for s in slots) or "?"
        found, _ = shape_findings(pname, "param", want, np.zeros(got), np.zeros(want), seen)
        for f in found:
            f.extra.pop("matches", None)  # no numbers were compared: backward never finished
            f.where, f.extra["name"] = where, pname
            f.fix = fix_at(f, where) or f.fix
        return LayerResult(name, "fail", style, b.described, error=e.text, findings=found)
    text = e.text
    if where is None and e.error is None:  # NaN in a gradient: the line that computes it
        where = _nan_line(kind, b, e.text)
    hint = source.did_you_mean(e.error) if e.error is not None else ""
    if e.error is not None and hint:
        error = f"{type(e.error).__name__}: {e.error}"
        text = RAISED_AT(what=e.phase, error=DID_YOU_MEAN(error=error, name=repr(hint)))
    return LayerResult(name, "error", style, b.described, error=text, where=where)


DID_YOU_MEAN = Msg("{error} (did you mean {name}?)", "{error}({name} のことですか?)")


def _nan_line(kind: Any, b: Built, text: Text) -> Where | None:
    what = text.fields.get("what")
    grad = what.fields.get("p") if isinstance(what, Text) else None
    if not isinstance(grad, str):
        return None
    names = arg_names(b.layer.forward, len(b.inputs))
    if grad in names:
        return source.returned_line(kind, names.index(grad))
    slot = next((s for s in adapt.slots(b.layer, b.names) if s.name == grad), None)
    return source.grad_line(kind, slot.key, slot.style, grad) if slot is not None else None


GENERIC = ("values-differ", "wrong-shape", "grad-not-stored", "no-gradient")


def _locate(kind: Any, report: GradReport, b: Built) -> None:
    """Put each failing gradient's finding on the line of the user's file it comes from, add
    the slips read from the source, and mark the failures that follow from a named one."""
    names = arg_names(b.layer.forward, len(b.inputs))
    # the code is read only for failures the numbers could not name (a transposed dW needs no
    # second opinion, and a right sigmoid line next to it must not get one)
    vague = (*GENERIC, "wrong-weight")  # the numbers see the shape of x; the code says which weight
    failing = {e.name for e in report.failures() if all(f.code in vague for f in e.findings)}
    slot_of = {s.name: s for s in adapt.slots(b.layer, b.names)}
    for e in report.failures():
        if e.kind == "param" and (e.name in slot_of or report.style == "book1"):
            # book 1's dW may first appear in backward: the report's name is its attribute
            s = slot_of.get(e.name) or adapt.Slot(e.name, "book1", e.name)
            where = source.grad_line(kind, s.key, s.style, e.name)
        elif e.kind == "input" and e.name in names:
            where = source.returned_line(kind, names.index(e.name))
        else:
            where = None
        for f in e.findings:
            # a derivative's slip is where the local gradient is made, not where it is stored
            if f.where is None and where is not None and (f.code not in AWAY or e.kind == "input"):
                f.where, f.extra["name"] = where, e.name
                f.fix = fix_at(f, where) or f.fix
    for n in report.notes:
        if n.code == "grads-accumulate" and n.where is None:
            n.where = source.added_line(kind)
        elif n.code == "dout-modified" and n.where is None:
            n.where = source.written_line(kind, "backward")
        elif n.code == "input-modified" and n.where is None:
            x = n.text.fields.get("x")
            n.where = source.written_line(kind, "forward", names.index(x) if x in names else 0)
    for e in report.failures():
        for f in e.findings:
            if f.code == "derivative-left-out" and f.where is None:
                f.where, f.fix = source.left_out_line(kind, f.fix)
    try:
        from_code = code_rules.code_findings(kind, failing, names, b.layer)
    except (SyntaxError, ValueError, TypeError, AttributeError):  # source unreadable: numbers only
        from_code = []
    for c in from_code:
        target = _entry_for(report, c)
        if target is not None:
            target.code, target.text, target.where, target.fix = c.code, c.text, c.where, c.fix or target.fix
        else:
            report.notes.append(c)
    named = [f for e in report.entries for f in e.findings if f.code not in GENERIC] + [
        n for n in report.notes if not n.warning
    ]
    if named:
        for e in report.failures():
            for i, f in enumerate(e.findings):
                if f.code in ("values-differ",):
                    e.findings[i] = Finding("downstream", DOWNSTREAM())


#: findings whose slip is not on the line that stores the gradient
AWAY = ("derivative-from-dout", "derivative-at-input", "derivative-left-out", "downstream")


def _entry_for(report: GradReport, c: Finding) -> Finding | None:
    """The numbers' finding that a finding read from the code explains: the same slip not yet
    placed, the generic failure of the input whose product is wrong, or the all-zero gradient
    of the array a rebound local was taken for."""
    for e in report.failures():
        for f in e.findings:
            if f.code == c.code and (f.where is None or c.where is None or f.where.line == c.where.line):
                return f
            if (
                c.code == "wrong-weight"
                and f"d{e.name} " in c.text.render()
                and f.code in (*GENERIC, "wrong-weight")
            ):
                return f
            if c.code == "col2im-copies" and e.kind == "input" and f.code in GENERIC:
                return f
            if (
                c.code == "grads-rebound"
                and f.code == "grad-not-stored"
                and c.fix
                and c.fix.startswith(f"d{e.name}[")
            ):
                return f
    return None
