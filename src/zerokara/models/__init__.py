"""Models built from zerokara's layers."""

from zerokara.models.mlp import Classifier, MultiLayerNet, TwoLayerNet
from zerokara.models.rnnlm import BetterRnnlm, LanguageModel, Rnnlm

__all__ = ["Classifier", "TwoLayerNet", "MultiLayerNet", "LanguageModel", "Rnnlm", "BetterRnnlm"]
