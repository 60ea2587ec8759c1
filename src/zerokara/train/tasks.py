"""The run folder of ``zerokara train binary-addition`` and ``word2vec`` (until
they move to the one loop)."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path

from zerokara.errors import InputError
from zerokara.train.state import CHECKPOINT


def prepare_out(args: Namespace, task: str) -> Path:
    """The run folder; never reuses one holding a run unless --resume."""
    out = Path(args.out) if args.out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    ckpt = out / CHECKPOINT
    if args.resume and not ckpt.is_file():
        raise InputError(f"--resume: no checkpoint in {out} ({ckpt} not found)")
    if not args.resume and ckpt.exists():
        raise InputError(f"{out} already holds a run ({CHECKPOINT}); pass --resume to continue "
                         "it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out
