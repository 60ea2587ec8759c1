"""Grids and random search: ranges, draws reproducible from a seed, one-line errors."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from tests.sweep import toy  # noqa: F401 -- registers the toy task
from zerokara.errors import InputError
from zerokara.sweep import Range, Sweep, get_task, parse_grid
from zerokara.sweep.grid import grid_settings, sample_settings

TOY = get_task("toy")
BA = get_task("binary-addition")


def test_ranges_parse_with_the_tasks_types():
    grid = parse_grid(["lr=1e-4..1e-1:log", "weight_init_std=0.1..10", "hidden=8..64",
                       "activation=sigmoid,tanh"], BA)
    assert grid == {"lr": Range(1e-4, 0.1, log=True), "weight_init_std": Range(0.1, 10.0),
                    "hidden": Range(8, 64, integer=True), "activation": ["sigmoid", "tanh"]}
    assert str(grid["lr"]) == "0.0001..0.1:log" and str(grid["hidden"]) == "8..64"
    # a float setting written with integer ends is still a float range
    assert parse_grid(["shift=0..2"], TOY)["shift"] == Range(0.0, 2.0)


@pytest.mark.parametrize("spec,message", [
    ("rate=1..0.1", "--grid rate=1..0.1: the low end must be below the high end"),
    ("rate=0.5..0.5", "the low end must be below the high end"),
    ("shift=0..1:log", "--grid shift=0..1:log: a log range needs a positive low end"),
    ("shift=-1..1:log", "a log range needs a positive low end"),
    ("shape=round..square", "shape is not a number setting (it reads 'round' as 'round'), so it takes a list"),
    ("rate=0.1..1:foo", "unknown scale 'foo' (expected LOW..HIGH or LOW..HIGH:log)"),
    ("rate=0.1..1:", "unknown scale ''"),
    ("rate=..1", "--grid rate=..1: expected LOW..HIGH or LOW..HIGH:log"),
    ("rate=0.1..", "expected LOW..HIGH or LOW..HIGH:log"),
    ("rate=0.1..1,2", "a range is one LOW..HIGH[:log], not part of a list"),
    ("rate=0.1..fast", "cannot parse rate value 'fast'"),  # the ends go through the task's parse
    ("rate=-1..1", "rate value '-1' is out of range"),
    ("width=0..4", "width value '0' is out of range"),
])
def test_bad_range_is_one_clear_error(spec, message):
    with pytest.raises(InputError) as e:
        parse_grid([spec], TOY)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_range_in_a_grid_needs_sample():
    with pytest.raises(InputError, match=r"--grid rate=0.1..1: a range is drawn from by a random "
                                         r"search \(--sample N\)"):
        grid_settings(parse_grid(["rate=0.1..1"], TOY))


@pytest.mark.parametrize("n", [0, -2])
def test_sample_needs_a_positive_count(n):
    with pytest.raises(InputError, match="--sample: expected a positive integer"):
        sample_settings({"rate": Range(0.1, 1.0)}, n)


def test_sample_needs_something_to_draw():
    with pytest.raises(InputError, match="--sample: nothing to draw"):
        Sweep(TOY, {}, 1, "unused", sample=3)


def test_the_same_sample_seed_draws_the_same_settings_and_ids(tmp_path):
    specs = ["rate=1e-3..1:log", "width=2..64:log", "shape=round,square", "shift=-1..1"]
    a = Sweep(TOY, specs, 2, tmp_path, sample=6, sample_seed=7)
    b = Sweep(TOY, specs, 2, tmp_path, sample=6, sample_seed=7)
    c = Sweep(TOY, specs, 2, tmp_path, sample=6, sample_seed=8)
    assert a.settings == b.settings and a.ids == b.ids and len(a.ids) == 12
    assert a.settings != c.settings and not set(a.ids) & set(c.ids)
    assert [cfg["seed"] for cfg in a.configs[:4]] == [0, 1, 0, 1]  # every draw over every seed
    for s in a.settings:
        assert 1e-3 <= s["rate"] <= 1 and isinstance(s["rate"], float)
        assert 2 <= s["width"] <= 64 and isinstance(s["width"], int)
        assert s["shape"] in ("round", "square") and -1 <= s["shift"] <= 1


def test_draws_follow_their_distributions():
    rng = random.Random(0)
    log = [Range(1e-4, 1.0, log=True).draw(rng) for _ in range(4000)]
    assert all(1e-4 <= v <= 1 for v in log)
    assert 0.45 < sum(v < 1e-2 for v in log) / len(log) < 0.55  # the median of 10^U(-4, 0) is 1e-2
    assert abs(statistics.mean(math.log10(v) for v in log) + 2) < 0.05
    ints = [Range(1, 3, integer=True).draw(rng) for _ in range(600)]
    assert set(ints) == {1, 2, 3} and all(isinstance(v, int) for v in ints)  # both ends included
    log_ints = [Range(1, 100, log=True, integer=True).draw(rng) for _ in range(3000)]
    assert min(log_ints) == 1 and max(log_ints) <= 100 and 0.4 < sum(v < 10 for v in log_ints) / 3000 < 0.6
    uni = [Range(0.1, 10.0).draw(rng) for _ in range(3000)]
    assert abs(statistics.mean(uni) - 5.05) < 0.2
    assert all(len(f"{v:g}".replace(".", "").lstrip("0")) <= 4 for v in uni)  # 4 significant digits


def test_a_setting_drawn_twice_runs_once():
    settings = sample_settings({"shape": ["round", "square"]}, 20, seed=1)
    assert sorted(s["shape"] for s in settings) == ["round", "square"]
