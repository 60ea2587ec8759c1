"""``zerokara sweep``: the grid, parallel trials on local processes and on Ray,
crashed and diverged trials, re-runs that skip finished trials, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.train.binary_addition import run_trial
from zerokara.sweep import Sweep, get_task, parse_grid

TASK = get_task("binary-addition")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zerokara", *args], capture_output=True, text=True,
                          timeout=300)


# trial functions for the workers (module level: a spawned worker imports them by name)
def dies_on_seed_1(config: dict) -> dict:
    """A worker that dies hard (as killed, or a crash in native code) on seed 1."""
    if config["seed"] == 1:
        os._exit(3)
    return run_trial(config)


def raises_on_seed_1(config: dict) -> dict:
    if config["seed"] == 1:
        raise RuntimeError("boom")
    return run_trial(config)


def comparable(rows: list[dict]) -> list[dict]:
    """A table without the timing column (the only one that differs between runs)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


# -- the grid -----------------------------------------------------------------------
def test_parse_grid():
    grid = parse_grid(["weight_init_std=0.1,1,10", "lr=0.1,1", "hidden=16,160", "init=std,xavier,he",
                       "activation=sigmoid,tanh,relu", "max-grad=none,5"], TASK)
    assert grid == {"weight_init_std": [0.1, 1.0, 10.0], "lr": [0.1, 1.0], "hidden": [16, 160],
                    "init": ["std", "xavier", "he"], "activation": ["sigmoid", "tanh", "relu"],
                    "max_grad": ["none", 5.0]}


@pytest.mark.parametrize("spec,message", [
    ("depth=2", "unknown key 'depth'; known: hidden, activation, init, weight_init_std, lr"),
    ("lr=0.1,fast", "cannot parse lr value 'fast' (expected a finite number > 0)"),
    ("hidden=16,1.5", "cannot parse hidden value '1.5' (expected a positive integer)"),
    ("activation=sigmoid,swish", "activation value 'swish' is not one of sigmoid, tanh, relu"),
    ("lr", "expected KEY=V1,V2,... got 'lr'"),
    ("seed=1,2", "use --seeds N"),
])
def test_bad_grid_is_a_clear_error(spec, message):
    with pytest.raises(InputError) as e:
        parse_grid([spec], TASK)
    assert message in str(e.value)


@pytest.mark.parametrize("args,message", [
    (["--grid", "depth=2"], "zerokara: error: --grid: unknown key 'depth'; known: hidden,"),
    (["--grid", "lr=0.1,abc"], "zerokara: error: --grid: cannot parse lr value 'abc'"),
    (["--grid", "lr=1", "--grid", "lr=2"], "lr given twice"),
    # values outside an option's declared range: tests/test_options.py (exit status 2)
])
def test_bad_sweep_command_is_one_line(tmp_path, args, message):
    res = run("sweep", "binary-addition", "--out", str(tmp_path / "s"), "--no-progress", *args)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr.count("\n") == 1 and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s").exists()  # nothing is started on a bad grid


@pytest.mark.parametrize("args", [["sweep"], ["sweep", "binary-addition"]])
def test_help(args):
    res = run(*args, "--help")
    assert res.returncode == 0 and "usage: zerokara sweep" in res.stdout


# -- running ------------------------------------------------------------------------
def test_crashed_and_diverged_trials_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    """A batch of 10**12 pairs cannot be allocated (a MemoryError: crashed); ReLU with BCE
    and lr 1 explodes (a loss whose exp overflows float32, or NaN) within 3 steps (diverged);
    the sigmoid trial finishes."""
    out = tmp_path / "s"
    assert main(["sweep", "binary-addition", "--grid", "batch_size=1,1000000000000", "--grid",
                 "activation=sigmoid,relu", "--grid", "loss=bce", "--grid", "lr=1", "--seeds", "1",
                 "--iters", "200", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())
    by = {(r["batch_size"], r["activation"]): r for r in rows}
    assert {k: r["status"] for k, r in by.items()} == {
        (1, "sigmoid"): "ok", (1, "relu"): "diverged",
        (10**12, "sigmoid"): "crashed", (10**12, "relu"): "crashed"}
    assert by[10**12, "relu"]["error"].startswith("MemoryError: Unable to allocate")
    error = by[1, "relu"]["error"]
    assert ("loss became nan" in error or "loss exploded" in error) and by[1, "relu"]["iterations"] < 200
    assert by[1, "sigmoid"]["exact_accuracy"] is not None
    assert (out / "results.csv").read_text().count("\n") == 5 and len(list((out / "trials").iterdir())) == 4
    assert "1 diverged, 2 crashed" in printed
    for key in ("batch_size", "activation"):
        assert (out / f"loss_{key}.png").is_file()


def test_a_worker_that_dies_is_recorded_and_a_rerun_retries_only_it(tmp_path):
    out = tmp_path / "s"
    sweep = Sweep(TASK, {"hidden": [4]}, 3, out, {"iters": 100})
    rows = sweep.run(workers=1, trial=dies_on_seed_1)
    assert [r["status"] for r in rows] == ["ok", "crashed", "ok"]
    assert "worker process died" in rows[1]["error"]
    # a re-run of the same sweep skips the finished trials and runs the crashed one
    files = {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}
    again = Sweep(TASK, {"hidden": [4]}, 3, out, {"iters": 100})
    rows2 = again.run(workers=2)
    assert again.skipped == 2 and [r["status"] for r in rows2] == ["ok", "ok", "ok"]
    changed = [n for n, t in files.items() if (out / "trials" / n).stat().st_mtime_ns != t]
    assert changed == [f"{rows[1]['id']}.json"]
    assert comparable(rows2)[0] == comparable(rows)[0]


def test_rerun_skips_finished_trials(tmp_path):
    """The same sweep twice: the second run trains nothing and writes the same table."""
    out = tmp_path / "s"
    rows = Sweep(TASK, {"lr": [0.1, 1.0]}, 2, out, {"iters": 150}).run()
    assert [r["status"] for r in rows] == ["ok"] * 4
    before = {p.name: p.read_bytes() for p in (out / "trials").iterdir()}
    table = (out / "results.json").read_text()
    res = run("sweep", "binary-addition", "--grid", "lr=0.1,1", "--seeds", "2", "--iters", "150",
              "--out", str(out), "--no-progress")
    assert res.returncode == 0 and "skipped 4 trial(s)" in res.stdout
    assert {p.name: p.read_bytes() for p in (out / "trials").iterdir()} == before
    assert (out / "results.json").read_text() == table


def test_a_trial_that_raises_is_recorded_with_its_error(tmp_path):
    rows = Sweep(TASK, {"hidden": [4]}, 2, tmp_path, {"iters": 50}).run(
        workers=1, trial=raises_on_seed_1)
    assert [r["status"] for r in rows] == ["ok", "crashed"]
    assert rows[1]["error"] == "RuntimeError: boom"


def test_ray_executor_without_ray_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert main(["sweep", "binary-addition", "--executor", "ray", "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "ray is not installed; pip install 'zerokara[ray]'" in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_ray_executor_gives_the_same_table_as_local(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'zerokara[ray]')")
    grid = {"activation": ["sigmoid", "tanh"]}
    local = Sweep(TASK, grid, 2, tmp_path / "local", {"iters": 300}).run()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = Sweep(TASK, grid, 2, tmp_path / "ray", {"iters": 300}).run(executor="ray")
    finally:
        ray.shutdown()
    assert [r["status"] for r in on_ray] == ["ok"] * 4
    assert comparable(on_ray) == comparable(local)
