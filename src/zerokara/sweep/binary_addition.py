"""``zerokara sweep binary-addition``: the course's RNN as a sweep task.

Each trial is :func:`zerokara.train.binary_addition.run_trial` (no files; the
parent saves its record). The table keeps the column names sweeps have always
written; the record's "loss" is the loss over all pairs (the config also has a
"loss": the loss function's name).
"""

from __future__ import annotations

import argparse
from typing import Any

from zerokara.errors import InputError
from zerokara.sweep.task import SweepTask

COLUMNS = {
    "iterations": "iterations",
    "final_train_loss": "final_train_loss",
    "all_pairs_loss": "loss",
    "bit_accuracy": "bit_accuracy",
    "exact_accuracy": "exact_accuracy",
    "heldout_pairs": "heldout_pairs",
    "heldout_bit_accuracy": "heldout_bit_accuracy",
    "heldout_exact_accuracy": "heldout_exact_accuracy",
    "seconds": "seconds",
}
SUMMARY = {"exact_accuracy": "exact acc", "bit_accuracy": "bit acc", "final_train_loss": "final loss"}


def exact_accuracy_curve(record: dict[str, Any]) -> dict[str, list] | None:
    """The exact-sum accuracy over all pairs at each evaluation of a trial."""
    evals = record.get("evals") or []
    if not evals:
        return None
    return {"iteration": [e["iteration"] for e in evals], "value": [e["exact_accuracy"] for e in evals]}


def sweep_task() -> SweepTask:
    from zerokara.train import binary_addition as ba

    def parse(key: str, text: str) -> Any:
        t = text.strip()
        if key in ba.CHOICES:
            if t not in ba.CHOICES[key]:
                raise InputError(f"--grid: {key} value {t!r} is not one of {', '.join(ba.CHOICES[key])}")
            return t
        kind = ba.NUMBERS[key]  # the option's own declaration: the same range as --KEY
        try:
            return kind(t)
        except argparse.ArgumentTypeError:
            raise InputError(f"--grid: cannot parse {key} value {t!r} (expected {kind.what})") from None

    return SweepTask(
        "binary-addition",
        ba.DEFAULTS,
        parse,
        lambda c: ba.check_config(c, "sweep binary-addition"),
        ba.run_trial,
        ba.describe,
        COLUMNS,
        curve_label="training loss (window mean)",
        summary=SUMMARY,
        eval_curve=exact_accuracy_curve,
        eval_label="exact-sum accuracy, all pairs",
    )
