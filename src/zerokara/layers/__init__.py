"""Layers: each one small class with a hand-written forward and backward.

``create`` builds a layer with fresh weights, alike everywhere: the sizes
first, named by the letters of the layer's shapes (``Affine.create(D, H, rng)``
for W (D, H), ``Embedding.create(V, D, rng)``, ``TimeLSTM.create(D, H, rng)``),
then the generator ``rng``, then the keywords ``init`` and ``dtype``.
"""

from zerokara.layers.attention import Attention, AttentionWeight, TimeAttention, WeightSum
from zerokara.layers.base import Module, Sequential
from zerokara.layers.conv import Convolution, col2im, im2col
from zerokara.layers.core import Affine, BatchNorm, Dropout, ReLU, Sigmoid, Tanh, sigmoid
from zerokara.layers.embedding import Embedding, RowGrad, TimeEmbedding
from zerokara.layers.losses import SigmoidWithLoss, SoftmaxWithLoss, TimeSoftmaxWithLoss, softmax
from zerokara.layers.negative_sampling import EmbeddingDot, NegativeSamplingLoss, UnigramSampler
from zerokara.layers.pooling import Flatten, Pooling
from zerokara.layers.position_wise import GELU, FeedForward, LayerNorm, PositionalEncoding
from zerokara.layers.recurrent import GRU, LSTM, RNN
from zerokara.layers.reference import (
    SimpleGRU,
    SimpleLSTM,
    SimpleRNN,
    SimpleTimeGRU,
    SimpleTimeLSTM,
    SimpleTimeRNN,
)
from zerokara.layers.reference_conv import Im2colConvolution, SimpleConvolution, SimplePooling
from zerokara.layers.time import Bidirectional, TimeAffine, TimeDropout, TimeGRU, TimeLSTM, TimeRNN
from zerokara.layers.transformer import (
    MultiHeadAttention,
    ScaledDotProductAttention,
    Softmax,
    causal_mask,
    padding_mask,
)

__all__ = [
    "EmbeddingDot",
    "UnigramSampler",
    "NegativeSamplingLoss",
    "AttentionWeight",
    "WeightSum",
    "Attention",
    "TimeAttention",
    "Module",
    "Sequential",
    "Affine",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Dropout",
    "BatchNorm",
    "sigmoid",
    "SoftmaxWithLoss",
    "SigmoidWithLoss",
    "softmax",
    "Embedding",
    "TimeEmbedding",
    "RowGrad",
    "TimeAffine",
    "TimeSoftmaxWithLoss",
    "RNN",
    "LSTM",
    "GRU",
    "TimeRNN",
    "TimeLSTM",
    "TimeGRU",
    "Bidirectional",
    "TimeDropout",
    # the same recurrent layers written plainly, as book 2 writes them
    "SimpleRNN",
    "SimpleLSTM",
    "SimpleGRU",
    "SimpleTimeRNN",
    "SimpleTimeLSTM",
    "SimpleTimeGRU",
    # book 1, chapter 7: convolution and pooling, and their readable references
    "im2col",
    "col2im",
    "Convolution",
    "Pooling",
    "Flatten",
    "SimpleConvolution",
    "Im2colConvolution",
    "SimplePooling",
    # the transformer (Vaswani et al., 2017): attention with heads and masks, and what surrounds it
    "Softmax",
    "LayerNorm",
    "GELU",
    "ScaledDotProductAttention",
    "MultiHeadAttention",
    "PositionalEncoding",
    "FeedForward",
    "causal_mask",
    "padding_mask",
]
