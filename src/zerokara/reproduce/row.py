"""What a row of the results table is: :class:`Row` (what it trains, with which
settings, what it measures, the book's figure) and :class:`Bound` (what a run
must reach). The rows themselves are in :mod:`zerokara.reproduce.rows`.

Bounds marked ``quick`` are checked after a quick run *and* after a full one (a
full run meets them too, so a quick pass is a real, if weaker, check); the others
only after a full run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Bound:
    """``metric`` must be >= ``value`` (``at_least``) or <= it, in every seed; or,
    with ``mean``, its mean over the seeds (the book's figure as a target: one
    seed below it is the spread, the mean below it a shortfall). ``quick``:
    checked after a quick run too."""

    metric: str
    value: float
    at_least: bool = True
    quick: bool = False
    mean: bool = False

    def holds(self, x: float | None) -> bool:
        if x is None or x != x:  # absent or NaN
            return False
        return x >= self.value if self.at_least else x <= self.value

    def text(self) -> str:
        what = f"mean {self.metric}" if self.mean else self.metric
        return f"{what} {'>=' if self.at_least else '<='} {self.value:g}"


@dataclass(frozen=True)
class Row:
    """One row of the results table.

    ``kind``: the trainer (:data:`zerokara.reproduce.trial.KINDS`); ``metric``: the
    key of its metrics the table shows, ``unit`` how ("accuracy" as a fraction,
    shown in %; "perplexity"; "loss"); ``book``: the figure to compare with (None:
    the book prints none), ``digits``: the decimals the book printed it with (in
    the table's unit), so "about 0.97" is compared as 97 %; ``book_text``: how
    the source gives it, in English and Japanese; ``source``: where.
    """

    name: str
    title: str
    title_ja: str
    kind: str
    settings: dict[str, Any]
    quick: dict[str, Any]
    metric: str
    unit: str
    book: float | None
    digits: int
    book_text: str
    book_text_ja: str
    source: str
    bounds: tuple[Bound, ...]
    data: tuple[str, ...] = ()  # data sets it reads ("mnist", "ptb", "seq2seq"): none = made here
    note: str = ""  # a link: why it differs from the book, where that is known
    higher_better: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "higher_better", self.unit != "perplexity" and self.unit != "loss")


def at_least(metric: str, value: float, quick: bool = False) -> Bound:
    return Bound(metric, value, True, quick)


def at_most(metric: str, value: float, quick: bool = False) -> Bound:
    return Bound(metric, value, False, quick)


def mean_at_least(metric: str, value: float) -> Bound:
    return Bound(metric, value, True, False, mean=True)
