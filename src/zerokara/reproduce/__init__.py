"""``zerokara reproduce``: the books' results, over seeds, with one command.

    from zerokara.reproduce import reproduce, failed_bounds

    if __name__ == "__main__":  # the local executor starts worker processes
        res = reproduce(["mnist-relu", "date-attention"], quick=True)
        print(failed_bounds(res))

:mod:`~zerokara.reproduce.rows` holds the table's rows (settings, the book's
figure and its source, the bounds a run must meet), :mod:`~zerokara.reproduce.trial`
one row's run for one seed, :mod:`~zerokara.reproduce.run` the sweep over rows and
seeds, :mod:`~zerokara.reproduce.results` the summary and the Markdown tables.
"""

from __future__ import annotations

from zerokara.reproduce.results import failed_bounds, markdown
from zerokara.reproduce.row import Bound, Row
from zerokara.reproduce.rows import BY_NAME, ROWS
from zerokara.reproduce.run import reproduce

__all__ = ["reproduce", "failed_bounds", "markdown", "ROWS", "BY_NAME", "Row", "Bound"]
