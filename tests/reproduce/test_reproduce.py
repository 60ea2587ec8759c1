"""``zerokara reproduce``: its rows, its trials (resumed, read back, refused), its
results (verdicts, bounds, the tables) and its command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zerokara.cli import main
from zerokara.reproduce import BY_NAME, ROWS, Bound, failed_bounds, markdown, reproduce
from zerokara.reproduce import results as res_mod
from zerokara.reproduce.trial import KINDS, _word_hash, run_folder, run_row, settings_of
from zerokara.runlock import FolderLock
from zerokara.train.state import CHECKPOINT


# -- the rows -------------------------------------------------------------------------------
def _validate(kind: str, s: dict) -> None:
    """Build the row's configuration the way its trainer does, training nothing."""
    if kind == "mlp":
        from zerokara.train.mlp import MLPConfig

        MLPConfig(**s).filled().record()
    elif kind == "cnn":
        from zerokara.train.cnn import CNNConfig

        CNNConfig(**s).filled().record()
    elif kind in ("rnnlm", "better-rnnlm"):
        from zerokara.train.rnnlm import LMConfig

        LMConfig(**s).record()
    elif kind == "word2vec":
        from zerokara.train.word2vec import Word2VecConfig

        Word2VecConfig(**s).record()
    elif kind == "seq2seq":
        from zerokara.train.seq2seq import Seq2seqConfig

        Seq2seqConfig(**s)
    elif kind == "simple-rnnlm":
        from zerokara.train.simple_rnnlm import SimpleRnnlmConfig

        SimpleRnnlmConfig(**s)
    elif kind == "count-vectors":
        from zerokara.train.count_vectors import CountVectorsConfig

        CountVectorsConfig(**s).record()
    elif kind == "binary-addition":
        from zerokara.train.binary_addition import check_config

        check_config(s)
    else:
        assert kind == "gensim" and set(s) == {"epochs"}


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
@pytest.mark.parametrize("quick", [False, True])
def test_every_rows_settings_are_ones_its_trainer_takes(row, quick):
    assert row.kind in KINDS
    _validate(row.kind, settings_of(row, quick))


def test_the_swept_kinds_are_the_sweeps_train_tasks():
    from zerokara.reproduce.trial import SWEPT
    from zerokara.sweep.train_tasks import SPECS

    assert set(SWEPT) <= set(SPECS)


def test_rows_have_unique_names_a_quick_bound_and_a_metric_their_bounds_name():
    assert len(BY_NAME) == len(ROWS)
    for r in ROWS:
        assert any(b.quick for b in r.bounds), r.name  # every quick run checks something
        assert r.book is None or r.book_text, r.name
        assert r.title and r.title_ja and r.book_text_ja


def test_the_zaremba_row_is_the_command_lines_preset():
    from zerokara.train.rnnlm import PRESETS

    s = BY_NAME["zaremba-small"].settings
    assert {k: s[k] for k in PRESETS["zaremba-small"]} == PRESETS["zaremba-small"]


def test_bounds():
    b = Bound("test_accuracy", 0.99, quick=True)
    assert b.holds(0.99) and not b.holds(0.989) and not b.holds(None) and not b.holds(float("nan"))
    assert Bound("ppl", 140.0, at_least=False).holds(139.9) and not Bound("ppl", 140.0, False).holds(140.1)
    assert b.text() == "test_accuracy >= 0.99"


# -- verdicts and tables -----------------------------------------------------------------------
def test_the_verdict_compares_at_the_books_precision():
    relu, rnnlm, deep = BY_NAME["mnist-relu"], BY_NAME["rnnlm"], BY_NAME["deep-convnet"]
    assert res_mod.verdict(relu, 0.9704) == "level"  # "about 97%"
    assert res_mod.verdict(relu, 0.9649) == "below"
    assert res_mod.verdict(relu, 0.9751) == "above"
    assert res_mod.verdict(rnnlm, 135.7) == "above"  # perplexity: lower is better
    assert res_mod.verdict(rnnlm, 136.14) == "level"
    assert res_mod.verdict(rnnlm, 137.0) == "below"
    assert res_mod.verdict(deep, 0.9932) == "below"  # 99.38% is printed with two decimals
    assert res_mod.verdict(BY_NAME["spiral"], 0.98) is None  # no figure to compare with
    assert res_mod.verdict(relu, None) is None


def _rec(row: str, seed: int, value, status: str = "ok", **more) -> dict:
    return {
        "config": {"row": row, "seed": seed},
        "status": status,
        "value": value,
        "seconds": 2.0,
        "error": None if status == "ok" else "Boom: no",
        **more,
    }


def test_a_row_summary_over_seeds_and_its_bounds():
    row = BY_NAME["mnist-relu"]
    recs = [_rec("mnist-relu", s, v, test_accuracy=v) for s, v in ((2, 0.97), (0, 0.968), (1, 0.972))]
    r = res_mod.summarise_row(row, recs, quick=False)
    assert r["seeds"] == [0, 1, 2] and r["values"] == [0.968, 0.972, 0.97]
    assert r["mean"] == pytest.approx(0.97) and (r["min"], r["max"]) == (0.968, 0.972)
    assert r["verdict"] == "level" and all(b["held"] for b in r["bounds"])
    assert len(r["bounds"]) == 2 and len(res_mod.summarise_row(row, recs, quick=True)["bounds"]) == 1
    # one seed under a bound: the bound is missed, though the mean meets it
    recs[1] = _rec("mnist-relu", 0, 0.96, test_accuracy=0.96)
    missed = res_mod.summarise_row(row, recs, quick=False)
    assert [b["held"] for b in missed["bounds"]] == [True, False]
    # a crashed seed: every bound of the row is missed, and the table says so
    recs[1] = _rec("mnist-relu", 0, None, status="crashed")
    crashed = res_mod.summarise_row(row, recs, quick=False)
    assert not any(b["held"] for b in crashed["bounds"]) and crashed["errors"] == ["Boom: no"]
    res = {
        "command": "zerokara reproduce mnist-relu",
        "date": "2026-12-06",
        "quick": False,
        "seeds": 3,
        "machine": res_mod.machine(2),
        "rows": [crashed],
    }
    assert "1 of 3 runs failed" in markdown(res, "en") and "3 回中 1 回失敗" in markdown(res, "ja")
    assert failed_bounds(res)[0] == "mnist-relu: test_accuracy >= 0.93 not met (values by seed: crashed, 0.972, 0.97)"  # in seed order


def test_the_tables_in_english_and_japanese():
    row = BY_NAME["rnnlm"]
    recs = [_rec("rnnlm", s, v, test_perplexity=v) for s, v in enumerate((134.6, 137.6, 134.3))]
    res = {
        "command": "zerokara reproduce rnnlm --seeds 3",
        "date": "2026-12-06",
        "quick": False,
        "seeds": 3,
        "machine": res_mod.machine(2),
        "rows": [res_mod.summarise_row(row, recs, quick=False)],
    }
    en, ja = markdown(res, "en"), markdown(res, "ja")
    assert "| 135.5 (134.3-137.6) | above | 2.0 s |" in en
    assert "| 135.5 (134.3-137.6) | 上回る | 2.0 s |" in ja
    assert en.startswith("Made by `zerokara reproduce rnnlm --seeds 3` on 2026-12-06: seeds 0-2 per row")
    assert ja.startswith("`zerokara reproduce rnnlm --seeds 3` で 2026-12-06 に作成。各行シード 0〜2、")
    quick = {**res, "quick": True, "rows": [res_mod.summarise_row(row, recs, quick=True)]}
    assert "**quick**" in markdown(quick, "en") and "| — |" in markdown(quick, "en")  # no verdict


# -- trials ----------------------------------------------------------------------------------
def test_gensims_word_hash_is_the_same_in_every_process():
    assert _word_hash("toyota") == 508133599  # zlib.crc32, not the per-process hash()


def test_a_trial_trains_into_its_folder_and_reads_a_finished_run_back(tmp_path):
    config = {"row": "spiral", "quick": True, "runs": str(tmp_path), "seed": 1}
    first = run_row(config)
    assert first["status"] == "ok" and first["value"] >= 0.95
    folder = run_folder(str(tmp_path), BY_NAME["spiral"], 1)
    assert (folder / CHECKPOINT).is_file()
    again = run_row(config)  # finished: read back, nothing trained
    assert again["value"] == first["value"] and again["train_seconds"] == first["train_seconds"]
    assert again["wall_seconds"] < first["wall_seconds"] + 1


def test_a_trial_empties_a_folder_a_killed_run_left_without_a_checkpoint(tmp_path):
    folder = run_folder(str(tmp_path), BY_NAME["toy-cbow"], 0)
    folder.mkdir(parents=True)
    (folder / "history.json.tmp-1").write_text("{")
    rec = run_row({"row": "toy-cbow", "quick": True, "runs": str(tmp_path), "seed": 0})
    assert rec["status"] == "ok" and (folder / CHECKPOINT).is_file()
    assert not (folder / "history.json.tmp-1").exists()


def test_a_trial_refuses_a_folder_another_process_trains_in(tmp_path):
    folder = run_folder(str(tmp_path), BY_NAME["toy-cbow"], 0)
    folder.mkdir(parents=True)
    (folder / "keep").write_text("x")
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(str(folder), ready, stop))
    p.start()
    try:
        assert ready.wait(30)
        rec = run_row({"row": "toy-cbow", "quick": True, "runs": str(tmp_path), "seed": 0})
    finally:
        stop.set()
        p.join(30)
    assert rec["status"] == "crashed" and "FolderBusyError" in rec["error"]
    assert (folder / "keep").read_text() == "x"  # nothing taken from it


def _hold(folder: str, ready, stop) -> None:
    with FolderLock(Path(folder)):
        ready.set()
        stop.wait(30)


def test_reproduce_runs_rows_over_seeds_resumes_and_writes_its_tables(tmp_path):
    out = tmp_path / "r"
    res = reproduce(["binary-addition", "toy-cbow"], quick=True, seeds=2, out_dir=out, workers=2)
    assert [r["name"] for r in res["rows"]] == ["binary-addition", "toy-cbow"]  # the table's order
    assert all(r["status"] == ["ok", "ok"] for r in res["rows"]) and failed_bounds(res) == []
    assert res["command"] == "zerokara reproduce binary-addition toy-cbow --quick --seeds 2"
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(res))
    assert (out / "results.md").read_text() == "# zerokara reproduce\n\n" + markdown(res, "en")
    assert "| 100.00% (100.00%-100.00%) |" in (out / "results.md").read_text()
    assert (out / "results.ja.md").read_text().endswith(markdown(res, "ja"))
    again = reproduce(["binary-addition", "toy-cbow"], quick=True, seeds=2, out_dir=out, workers=2)
    assert again["rows"] == res["rows"]  # every trial finished: skipped, the same figures


# -- the command line ----------------------------------------------------------------------------
def test_the_command_lists_its_rows(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(r.name in out for r in ROWS) and "final_loss <= 0.5 (quick too); test_accuracy >= 0.998; mean test_accuracy >= 0.999" in out


def test_an_unknown_row_is_one_line(capsys):
    assert main(["reproduce", "mnist", "--quick"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown row 'mnist'; known: all, spiral" in err


def test_the_command_runs_quick_rows_and_check_fails_on_a_missed_bound(tmp_path, capsys, monkeypatch):
    out = tmp_path / "q"
    assert main(["reproduce", "spiral", "--quick", "--out", str(out), "--no-progress", "--check"]) == 0
    text = capsys.readouterr().out
    assert "1 row(s) x 1 seed(s) = 1 run(s) (--quick" in text and "bounds: 1 of 1 met" in text
    res = json.loads((out / "results.json").read_text())
    res["rows"][0]["bounds"][0]["held"] = False
    import zerokara.reproduce as rp

    monkeypatch.setattr(rp, "reproduce", lambda *a, **k: res)
    assert main(["reproduce", "spiral", "--quick", "--out", str(out), "--no-progress", "--check"]) == 1
    assert "1 bound(s) missed" in capsys.readouterr().err
    assert main(["reproduce", "spiral", "--quick", "--out", str(out), "--no-progress"]) == 0  # reported only


def test_the_sweeps_own_table_names_each_trials_row(tmp_path):
    reproduce(["toy-cbow"], quick=True, seeds=1, out_dir=tmp_path, workers=1)
    text = (tmp_path / "sweep" / "results.csv").read_text().splitlines()
    assert text[0].startswith("id,row,quick,runs,seed,status,value,train_seconds")
    assert ",toy-cbow,True," in text[1] and ",ok," in text[1]


def test_the_picture_shows_the_rows_with_a_books_figure(tmp_path):
    relu, rnnlm = BY_NAME["mnist-relu"], BY_NAME["rnnlm"]
    rows = [
        res_mod.summarise_row(relu, [_rec("mnist-relu", s, v) for s, v in enumerate((0.97, 0.96))], False),
        res_mod.summarise_row(rnnlm, [_rec("rnnlm", 0, 136.1 / 1.01)], False),
        res_mod.summarise_row(BY_NAME["spiral"], [_rec("spiral", 0, 0.98)], False),
    ]
    assert res_mod.relative(rows[0], 0.97) == pytest.approx(100.0)
    assert res_mod.relative(rows[1], rows[1]["mean"]) == pytest.approx(101.0)  # lower perplexity: right
    res = {"quick": False, "seeds": 2, "rows": rows}
    path = res_mod.plot(res, tmp_path / "results.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res_mod.plot({**res, "rows": rows[2:]}, tmp_path / "none.png") is None  # no book's figure


def test_table_only_trains_nothing_and_reads_runs_another_process_finished(tmp_path):
    out = tmp_path / "r"
    done = run_row({"row": "toy-cbow", "quick": True, "runs": str(out / "runs"), "seed": 1})
    res = reproduce(["toy-cbow", "spiral"], quick=True, seeds=2, out_dir=out, train=False)
    spiral, toy = res["rows"]  # the table's order
    assert toy["status"] == ["pending", "ok"] and toy["values"][1] == done["value"]
    assert spiral["status"] == ["pending", "pending"] and spiral["mean"] is None
    assert not (out / "runs" / "spiral").exists() and not (out / "sweep" / "trials").exists()
    assert "1 of 2 not run yet" in markdown(res, "en") and "2 回中 1 回は未実行" in markdown(res, "ja")


def test_a_rows_link_is_written_from_where_the_table_sits():
    row = BY_NAME["addition-reversed"]
    res = {"command": "c", "date": "d", "quick": False, "seeds": 1, "machine": res_mod.machine(1),
           "rows": [res_mod.summarise_row(row, [_rec(row.name, 0, 0.377, test_accuracy=0.377)], False)]}
    assert "[docs](docs/reproduce.md)" in markdown(res, "en")  # README, at the root
    assert "[解説](../../docs/reproduce.ja.md)" in markdown(res, "ja", links="../../")  # docs/results/
    assert "| **below** |" in markdown(res, "en") and "| **下回る** |" in markdown(res, "ja")


def test_a_bound_on_the_mean_lets_one_seed_sit_below_the_books_figure():
    row = BY_NAME["date-attention"]
    recs = [_rec(row.name, s, v, test_accuracy=v, final_loss=0.01) for s, v in enumerate((0.9986, 1.0, 0.9996))]
    r = res_mod.summarise_row(row, recs, quick=False)
    assert [(b["text"], b["held"]) for b in r["bounds"]] == [
        ("final_loss <= 0.5", True),
        ("test_accuracy >= 0.998", True),
        ("mean test_accuracy >= 0.999", True),
    ]
    recs[1] = _rec(row.name, 1, 0.9985, test_accuracy=0.9985, final_loss=0.01)
    r = res_mod.summarise_row(row, recs, quick=False)
    assert [b["held"] for b in r["bounds"]] == [True, True, False]


def test_the_japanese_table_links_the_japanese_docs_where_there_are_some():
    from zerokara.reproduce.results import JA_DOCS

    root = Path(__file__).resolve().parents[2]
    for r in ROWS:
        if r.note:
            assert (root / r.note).is_file(), r.note
            assert (root / r.note.replace(".md", ".ja.md")).is_file() == (r.note in JA_DOCS), r.note
