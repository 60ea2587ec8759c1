"""Checkpoints: safetensors (no pickle), written atomically.

A checkpoint is one ``.safetensors`` file: the arrays by name plus a JSON
document (counters, config, random states, history) in the file's metadata
under the key ``"zerokara"``. Because everything is in one file, a single
atomic rename publishes a consistent checkpoint; a crash leaves the previous
one intact. The metadata also holds a manifest (``"zerokara-sha256"``): the
SHA-256 of the document and of every tensor's bytes, checked on load, so a
flipped byte or an edited document is an error that names what changed, not a
run that resumes from damaged weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from zerokara.errors import CheckpointError, ZerokaraError

FORMAT = "zerokara-checkpoint"
#: 2: with the SHA-256 manifest (1: without; still read)
VERSION = 2
MANIFEST = "zerokara-sha256"
_UMASK = os.umask(0o022)  # read (the only way is to set it) and put back at once
os.umask(_UMASK)


class StorageError(ZerokaraError, OSError):
    """A file could not be written (no space left, no permission, not a folder);
    the message names the file and what was kept."""


@contextlib.contextmanager
def atomic_file(path: Path | str, suffix: str = ".tmp", *, one_line: bool = True) -> Iterator[Path]:
    """``with atomic_file(path) as tmp:`` write ``tmp``; on success it replaces
    ``path`` by one rename, on any failure it is removed and ``path`` is as it was.

    The temporary is ``.NAME.*<suffix>`` in the same folder (suffix starting with
    ``.tmp``): :func:`zerokara.runlock.clean_temporaries` removes the ones a
    killed writer left. An OSError (a full disk, a folder that is a file) becomes
    one :class:`StorageError` line naming ``path`` and what was kept (``one_line=False``:
    left as it is, for a caller whose body raises OSErrors of its own, a download's)."""
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"cannot write {path}: it is a folder; give a file name")
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a plain write honours the umask
        os.close(fd)
    except OSError as e:
        raise StorageError(f"cannot write {path}: {_why(e)}; nothing was changed") from None
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # the rename itself survives a power cut
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if one_line and isinstance(e, OSError) and not isinstance(e, ZerokaraError):
            kept = f"the previous {path.name} is kept" if path.exists() else "nothing was written"
            raise StorageError(f"cannot write {path}: {_why(e)}; {kept}") from None
        raise


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary in the same folder, fsync'd,
    then one rename (see :func:`atomic_file`)."""
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _sha256(data: Any) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checkpoint(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Save arrays and a JSON-able ``meta`` dict atomically to ``path``, with the
    SHA-256 manifest of both."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    doc = json.dumps({"format": FORMAT, "version": VERSION, **meta})
    manifest = {"meta": _sha256(doc.encode()), "tensors": {k: _sha256(v.data) for k, v in arrays.items()}}
    data = st_save(arrays, metadata={"zerokara": doc, MANIFEST: json.dumps(manifest)})
    atomic_write_bytes(Path(path), data)


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
    metadata = header.get("__metadata__") or {}
    doc = metadata.get("zerokara")
    if not isinstance(doc, str):
        raise CheckpointError(
            f"{path} is a safetensors file but not a zerokara checkpoint (no 'zerokara' metadata)"
        )
    if MANIFEST in metadata:  # first: an edited document is named as such, not misread
        _verify(path, doc, tensors, metadata[MANIFEST])
    try:
        meta = json.loads(doc)
    except ValueError:
        raise CheckpointError(f"{path}: the zerokara metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {_get(meta, 'format')!r}")
    version = meta.get("version", 0)
    if not isinstance(version, int):
        raise CheckpointError(f"{path}: checkpoint version {version!r} is not a number")
    if version > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {version} is newer than this zerokara reads "
            f"({VERSION}); upgrade zerokara"
        )
    if version >= 2 and MANIFEST not in metadata:
        _verify(path, doc, tensors, None)
    return tensors, meta


def _get(meta: Any, key: str) -> Any:
    return meta.get(key) if isinstance(meta, dict) else None


def _verify(path: Path, doc: str, tensors: dict[str, np.ndarray], manifest_doc: str | None) -> None:
    """Every tensor and the document against the manifest's SHA-256."""
    corrupt = "the file is corrupt or was edited; use an earlier copy or start the run again"
    try:
        manifest = json.loads(manifest_doc or "")
        want_meta, want = manifest["meta"], dict(manifest["tensors"])
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: its SHA-256 manifest is missing or unreadable; {corrupt}") from None
    if _sha256(doc.encode()) != want_meta:
        raise CheckpointError(f"{path}: the metadata does not match its SHA-256; {corrupt}")
    if set(want) != set(tensors):
        odd = sorted(set(want) ^ set(tensors))
        raise CheckpointError(f"{path}: tensors {odd[:3]} are not the ones its manifest lists; {corrupt}")
    for k, v in tensors.items():
        if _sha256(np.ascontiguousarray(v).data) != want[k]:
            raise CheckpointError(f"{path}: tensor {k!r} does not match its SHA-256; {corrupt}")


def split_prefix(tensors: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The tensors under ``prefix + '/'`` with the prefix removed."""
    p = prefix + "/"
    return {k[len(p) :]: v for k, v in tensors.items() if k.startswith(p)}
