"""Every numeric option of every command refuses values outside its declared range.

The cases are generated from the parser itself and from the declarations in
:mod:`zerokara.options` the CLI uses: an option added later is covered here
without a new test, and one added with a bare ``type=int`` fails the first test.
"""

from __future__ import annotations

import argparse
import math

import pytest

from zerokara import options
from zerokara.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for every parser under ``parser``, itself included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _typed_options():
    """(command path, option string, type) for every option that takes a typed value."""
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.type is not None:
                yield path, action.option_strings[-1], action.type


TYPED = list(_typed_options())
CASES = [(path, opt, bad) for path, opt, kind in TYPED for bad in kind.bad_values()]


def test_every_typed_option_is_declared_in_zerokara_options():
    undeclared = [f"{' '.join(p)} {o}: {t!r}" for p, o, t in TYPED if not isinstance(t, options.DECLARED)]
    assert not undeclared, "declare these options' ranges in zerokara.options: " + "; ".join(undeclared)
    assert len(TYPED) > 60 and len(CASES) > 400  # the walk reaches every command's options


@pytest.mark.parametrize(
    "path,option,bad", CASES, ids=[f"{' '.join(p)} {o}={b!r}" for p, o, b in CASES]
)
def test_a_value_outside_the_declared_range_is_one_line_and_status_2(path, option, bad, capsys):
    with pytest.raises(SystemExit) as e:
        main([*path, f"{option}={bad}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"argument {option}" in err and "expected" in err, err


@pytest.mark.parametrize(
    "kind",
    [options.POSITIVE_INT, options.SEED, options.PROBABILITY, options.FRACTION, options.MAX_GRAD, options.FACTOR],
    ids=lambda k: k.what,
)
def test_the_declared_ranges_accept_their_ends_and_refuse_past_them(kind):
    for bad in kind.bad_values():
        with pytest.raises(argparse.ArgumentTypeError, match="expected"):
            kind(bad)
    if kind.low is not None and not kind.low_open:
        assert kind(str(int(kind.low))) == kind.low
    if kind.high is not None and not kind.high_open:
        assert kind(str(int(kind.high))) == kind.high


def test_max_grad_none_is_spelled_out_and_means_the_same_everywhere():
    assert options.MAX_GRAD("none") == options.NO_CLIP and options.MAX_GRAD("0.25") == 0.25
    assert options.clip_norm("none", "X") is None and options.clip_norm(None, "X") is None
    assert options.clip_norm(5, "X") == 5.0
    for bad in (0, -1, math.inf, math.nan, "0.1", True):
        with pytest.raises(Exception, match="X: max_grad expected a norm > 0"):
            options.clip_norm(bad, "X")


def test_a_python_setting_is_checked_against_the_same_declaration():
    assert options.accepts(options.POSITIVE_INT, 3) and not options.accepts(options.POSITIVE_INT, 0)
    assert not options.accepts(options.POSITIVE_INT, 2.5) and not options.accepts(options.POSITIVE_INT, "3")
    assert options.accepts(options.MAX_GRAD, "none") and not options.accepts(options.PROBABILITY, 1.0)
