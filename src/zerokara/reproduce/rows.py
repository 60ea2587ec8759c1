"""The rows of the results table: what each trains, with which settings, what
it measures, and the figure the book (or paper, or peer) printed for it.

A row's ``settings`` are its trainer's configuration fields (the book's values
where a field is left out); ``quick`` overrides some of them for
``zerokara reproduce --quick``. ``bounds`` are what a run must reach: those
marked ``quick=True`` are checked after a quick run *and* after a full one
(a full run meets them too, so a quick pass is a real, if weaker, check); the
others only after a full run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zerokara.train.rnnlm import PRESETS as LM_PRESETS


@dataclass(frozen=True)
class Bound:
    """``metric`` must be >= ``value`` (``at_least``) or <= it, in every seed; or,
    with ``mean``, its mean over the seeds (the book's figure as a target: one
    seed below it is the spread, the mean below it a shortfall). ``quick``:
    checked after a quick run too."""

    metric: str
    value: float
    at_least: bool = True
    quick: bool = False
    mean: bool = False

    def holds(self, x: float | None) -> bool:
        if x is None or x != x:  # absent or NaN
            return False
        return x >= self.value if self.at_least else x <= self.value

    def text(self) -> str:
        what = f"mean {self.metric}" if self.mean else self.metric
        return f"{what} {'>=' if self.at_least else '<='} {self.value:g}"


@dataclass(frozen=True)
class Row:
    """One row of the results table.

    ``kind``: the trainer (:data:`zerokara.reproduce.trial.KINDS`); ``metric``: the
    key of its metrics the table shows, ``unit`` how ("accuracy" as a fraction,
    shown in %; "perplexity"; "loss"); ``book``: the figure to compare with (None:
    the book prints none), ``digits``: the decimals the book printed it with (in
    the table's unit), so "about 0.97" is compared as 97 %; ``book_text``: how
    the source gives it, in English and Japanese; ``source``: where.
    """

    name: str
    title: str
    title_ja: str
    kind: str
    settings: dict[str, Any]
    quick: dict[str, Any]
    metric: str
    unit: str
    book: float | None
    digits: int
    book_text: str
    book_text_ja: str
    source: str
    bounds: tuple[Bound, ...]
    data: tuple[str, ...] = ()  # data sets it reads ("mnist", "ptb", "seq2seq"): none = made here
    note: str = ""  # a link: why it differs from the book, where that is known
    higher_better: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "higher_better", self.unit != "perplexity" and self.unit != "loss")


def _acc(metric: str, value: float, quick: bool = False) -> Bound:
    return Bound(metric, value, True, quick)


def _at_most(metric: str, value: float, quick: bool = False) -> Bound:
    return Bound(metric, value, False, quick)


def _mean_at_least(metric: str, value: float) -> Bound:
    return Bound(metric, value, True, False, mean=True)


_ZAREMBA = dict(LM_PRESETS["zaremba-small"])
_S2S_QUICK = {"epochs": 2}

ROWS: tuple[Row, ...] = (
    Row(
        "spiral",
        "spiral: TwoLayerNet hidden 10, sigmoid, SGD lr 1, batch 30, 300 epochs",
        "スパイラル: TwoLayerNet 隠れ 10、sigmoid、SGD lr 1、バッチ 30、300 エポック",
        "mlp",
        {"data": "spiral"},
        {},
        "train_accuracy",
        "accuracy",
        None,
        0,
        "a figure of the learned boundary (no accuracy printed)",
        "学習した境界の図 (正解率の記載なし)",
        "book 2, ch. 1",
        (_acc("train_accuracy", 0.95, quick=True),),
    ),
    Row(
        "mnist-sigmoid",
        "MNIST: TwoLayerNet 784-50-10 sigmoid, SGD lr 0.1, batch 100, 10,000 iterations",
        "MNIST: TwoLayerNet 784-50-10 sigmoid、SGD lr 0.1、バッチ 100、10,000 回",
        "mlp",
        {"model": "two-layer", "activation": "sigmoid"},
        {"iters": 2000},
        "test_accuracy",
        "accuracy",
        0.95,
        0,
        "about 95%",
        "約 95%",
        "book 1, ch. 4",
        (_acc("test_accuracy", 0.88, quick=True), _acc("test_accuracy", 0.94)),
        ("mnist",),
    ),
    Row(
        "mnist-relu",
        "MNIST: TwoLayerNet 784-50-10 ReLU, the same settings",
        "MNIST: TwoLayerNet 784-50-10 ReLU、同じ設定",
        "mlp",
        {"model": "two-layer", "activation": "relu"},
        {"iters": 2000},
        "test_accuracy",
        "accuracy",
        0.97,
        0,
        "about 97%",
        "約 97%",
        "book 1, ch. 5",
        (_acc("test_accuracy", 0.93, quick=True), _acc("test_accuracy", 0.965)),
        ("mnist",),
    ),
    Row(
        "mnist-multilayer",
        "MNIST: MultiLayerNet 784-256-256-10, ReLU, He, dropout 0.2, Adam lr 0.001, 12 epochs",
        "MNIST: MultiLayerNet 784-256-256-10、ReLU、He、dropout 0.2、Adam lr 0.001、12 エポック",
        "mlp",
        {"model": "multi-layer"},
        {"epochs": 2},
        "test_accuracy",
        "accuracy",
        None,
        0,
        "none (zerokara's own deeper setting)",
        "なし (zerokara 独自の深い設定)",
        "book 1, ch. 6",
        (_acc("test_accuracy", 0.96, quick=True), _acc("test_accuracy", 0.975)),
        ("mnist",),
    ),
    Row(
        "simple-convnet",
        "MNIST: SimpleConvNet (conv 30 5x5 - pool - 100 - 10), Adam lr 0.001, batch 100, 20 epochs",
        "MNIST: SimpleConvNet (conv 30 5x5 - pool - 100 - 10)、Adam lr 0.001、バッチ 100、20 エポック",
        "cnn",
        {"model": "simple"},
        {"epochs": 3, "train_size": 10_000, "test_size": 2000},
        "test_accuracy",
        "accuracy",
        0.99,
        0,
        "about 99%",
        "約 99%",
        "book 1, ch. 7",
        (_acc("test_accuracy", 0.9, quick=True), _acc("test_accuracy", 0.985)),
        ("mnist",),
    ),
    Row(
        "deep-convnet",
        "MNIST: DeepConvNet (six 3x3 convolutions, He, dropout 0.5), Adam lr 0.001, 20 epochs",
        "MNIST: DeepConvNet (3x3 畳み込み 6 層、He、dropout 0.5)、Adam lr 0.001、20 エポック",
        "cnn",
        {"model": "deep"},
        {"epochs": 2, "train_size": 6000, "test_size": 1000},
        "test_accuracy",
        "accuracy",
        0.9938,
        2,
        "99.38%",
        "99.38%",
        "book 1, ch. 8",
        (_acc("test_accuracy", 0.6, quick=True), _acc("test_accuracy", 0.99)),
        ("mnist",),
    ),
    Row(
        "binary-addition",
        "binary addition RNN: sigmoid, std 1, lr 0.1, hidden 16, 10,000 steps; exact sums of all 128 x 128",
        "2進数の足し算 RNN: sigmoid、std 1、lr 0.1、隠れ 16、10,000 ステップ。全 128 x 128 組の完全一致",
        "binary-addition",
        {},
        {},
        "exact_accuracy",
        "accuracy",
        None,
        0,
        "learns (no figure printed)",
        "学習できる (数値の記載なし)",
        "JDLA Day 3",
        (_acc("exact_accuracy", 1.0, quick=True),),
    ),
    Row(
        "count-vectors",
        "PTB: count-based vectors, window 2, PPMI, randomized SVD to 100 dims; analogy accuracy",
        "PTB: カウントベースのベクトル、window 2、PPMI、乱択 SVD で 100 次元。アナロジー正解率",
        "count-vectors",
        {},
        {},
        "analogy_accuracy",
        "accuracy",
        None,
        0,
        "nearest words only (you, year, car, toyota)",
        "近い単語のみ (you, year, car, toyota)",
        "book 2, ch. 2",
        (_acc("analogy_accuracy", 0.03, quick=True),),
        ("ptb",),
        "docs/count-based.md",
    ),
    Row(
        "toy-cbow",
        '"You say goodbye and I say hello.": SimpleCBOW, hidden 5, batch 3, Adam, 1000 epochs; final loss',
        "「You say goodbye and I say hello.」: SimpleCBOW、隠れ 5、バッチ 3、Adam、1000 エポック。最終損失",
        "word2vec",
        {"data": "toy"},
        {},
        "final_loss",
        "loss",
        None,
        0,
        "a falling curve from about 1.95 (no final figure)",
        "約 1.95 から下がる曲線 (最終値の記載なし)",
        "book 2, ch. 3",
        (_at_most("final_loss", 0.8, quick=True),),
    ),
    Row(
        "simple-rnnlm",
        "PTB's first 1,000 words: SimpleRnnlm, wordvec 100, hidden 100, batch 10, time 5, lr 0.1, 100 epochs",
        "PTB の先頭 1,000 語: SimpleRnnlm、wordvec 100、隠れ 100、バッチ 10、time 5、lr 0.1、100 エポック",
        "simple-rnnlm",
        {},
        {},
        "perplexity",
        "perplexity",
        5.0,
        0,
        "about 5 (train)",
        "約 5 (訓練)",
        "book 2, ch. 5",
        (_at_most("perplexity", 8.0, quick=True),),
        ("ptb",),
        "docs/reproduce.md",
    ),
    Row(
        "rnnlm",
        "PTB: Rnnlm, wordvec 100, hidden 100, batch 20, time 35, SGD lr 20, clip 0.25, 4 epochs; test",
        "PTB: Rnnlm、wordvec 100、隠れ 100、バッチ 20、time 35、SGD lr 20、clip 0.25、4 エポック。テスト",
        "lm",
        {"task": "rnnlm"},
        {"epochs": 1, "data_slice": 100_000},
        "test_perplexity",
        "perplexity",
        136.1,
        1,
        "136.1 (the book's code re-run here, seeds 0-4: mean 135.7)",
        "136.1 (本のコードをここで再実行、シード 0〜4: 平均 135.7)",
        "book 2, ch. 6",
        (_at_most("test_perplexity", 650.0, quick=True), _at_most("test_perplexity", 140.0)),
        ("ptb",),
    ),
    Row(
        "zaremba-small",
        'PTB: 2-layer LSTM 200, "small" model, SGD lr 1 halved after epoch 4, 13 epochs; test perplexity',
        "PTB: 2 層 LSTM 200「small」、SGD lr 1、4 エポック後から半減、13 エポック。テスト perplexity",
        "lm",
        {**_ZAREMBA, "preset": "zaremba-small"},
        {"epochs": 1, "data_slice": 100_000},
        "test_perplexity",
        "perplexity",
        114.5,
        1,
        "114.5 (valid 120.7)",
        "114.5 (検証 120.7)",
        "Zaremba et al. 2014",
        (_at_most("test_perplexity", 680.0, quick=True), _at_most("test_perplexity", 118.0)),
        ("ptb",),
    ),
    Row(
        "cbow",
        "PTB: CBOW, window 5, hidden 100, 5 negatives, batch 100, Adam, 10 epochs; analogy accuracy",
        "PTB: CBOW、window 5、隠れ 100、負例 5、バッチ 100、Adam、10 エポック。アナロジー正解率",
        "word2vec",
        {},
        {"epochs": 1},
        "analogy_accuracy",
        "accuracy",
        None,
        0,
        "analogies shown, no accuracy (gensim's row below is the peer)",
        "アナロジーの例のみ (下の gensim の行が比較相手)",
        "book 2, ch. 4",
        (_acc("analogy_accuracy", 0.0015, quick=True), _acc("analogy_accuracy", 0.015)),
        ("ptb",),
        "docs/word2vec.md",
    ),
    Row(
        "cbow-gensim-like",
        "PTB: the same CBOW with --preset gensim-like (subsampling, shrinking window, Adam 0.003)",
        "PTB: 同じ CBOW を --preset gensim-like で (サブサンプリング、窓の縮小、Adam 0.003)",
        "word2vec",
        {"preset": "gensim-like"},
        {"epochs": 1},
        "analogy_accuracy",
        "accuracy",
        None,
        0,
        "gensim's row below",
        "下の gensim の行",
        "gensim",
        (_acc("analogy_accuracy", 0.008, quick=True), _acc("analogy_accuracy", 0.045)),
        ("ptb",),
        "docs/word2vec.md",
    ),
    Row(
        "gensim-cbow",
        "PTB: gensim's CBOW (the peer): window 5, size 100, 5 negatives, 10 epochs, its defaults",
        "PTB: gensim の CBOW (比較相手): window 5、100 次元、負例 5、10 エポック、その既定値",
        "gensim",
        {"epochs": 10},
        {"epochs": 3},
        "analogy_accuracy",
        "accuracy",
        None,
        0,
        "(it is the peer)",
        " (これが比較相手)",
        "gensim 4",
        (_acc("analogy_accuracy", 0.006, quick=True), _acc("analogy_accuracy", 0.03)),
        ("ptb",),
    ),
    Row(
        "addition",
        "addition: plain seq2seq, 25 epochs; held-out exact match",
        "足し算: 素の seq2seq、25 エポック。検証データの完全一致",
        "seq2seq",
        {"data": "addition", "model": "plain"},
        _S2S_QUICK,
        "test_accuracy",
        "accuracy",
        0.10,
        0,
        "about 10%",
        "約 10%",
        "book 2, ch. 7",
        (_at_most("final_loss", 1.8, quick=True), _acc("test_accuracy", 0.08)),
        ("seq2seq",),
        "docs/seq2seq.md",
    ),
    Row(
        "addition-reversed",
        "addition: seq2seq, reversed input, 25 epochs",
        "足し算: seq2seq、入力の反転、25 エポック",
        "seq2seq",
        {"data": "addition", "model": "plain", "reverse": True},
        _S2S_QUICK,
        "test_accuracy",
        "accuracy",
        0.54,
        0,
        "about 54% (one run; the book's code re-run here: 31.9-41.1%, mean 37.7%)",
        "約 54% (1 回。本のコードをここで再実行: 31.9〜41.1%、平均 37.7%)",
        "book 2, ch. 7",
        (_at_most("final_loss", 1.8, quick=True), _acc("test_accuracy", 0.25)),
        ("seq2seq",),
        "docs/reproduce.md",
    ),
    Row(
        "addition-peeky",
        "addition: peeky seq2seq, reversed input, 25 epochs",
        "足し算: Peeky seq2seq、入力の反転、25 エポック",
        "seq2seq",
        {"data": "addition", "model": "peeky", "reverse": True},
        _S2S_QUICK,
        "test_accuracy",
        "accuracy",
        0.98,
        0,
        "about 98%",
        "約 98%",
        "book 2, ch. 7",
        (_at_most("final_loss", 1.7, quick=True), _acc("test_accuracy", 0.95)),
        ("seq2seq",),
        "docs/reproduce.md",
    ),
    Row(
        "date-attention",
        "dates: attention seq2seq, reversed input, 10 epochs; held-out exact match",
        "日付: Attention seq2seq、入力の反転、10 エポック。検証データの完全一致",
        "seq2seq",
        {"data": "date", "model": "attention", "reverse": True},
        {"epochs": 3},
        "test_accuracy",
        "accuracy",
        0.999,
        1,
        "99.9%",
        "99.9%",
        "book 2, ch. 8",
        (
            _at_most("final_loss", 0.5, quick=True),
            _acc("test_accuracy", 0.998),
            _mean_at_least("test_accuracy", 0.999),
        ),
        ("seq2seq",),
        "docs/reproduce.md",
    ),
    Row(
        "date-transformer",
        "dates: Transformer (d_model 64, 4 heads, 2+2 layers, warm-up), reversed input, 10 epochs",
        "日付: Transformer (d_model 64、4 ヘッド、2+2 層、ウォームアップ)、入力の反転、10 エポック",
        "seq2seq",
        {"data": "date", "model": "transformer", "reverse": True},
        {"epochs": 3},
        "test_accuracy",
        "accuracy",
        0.999,
        1,
        "99.9% (book 2's attention seq2seq)",
        "99.9% (2巻の Attention seq2seq)",
        "book 2, ch. 8",
        (
            _acc("test_accuracy", 0.9, quick=True),
            _acc("test_accuracy", 0.995),
            _mean_at_least("test_accuracy", 0.998),
        ),
        ("seq2seq",),
        "docs/transformer.md",
    ),
    Row(
        "addition-transformer",
        "addition: Transformer, the same model, reversed input, 25 epochs",
        "足し算: Transformer、同じモデル、入力の反転、25 エポック",
        "seq2seq",
        {"data": "addition", "model": "transformer", "reverse": True},
        {"epochs": 4},
        "test_accuracy",
        "accuracy",
        None,
        0,
        "none (attention seq2seq, 25 epochs, measured here: 33.6%)",
        "なし (Attention seq2seq、25 エポック、ここで測定: 33.6%)",
        "",
        (_acc("test_accuracy", 0.3, quick=True), _acc("test_accuracy", 0.99)),
        ("seq2seq",),
        "docs/transformer.md",
    ),
)

BY_NAME: dict[str, Row] = {r.name: r for r in ROWS}
