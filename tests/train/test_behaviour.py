"""Every train task gives the metrics it gave before the trainers became one
loop: a short seeded run of each, compared with the figures recorded from the
code before that change (behaviour_baseline.json, made by
``python -m tests.train.behaviour_runs``).

Floats are compared to a relative 1e-6: the same code gives the same bits on
one machine, and a change of behaviour (another batch order, another
initialisation, a lost step) moves these figures far more than that.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.realdata import real_data_dir
from tests.train.behaviour_runs import NEEDS, RUNS, make_inputs, run

BASELINE = json.loads((Path(__file__).parent / "behaviour_baseline.json").read_text())


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.mark.parametrize("name", sorted(RUNS))
def test_short_run_gives_the_recorded_metrics(name, inputs, tmp_path, monkeypatch):
    needs, _ = RUNS[name]
    if needs is not None:
        monkeypatch.setenv("ZEROKARA_DATA_DIR", str(real_data_dir(*NEEDS[needs])))
    got = run(name, tmp_path, inputs)
    want = BASELINE[name]
    assert sorted(got) == sorted(want), f"{name}: metrics keys changed"
    diff = {k: (got[k], want[k]) for k in want if not _same(got[k], want[k])}
    assert not diff, f"{name}: (now, before) {diff}"
