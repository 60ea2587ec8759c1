"""A progress bar for long work (rich), quiet when disabled."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.progress import Progress as RichProgress

# results and summaries go to stdout; the live bar to stderr, so piping stdout keeps just the results
console = Console(soft_wrap=True)
_bar_console = Console(stderr=True, soft_wrap=True)


class Progress:
    """``with Progress("train", total=n) as bar: bar.update(i, loss=0.3)``.

    Fields passed to update (loss, perplexity, tokens/s) are shown after the bar.
    """

    def __init__(self, what: str, total: int, done: int = 0, enabled: bool = True) -> None:
        self.enabled = enabled
        self.fields = ""
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
            TimeRemainingColumn(), console=_bar_console, disable=not enabled, transient=False)
        self._task = self._bar.add_task(what, total=total, completed=done, info="")

    def __enter__(self) -> Progress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def update(self, done: int, **fields: float) -> None:
        if not self.enabled:
            return
        info = "  ".join(f"{k} {v:.4g}" for k, v in fields.items())
        self._bar.update(self._task, completed=done, info=info)

    def log(self, line: str) -> None:
        """Print a line above the bar (e.g. an epoch summary)."""
        if self.enabled:
            self._bar.console.print(line, highlight=False)
