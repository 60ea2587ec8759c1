"""One trial of ``zerokara reproduce``: one row, one seed, full or quick.

Trials that train through a run folder (everything but binary addition and
gensim, which take seconds) keep their checkpoint in
``OUT/runs/<row>/seed-<k>``: a trial killed half-way resumes there when the
command runs again, and a trial whose run finished is read back, not trained
again. The record's ``seconds`` is the run's training time (summed across
resumes, no evaluation), the same figure whether it was trained now or read
back; ``wall_seconds`` is what this call took.
"""

from __future__ import annotations

import shutil
import time
import zlib
from pathlib import Path
from typing import Any

from zerokara.errors import NaNLossError
from zerokara.reproduce.row import Row
from zerokara.reproduce.rows import BY_NAME
from zerokara.runlock import busy
from zerokara.train.state import CHECKPOINT


def settings_of(row: Row, quick: bool) -> dict[str, Any]:
    """The row's trainer settings: the full ones, or with the quick overrides."""
    return {**row.settings, **(row.quick if quick else {})}


def run_folder(runs: str, row: Row, seed: int) -> Path | None:
    """Where the trial keeps its run (None: it writes nothing)."""
    if not runs or row.kind in ("binary-addition", "gensim"):
        return None
    return Path(runs) / row.name / f"seed-{seed}"


def _open(out: Path | None) -> bool:
    """Whether to resume ``out``; a folder a killed trial left without a checkpoint
    is emptied first (it holds nothing to continue from)."""
    if out is None:
        return False
    if (out / CHECKPOINT).is_file():
        return True
    if out.exists():
        busy(out)  # a trial still training there: refuse rather than pull the folder away
        shutil.rmtree(out)
    return False


def _train(row: Row, s: dict[str, Any], seed: int, out: Path | None) -> tuple[dict[str, Any], float | None]:
    """Run the row's trainer; (its metrics, its training seconds)."""
    resume = _open(out)
    kind = row.kind
    if kind == "binary-addition":
        from zerokara.train import binary_addition as ba

        rec = ba.run_trial(ba.check_config({**s, "seed": seed}, f"reproduce {row.name}"))
        if rec["status"] != "ok":  # its own trial never raises: pass its outcome on
            raise (NaNLossError if rec["status"] == "diverged" else RuntimeError)(rec["error"])
        return rec, rec["seconds"]
    if kind == "gensim":
        return _gensim(s, seed)
    if kind == "count-vectors":
        from zerokara.train.count_vectors import CountVectorsConfig, train_count_vectors

        cv = train_count_vectors(CountVectorsConfig(**s, seed=seed), out_dir=out, resume=resume)
        return cv.metrics, cv.metrics.get("seconds")
    config_class, train = _trainer(kind)
    run = train(config_class(**s, seed=seed), out_dir=out, resume=resume)
    return run.metrics, getattr(run.trainer, "seconds", None)


def _trainer(kind: str) -> tuple[Any, Any]:
    """The kind's config class and train_* function: the sweep's registry of train
    tasks has them (imported when asked), all but SimpleRnnlm's, which has no sweep."""
    if kind == "simple-rnnlm":
        from zerokara.train.simple_rnnlm import SimpleRnnlmConfig, train_simple_rnnlm

        return SimpleRnnlmConfig, train_simple_rnnlm
    from zerokara.sweep.train_tasks import SPECS  # building the command line loads no task

    spec = SPECS[kind]
    return spec.config(), spec.train()


#: the sweep's train tasks a row can name (zerokara.sweep.train_tasks.SPECS)
SWEPT = ("mlp", "cnn", "rnnlm", "better-rnnlm", "word2vec", "seq2seq")
#: every trainer a row can name
KINDS = (*SWEPT, "simple-rnnlm", "binary-addition", "count-vectors", "gensim")


def _word_hash(word: str) -> int:
    """gensim seeds each word's starting vector with a hash of it; Python's own
    ``hash`` of a string changes from process to process, this one does not."""
    return zlib.crc32(word.encode())


def _gensim(s: dict[str, Any], seed: int) -> tuple[dict[str, Any], float]:
    """gensim's CBOW on PTB's training text (10,000-word sentences), its defaults
    otherwise, one worker (so that a seed gives one result), scored by zerokara's
    analogy evaluator on gensim's questions-words.txt."""
    from gensim.models import Word2Vec  # type: ignore[import-untyped]

    from zerokara.data import load_ptb
    from zerokara.errors import InputError
    from zerokara.word_vectors import WordVectors, analogy_accuracy, find_questions_file

    questions = find_questions_file()
    if questions is None:
        raise InputError("reproduce gensim-cbow: gensim's questions-words.txt not found")
    corpus, vocab = load_ptb("train")
    tokens = [vocab.id_to_word[i] for i in corpus]
    sentences = [tokens[i : i + 10_000] for i in range(0, len(tokens), 10_000)]
    start = time.perf_counter()
    g = Word2Vec(
        sentences,
        vector_size=100,
        window=5,
        min_count=1,
        sg=0,
        negative=5,
        workers=1,
        seed=seed,
        epochs=s["epochs"],
        hashfxn=_word_hash,
    )
    seconds = time.perf_counter() - start
    result = analogy_accuracy(WordVectors(g.wv.vectors, list(g.wv.index_to_key)), questions)
    return {"analogy_accuracy": result.accuracy, "analogy_asked": result.asked}, round(seconds, 3)


def run_row(config: dict[str, Any]) -> dict[str, Any]:
    """The trial: ``config`` has "row", "quick", "runs" (the folder for run folders,
    "" for none) and "seed". Returns the sweep's record (never raises): status,
    the row's metrics, ``value`` (the row's figure), ``seconds``."""
    start = time.perf_counter()
    rec: dict[str, Any] = {"config": dict(config), "status": "ok", "error": None}
    row = BY_NAME[config["row"]]
    try:
        s = settings_of(row, bool(config["quick"]))
        metrics, seconds = _train(
            row, s, int(config["seed"]), run_folder(config["runs"], row, config["seed"])
        )
        keep = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}
        rec.update(keep)
        rec["value"] = metrics.get(row.metric)
        rec["train_seconds"] = round(seconds, 3) if seconds is not None else None
    except NaNLossError as e:
        rec.update(status="diverged", error=str(e))
    except Exception as e:  # noqa: BLE001 -- a trial's failure is data for the table
        rec.update(status="crashed", error=f"{type(e).__name__}: {e}".splitlines()[0][:500])
    rec["wall_seconds"] = round(time.perf_counter() - start, 3)
    rec["seconds"] = rec.get("train_seconds") or rec["wall_seconds"]
    return rec
