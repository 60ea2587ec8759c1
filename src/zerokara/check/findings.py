"""A finding: one named mistake (or warning) of a layer's backward, in plain words, with the
line to write and, when the layer comes from a file, the line of that file it is on."""

from __future__ import annotations

from dataclasses import dataclass, field

from zerokara.check.messages import Msg, Text

#: codes of the mistakes the check names (tests and the guide refer to them)
CODES = (
    "bias-not-summed",
    "bias-wrong-axis",
    "bias-keepdims",
    "derivative-from-dout",
    "derivative-at-input",
    "derivative-left-out",
    "missing-1/N",
    "double-1/N",
    "transposed",
    "wrong-weight",
    "grads-rebound",
    "grad-not-stored",
    "assign-not-add",
    "col2im-copies",
    "grads-accumulate",
    "sign-flipped",
    "constant-factor",
    "values-differ",
    "wrong-shape",
    "swapped",
    "no-gradient",
    "no-dependence",
    "downstream",
    "dout-modified",
    "input-modified",
    "backward-not-repeatable",
    "float32-inside",
)

#: codes that are warnings: the numbers may be right, but something else is not
WARNINGS = ("dout-modified", "input-modified", "backward-not-repeatable", "float32-inside")


@dataclass(frozen=True)
class Where:
    """A line of the user's file."""

    file: str
    line: int
    source: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source.strip()}"


@dataclass
class Finding:
    """One diagnosis of one gradient (or of the whole layer)."""

    code: str
    text: Text
    fix: str | None = None  # the line to write, in the reader's names where known
    where: Where | None = None
    extra: dict = field(default_factory=dict)

    @property
    def warning(self) -> bool:
        return self.code in WARNINGS

    def render(self, lang: str = "en") -> str:
        out = self.text.render(lang)
        if "matches" in self.extra:  # the numbers' confirmation of the diagnosis
            out += "; " + self.extra["matches"].render(lang)
        if self.where is not None:
            out += "\n" + AT.format(lang, where=str(self.where))
        if self.fix:
            line = self.extra.get("fix_line")
            at = "  # " + LINE.format(lang, n=line) if line else ""
            out += "\n" + WRITE.format(lang, fix=self.fix + at)
        return out

    def __str__(self) -> str:
        return self.render("en")


AT = Msg("at {where}", "場所 {where}")
LINE = Msg("line {n}", "{n} 行目")
WRITE = Msg("write: {fix}", "こう書く: {fix}")
