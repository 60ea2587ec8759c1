"""Short seeded runs of every ``zerokara train`` task, shared by the test that
their metrics stay what they were (test_behaviour.py) and by the script that
recorded them (``python -m tests.train.behaviour_runs OUT.json``).

Each run is the command line a user types; data is made here (spiral, binary
addition, a small corpus, generated sums and dates) except MNIST and PTB,
which come from ZEROKARA_DATA_DIR when it is there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from zerokara.data.sequence import make_addition, make_date, write_sequence

#: metrics that measure time, not behaviour
TIMING = ("train_seconds", "seconds_per_epoch", "tokens_per_second", "seconds")

#: real data sets: the folder and files under ZEROKARA_DATA_DIR
NEEDS = {"mnist": ("mnist", ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
         "ptb": ("ptb", ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"))}
#: name -> (real data set it needs (a NEEDS key) or None, arguments after `zerokara train`)
RUNS: dict[str, tuple[str | None, list[str]]] = {
    "spiral": (None, ["spiral", "--epochs", "30", "--seed", "3"]),
    "spiral-adam": (None, ["spiral", "--epochs", "10", "--optimizer", "adam", "--lr", "0.01",
                           "--hidden", "20", "--activation", "relu", "--init", "he",
                           "--max-grad", "1.0"]),
    "binary-addition": (None, ["binary-addition", "--iters", "400", "--seed", "1"]),
    "binary-addition-batch": (None, ["binary-addition", "--iters", "300", "--batch-size", "8",
                                     "--activation", "tanh", "--init", "xavier", "--optimizer",
                                     "adam", "--lr", "0.01", "--max-grad", "1.0", "--loss", "bce",
                                     "--eval-every", "70"]),
    "word2vec": (None, ["word2vec", "--corpus", "{corpus}", "--epochs", "2", "--hidden", "8",
                        "--window", "2", "--batch-size", "16", "--questions", "{questions}"]),
    "word2vec-gensim-like": (None, ["word2vec", "--corpus", "{corpus}", "--epochs", "2",
                                    "--hidden", "8", "--window", "3", "--batch-size", "16",
                                    "--model", "skipgram", "--preset", "gensim-like",
                                    "--lr-schedule", "linear", "--init", "gensim",
                                    "--subsample", "0.01", "--questions", "{questions}"]),
    "seq2seq": (None, ["seq2seq", "--data", "{sums}", "--model", "peeky", "--reverse",
                       "--epochs", "2", "--wordvec", "8", "--hidden", "16", "--batch-size", "64"]),
    "seq2seq-attention": (None, ["seq2seq", "--data", "{dates}", "--model", "attention",
                                 "--bidirectional-encoder", "--epochs", "1", "--wordvec", "8",
                                 "--hidden", "16", "--batch-size", "64", "--workers", "2"]),
    "mlp": ("mnist", ["mlp", "--iters", "120", "--seed", "2"]),
    "mlp-multi": ("mnist", ["mlp", "--model", "multi-layer", "--hidden", "40,30", "--batchnorm",
                            "--dropout", "0.3", "--batch-size", "200", "--iters", "350"]),
    "rnnlm": ("ptb", ["rnnlm", "--data-slice", "3000", "--epochs", "2", "--wordvec", "12",
                      "--hidden", "12", "--batch-size", "5", "--time-size", "10"]),
    "better-rnnlm": ("ptb", ["better-rnnlm", "--data-slice", "3000", "--epochs", "2",
                             "--wordvec", "12", "--hidden", "12", "--batch-size", "5",
                             "--time-size", "10", "--lr-decay", "zaremba", "--decay-start", "1"]),
}

CORPUS = ("you say goodbye and i say hello .\nthe cat sat on the mat .\n"
          "a dog and a cat say hello to you .\ni say the dog sat .\n") * 6
QUESTIONS = ": family\nyou say i hello\ncat dog mat sat\n"


def make_inputs(root: Path) -> dict[str, str]:
    """The small data files the runs read, written into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.txt").write_text(CORPUS)
    (root / "questions.txt").write_text(QUESTIONS)
    return {"corpus": str(root / "corpus.txt"), "questions": str(root / "questions.txt"),
            "sums": str(write_sequence(root / "sums.txt", make_addition(640, 0))),
            "dates": str(write_sequence(root / "dates.txt", make_date(320, 0)))}


def run(name: str, root: Path, inputs: dict[str, str]) -> dict:
    """Train ``name`` into ``root/name``; its metrics.json without the timings."""
    from zerokara.cli import main

    _, args = RUNS[name]
    out = root / name
    argv = ["train", *[a.format(**inputs) for a in args], "--out", str(out), "--no-progress"]
    assert main(argv) == 0, f"zerokara {' '.join(argv)} failed"
    metrics = json.loads((out / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in TIMING}


if __name__ == "__main__":
    import tempfile

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp) / "inputs")
        for name in RUNS:  # ZEROKARA_DATA_DIR must hold MNIST and PTB
            results[name] = run(name, Path(tmp), inputs)
            print(name, results[name], file=sys.stderr)
    Path(sys.argv[1]).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
