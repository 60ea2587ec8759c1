"""Run in the format-1 worktree: make format-1 run folders and the metrics their resume must give."""
import json, shutil, sys
from argparse import Namespace
from pathlib import Path
import numpy as np
from zerokara.cli import main
from zerokara.data.sequence import make_addition, write_sequence

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
tmp = Path(sys.argv[2]); tmp.mkdir(parents=True, exist_ok=True)
expect = {}
KEEP = ("checkpoint.safetensors", "checkpoint.json", "history.json", "best.safetensors")

def keep(src, name):
    d = out / name; d.mkdir(exist_ok=True)
    for f in KEEP:
        if (src / f).exists(): shutil.copy(src / f, d / f)

def metrics(p):
    m = json.loads((p / "metrics.json").read_text())
    return {k: v for k, v in m.items() if "seconds" not in k and k != "tokens_per_second"}

# spiral, stopped inside epoch 2 (max_iters), then 3 epochs
from zerokara.train import tasks
args = Namespace(model="two-layer", hidden="10", activation="sigmoid", init="0.01", optimizer="sgd",
                 lr=1.0, batch_size=30, epochs=3, iters=15, seed=0, max_grad=None, batchnorm=False,
                 dropout=0.0, out=str(tmp / "spiral"), resume=False, no_progress=True)
from zerokara.data import load_spiral
x, t = load_spiral(seed=0)
tasks._train(args, "spiral", ((x, t), (x, t)), 2, 3)
keep(tmp / "spiral", "spiral")
assert main(["train", "spiral", "--epochs", "3", "--out", str(tmp / "spiral-straight"), "--no-progress"]) == 0
expect["spiral"] = metrics(tmp / "spiral-straight"); expect["spiral"].pop("test_accuracy", None)

# binary addition: 100 iterations, resumed to 200
assert main(["train", "binary-addition", "--iters", "100", "--out", str(tmp / "ba"), "--no-progress"]) == 0
keep(tmp / "ba", "binary-addition")
assert main(["train", "binary-addition", "--iters", "200", "--out", str(tmp / "ba"), "--resume", "--no-progress"]) == 0
expect["binary-addition"] = metrics(tmp / "ba")

# word2vec: 1 epoch, resumed to 2
import os
os.chdir(tmp)  # the data files are named relative to the run's folder, as a test can make them again
(tmp / "corpus.txt").write_text("you say goodbye and i say hello .\n" * 20)
w2v = ["train", "word2vec", "--corpus", "corpus.txt", "--hidden", "5", "--window", "2",
       "--batch-size", "8", "--no-progress", "--out", str(tmp / "w2v")]
assert main(w2v + ["--epochs", "1"]) == 0
keep(tmp / "w2v", "word2vec")
assert main(w2v + ["--epochs", "2", "--resume"]) == 0
expect["word2vec"] = metrics(tmp / "w2v")

# seq2seq: 1 epoch, resumed to 2
write_sequence(tmp / "sums.txt", make_addition(300, 5))
s2s = ["train", "seq2seq", "--data", "sums.txt", "--wordvec", "4", "--hidden", "6",
       "--batch-size", "32", "--no-progress", "--out", str(tmp / "s2s")]
assert main(s2s + ["--epochs", "1"]) == 0
keep(tmp / "s2s", "seq2seq")
assert main(s2s + ["--epochs", "2", "--resume"]) == 0
expect["seq2seq"] = metrics(tmp / "s2s")

# a language model stopped inside an epoch (carried state in the checkpoint), then 2 epochs
from zerokara.models.rnnlm import BetterRnnlm
from zerokara.optim import SGD
from zerokara.train.lm import LMTrainer
corpus = np.random.default_rng(3).integers(0, 30, 1500)
def lm():
    return BetterRnnlm(30, 6, 6, num_layers=2, dropout=0.3, tie_weights=True, rng=np.random.default_rng(4))
tr = LMTrainer(lm(), SGD(2.0), out_dir=tmp / "lm", max_grad=1.0, progress=False, save_every=None,
               config={"task": "test"})
tr.fit(corpus[:1200], corpus[1200:], epochs=2, batch_size=4, time_size=10, max_iters=40)
keep(tmp / "lm", "lm")
tr = LMTrainer(lm(), SGD(2.0), out_dir=tmp / "lm2", max_grad=1.0, progress=False, save_every=None,
               config={"task": "test"})
m = tr.fit(corpus[:1200], corpus[1200:], epochs=2, batch_size=4, time_size=10)
expect["lm"] = {k: v for k, v in m.items() if "seconds" not in k and k != "tokens_per_second"}
(out / "expected.json").write_text(json.dumps(expect, indent=1, sort_keys=True) + "\n")
print(json.dumps(expect, indent=1))
