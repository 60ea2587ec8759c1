"""Models built from zerokara's layers."""

from zerokara.models.mlp import Classifier, MultiLayerNet, TwoLayerNet

__all__ = ["Classifier", "TwoLayerNet", "MultiLayerNet"]
