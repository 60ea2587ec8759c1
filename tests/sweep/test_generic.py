"""The generic sweep code on a made-up task (tests/sweep/toy.py): tables, resume by
re-running, crashed trials, worker death, random search, Ray; the registry and the
command line built from it; old binary-addition trial files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.sweep import toy
from zerokara.cli import build_parser, main
from zerokara.errors import InputError
from zerokara.sweep import Sweep, SweepTask, get_task, register, run_sweep, trial_id
from zerokara.sweep.task import TASKS
from zerokara.train.report import RecordingReporter

TOY = get_task("toy")


def comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_a_grid_of_the_toy_task(tmp_path, capsys):
    rep = RecordingReporter()
    sweep = run_sweep("toy", ["rate=0.5,20", "shape=round,square"], seeds=2, out_dir=tmp_path,
                      workers=2, reporter=rep)
    rows = sweep.table()
    assert [(r["rate"], r["shape"], r["seed"]) for r in rows][:3] == [
        (0.5, "round", 0), (0.5, "round", 1), (0.5, "square", 0)]
    assert [r["status"] for r in rows] == ["ok"] * 4 + ["diverged"] * 4
    assert list(rows[0]) == ["id", *toy.DEFAULTS, "status", "score", "final_value", "seconds", "error"]
    assert rows[2]["score"] == 8 * 0.75 and rows[0]["final_value"] == toy.trial(sweep.configs[0])["final"]
    assert json.loads((tmp_path / "results.json").read_text()) == rows
    assert (tmp_path / "results.csv").read_text().count("\n") == 9
    assert {p.name for p in sweep.plots} == {"loss_rate.png", "loss_shape.png"}
    assert rep.started == [("sweep", 8, 0)] and rep.updates[-1] == (8, {"ok": 4, "diverged": 4, "crashed": 0})
    assert sum(line.startswith("diverged: round, rate 20, width 8, seed") for line in rep.lines) == 2
    assert capsys.readouterr() == ("", "")  # the library prints nothing
    text = sweep.summary_text().splitlines()
    assert text[0].split() == ["rate", "shape", "ok/seeds", "diverged", "crashed", "score", "mean",
                               "[min,", "max]", "final_value", "s/trial"]
    assert text[1].split()[:6] == ["0.5", "round", "2/2", "0", "0", "4.0000"]
    assert text[3].split()[:5] == ["20", "round", "0/2", "2", "0"]


def test_resume_by_rerun_skips_finished_trials_and_reruns_crashed_ones(tmp_path):
    first = Sweep(TOY, {"width": [4, 16]}, 2, tmp_path)
    rows = first.run(workers=1, trial=toy.trial_raises_on_seed_1)
    assert [r["status"] for r in rows] == ["ok", "crashed", "ok", "crashed"]
    assert rows[1]["error"] == "RuntimeError: toy boom"
    files = {p.name: p.read_bytes() for p in (tmp_path / "trials").iterdir()}
    again = Sweep(TOY, {"width": [4, 16]}, 2, tmp_path)
    rows2 = again.run(workers=2)
    assert again.skipped == 2 and [r["status"] for r in rows2] == ["ok"] * 4
    changed = {n for n, b in files.items() if (tmp_path / "trials" / n).read_bytes() != b}
    assert changed == {f"{rows[1]['id']}.json", f"{rows[3]['id']}.json"}
    third = Sweep(TOY, {"width": [4, 16]}, 2, tmp_path)
    assert comparable(third.run()) == comparable(rows2) and third.skipped == 4


def test_a_worker_that_dies_is_a_crashed_trial(tmp_path):
    rows = Sweep(TOY, {"rate": [1.0]}, 3, tmp_path).run(workers=1, trial=toy.trial_dies_on_seed_1)
    assert [r["status"] for r in rows] == ["ok", "crashed", "ok"]
    assert "worker process died" in rows[1]["error"]


def test_a_random_search_resumes_by_rerun(tmp_path):
    specs = ["rate=0.01..100:log", "width=1..32"]
    first = run_sweep(TOY, specs, seeds=1, out_dir=tmp_path, sample=5, sample_seed=3)
    assert first.skipped == 0 and len(first.configs) == 5
    assert {p.name for p in first.plots} == {"loss.png", "sample_rate.png", "sample_width.png"}
    described = json.loads((tmp_path / "sweep.json").read_text())
    assert described["grid"] == {"rate": "0.01..100:log", "width": "1..32"}
    assert described["sample"] == 5 and described["settings"] == first.settings
    again = run_sweep(TOY, specs, seeds=1, out_dir=tmp_path, sample=5, sample_seed=3)
    assert again.skipped == 5 and again.ids == first.ids


def test_the_toy_task_on_ray_gives_the_same_table_as_local(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'zerokara[ray]')")
    grid = {"rate": [0.5, 2.0, 20.0]}
    local = Sweep(TOY, grid, 2, tmp_path / "local").run()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = Sweep(TOY, grid, 2, tmp_path / "ray").run(executor="ray",
                                                           trial=toy.trial_raises_on_seed_1)
        again = Sweep(TOY, grid, 2, tmp_path / "ray")
        rows = again.run(executor="ray")
    finally:
        ray.shutdown()
    assert [r["status"] for r in on_ray] == ["ok", "crashed", "ok", "crashed", "diverged", "crashed"]
    assert on_ray[1]["error"] == "RuntimeError: toy boom"  # the trial's own error, as locally
    assert again.skipped == 3 and comparable(rows) == comparable(local)


# -- the registry and the command line --------------------------------------------------
def test_registry():
    assert list(TASKS)[0] == "binary-addition"
    with pytest.raises(InputError, match="unknown task 'nope'; known: binary-addition, .*toy"):
        get_task("nope")
    register("toy-by-name", "tests.sweep.toy:toy_task")
    with pytest.raises(TypeError, match="returned SweepTask"):
        get_task("toy-by-name")  # its factory builds the task named "toy"
    del TASKS["toy-by-name"]
    assert isinstance(get_task(TOY), SweepTask)


def test_the_command_line_has_a_parser_per_registered_task(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "toy", "--help"])
    out = capsys.readouterr().out
    assert "usage: zerokara sweep toy" in out and "--sample N" in out
    assert "rate=0.5, width=8, shape=round, shift=0" in out  # the task's settings, loaded for --help


def test_the_command_line_runs_the_toy_task(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", "toy", "--sample", "3", "--grid", "rate=0.1..30:log", "--seeds", "1",
                 "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "sweep toy: 3 draw(s) (sample seed 0): 3 setting(s) x 1 seed(s) = 3 trials" in printed
    assert "wrote" in printed and "sample_rate.png" in printed


@pytest.mark.parametrize("args,message", [
    (["--iters", "5"], "--iters: toy has no iters setting"),
    (["--grid", "rate=0.1..1"], "a range is drawn from by a random search (--sample N)"),
    (["--sample-seed", "2", "--grid", "rate=1,2"], "--sample-seed applies to a random search"),
    # values outside an option's declared range: tests/test_options.py (exit status 2)
    (["--sample", "2", "--grid", "rate=1..0.5"], "the low end must be below the high end"),
])
def test_bad_toy_command_is_one_line(tmp_path, capsys, args, message):
    assert main(["sweep", "toy", "--out", str(tmp_path / "s"), "--no-progress", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_building_the_parser_loads_no_task():
    code = ("import sys; from zerokara.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith(('zerokara.sweep.', 'matplotlib'))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['zerokara.sweep.task']"


# -- binary-addition trial files written before the task contract ---------------------------
OLD_RECORD = {  # as zerokara.train.sweep wrote it: curve values under "loss", "evals"
    "id": "ca913d9c6b80", "task": "binary-addition",
    "config": {"hidden": 4, "activation": "sigmoid", "init": "std", "weight_init_std": 1.0, "lr": 0.1,
               "iters": 50, "batch_size": 1, "max_grad": None, "loss": "mse", "optimizer": "sgd",
               "seed": 0},
    "status": "ok", "error": None, "iterations": 50, "loss": 1.035, "bit_accuracy": 0.469,
    "exact_accuracy": 0.0, "heldout_pairs": 16334, "heldout_bit_accuracy": 0.469,
    "heldout_exact_accuracy": 0.0, "final_train_loss": 1.034, "train_seconds": 0.022,
    "curve": {"window": 10, "iteration": [10, 20, 30, 40, 50], "loss": [1.2, 1.1, 1.05, 1.04, 1.03]},
    "evals": [{"iteration": 0, "exact_accuracy": 0.0}, {"iteration": 50, "exact_accuracy": 0.0}],
    "seconds": 0.233}


def test_old_binary_addition_trial_files_are_read_and_skipped(tmp_path):
    task = get_task("binary-addition")
    assert trial_id(task, OLD_RECORD["config"]) == "ca913d9c6b80"  # the same id as before
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "ca913d9c6b80.json").write_text(json.dumps(OLD_RECORD))
    sweep = Sweep(task, {"hidden": [4]}, 1, tmp_path, {"iters": 50})
    rows = sweep.run()
    assert sweep.skipped == 1 and rows[0]["all_pairs_loss"] == 1.035 and rows[0]["seconds"] == 0.233
    assert [p.name for p in sweep.plots] == ["loss.png"]  # drawn from the old curve
