"""A made-up sweep task for the tests of the generic sweep code: no training,
no binary-addition names. Its trial is deterministic in the config and takes
no time; the trial functions are module-level so that spawned workers and Ray
workers can import them."""

from __future__ import annotations

import math
import os
from typing import Any

from zerokara.errors import InputError
from zerokara.sweep import SweepTask, register

DEFAULTS: dict[str, Any] = {"rate": 0.5, "width": 8, "shape": "round", "shift": 0.0, "seed": 0}
CHOICES = {"shape": ("round", "square")}


def parse(key: str, text: str) -> Any:
    t = text.strip()
    if key in CHOICES:
        if t not in CHOICES[key]:
            raise InputError(f"--grid: {key} value {t!r} is not one of {', '.join(CHOICES[key])}")
        return t
    try:
        v = int(t) if key == "width" else float(t)
    except ValueError:
        raise InputError(f"--grid: cannot parse {key} value {t!r}") from None
    if key == "width" and v < 1 or key == "rate" and not v > 0:
        raise InputError(f"--grid: {key} value {t!r} is out of range")
    return v


def check(config: dict[str, Any]) -> dict[str, Any]:
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise InputError(f"toy: unknown setting {sorted(unknown)[0]!r}")
    return {**DEFAULTS, **config}


def trial(config: dict[str, Any]) -> dict[str, Any]:
    """A curve that falls at ``rate`` from 1 + shift; diverged when rate > 10."""
    c = config
    decay = c["rate"] * (1.5 if c["shape"] == "square" else 1.0)
    it = list(range(1, 11))
    value = [1.0 + c["shift"] + 0.01 * c["seed"] + math.exp(-decay * i) for i in it]
    status, error = ("diverged", "loss became inf at iteration 3") if c["rate"] > 10 else ("ok", None)
    return {"config": dict(c), "status": status, "error": error, "seconds": 0.001,
            "curve": {"iteration": it, "value": value},
            "score": round(c["width"] * decay, 6), "final": value[-1]}


def trial_raises_on_seed_1(config: dict[str, Any]) -> dict[str, Any]:
    if config["seed"] == 1:
        raise RuntimeError("toy boom")
    return trial(config)


def trial_dies_on_seed_1(config: dict[str, Any]) -> dict[str, Any]:
    if config["seed"] == 1:
        os._exit(3)
    return trial(config)


def toy_task() -> SweepTask:
    return SweepTask("toy", DEFAULTS, parse, check, trial,
                     lambda c: f"{c['shape']}, rate {c['rate']:g}, width {c['width']}",
                     {"score": "score", "final_value": "final"}, curve_label="made-up loss")


register("toy", toy_task, help="a made-up task for the tests")
