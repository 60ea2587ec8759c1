"""Saving and restoring a training run: everything the next step depends on.

Every trainer (MLP, binary addition, language model, word2vec, seq2seq)
checkpoints the same things -- the model's parameters, the optimizer's state,
every random generator (the trainer's and the model's, e.g. Dropout's) -- plus
its own counters. These two functions do the shared part, so a resumed run of
any of them continues bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerokara.errors import CheckpointError, InputError
from zerokara.io import load_checkpoint, save_checkpoint, split_prefix
from zerokara.layers.base import Module
from zerokara.optim import Optimizer
from zerokara.runlock import busy

CHECKPOINT = "checkpoint.safetensors"


def save_run(
    path: Path,
    model: Module,
    optimizer: Optimizer | None,
    *,
    rng: np.random.Generator | None = None,
    meta: dict[str, Any] | None = None,
    tensors: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write ``path`` (atomically, one rename) with ``model/*``, ``buffer/*`` (BatchNorm's
    running statistics and any other :meth:`~zerokara.layers.base.Module.buffers`),
    ``optim/*`` and the extra ``tensors``; ``meta`` (counters, config, history) goes
    into the file with the random states. Returns the meta written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"buffer/{k}": v for k, v in model.buffers().items()})
    meta = dict(meta or {})
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state_dict().items()})
        meta.update(optimizer=type(optimizer).__name__, lr=optimizer.lr)
    arrays.update(tensors or {})
    if rng is not None:
        meta["rng"] = rng.bit_generator.state
    meta["model_rngs"] = {k: g.bit_generator.state for k, g in model.generators().items()}
    save_checkpoint(path, arrays, meta)
    return meta


def meta_view(meta: dict[str, Any]) -> str:
    """The text of ``checkpoint.json``: a checkpoint's meta for people to read (the
    history and the metrics have their own files). Derived: the checkpoint is the record."""
    skip = ("history", "metrics", "format", "version")
    return json.dumps({k: v for k, v in meta.items() if k not in skip}, indent=2) + "\n"


def _number(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


#: settings a resume may change: the run's length (the new total). Every other recorded
#: setting must be the checkpoint's, or the resumed run would not be the run it continues.
MAY_CHANGE = ("epochs", "iters")


def check_config(
    path: Path,
    old: dict[str, Any],
    new: dict[str, Any],
    check_keys: tuple[str, ...] = (),
    key_defaults: dict[str, Any] | None = None,
) -> None:
    """Refuse, naming the setting, a resume whose settings differ from the checkpoint's.

    Compared: ``check_keys`` (with ``key_defaults`` for checkpoints written before a
    key existed) and every other setting both record, except :data:`MAY_CHANGE`."""
    defaults = key_defaults or {}
    keys = list(check_keys) + [k for k in new if k in old and k not in check_keys and k not in MAY_CHANGE]
    # A resumed run goes on with the checkpoint's learning rate (and its schedule),
    # so an --lr that differs from the one the run started with would be ignored.
    if "lr" in keys and old.get("lr") is not None and new.get("lr") is not None:
        keys.remove("lr")
        if _number(old["lr"]) != _number(new["lr"]):
            raise CheckpointError(
                f"{path}: cannot resume with lr={new['lr']!r}: a resumed run goes on with "
                f"the checkpoint's learning rate (the run started at {old['lr']!r}); resume "
                "without --lr, or start a new run"
            )
    for key in keys:
        was, now = old.get(key, defaults.get(key)), new.get(key, defaults.get(key))
        if _number(was) != _number(now):
            raise CheckpointError(
                f"{path}: cannot resume with {key}={now!r}; the checkpoint was trained with {key}={was!r} "
                "(resume with the run's own settings, listed in its checkpoint.json; only "
                f"{' and '.join(MAY_CHANGE)} may change)"
            )


def load_run(
    path: Path,
    model: Module,
    optimizer: Optimizer | None = None,
    *,
    rng: np.random.Generator | None = None,
    config: dict[str, Any] | None = None,
    check_keys: tuple[str, ...] = (),
    key_defaults: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Restore model, optimizer and generators from ``path``; return ``(meta, tensors)``.

    ``check_keys``: config entries that must equal the checkpoint's (the ones
    that shape the model); a mismatch is a clear CheckpointError.
    ``key_defaults``: the value a key had before it existed, for checkpoints
    (or configs) written without it.
    """
    path = Path(path)
    tensors, meta = load_checkpoint(path)
    check_config(path, meta.get("config", {}), config or {}, check_keys, key_defaults or {})
    for k, v in tensors.items():
        if k.startswith(("model/", "buffer/")) and v.dtype.kind == "f" and not np.isfinite(v).all():
            raise CheckpointError(
                f"{path}: tensor {k!r} holds NaN or infinite values; the run diverged before "
                "this checkpoint was written: start again from an earlier checkpoint or a new run"
            )
    if optimizer is not None and meta.get("optimizer") != type(optimizer).__name__:
        raise CheckpointError(
            f"{path}: checkpoint optimizer is {meta.get('optimizer')}, not {type(optimizer).__name__}"
        )
    model.load_state_dict(split_prefix(tensors, "model"), source=str(path))
    buffers = split_prefix(tensors, "buffer")
    if buffers or not model.buffers():
        model.load_buffers(buffers, source=str(path))
    # else: a checkpoint from before buffers were saved: they keep their initial values
    if optimizer is not None:
        optimizer.load_state_dict(split_prefix(tensors, "optim"))
        optimizer.lr = meta["lr"]
    if rng is not None and "rng" in meta:
        rng.bit_generator.state = meta["rng"]
    saved = meta.get("model_rngs", {})
    for k, g in model.generators().items():
        if k not in saved:
            raise CheckpointError(f"{path}: no state saved for the model's generator {k!r}")
        g.bit_generator.state = saved[k]
    return meta, tensors


@dataclass
class Run:
    """What a ``train_*`` function returns: the final metrics, the trainer (its
    model, history and counters), the run folder (None: nothing was written)
    and the complete configuration the run used."""

    metrics: dict[str, Any]
    trainer: Any
    out_dir: Path | None
    config: Any

    @property
    def model(self) -> Module:
        """The trained model (the one a DataParallel wrapper shares its weights with)."""
        return getattr(self.trainer.model, "module", self.trainer.model)

    @property
    def history(self) -> dict[str, Any]:
        return self.trainer.history


def open_run_dir(out_dir: Path | str | None, resume: bool) -> Path | None:
    """The run folder, made if need be; never one that holds a run unless ``resume``."""
    if out_dir is None:
        if resume:
            raise InputError("resume: no run folder given (--out)")
        return None
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} is a file, not a folder; give a folder for the run")
    busy(out)  # another process writing there is named before anything else is said
    ckpt = out / CHECKPOINT
    if resume and not ckpt.is_file():
        raise InputError(f"--resume: no checkpoint in {out} ({ckpt} not found)")
    if not resume and ckpt.exists():
        raise InputError(
            f"{out} already holds a run ({CHECKPOINT}); pass --resume (from Python: "
            "resume=True) to continue it, or choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out
