"""Nothing lost, nothing silent: every ``zerokara train`` task, killed with SIGKILL
again and again -- at seeded random moments and, on purpose, inside its checkpoint
writes -- and started again with ``--resume``, ends with the very run an
uninterrupted start makes: the same tensors bit for bit, the same history, metrics
and views, the same files, no temporary left; and a finished run resumed changes
nothing.

Each task runs twice: into A uninterrupted (in-process, through
``zerokara.cli.main``), into B in forked children (harness.py) that are killed:

* ``TIMED`` children are killed after a seeded delay: a random fraction of the time
  the start has still to run before the last commit, as an uninterrupted forked
  run of the same command timed it (each start resumes further on, so the kills
  spread over the whole run);
* ``REPLACE`` and ``FSYNC`` children kill themselves at the k-th ``os.replace``
  (just before the rename: the temporary is written, not committed; or just after:
  committed, the views not yet written) or the k-th ``os.fsync`` into the run folder;
* every one of those also dies right after committing the run's last checkpoint,
  if it gets there (so none finishes on its own), and the random phase ends once
  the last checkpoint is committed;
* then the final phase, the same every time: children killed right after the last
  commit (if no random kill got there), then after history.json, after
  metrics.json and before the first plot -- each a resume of the finished run that
  must draw again the views the kill kept from being written;
* then a child that must finish (exit 0), and a resume of the finished run that
  must change no file (bytes and mtimes).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from tests.reliability.harness import (
    CHECKPOINT,
    Clock,
    Kill,
    compare_runs,
    is_final,
    kill_after,
    patch_data,
    snapshot,
    spawn,
    temporaries,
    wait,
)
from zerokara.cli import main
from zerokara.data.sequence import make_addition, write_sequence
from zerokara.io import load_checkpoint

#: random kills per task: after a delay, at the k-th rename, at the k-th fsync
TIMED, REPLACE, FSYNC = 8, 4, 4

#: the smallest runs that still make several epochs (or evaluations) and checkpoints;
#: MNIST and PTB are tiny synthetic stand-ins (harness.tiny_mnist, harness.tiny_ptb)
TASKS: dict[str, list[str]] = {
    name: args.split()
    for name, args in {
        "mlp": "mlp --model multi-layer --hidden 16,16 --batchnorm --dropout 0.2 --epochs 8 --batch-size 100",
        "spiral": "spiral --epochs 30 --batch-size 100",
        "cnn": "cnn --train-size 40 --test-size 20 --epochs 6 --batch-size 20",
        "binary-addition": "binary-addition --iters 300 --eval-every 25 --hidden 8 --batch-size 4",
        "seq2seq": "seq2seq --data {sums} --model attention --epochs 8 --wordvec 6 --hidden 8 "
        "--batch-size 50",
        "rnnlm": "rnnlm --data-slice 1200 --epochs 8 --wordvec 8 --hidden 8 --batch-size 4 --time-size 10",
        "better-rnnlm": "better-rnnlm --data-slice 1200 --epochs 8 --wordvec 8 --hidden 8 --batch-size 4 "
        "--time-size 10 --dropout 0.3",
        "simple-rnnlm": "simple-rnnlm --words 300 --epochs 12 --wordvec 8 --hidden 8 --batch-size 5 "
        "--time-size 5",
        "word2vec": "word2vec --epochs 8 --hidden 6 --window 2 --batch-size 100 --questions {questions}",
        # a checkpoint every 100 epochs and at the last
        "word2vec-toy": "word2vec --data toy --epochs 1010",
        "count-vectors": "count-vectors --data ptb --dim 4 --questions {questions}",
    }.items()
}
#: tasks without --resume: started again with the same command
NO_RESUME: set[str] = set()  # every task has one now (count-vectors': a finished run checked)


@pytest.fixture(autouse=True)
def tiny_data(monkeypatch):
    patch_data(monkeypatch)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("inputs")
    (root / "questions.txt").write_text(": family\nw1 w5 w2 w9\nw3 w11 w17 w23\n")
    return {
        "questions": str(root / "questions.txt"),
        "sums": str(write_sequence(root / "sums.txt", make_addition(300, 0))),
    }


def start_argv(name: str, argv: list[str], out: Path) -> list[str]:
    """The first start as given; once a checkpoint exists, with --resume."""
    if name in NO_RESUME or not (out / CHECKPOINT).is_file():
        return argv
    return [*argv, "--resume"]


def log_tail(log: Path, lines: int = 6) -> str:
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:]) if log.exists() else ""


def checkpoint_state(out: Path) -> str:
    """ "none", the committed checkpoint's iteration, or "final" (it holds the final metrics)."""
    if not (out / CHECKPOINT).is_file():
        return "none"
    return "final" if is_final(out) else str(load_checkpoint(out / CHECKPOINT)[1]["iteration"])


def calibrate(argv: list[str], out: Path, log: Path) -> dict:
    """An uninterrupted forked run into ``out``: when (seconds after the fork) it
    committed its last checkpoint, and how many renames and fsyncs came first."""
    record = out.parent / f"{out.name}.clock.json"
    assert wait(spawn(argv, log, Clock(out, record).install)) == ("exit", 0), log_tail(log)
    return json.loads(record.read_text())


def plan(
    name: str, clock: dict, out: Path, timed: int, replaces: int, fsyncs: int
) -> list[tuple[str, float | Kill]]:
    """The seeded random kills of ``name``, in a seeded order (a timed kill's number is the
    fraction of the time left, see :func:`delay`)."""
    rng = random.Random(f"zerokara kill-resume {name}")
    steps: list[tuple[str, float | Kill]] = [("timed", rng.uniform(0.0, 0.5)) for _ in range(timed)]

    def at(hook: str, most: int) -> tuple[str, Kill]:  # the k-th os.replace or os.fsync
        k = rng.randint(1, most)
        return hook, Kill(out, **{hook: k}, when=rng.choice(["before", "after"]), final_commit=True)

    steps += [at("replace", min(8, clock["replaces"])) for _ in range(replaces)]
    steps += [at("fsync", min(12, clock["fsyncs"])) for _ in range(fsyncs)]
    rng.shuffle(steps)
    return steps


def delay(u: float, clock: dict, b: Path) -> float:
    """The fraction ``u`` of the time a start of B has still to run before its last
    commit: the start-up (data, model; extrapolated to iteration 0 from the forked
    run's commits) and the part of the training not in B's checkpoint yet."""
    (t0, i0), (t1, i1) = clock["commits"][0], clock["commits"][-1]
    startup = max(0.0, t0 - (t1 - t0) * i0 / (i1 - i0)) if i1 > i0 else 0.0
    done = load_checkpoint(b / CHECKPOINT)[1].get("iteration", 0) if (b / CHECKPOINT).is_file() else 0
    left = 1 - done / i1 if i1 else 1.0
    return u * (startup + (t1 - startup) * left)


def final_phase(out: Path) -> list[Kill]:
    """After the last commit (reached first, if the random kills did not): the finished
    run's views, each one killed in turn."""
    return [Kill(out, final_commit=True)] + [
        Kill(out, name=n, when=w, finished_only=True)
        for n, w in (("history.json", "after"), ("metrics.json", "after"), ("*.png", "before"))
    ]


@pytest.mark.parametrize("name", list(TASKS))
def test_killed_and_resumed_run_equals_an_uninterrupted_one(name, tmp_path, inputs):
    kill_and_resume(name, TASKS[name], tmp_path, inputs, (TIMED, REPLACE, FSYNC))


#: longer runs, more kills (``-m slow``; 3 to 4 times the default suite's kills)
LONG: dict[str, list[str]] = {
    name: args.split()
    for name, args in {
        "spiral": "spiral --epochs 120 --batch-size 100",
        "binary-addition": "binary-addition --iters 1200 --eval-every 25 --hidden 8 --batch-size 4",
        "better-rnnlm": "better-rnnlm --data-slice 1200 --epochs 24 --wordvec 8 --hidden 8 --batch-size 4 "
        "--time-size 10 --dropout 0.3",
        "word2vec": "word2vec --epochs 24 --hidden 6 --window 2 --batch-size 100 --questions {questions}",
    }.items()
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LONG))
def test_many_kills_on_longer_runs(name, tmp_path, inputs):
    kill_and_resume(name, LONG[name], tmp_path, inputs, (3 * TIMED, 3 * REPLACE, 3 * FSYNC))


def kill_and_resume(
    name: str, args: list[str], tmp_path: Path, inputs: dict[str, str], kills_planned: tuple[int, int, int]
) -> None:
    """Run ``zerokara train ARGS`` into A, then into B through kills (the module's
    docstring); fail listing every difference and every kill."""

    def command(name: str, inputs: dict[str, str], out: Path) -> list[str]:
        return ["train", *[x.format(**inputs) for x in args], "--out", str(out), "--no-progress"]

    a, b, log = tmp_path / "a", tmp_path / "b", tmp_path / "children.log"
    assert main(command(name, inputs, a)) == 0
    # the same run in a forked child: the harness changes nothing (PNGs included), and
    # the time it takes aims the timed kills
    clock = calibrate(command(name, inputs, tmp_path / "fork"), tmp_path / "fork", log)
    problems = [f"uninterrupted in a child: {p}" for p in compare_runs(a, tmp_path / "fork")]
    argv = command(name, inputs, b)
    events: list[str] = []
    kills = 0

    def start(kind: str, what: float | Kill | None) -> tuple[str, int]:
        nonlocal kills
        args = start_argv(name, argv, b)
        if kind == "timed":
            assert isinstance(what, float)
            end = kill_after(spawn(args, log, Kill(b, final_commit=True).install), delay(what, clock, b))
        else:
            end = wait(spawn(args, log, what.install if isinstance(what, Kill) else None))
        kills += end == ("signal", 9)
        try:
            state = checkpoint_state(b)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the finding
            state = f"unreadable: {e}"
            problems.append(f"after {kind} {what!r}: the checkpoint is {state}")
        events.append(f"{kind} {what!r:.60} -> {end[0]} {end[1]}, checkpoint {state}")
        if end[0] == "exit" and end[1] != 0 and name not in NO_RESUME:
            problems.append(f"{kind} {what!r}: exit {end[1]}: {log_tail(log)}")
        return end

    for kind, what in plan(name, clock, b, *kills_planned):
        if is_final(b):
            events.append(f"{kind} skipped: the last checkpoint is committed")
            continue
        start(kind, what)
    for kill in final_phase(b):
        if kill.final_commit and is_final(b):
            continue  # the random kills got there
        start("final phase", kill)
    end = start("finish", None)
    if end != ("exit", 0):
        problems.append(f"the last start must finish: {end}: {log_tail(log)}")

    problems += compare_runs(a, b)

    # a finished run resumed changes nothing (count-vectors, without --resume: refused)
    before = snapshot(b)
    end = wait(spawn(start_argv(name, argv, b), log))
    if end != ("exit", 0 if name not in NO_RESUME else 1):
        problems.append(f"resuming the finished run: {end}: {log_tail(log)}")
    after = snapshot(b)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        problems.append(f"resuming the finished run changed {changed}")

    summary = f"{name}: {kills} kills\n  " + "\n  ".join(events)
    (tmp_path / "kills.txt").write_text(summary + "\n")
    assert not problems, "\n".join([*problems, summary])


# -- the windows, one by one -------------------------------------------------------------------
SPIRAL = ["train", "spiral", "--epochs", "3", "--batch-size", "100", "--no-progress"]


def _killed_then_resumed(tmp_path, kill_args: dict) -> tuple[Path, Path, dict]:
    a, b, log = tmp_path / "a", tmp_path / "b", tmp_path / "children.log"
    assert main([*SPIRAL, "--out", str(a)]) == 0
    end = wait(spawn([*SPIRAL, "--out", str(b)], log, Kill(b, **kill_args).install))
    assert end == ("signal", 9), log_tail(log)
    left = {"files": sorted(p.name for p in b.iterdir())}
    assert main([*SPIRAL, "--out", str(b), "--resume"]) == 0
    return a, b, left


def test_a_kill_before_a_commit_leaves_the_previous_checkpoint_and_resume_equals(tmp_path):
    # spiral, 3 epochs: the 4th rename into the folder is the second checkpoint's (the
    # first's is followed by history.json's and checkpoint.json's)
    a, b, left = _killed_then_resumed(tmp_path, {"replace": 4, "when": "before"})
    assert any(n.startswith(".checkpoint.safetensors.") for n in left["files"]), left
    assert compare_runs(a, b) == []


def test_a_kill_before_the_plots_is_repaired_by_resume(tmp_path):
    """Killed before the first plot's rename: the last checkpoint is committed (and
    history.json and checkpoint.json written; metrics.json comes after the plots), the
    plots not yet: ``--resume`` must draw them (views of the checkpoint)."""
    a, b, left = _killed_then_resumed(tmp_path, {"name": "*.png", "when": "before"})
    plots = [n for n in left["files"] if n.endswith(".png") and not n.startswith(".")]
    assert not plots, left
    assert compare_runs(a, b) == []


def test_a_kill_before_the_last_checkpoint_json_is_repaired_by_resume(tmp_path):
    """Killed right after the last checkpoint's rename: history.json and checkpoint.json
    still show the checkpoint before. ``--resume`` writes history.json (and metrics.json,
    the plots) again, but must write checkpoint.json again too."""
    a, b, left = _killed_then_resumed(tmp_path, {"final_commit": True})
    assert json.loads((b / "checkpoint.json").read_text())["epoch"] == 3, "checkpoint.json is stale"
    assert left["files"] == [".lock", "checkpoint.json", "checkpoint.safetensors", "history.json"]
    assert compare_runs(a, b) == []


COUNT = ["train", "count-vectors", "--data", "ptb", "--dim", "4", "--no-progress"]


def test_count_vectors_killed_after_its_commit_can_be_completed(tmp_path, inputs):
    """count-vectors writes metrics.json, then commits its checkpoint: killed right after
    the commit, the folder holds the whole run; a second start (no --resume) is refused,
    and equal to an uninterrupted run."""
    a, b, log = tmp_path / "a", tmp_path / "b", tmp_path / "children.log"
    argv = [*COUNT, "--questions", inputs["questions"]]
    assert main([*argv, "--out", str(a)]) == 0
    end = wait(spawn([*argv, "--out", str(b)], log, Kill(b, name=CHECKPOINT, when="after").install))
    assert end == ("signal", 9)
    wait(spawn([*argv, "--out", str(b)], log))
    assert compare_runs(a, b) == [], log_tail(log)


def test_count_vectors_killed_inside_its_checkpoint_write_leaves_no_temporary(tmp_path, inputs):
    """Killed after the checkpoint's temporary is written, before its rename: the next
    start must remove the temporary, as a training run's does (under the folder's lock)."""
    b, log = tmp_path / "b", tmp_path / "children.log"
    argv = [*COUNT, "--questions", inputs["questions"], "--out", str(b)]
    assert wait(spawn(argv, log, Kill(b, name=CHECKPOINT, when="before").install)) == ("signal", 9)
    assert temporaries(b), "the kill must leave the temporary"
    assert wait(spawn(argv, log)) == ("exit", 0), log_tail(log)
    assert temporaries(b) == []


def test_a_run_s_files_have_the_permissions_a_plain_write_gives(tmp_path):
    """The atomic writers make their temporaries with mkstemp (mode 0600) and rename them:
    the run's files must still get the mode the umask gives any new file (0644 under
    umask 022), or a run folder shared with others becomes unreadable to them."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert main([*SPIRAL, "--out", str(out)]) == 0
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in out.iterdir()}
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(modes, oct(0o644)), modes
