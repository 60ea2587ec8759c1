"""Training: one loop for every task, each task's batches, evaluation and hooks.

From Python, each task is a configuration dataclass and a function::

    from zerokara.train import MLPConfig, train_mlp
    run = train_mlp(MLPConfig(data="spiral"), out_dir="runs/spiral")
    run.metrics["train_accuracy"], run.model, run.history

The functions are quiet; pass ``reporter=`` (see :mod:`zerokara.train.report`)
to see progress.
"""

from zerokara.train.classifier import ClassifierTrainer
from zerokara.train.loop import Trainer
from zerokara.train.mlp import MLPConfig, train_mlp
from zerokara.train.report import RecordingReporter, Reporter
from zerokara.train.seq2seq import Seq2seqConfig, train_seq2seq
from zerokara.train.state import CHECKPOINT, Run

__all__ = ["Trainer", "ClassifierTrainer", "CHECKPOINT", "Run", "Reporter", "RecordingReporter",
           "MLPConfig", "train_mlp", "Seq2seqConfig", "train_seq2seq"]
