"""Using a trained seq2seq model: text in, text out, and its attention weights.

A checkpoint of ``zerokara train seq2seq`` holds the model's settings, the
vocabulary and the widths in its config, so the checkpoint alone is enough
(``zerokara translate``, ``zerokara attention-map``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zerokara.data.sequence import START, CharVocab
from zerokara.errors import CheckpointError, InputError
from zerokara.io import load_checkpoint, split_prefix
from zerokara.models.attention_seq2seq import AttentionSeq2seq
from zerokara.models.seq2seq import Seq2seq
from zerokara.models.transformer import TransformerSeq2seq
from zerokara.train.seq2seq import model_from_config
from zerokara.train.state import CHECKPOINT


class Translator:
    """A trained model with its vocabulary: text in, text out."""

    def __init__(self, model: Seq2seq, vocab: CharVocab, question_width: int, answer_width: int) -> None:
        self.model, self.vocab = model, vocab
        self.question_width, self.answer_width = question_width, answer_width

    @classmethod
    def load(cls, path: str | Path) -> Translator:
        """From a checkpoint file or a run folder holding one."""
        path = Path(path)
        if path.is_dir():
            path = path / CHECKPOINT
        tensors, meta = load_checkpoint(path)
        config = meta.get("config", {})
        if config.get("task") != "seq2seq":
            raise CheckpointError(
                f"{path}: not a seq2seq checkpoint (task {config.get('task')!r}); "
                "train one with zerokara train seq2seq"
            )
        model = model_from_config(config)
        model.load_state_dict(split_prefix(tensors, "model"), source=str(path))
        return cls(model, CharVocab(list(config["vocab"])), config["question_width"], config["answer_width"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """The questions as ids (N, question_width); an empty (or all-space) question
        is refused: the model would answer padding with a guess."""
        for s in texts:
            if not s.strip():
                raise InputError(
                    f"translate: question {s!r} is empty; give the question as the model was "
                    f"trained on it (at most {self.question_width} characters)"
                )
        return np.stack([self.vocab.encode(s, self.question_width, what="question") for s in texts])

    def _start(self, n: int) -> np.ndarray:
        return np.full(n, self.vocab.char_to_id[START], dtype=np.int64)

    def translate(self, texts: list[str]) -> list[str]:
        xs = self.encode(texts)
        ids = self.model.generate(xs, self._start(len(xs)), self.answer_width - 1)
        return [self.vocab.decode(r).rstrip() for r in ids]

    def attention(self, text: str) -> tuple[str, np.ndarray]:
        """(answer as generated, padding kept; weights (answer_width-1, question_width)).
        A transformer's are its last decoder layer's cross-attention, averaged over the
        heads (:meth:`attention_heads` has every head's)."""
        if isinstance(self.model, TransformerSeq2seq):
            answer, heads = self.attention_heads(text)
            return answer, heads[f"decoder.layer{self.model.sizes['layers']}"].mean(axis=0)
        if not isinstance(self.model, AttentionSeq2seq):
            raise InputError(
                f"attention-map: the checkpoint holds a {self.model.kind!r} model; "
                "only --model attention has attention weights (and --model transformer, one per head)"
            )
        xs = self.encode([text])
        ids, w = self.model.attention_map(xs, self._start(1), self.answer_width - 1)
        return self.vocab.decode(ids[0]), w[0]

    def attention_heads(self, text: str) -> tuple[str, dict[str, np.ndarray]]:
        """A transformer's answer and every head's weights by layer:
        ``encoder.layerI`` (heads, question_width, question_width) self-attention,
        ``decoder.layerI`` (heads, answer_width-1, question_width) cross-attention."""
        if not isinstance(self.model, TransformerSeq2seq):
            raise InputError(
                f"attention-map: the checkpoint holds a {self.model.kind!r} model; "
                "only --model transformer has attention heads"
            )
        ids, w = self.model.attention_map(self.encode([text]), self._start(1), self.answer_width - 1)
        return self.vocab.decode(ids[0]), {k: v[0] for k, v in w.items()}


__all__ = ["Translator"]
