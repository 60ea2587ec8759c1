"""Models built from zerokara's layers."""

from zerokara.models.attention_seq2seq import AttentionSeq2seq, build_seq2seq
from zerokara.models.binary_addition import BinaryAdditionRNN
from zerokara.models.cnn import DeepConvNet, SimpleConvNet
from zerokara.models.mlp import Classifier, MultiLayerNet, TwoLayerNet
from zerokara.models.rnnlm import BetterRnnlm, LanguageModel, Rnnlm, SimpleRnnlm
from zerokara.models.seq2seq import PeekySeq2seq, Seq2seq
from zerokara.models.transformer import TransformerSeq2seq
from zerokara.models.word2vec import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram, create_contexts_target

__all__ = [
    "BinaryAdditionRNN",
    "Classifier",
    "TwoLayerNet",
    "MultiLayerNet",
    "SimpleConvNet",
    "DeepConvNet",
    "LanguageModel",
    "SimpleRnnlm",
    "Rnnlm",
    "BetterRnnlm",
    "Seq2seq",
    "PeekySeq2seq",
    "AttentionSeq2seq",
    "build_seq2seq",
    "TransformerSeq2seq",
    "SimpleCBOW",
    "SimpleSkipGram",
    "CBOW",
    "SkipGram",
    "create_contexts_target",
]
