"""Every sentence ``zerokara check`` prints, in English and Japanese.

A :class:`Msg` is one sentence in both languages with ``str.format`` fields; a
:class:`Text` is a message with its fields filled in, rendered in either language
when printed (``text.render("ja")``; ``str(text)`` is English). Diagnoses are Texts,
so the same finding prints in the reader's language without being worked out twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LANGS = ("en", "ja")


@dataclass(frozen=True)
class Msg:
    """One sentence in English and Japanese, with the same ``{fields}``."""

    en: str
    ja: str

    def __call__(self, **kw: Any) -> Text:
        return Text(self, kw)

    def format(self, lang: str = "en", **kw: Any) -> str:
        return Text(self, kw).render(lang)

    def render(self, lang: str = "en") -> str:
        """A message without fields, in ``lang``."""
        return Text(self).render(lang)


@dataclass(frozen=True)
class Text:
    """A message with its fields: rendered in either language (fields that are Texts too)."""

    msg: Msg
    fields: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        if lang not in LANGS:
            raise ValueError(f"language {lang!r}: expected one of {LANGS}")
        kw = {k: v.render(lang) if isinstance(v, Text) else v for k, v in self.fields.items()}
        return getattr(self.msg, lang).format(**kw)

    def __str__(self) -> str:
        return self.render("en")


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns as a terminal shows it (a kanji takes two)."""
    import unicodedata

    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - cols, 0)


def render(x: Text | str, lang: str = "en") -> str:
    """A Text in ``lang``; a plain string as it is."""
    return x.render(lang) if isinstance(x, Text) else x
