"""The command line's reporter: a rich progress bar on stderr, lines on stdout.

Results and summaries go to stdout and the live bar to stderr, so piping
stdout keeps just the results.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from zerokara.train.report import Reporter

console = Console(soft_wrap=True)
_bar_console = Console(stderr=True, soft_wrap=True)


class ConsoleReporter(Reporter):
    """Progress bar and lines for a person at a terminal.

    Args:
        progress: False hides the bar and the per-epoch lines (``--no-progress``);
            ``info`` lines (the run's settings, the results) are still printed.
    """

    def __init__(self, progress: bool = True) -> None:
        self.progress = self.shows_progress = progress
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._shown = 0.0  # when the bar was last redrawn
        self._last: tuple[int, dict[str, float]] | None = None  # the latest update, drawn or not

    def start(self, what: str, total: int, done: int = 0) -> None:
        self.finish()
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=_bar_console,
            disable=not self.progress,
            transient=False,
        )
        self._task = self._bar.add_task(what, total=total, completed=done, info="")
        self._bar.start()

    def update(self, done: int, **values: float) -> None:
        self._last = (done, values)
        now = time.monotonic()
        if self._bar is None or not self.progress or now - self._shown < 0.1:
            return  # a redraw per step would cost more than a small model's step
        self._shown = now
        self._draw(done, values)

    def _draw(self, done: int, values: dict[str, float]) -> None:
        info = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        assert self._bar is not None and self._task is not None  # start() came first
        self._bar.update(self._task, completed=done, info=info)

    def line(self, text: str) -> None:
        if not self.progress:
            return
        if self._bar is not None:
            self._bar.console.print(text, highlight=False, markup=False)
        else:
            console.print(text, highlight=False, markup=False)

    def finish(self) -> None:
        if self._bar is not None:
            if self._last is not None and self.progress:
                self._draw(*self._last)  # the bar ends where the work did
            self._bar.stop()
            self._bar = None
            self._last = None

    def info(self, text: str) -> None:
        console.print(text, highlight=False, markup=False)
