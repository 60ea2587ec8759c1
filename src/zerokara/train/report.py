"""How long work tells a person what it is doing: a reporter object.

The library never prints. Every long job (a training run, a sweep, an
experiment) takes a ``reporter`` and calls it; the default, :class:`Reporter`
itself, says nothing, so a run in a notebook or a test is quiet. The command
line passes a :class:`~zerokara.commands.console.ConsoleReporter` (a progress
bar on stderr and lines on stdout).

    rep.start("train", total=1000, done=0)   # a bar for 1000 steps, 0 done
    rep.update(10, loss=2.3)                 # 10 done; values shown beside the bar
    rep.line("epoch 1/10  loss 2.30")        # a line above the bar, kept
    rep.finish()                             # the bar ends
    rep.info("wrote runs/mlp/")              # a line outside any bar
"""

from __future__ import annotations

from typing import Any


class Reporter:
    """Says nothing: the library's default. Subclass it to show progress."""

    #: whether ``update`` shows anything (a loop skips computing the values if not)
    shows_progress = False

    def start(self, what: str, total: int, done: int = 0) -> None:
        """Work of ``total`` steps begins, ``done`` of them already done (a resume)."""

    def update(self, done: int, **values: float) -> None:
        """``done`` steps are done; ``values`` (loss, perplexity...) describe the latest."""

    def line(self, text: str) -> None:
        """A line worth keeping, such as an epoch's summary."""

    def finish(self) -> None:
        """The work of the last ``start`` is over (or stopped)."""

    def info(self, text: str) -> None:
        """A line outside the work: what is about to run, what was written."""

    # a reporter is also a context manager around start ... finish
    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()


class RecordingReporter(Reporter):
    """Keeps every line and the last update: for tests, and for a caller that
    wants the text without a console."""

    shows_progress = True

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.updates: list[tuple[int, dict[str, float]]] = []
        self.started: list[tuple[str, int, int]] = []

    def start(self, what: str, total: int, done: int = 0) -> None:
        self.started.append((what, total, done))

    def update(self, done: int, **values: float) -> None:
        self.updates.append((done, values))

    def line(self, text: str) -> None:
        self.lines.append(text)

    def info(self, text: str) -> None:
        self.lines.append(text)
