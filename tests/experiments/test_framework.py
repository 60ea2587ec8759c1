"""zerokara experiment: the registry, the JSON and pictures it writes, the command line,
bad names; and optimizer-paths, whose figure is SGD's zigzag across the valley."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.experiments import EXPERIMENTS, module, run_experiment
from zerokara.experiments import optimizer_paths as paths


def test_every_registered_experiment_has_a_title_and_a_run():
    for name in EXPERIMENTS:
        mod = module(name)
        assert mod.TITLE and callable(mod.run), name
        assert all(isinstance(v, tuple) and len(v) == 2 for v in getattr(mod, "BOOK", {}).values()), name


def test_unknown_experiment_is_one_clear_line(capsys):
    with pytest.raises(InputError, match="unknown 'optimiser-paths'; expected one of gradient-descent"):
        module("optimiser-paths")
    assert main(["experiment", "optimiser-paths"]) != 0
    err = capsys.readouterr().err
    assert "unknown 'optimiser-paths'" in err and "Traceback" not in err


def test_optimizer_paths_sgd_zigzags_and_the_adaptive_ones_bend_less(tmp_path):
    out = run_experiment("optimizer-paths", tmp_path, quick=True)
    f = out.figures
    # SGD's step is mostly along the steep y axis: it crosses the valley floor every step
    assert f["SGD_crossings"] == paths.STEPS
    for name in ("Momentum", "AdaGrad", "Adam"):
        assert f[f"{name}_crossings"] < f["SGD_crossings"] / 4, name
    # every optimizer goes down from f(-7, 2) = 6.45
    start = float(paths.f(np.float64(-7), np.float64(2)))
    assert all(f[f"{n}_f_after_30"] < start / 10 for n in paths.RATES)
    assert (tmp_path / "optimizer-paths.png").stat().st_size > 10_000
    record = json.loads((tmp_path / "optimizer-paths.json").read_text())
    assert record["experiment"] == "optimizer-paths" and record["quick"] is True
    assert record["figures"]["paths"]["SGD"][0] == [-7.0, 2.0]


def test_paths_follow_the_optimizers_update_rules():
    """SGD's first step is the gradient times lr: (-7, 2) - 0.95 * (-0.7, 4)."""
    p = paths.path("SGD", steps=1)
    np.testing.assert_allclose(p[1], [-7 + 0.95 * 0.7, 2 - 0.95 * 4])


def test_cli_runs_an_experiment_and_lists_them(tmp_path, capsys):
    assert main(["experiment", "optimizer-paths", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "SGD_crossings" in out and "optimizer-paths.png" in out
    assert main(["experiment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in EXPERIMENTS)
