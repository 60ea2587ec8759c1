"""Book 2's language models on Penn Treebank (chapters 5-6), from Python:

    from zerokara.train import LMConfig, train_lm
    run = train_lm(LMConfig(task="rnnlm", epochs=1), out_dir="runs/rnnlm")
    run.metrics["test_perplexity"]

A setting left as None takes book 2's value for the task (:data:`DEFAULTS`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, InputError
from zerokara.optim import make_optimizer
from zerokara.options import clip_norm
from zerokara.train.lm import BEST, LMTrainer, LRSchedule
from zerokara.train.report import Reporter
from zerokara.train.state import CHECKPOINT, Run, open_run_dir

# book 2's settings (ch06/train_rnnlm.py, ch06/train_better_rnnlm.py), used when a setting is None
DEFAULTS: dict[str, dict[str, Any]] = {
    "rnnlm": {
        "wordvec": 100,
        "hidden": 100,
        "layers": 1,
        "dropout": 0.0,
        "tie": False,
        "batch_size": 20,
        "time_size": 35,
        "lr": 20.0,
        "max_grad": 0.25,
        "epochs": 4,
        "lr_decay": "plateau",
        "decay_factor": 4.0,
        "decay_start": 4,
        "init": "book",
        "optimizer": "sgd",
        "streams": "continue",
    },
    "better-rnnlm": {
        "wordvec": 650,
        "hidden": 650,
        "layers": 2,
        "dropout": 0.5,
        "tie": True,
        "batch_size": 20,
        "time_size": 35,
        "lr": 20.0,
        "max_grad": 0.25,
        "epochs": 40,
        "lr_decay": "plateau",
        "decay_factor": 4.0,
        "decay_start": 4,
        "init": "book",
        "optimizer": "sgd",
        "streams": "continue",
    },
}
# Zaremba et al. (2014), "small": lr 1 and clip 5 on a loss *summed* over the 20 time steps
# (averaged over the batch). zerokara's loss is the mean over the steps too, i.e. 1/20 of theirs,
# so the same updates are lr 20 and clip 5/20 = 0.25 here.
PRESETS: dict[str, dict[str, Any]] = {
    "zaremba-small": {
        "task": "better-rnnlm",
        "wordvec": 200,
        "hidden": 200,
        "layers": 2,
        "dropout": 0.0,
        "tie": False,
        "batch_size": 20,
        "time_size": 20,
        "lr": 20.0,
        "max_grad": 0.25,
        "epochs": 13,
        "lr_decay": "zaremba",
        "decay_factor": 2.0,
        "decay_start": 4,
        "init": "uniform",
        "optimizer": "sgd",
    },
}
# options that shape the model: a resumed run must use the same ones
MODEL_KEYS = (
    "task",
    "wordvec",
    "hidden",
    "layers",
    "dropout",
    "tie",
    "init",
    "optimizer",
    "batch_size",
    "time_size",
    "data_slice",
    "streams",
)
KEY_DEFAULTS = {"streams": "restart"}  # what checkpoints from before the option did


@dataclass
class LMConfig:
    """One language-model run on Penn Treebank; None settings take book 2's values
    for ``task`` ("rnnlm" or "better-rnnlm"). ``max_grad`` "none": no clipping.
    ``data_slice``: train on the first N words only (quick runs)."""

    task: str = "rnnlm"
    wordvec: int | None = None
    hidden: int | None = None
    layers: int | None = None
    dropout: float | None = None
    tie: bool | None = None
    batch_size: int | None = None
    time_size: int | None = None
    lr: float | None = None
    max_grad: float | str | None = None  # a norm > 0; "none": no clipping; None: the default
    epochs: int | None = None
    lr_decay: str | None = None
    decay_factor: float | None = None
    decay_start: int | None = None
    init: str | None = None
    optimizer: str | None = None
    streams: str | None = None
    data_slice: int | None = None
    seed: int = 0
    preset: str | None = None  # a name in PRESETS: its settings where this config's are None

    def record(self) -> dict[str, Any]:
        """The complete, checked settings, as the checkpoint stores them: the ones
        given, else the preset's, else book 2's."""
        if self.task not in DEFAULTS:
            raise InputError(f"LMConfig: task expected one of {sorted(DEFAULTS)}, got {self.task!r}")
        s = dict(DEFAULTS[self.task])
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise InputError(f"--preset: expected one of {sorted(PRESETS)}, got {self.preset!r}")
            preset = PRESETS[self.preset]
            if preset["task"] != self.task:
                raise InputError(f"--preset {self.preset} is for train {preset['task']}, not {self.task}")
            s.update({k: v for k, v in preset.items() if k in s})
        mine = asdict(self)
        s.update({k: v for k, v in mine.items() if k in s and v is not None})
        s["data_slice"] = self.data_slice
        for key in ("wordvec", "hidden", "layers", "batch_size", "time_size", "epochs"):
            if s[key] < 1:
                raise InputError(f"--{key.replace('_', '-')}: expected a positive integer, got {s[key]}")
        if not 0 <= s["dropout"] < 1:
            raise InputError(f"--dropout: expected in [0, 1), got {s['dropout']}")
        if s["data_slice"] is not None and s["data_slice"] < 2:
            raise InputError(f"--data-slice: expected at least 2 words, got {s['data_slice']}")
        clip_norm(s["max_grad"], "LMConfig")  # a norm > 0, or "none" (recorded as given)
        return {"task": self.task, "preset": self.preset, "seed": self.seed, "data": "ptb", **s}


def build_model(cfg: dict[str, Any], vocab_size: int, rng: np.random.Generator | None = None):
    """Rnnlm or BetterRnnlm from a recorded config."""
    from zerokara.models.rnnlm import BetterRnnlm, Rnnlm

    rng = rng if rng is not None else np.random.default_rng(0)
    if cfg["task"] == "rnnlm":
        return Rnnlm(vocab_size, cfg["wordvec"], cfg["hidden"], rng=rng, init=cfg["init"])
    return BetterRnnlm(
        vocab_size,
        cfg["wordvec"],
        cfg["hidden"],
        num_layers=cfg["layers"],
        dropout=cfg["dropout"],
        tie_weights=cfg["tie"],
        rng=rng,
        init=cfg["init"],
    )


def train_lm(
    config: LMConfig,
    *,
    out_dir: Path | str | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
) -> Run:
    """Train on PTB's training text; valid perplexity each epoch, test at the end."""
    from zerokara.data import load_ptb

    cfg = config.record()
    train, vocab = load_ptb("train")
    valid, _ = load_ptb("valid")
    test, _ = load_ptb("test")
    if cfg["data_slice"] is not None:
        train = train[: cfg["data_slice"]]
    cfg["vocab_size"] = len(vocab)
    out = open_run_dir(out_dir, resume)
    model = build_model(cfg, len(vocab), np.random.default_rng(cfg["seed"]))
    trainer = LMTrainer(
        model,
        make_optimizer(cfg["optimizer"], cfg["lr"]),
        out_dir=out,
        max_grad=cfg["max_grad"],
        reporter=reporter,
        config=cfg,
        vocab=vocab.id_to_word,
        schedule=LRSchedule(cfg["lr_decay"], cfg["decay_factor"], cfg["decay_start"]),
        streams=cfg["streams"],
    )
    rep = trainer.reporter
    if resume:
        assert out is not None  # open_run_dir refuses a resume without a folder
        trainer.resume(check_keys=MODEL_KEYS, key_defaults=KEY_DEFAULTS)
        rep.info(f"resumed from {out / CHECKPOINT} at epoch {trainer.epoch}, iteration {trainer.iteration}")
    n_params = sum(p.size for p in model.parameters().values())
    task = cfg["task"]
    rep.info(
        f"{task}{f' ({config.preset})' if config.preset else ''}: "
        f"V={len(vocab)} D={cfg['wordvec']} H={cfg['hidden']}"
        f"{'' if task == 'rnnlm' else ' layers=' + str(cfg['layers'])}"
        f", {n_params:,} parameters; {cfg['optimizer']} lr {cfg['lr']:g}, clip "
        f"{cfg['max_grad']}, batch {cfg['batch_size']} x time {cfg['time_size']}, "
        f"{cfg['epochs']} epoch{'s' if cfg['epochs'] != 1 else ''} on {len(train):,} "
        f"words -> {out}"
    )
    metrics = trainer.fit(
        train, valid, test, epochs=cfg["epochs"], batch_size=cfg["batch_size"], time_size=cfg["time_size"]
    )
    return Run(metrics, trainer, out, cfg)


def load_model(path: str | Path):
    """(model, config, id_to_word) from a run folder (its best model) or a checkpoint file."""
    from zerokara.io import load_checkpoint, split_prefix
    from zerokara.models.rnnlm import SimpleRnnlm

    path = Path(path)
    if path.is_dir():  # train simple-rnnlm keeps no best model: its last one
        path = path / BEST if (path / BEST).is_file() else path / CHECKPOINT
    tensors, meta = load_checkpoint(path)
    cfg, words = meta.get("config") or {}, meta.get("vocab")
    task = cfg.get("task")
    if task not in (*DEFAULTS, "simple-rnnlm") or not words:
        raise CheckpointError(
            f"{path} is not a language-model checkpoint (train rnnlm / better-rnnlm / simple-rnnlm)"
        )
    if task == "simple-rnnlm":
        model = SimpleRnnlm(len(words), cfg["wordvec"], cfg["hidden"])
    else:
        model = build_model(cfg, len(words))
    model.load_state_dict(split_prefix(tensors, "model"), source=str(path))
    return model, cfg, words
