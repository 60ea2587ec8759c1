"""The seam between a sweep and what it trains: a :class:`SweepTask`, and the
registry of tasks by name.

A task says what its settings are (``defaults``), how to read one from text
(``parse``), how to check a complete config (``check``), how to run one trial
(``trial``), how to name a config in a line (``describe``) and which numbers of
a trial's record go in the results table (``columns``). The sweep code knows
nothing else about it: no task names, no metric names.

A trial's record (what ``trial`` returns; it never raises)::

    {"config": {...}, "status": "ok" | "diverged" | "crashed", "error": str | None,
     "seconds": float, "curve": {"iteration": [...], "value": [...]}, **metrics}

"diverged" is a loss that became NaN or infinite; "crashed" any other
exception (its first line in ``error``). ``curve`` is what the plots draw
(older binary-addition records name its values "loss"; both are read).

The command line builds one ``zerokara sweep TASK`` parser per name in
:data:`BUILTIN` without importing any task: each entry is a ``module:function``
(a factory returning the SweepTask) and a help line, so adding a task is one
line there. :func:`register` adds one at run time (a test, a script).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zerokara.errors import InputError


@dataclass(frozen=True)
class SweepTask:
    """What a sweep needs to know about one kind of training run.

    Required: ``name``, ``defaults`` (every setting with its default, "seed"
    included), ``parse`` ((key, text) -> value; raises InputError naming the
    key and the text), ``check`` (a complete config -> the checked config;
    raises InputError), ``trial`` (config -> record; never raises; a
    module-level function, so that worker processes can import it),
    ``describe`` (a config in one line) and ``columns`` (results-table column
    -> key in the record).

    Optional: ``curve_label`` (the y axis of the curves plot); ``summary``
    (table column -> heading, the numbers the printed summary shows as means
    over seeds, the first also with its [min, max]; default: every column);
    ``eval_curve`` (record -> a second curve ``{"iteration", "value"}`` or None,
    drawn beside the first, e.g. an accuracy per evaluation; it runs in the
    parent process, so it may read old records too) and ``eval_label``.
    """

    name: str
    defaults: dict[str, Any]
    parse: Callable[[str, str], Any]
    check: Callable[[dict[str, Any]], dict[str, Any]]
    trial: Callable[[dict[str, Any]], dict[str, Any]]
    describe: Callable[[dict[str, Any]], str]
    columns: dict[str, str]
    curve_label: str = "loss"
    summary: dict[str, str] = field(default_factory=dict)
    eval_curve: Callable[[dict[str, Any]], dict[str, list] | None] | None = None
    eval_label: str = ""


#: name -> ("module:function" returning the SweepTask, one line for --help); the
#: command line lists these without importing them. One line adds a task.
BUILTIN: dict[str, tuple[str, str]] = {
    "binary-addition": (
        "zerokara.sweep.binary_addition:sweep_task",
        "the course's binary-addition RNN (no download)",
    ),
    "mlp": ("zerokara.sweep.train_tasks:mlp", "book 1's MLPs on MNIST"),
    "cnn": ("zerokara.sweep.train_tasks:cnn", "book 1's SimpleConvNet and DeepConvNet on MNIST"),
    "spiral": ("zerokara.sweep.train_tasks:spiral", "book 2's TwoLayerNet on the spiral (no download)"),
    "rnnlm": ("zerokara.sweep.train_tasks:rnnlm", "book 2's LSTM language model on Penn Treebank"),
    "better-rnnlm": (
        "zerokara.sweep.train_tasks:better_rnnlm",
        "book 2's BetterRnnlm (2 layers, dropout, tying) on Penn Treebank",
    ),
    "word2vec": ("zerokara.sweep.train_tasks:word2vec", "CBOW / skip-gram with negative sampling"),
    "seq2seq": ("zerokara.sweep.train_tasks:seq2seq", "book 2's encoder-decoders on addition or dates"),
}


def _lazy(target: str) -> Callable[[], SweepTask]:
    def factory() -> SweepTask:
        module, _, function = target.partition(":")
        return getattr(importlib.import_module(module), function)()

    factory.__qualname__ = f"lazy({target})"
    return factory


#: name -> factory (the factories import their task's modules only when called)
TASKS: dict[str, Callable[[], SweepTask]] = {name: _lazy(t) for name, (t, _) in BUILTIN.items()}
#: name -> one line for ``zerokara sweep --help``
HELP: dict[str, str] = {name: h for name, (_, h) in BUILTIN.items()}


def register(name: str, factory: Callable[[], SweepTask] | str, help: str = "") -> None:
    """Add (or replace) a task: ``factory`` is a callable or a ``"module:function"``."""
    TASKS[name] = _lazy(factory) if isinstance(factory, str) else factory
    HELP[name] = help or HELP.get(name, "")


def get_task(name: str | SweepTask) -> SweepTask:
    """The task registered as ``name`` (a SweepTask is returned as it is)."""
    if isinstance(name, SweepTask):
        return name
    if name not in TASKS:
        raise InputError(f"sweep: unknown task {name!r}; known: {', '.join(TASKS)}")
    task = TASKS[name]()
    if not isinstance(task, SweepTask) or task.name != name:
        raise TypeError(f"sweep task {name!r}: its factory returned {task!r}, not SweepTask({name!r}, ...)")
    return task


__all__ = ["SweepTask", "BUILTIN", "TASKS", "HELP", "register", "get_task"]
