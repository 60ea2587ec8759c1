"""Every ``zerokara train`` task as a sweep task, built from its configuration
dataclass: the settings are the dataclass's fields (the book's values filled
in), each read from text by its declared type, and a trial is the task's own
``train_*`` function run quietly with no run folder.

A trial's record holds the run's metrics, its per-step training curve (the
history's series, as means over at most 200 windows) and its per-epoch rows
(``evals``), from which the second plot takes the task's evaluation figure.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zerokara.errors import InputError, NaNLossError
from zerokara.sweep.task import SweepTask

#: settings a sweep never varies (the command line's own), besides a task's fixed ones
NOT_SWEPT = ("preset", "questions", "workers")
CURVE_POINTS = 200


@dataclass(frozen=True)
class TrainSpec:
    """How one train task becomes a sweep task."""

    name: str
    config: Callable[[], type]  # the configuration dataclass
    fixed: dict[str, Any]  # fields every trial has (the data, the task)
    fill: Callable[[dict[str, Any]], dict[str, Any]]  # settings -> the same with the book's values
    train: Callable[[], Callable[..., Any]]  # the task's train_* function
    columns: dict[str, str]
    summary: dict[str, str]
    curve_label: str
    eval_key: str  # the per-epoch figure drawn beside the curve
    eval_label: str


# -- each task's defaults ------------------------------------------------------------------
def _fill_mlp(s: dict[str, Any]) -> dict[str, Any]:
    from zerokara.train.mlp import MLPConfig

    return dataclasses.asdict(MLPConfig(**s).filled())


def _fill_cnn(s: dict[str, Any]) -> dict[str, Any]:
    from zerokara.train.cnn import CNNConfig

    return dataclasses.asdict(CNNConfig(**s).filled())


def _fill_lm(s: dict[str, Any]) -> dict[str, Any]:
    from zerokara.train.rnnlm import LMConfig

    rec = LMConfig(**s).record()
    return {**s, **{k: rec[k] for k in s if k in rec}}


def _fill_word2vec(s: dict[str, Any]) -> dict[str, Any]:
    from zerokara.train.word2vec import Word2VecConfig

    rec = Word2VecConfig(**s).record()
    return {**s, **{k: rec[k] for k in s if k in rec}}


def _fill_seq2seq(s: dict[str, Any]) -> dict[str, Any]:
    from zerokara.train.seq2seq import defaults

    base = defaults(str(s.get("data", "addition")), str(s.get("model", "plain")))
    return {**s, **{k: v for k, v in base.items() if s.get(k) is None}}


def _lazy(module: str, name: str) -> Callable[[], Any]:
    def get() -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)

    return get


_CLASSIFIER = {
    "iterations": "iterations",
    "final_loss": "final_loss",
    "train_accuracy": "train_accuracy",
    "valid_accuracy": "valid_accuracy",
    "test_accuracy": "test_accuracy",
    "seconds": "seconds",
}
_LM = {
    "epochs": "epochs",
    "train_perplexity": "train_perplexity",
    "valid_perplexity": "valid_perplexity",
    "test_perplexity": "test_perplexity",
    "seconds": "seconds",
}

SPECS: dict[str, TrainSpec] = {
    s.name: s
    for s in (
        TrainSpec(
            "mlp",
            _lazy("zerokara.train.mlp", "MLPConfig"),
            {"data": "mnist"},
            _fill_mlp,
            _lazy("zerokara.train.mlp", "train_mlp"),
            _CLASSIFIER,
            {"test_accuracy": "test acc", "final_loss": "final loss"},
            "training loss",
            "test_accuracy",
            "test accuracy per epoch",
        ),
        TrainSpec(
            "cnn",
            _lazy("zerokara.train.cnn", "CNNConfig"),
            {},
            _fill_cnn,
            _lazy("zerokara.train.cnn", "train_cnn"),
            _CLASSIFIER,
            {"test_accuracy": "test acc", "final_loss": "final loss"},
            "training loss",
            "test_accuracy",
            "test accuracy per epoch",
        ),
        TrainSpec(
            "spiral",
            _lazy("zerokara.train.mlp", "MLPConfig"),
            {"data": "spiral"},
            _fill_mlp,
            _lazy("zerokara.train.mlp", "train_mlp"),
            {k: v for k, v in _CLASSIFIER.items() if k != "test_accuracy"},
            {"train_accuracy": "train acc", "final_loss": "final loss"},
            "training loss",
            "train_accuracy",
            "train accuracy per epoch",
        ),
        *(
            TrainSpec(
                task,
                _lazy("zerokara.train.rnnlm", "LMConfig"),
                {"task": task},
                _fill_lm,
                _lazy("zerokara.train.rnnlm", "train_lm"),
                _LM,
                {"test_perplexity": "test ppl", "valid_perplexity": "valid ppl"},
                "training perplexity",
                "valid_perplexity",
                "valid perplexity per epoch",
            )
            for task in ("rnnlm", "better-rnnlm")
        ),
        TrainSpec(
            "word2vec",
            _lazy("zerokara.train.word2vec", "Word2VecConfig"),
            {},
            _fill_word2vec,
            _lazy("zerokara.train.word2vec", "train_word2vec"),
            {
                "iterations": "iterations",
                "final_loss": "final_loss",
                "analogy_accuracy": "analogy_accuracy",
                "seconds": "seconds",
            },
            {"final_loss": "final loss", "analogy_accuracy": "analogy acc"},
            "training loss",
            "loss",
            "mean loss per epoch",
        ),
        TrainSpec(
            "seq2seq",
            _lazy("zerokara.train.seq2seq", "Seq2seqConfig"),
            {},
            _fill_seq2seq,
            _lazy("zerokara.train.seq2seq", "train_seq2seq"),
            {**_CLASSIFIER, "seconds_per_epoch": "seconds_per_epoch"},
            {"test_accuracy": "held-out exact match", "final_loss": "final loss"},
            "training loss",
            "test_accuracy",
            "held-out exact match per epoch",
        ),
    )
}


# -- reading settings ----------------------------------------------------------------------
def _kind(cls: type, key: str) -> tuple[type, bool]:
    """(int, float, str or bool; whether None is allowed) of a field."""
    hint = typing.get_type_hints(cls)[key]
    args = typing.get_args(hint) or (hint,)
    kinds = [a for a in args if a is not type(None)]
    return kinds[0], type(None) in args


def parse_value(cls: type, key: str, text: str) -> Any:
    """``text`` read as the type the dataclass declares for ``key``."""
    t = text.strip()
    kind, optional = _kind(cls, key)
    if optional and t.lower() == "none":
        return None
    try:
        if kind is bool:
            if t.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return t.lower() in ("true", "1", "yes")
        if kind is int:
            return int(t)
        if kind is float:
            v = float(t)
            if not math.isfinite(v):
                raise ValueError
            return v
    except ValueError:
        what = {bool: "true or false", int: "an integer", float: "a finite number"}[kind]
        raise InputError(
            f"--grid: cannot parse {key} value {t!r} (expected {what}{' or none' if optional else ''})"
        ) from None
    return t


def settings_of(spec: TrainSpec) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(spec.config())
        if f.name not in NOT_SWEPT
        and f.name not in spec.fixed
        and not (spec.name == "spiral" and f.name == "iters")
    ]


def check(spec: TrainSpec, config: dict[str, Any]) -> dict[str, Any]:
    """A complete config with the book's values filled in (checked where the task checks)."""
    keys = settings_of(spec)
    unknown = sorted(set(config) - set(keys))
    if unknown:
        raise InputError(f"sweep {spec.name}: unknown setting {unknown[0]!r}; known: {', '.join(keys)}")
    blank = {f.name: f.default for f in dataclasses.fields(spec.config()) if f.name in keys}
    filled = spec.fill({**blank, **spec.fixed, **config})
    return {k: filled[k] for k in keys}


# -- one trial -----------------------------------------------------------------------------
def curve(history: dict[str, Any], series: str) -> dict[str, Any]:
    """The per-step series as means over at most CURVE_POINTS windows."""
    its, vals = history.get("iteration", []), history.get(series, [])
    w = max(1, math.ceil(len(vals) / CURVE_POINTS))
    n = len(vals) // w * w
    if not n:
        return {"window": w, "iteration": [], "value": []}
    means = np.asarray(vals[:n], dtype=float).reshape(-1, w).mean(axis=1)
    return {
        "window": w,
        "iteration": [int(its[(i + 1) * w - 1]) for i in range(len(means))],
        "value": [float(v) for v in means],
    }


def run_trial(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Train one config quietly, with no files; never raises."""
    spec = SPECS[name]
    start = time.perf_counter()
    rec: dict[str, Any] = {"config": dict(config), "status": "ok", "error": None}
    run = None
    try:
        cls = spec.config()
        run = spec.train()(cls(**{**spec.fixed, **config}))
        rec.update(run.metrics)
    except NaNLossError as e:
        rec.update(status="diverged", error=str(e))
    except Exception as e:  # noqa: BLE001 -- a trial's failure is data for the sweep
        rec.update(status="crashed", error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
    if run is not None:
        trainer = run.trainer
        rec["curve"] = curve(trainer.history, trainer.series)
        rec["evals"] = trainer.history["epochs"]
    rec["seconds"] = round(time.perf_counter() - start, 3)
    return rec


#: the trial of each task: a partial of a module-level function, so a worker process
#: can unpickle it by name
TRIALS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    name: functools.partial(run_trial, name) for name in SPECS
}


def sweep_task(name: str) -> SweepTask:
    """The SweepTask of train task ``name``."""
    spec = SPECS[name]
    cls = spec.config()
    defaults = check(spec, {})

    def describe(config: dict[str, Any]) -> str:
        changed = [f"{k}={v}" for k, v in config.items() if k != "seed" and v != defaults.get(k)]
        return f"{name}: " + (", ".join(changed) if changed else "the book's settings")

    def eval_curve(record: dict[str, Any]) -> dict[str, list] | None:
        rows = [r for r in record.get("evals") or [] if r.get(spec.eval_key) is not None]
        if not rows:
            return None
        return {"iteration": [r["iteration"] for r in rows], "value": [r[spec.eval_key] for r in rows]}

    return SweepTask(
        name,
        defaults,
        lambda k, t: parse_value(cls, k, t),
        lambda c: check(spec, c),
        TRIALS[name],
        describe,
        spec.columns,
        curve_label=spec.curve_label,
        summary=spec.summary,
        eval_curve=eval_curve,
        eval_label=spec.eval_label,
    )


#: the factories the registry names (zerokara.sweep.task.BUILTIN)
mlp, cnn, spiral, rnnlm, better_rnnlm, word2vec, seq2seq = (
    functools.partial(sweep_task, name)
    for name in ("mlp", "cnn", "spiral", "rnnlm", "better-rnnlm", "word2vec", "seq2seq")
)
