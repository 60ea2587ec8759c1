"""What a gradient check found: one :class:`GradEntry` per input and parameter, gathered in
a :class:`GradReport` that prints as a table in English or Japanese."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zerokara.check.findings import Finding
from zerokara.check.messages import Msg, pad
from zerokara.errors import shape_str


@dataclass
class GradEntry:
    """The check of one gradient: an input (``x``) or a parameter (``affine1.W``)."""

    name: str
    kind: str  # "input" or "param"
    shape: tuple[int, ...]
    max_abs_err: float
    rel_err: float  # max |analytic - numerical| / max(|analytic|, |numerical|)
    ok: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def diagnosis(self) -> str:
        """The findings in English, one line each ("" when there are none)."""
        return "; ".join(_finding_line(f, "en") for f in self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def line(self, lang: str = "en") -> str:
        """One row (``ok   param W  (4, 5)  abs ... rel ...``) and the findings under it."""
        status = pad((OK if self.ok else BAD).render(lang), 4)
        errs = (
            ERRS.format(lang, a=self.max_abs_err, r=self.rel_err)
            if np.isfinite(self.max_abs_err)
            else WRONG_SHAPE_ERRS.format(lang)
        )
        kind = pad(KINDS[self.kind].render(lang), 5)
        text = f"{status} {kind} {self.name:<24} {shape_str(self.shape):<14} {errs}"
        for f in self.findings:
            text += "\n       -> " + f.render(lang).replace("\n", "\n          ")
        return text


OK, BAD = Msg("ok", "一致"), Msg("FAIL", "誤り")
KINDS = {"input": Msg("input", "入力"), "param": Msg("param", "重み")}
ERRS = Msg("abs {a:9.2e}  rel {r:9.2e}", "絶対誤差 {a:9.2e}  相対誤差 {r:9.2e}")
WRONG_SHAPE_ERRS = Msg("(gradient of the wrong shape)", "(勾配の形が違います)")
WARN = Msg("warn", "警告")
HEAD = Msg("gradient check of {layer}: {verdict}", "{layer} の勾配チェック: {verdict}")
VERDICT = {True: Msg("PASS", "合格"), False: Msg("FAIL", "不合格")}


def _finding_line(f: Finding, lang: str) -> str:
    return f.render(lang).split("\n")[0]


@dataclass
class GradReport:
    """Per-name results of :func:`gradcheck`; ``ok`` is true when all pass."""

    layer: str
    entries: list[GradEntry] = field(default_factory=list)
    #: findings about the whole layer (warnings such as a backward that writes into dout)
    notes: list[Finding] = field(default_factory=list)
    style: str = "module"
    eps: float = 1e-6

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries) and not any(not n.warning for n in self.notes)

    def __getitem__(self, name: str) -> GradEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"no gradient named {name!r}; have {[e.name for e in self.entries]}")

    def failures(self) -> list[GradEntry]:
        return [e for e in self.entries if not e.ok]

    @property
    def codes(self) -> list[str]:
        return [f.code for e in self.entries for f in e.findings] + [n.code for n in self.notes]

    def render(self, lang: str = "en") -> str:
        head = HEAD.format(lang, layer=self.layer, verdict=VERDICT[self.ok].render(lang))
        lines = [head] + ["  " + e.line(lang) for e in self.entries]
        lines += [
            "  "
            + pad((WARN if n.warning else BAD).render(lang), 4)
            + " "
            + n.render(lang).replace("\n", "\n       ")
            for n in self.notes
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render("en")
