"""``zerokara sweep TASK`` for every train task: a small sweep of each runs
through the task's own train function (locally, and one on a real local Ray),
re-running skips the finished trials, a trial that fails is recorded as
crashed, and a random search draws the same settings from the same seed."""

from __future__ import annotations

import json

import pytest

from tests.realdata import real_data_dir
from tests.train.behaviour_runs import NEEDS
from zerokara.data.sequence import make_addition, write_sequence
from zerokara.errors import InputError
from zerokara.sweep import Sweep, get_task, run_sweep
from zerokara.sweep.task import BUILTIN
from zerokara.sweep.train_tasks import SPECS
from zerokara.train import MLPConfig, train_mlp


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-data")
    (root / "corpus.txt").write_text("you say goodbye and i say hello .\n" * 30)
    return {"sums": str(write_sequence(root / "sums.txt", make_addition(320, 0))),
            "corpus": str(root / "corpus.txt")}


#: task -> (real data it needs or None, a small grid: the first key has two values)
SMALL = {
    "spiral": (None, ["hidden=4,6", "epochs=2"]),
    "seq2seq": (None, ["hidden=4,6", "data={sums}", "epochs=1", "batch_size=64", "wordvec=4"]),
    "word2vec": (None, ["hidden=3,4", "corpus={corpus}", "epochs=1", "window=1", "batch_size=16"]),
    "mlp": ("mnist", ["hidden=8,10", "epochs=1", "batch_size=600"]),
    "cnn": ("mnist", ["lr=0.001,0.002", "epochs=1", "train_size=200", "test_size=200"]),
    "rnnlm": ("ptb", ["hidden=4,6", "wordvec=4", "data_slice=600", "epochs=1", "batch_size=4",
                      "time_size=5"]),
    "better-rnnlm": ("ptb", ["hidden=4,6", "wordvec=4", "tie=false", "data_slice=600", "epochs=1",
                             "batch_size=4", "time_size=5"]),
}


def test_every_train_task_has_a_sweep():
    assert set(SPECS) | {"binary-addition"} == set(BUILTIN)
    assert set(SMALL) == set(SPECS)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_sweep_of_each_task_runs_resumes_and_records_a_crash(name, files, tmp_path, monkeypatch):
    needs, grid = SMALL[name]
    if needs is not None:
        monkeypatch.setenv("ZEROKARA_DATA_DIR", str(real_data_dir(*NEEDS[needs])))
    grid = [g.format(**files) for g in grid]
    out = tmp_path / "s"
    sweep = run_sweep(name, grid, seeds=1, out_dir=out, workers=2)
    rows = sweep.table()
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    task = get_task(name)
    for rec in (json.loads(p.read_text()) for p in (out / "trials").glob("*.json")):
        assert rec["curve"]["value"] and rec["evals"], "a curve and per-epoch rows for the plots"
        first = next(iter(task.summary))
        assert rec[task.columns[first]] is not None
    assert (out / "results.csv").is_file() and list(out.glob("*.png"))

    again = run_sweep(name, grid, seeds=1, out_dir=out, workers=2)  # nothing left to run
    assert again.skipped == 2 and again.table() == rows

    # a setting the task refuses when it trains (not when it is parsed): recorded as crashed
    kept = [g for g in grid[1:] if not g.startswith("batch_size=")]
    bad = run_sweep(name, [*kept, "batch_size=100000"], seeds=1, out_dir=tmp_path / "bad",
                    workers=1)
    (row,) = bad.table()
    assert row["status"] == "crashed" and "batch" in row["error"].lower()


#: the language models score all of PTB's valid and test text per trial: long on Ray too
ON_RAY = [pytest.param(n, marks=pytest.mark.slow) if "rnnlm" in n else n for n in sorted(SMALL)]


@pytest.mark.parametrize("name", ON_RAY)
def test_each_task_sweeps_on_ray_to_the_local_figures(name, files, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    needs, grid = SMALL[name]
    if needs is not None:
        monkeypatch.setenv("ZEROKARA_DATA_DIR", str(real_data_dir(*NEEDS[needs])))
    grid = [g.format(**files) for g in grid]
    on_ray = run_sweep(name, grid, seeds=1, out_dir=tmp_path / "r", executor="ray", workers=2)
    local = run_sweep(name, grid, seeds=1, out_dir=tmp_path / "l", workers=2)

    def same(rows):
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]
    assert [r["status"] for r in on_ray.table()] == ["ok", "ok"]
    assert same(on_ray.table()) == same(local.table())  # the same trials give the same figures


def test_random_search_draws_the_same_settings_from_the_same_seed(tmp_path):
    grid = ["lr=0.01..1:log", "batch_size=3..30", "activation=sigmoid,tanh,relu"]
    a = Sweep("spiral", grid, 2, tmp_path / "a", sample=5, sample_seed=7)
    b = Sweep("spiral", grid, 2, tmp_path / "b", sample=5, sample_seed=7)
    c = Sweep("spiral", grid, 2, tmp_path / "c", sample=5, sample_seed=8)
    assert a.configs == b.configs and a.ids == b.ids and len(a.configs) == 10
    assert a.configs != c.configs
    for config in a.configs:
        assert 0.01 <= config["lr"] <= 1 and 3 <= config["batch_size"] <= 30
        assert config["activation"] in ("sigmoid", "tanh", "relu")


def test_a_trial_is_the_task_run_itself():
    """The sweep's trial and ``train_mlp`` give the same figures for the same config."""
    task = get_task("spiral")
    config = task.check({**task.defaults, "epochs": 3, "hidden": 5, "seed": 2})
    rec = task.trial(config)
    run = train_mlp(MLPConfig(data="spiral", **config))
    assert rec["status"] == "ok"
    assert {k: rec[k] for k in run.metrics if k != "train_seconds"} == \
        {k: v for k, v in run.metrics.items() if k != "train_seconds"}


@pytest.mark.parametrize("spec,message", [
    ("batch_size=big", "cannot parse batch_size value 'big' (expected an integer or none)"),
    ("lr=fast", "cannot parse lr value 'fast' (expected a finite number or none)"),
    ("batchnorm=maybe", "cannot parse batchnorm value 'maybe' (expected true or false)"),
    ("depth=3", "unknown key 'depth'"),
])
def test_settings_are_read_by_their_declared_types(spec, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Sweep("mlp", [spec], 1, "unused")
