"""Training: one loop for every task, each task's batches, evaluation and hooks.

From Python, each task is a configuration dataclass and a function::

    from zerokara.train import MLPConfig, train_mlp
    run = train_mlp(MLPConfig(data="spiral"), out_dir="runs/spiral")
    run.metrics["train_accuracy"], run.model, run.history

The functions are quiet; pass ``reporter=`` (see :mod:`zerokara.train.report`)
to see progress.
"""

from zerokara.train.binary_addition import AdditionConfig, train_binary_addition
from zerokara.train.classifier import ClassifierTrainer
from zerokara.train.cnn import CNNConfig, train_cnn
from zerokara.train.count_vectors import CountVectorsConfig, train_count_vectors
from zerokara.train.loop import Trainer
from zerokara.train.mlp import MLPConfig, train_mlp
from zerokara.train.report import RecordingReporter, Reporter
from zerokara.train.rnnlm import LMConfig, train_lm
from zerokara.train.seq2seq import Seq2seqConfig, train_seq2seq
from zerokara.train.simple_rnnlm import SimpleRnnlmConfig, train_simple_rnnlm
from zerokara.train.state import CHECKPOINT, Run
from zerokara.train.word2vec import Word2VecConfig, train_word2vec

__all__ = [
    "Trainer",
    "ClassifierTrainer",
    "CHECKPOINT",
    "Run",
    "Reporter",
    "RecordingReporter",
    "AdditionConfig",
    "train_binary_addition",
    "MLPConfig",
    "train_mlp",
    "CNNConfig",
    "train_cnn",
    "LMConfig",
    "train_lm",
    "Word2VecConfig",
    "train_word2vec",
    "CountVectorsConfig",
    "train_count_vectors",
    "SimpleRnnlmConfig",
    "train_simple_rnnlm",
    "Seq2seqConfig",
    "train_seq2seq",
]
