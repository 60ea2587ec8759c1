"""``zerokara train count-vectors``: the toy sentence as book 2 prints it, a run
that ``zerokara similar`` and ``analogy`` read as they read word2vec's, the
quiet Python call, one-line errors that leave nothing behind; a full PTB run."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.realdata import real_data_dir
from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.io import load_checkpoint
from zerokara.train.count_vectors import CountVectorsConfig, train_count_vectors
from zerokara.train.state import CHECKPOINT
from zerokara.train.word2vec import load_word_vectors

TEXT = "you say goodbye and i say hello .\nthe cat sat on the mat .\nthe dog sat on the rug .\n" * 5


@pytest.fixture
def questions(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(": s\nyou say i say\ncat mat dog rug\nking queen man woman\n")
    return p


@pytest.fixture
def corpus_file(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT)
    return p


def test_toy_prints_book_2s_matrices_and_cosine(tmp_path, capsys):
    out = tmp_path / "run"
    questions = tmp_path / "q.txt"
    questions.write_text(": s\ncat mat dog rug\nking queen man woman\n")  # no toy words
    args = ["train", "count-vectors", "--data", "toy", "--out", str(out), "--questions", str(questions)]
    assert main([*args, "--no-progress"]) == 0
    text = capsys.readouterr().out
    # C and PPMI exactly as book 2 prints them (sections 2.3.4 and 2.4.1)
    assert " [1 0 1 0 1 1 0]\n" in text and "[[0 1 0 0 0 0 0]\n" in text
    assert "[[0.    1.807 0.    0.    0.    0.    0.   ]\n" in text
    assert " [0.    0.807 0.    0.    0.    0.    2.807]\n" in text
    assert "0.7071067691154799" in text  # book 2's cos_similarity of you and i
    assert "[query] you:" in text and "no question of the 2 has all four words" in text
    wv = load_word_vectors(out)
    assert wv.words == ["you", "say", "goodbye", "and", "i", "hello", "."]
    assert wv.vectors.shape == (7, 2) and wv.vectors.dtype == np.float32
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vocab_size"] == 7 and metrics["tokens"] == 8 and metrics["analogy_asked"] == 0
    # the run is a word-vector checkpoint like word2vec's
    assert main(["similar", str(out), "you", "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and "you" not in [line.split("\t")[0] for line in lines]
    # a query word outside the vocabulary: one line, no traceback
    for query in (["similar", str(out), "zzz"], ["analogy", str(out), "you", "say", "zzz"]):
        assert main(query) != 0
        err = capsys.readouterr().err
        assert "unknown word 'zzz': not in the 7-word vocabulary" in err and "Traceback" not in err


def test_file_run_writes_vectors_that_similar_and_analogy_read(tmp_path, corpus_file, questions, capsys):
    out = tmp_path / "run"
    argv = ["train", "count-vectors", "--data", str(corpus_file), "--dim", "4", "--out", str(out)]
    assert main([*argv, "--questions", str(questions), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "analogy accuracy" in text and "coverage 66.7% of 3" in text and "wrote" in text
    tensors, meta = load_checkpoint(out / CHECKPOINT)
    assert meta["method"] == "count-vectors" and meta["config"]["window"] == 2
    assert meta["vocab"][:3] == ["you", "say", "goodbye"] and "<eos>" in meta["vocab"]
    assert tensors[meta["vectors"]].shape == (len(meta["vocab"]), 4)
    assert main(["similar", str(out / CHECKPOINT), "cat"]) == 0
    assert main(["analogy", str(out), "cat", "mat", "dog"]) == 0
    words = [line.split("\t")[0] for line in capsys.readouterr().out.strip().splitlines()]
    assert len(words) == 10 and {"cat", "mat", "dog"}.isdisjoint(words[5:])


def test_python_call_is_quiet_and_writes_nothing_without_a_folder(corpus_file, questions, capsys):
    run = train_count_vectors(
        CountVectorsConfig(data=str(corpus_file), window=1, dim=3, questions=str(questions)),
        keep_matrices=True,
    )
    assert capsys.readouterr() == ("", "")
    assert run.out_dir is None and run.vectors.vectors.shape == (len(run.vectors), 3)
    assert run.co_matrix is not None and run.ppmi_matrix is not None
    assert run.co_matrix.sum() == 2 * (len(run.corpus) - 1)
    assert run.metrics["analogy_asked"] == 2 and 0 <= run.metrics["analogy_accuracy"] <= 1
    assert run.config["window"] == 1 and run.analogy is not None
    # without keep_matrices the (V, V) matrices are not held on to
    again = train_count_vectors(CountVectorsConfig(data=str(corpus_file), dim=3, questions=str(questions)))
    assert again.co_matrix is None and again.ppmi_matrix is None
    with pytest.raises(InputError, match="--dim expected in"):
        train_count_vectors(CountVectorsConfig(data="toy", dim=50))


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        # values outside an option's declared range: tests/test_options.py (exit status 2)
        (["--data", "toy", "--dim", "8"], ["--dim", "[1, 7]", "vocabulary size", "got 8"]),
        (["--data", "no/such/file.txt"], ["--data", "ptb, toy or a text file", "no/such/file.txt"]),
        (["--data", "EMPTY"], ["empty"]),
        (["--data", "toy", "--questions", "no/such/q.txt"], ["--questions", "no/such/q.txt"]),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, capsys, extra, words):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    extra = [str(empty) if a == "EMPTY" else a for a in extra]
    out = tmp_path / "run"
    assert main(["train", "count-vectors", *extra, "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zerokara: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()


def test_a_folder_holding_a_run_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "count-vectors", "--data", "toy", "--out", str(out), "--no-progress"]) == 0
    before = (out / CHECKPOINT).read_bytes()
    capsys.readouterr()
    assert main(["train", "count-vectors", "--data", "toy", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "already holds a run" in err and err.count("\n") == 1
    assert (out / CHECKPOINT).read_bytes() == before


@pytest.mark.slow
def test_ptb_run_is_fast_and_finds_book_2s_neighbours(tmp_path, monkeypatch, capsys):
    """The full run of book 2's count_method_big.py (window 2, 100 dims): seconds."""
    root = real_data_dir("ptb", ("ptb.train.txt",))
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(root))
    out = tmp_path / "ptb"
    start = time.perf_counter()
    argv = ["train", "count-vectors", "--data", "ptb", "--window", "2", "--dim", "100"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert time.perf_counter() - start < 60
    text = capsys.readouterr().out
    assert "[query] toyota:" in text
    wv = load_word_vectors(out)
    assert wv.vectors.shape == (10_000, 100)
    neighbours = {q: [w for w, _ in wv.most_similar(q)] for q in ("you", "year", "car", "toyota")}
    # the book's top words (section 2.4.5) are among ours
    assert "i" in neighbours["you"] and "we" in neighbours["you"]
    assert "month" in neighbours["year"] and "quarter" in neighbours["year"]
    assert "auto" in neighbours["car"] and "luxury" in neighbours["car"]
    assert {"motor", "nissan", "honda"} <= set(neighbours["toyota"])
    metrics = json.loads((out / "metrics.json").read_text())
    if "analogy_accuracy" in metrics:  # gensim's questions-words.txt is installed
        assert metrics["analogy_asked"] == 4716 and metrics["analogy_accuracy"] > 0.03
