"""Training: the trainer, progress, plots."""

from zerokara.train.trainer import CHECKPOINT, Trainer

__all__ = ["Trainer", "CHECKPOINT"]
