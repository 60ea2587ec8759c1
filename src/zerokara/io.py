"""Checkpoints: safetensors (no pickle), written atomically.

A checkpoint is one ``.safetensors`` file: the arrays by name plus a JSON
document (counters, config, random states) in the file's metadata under the
key ``"zerokara"``. Because everything is in one file, a single atomic rename
publishes a consistent checkpoint; a crash leaves the previous one intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from zerokara.errors import CheckpointError

FORMAT = "zerokara-checkpoint"
VERSION = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Save arrays and a JSON-able ``meta`` dict atomically to ``path``."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    doc = json.dumps({"format": FORMAT, "version": VERSION, **meta})
    atomic_write_bytes(Path(path), st_save(arrays, metadata={"zerokara": doc}))


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load ``(tensors, meta)``; a clear CheckpointError if it is not ours or broken."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint (truncated or "
            f"corrupt: {str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    doc = (header.get("__metadata__") or {}).get("zerokara")
    if doc is None:
        raise CheckpointError(
            f"{path} is a safetensors file but not a zerokara checkpoint (no 'zerokara' metadata)"
        )
    try:
        meta = json.loads(doc)
    except ValueError:
        raise CheckpointError(f"{path}: the zerokara metadata is not valid JSON") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {meta.get('version')} is newer than this "
            f"zerokara reads ({VERSION}); upgrade zerokara"
        )
    return tensors, meta


def split_prefix(tensors: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The tensors under ``prefix + '/'`` with the prefix removed."""
    p = prefix + "/"
    return {k[len(p) :]: v for k, v in tensors.items() if k.startswith(p)}
