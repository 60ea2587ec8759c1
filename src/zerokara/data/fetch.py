"""Find a data file on disk, or download it once, always checking its SHA-256.

Files live under ``data_dir()``: ``$ZEROKARA_DATA_DIR`` if set, else
``~/.cache/zerokara``. A file that is already there is only read, never
replaced: if its hash is wrong the user is told to delete it (:func:`verify`
says it the same way for files that are never downloaded).

A download streams into a temporary ``.NAME.*.tmp`` in the file's own folder,
hashing as it goes; only a whole file with the right hash is renamed into
place, and the temporary is deleted on any failure, so a later run never trusts
a half-written file. A download killed outright (``kill -9``) cannot delete its
temporary: the next download of the same file removes it first. Downloads hold
the data folder's lock (:mod:`zerokara.runlock`), so that cleaning never
removes the temporary of a download still running in another process: a second
process waits for the first, then finds the file already there.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from zerokara.errors import DataError
from zerokara.io import atomic_file
from zerokara.runlock import FolderLock

_CHUNK = 1 << 20  # hash and copy 1 MiB at a time: the big files never sit in memory twice
_TIMEOUT = 60  # seconds without data before a mirror counts as failed


def data_dir() -> Path:
    """The root folder of all data sets: ``$ZEROKARA_DATA_DIR`` or ``~/.cache/zerokara``."""
    env = os.environ.get("ZEROKARA_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "zerokara"


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stale_temporaries(path: Path) -> list[Path]:
    """The download temporaries of ``path`` in its folder (``.NAME.*.tmp``)."""
    folder = path.parent
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f".{path.name}.*.tmp") if p.is_file())


def verify(path: Path, sha256: str, *, dataset: str, how: str = "so it is downloaded again") -> Path:
    """Check ``path``'s SHA-256; ``DataError`` (one line: the file, the expected and the
    actual hash, what to do) if it differs or the file cannot be read."""
    sha256 = sha256.lower()
    try:
        actual = sha256_of(path)
    except OSError as err:
        raise DataError(f"{dataset}: cannot read {path}: {err.strerror or err}") from err
    if actual != sha256:
        raise DataError(
            f"{dataset}: {path} is corrupt: sha256 expected {sha256}, got {actual}; delete it {how}"
        )
    return path


def _download(url: str, path: Path, sha256: str) -> None:
    """Stream ``url`` into a temporary beside ``path`` (:func:`zerokara.io.atomic_file`),
    check the hash, and only then rename it into place."""
    # one_line=False: a network error is the mirror's, not a write's; fetch() names it
    with atomic_file(path, one_line=False) as tmp, open(tmp, "wb") as out:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(f"sha256 mismatch: expected {sha256}, got {digest.hexdigest()}")
        out.flush()
        os.fsync(out.fileno())


def _reason(err: BaseException) -> str:
    """One short line for why a URL failed."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    text = " ".join(str(err).split()) or type(err).__name__
    if "sha256 mismatch" in text.lower():
        return "downloaded file has the wrong sha256 (corrupt or changed upstream)"
    return text[:200]


def fetch(relpath: str, urls: list[str], sha256: str, *, dataset: str) -> Path:
    """Return the path of ``data_dir()/relpath``, downloading it if it is missing.

    ``urls`` are tried in order; the first download whose SHA-256 equals
    ``sha256`` is kept. Raises ``DataError`` (one line) when the existing file
    has the wrong hash, the folder cannot be written, or every URL fails.
    """
    root = data_dir()
    path = root / relpath
    sha256 = sha256.lower()
    if path.exists():
        return verify(path, sha256, dataset=dataset)

    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # the download lock lives in the data folder itself, the file in its subfolder
        if not os.access(root, os.W_OK):
            folder = root
        writable = os.access(folder, os.W_OK)
    except OSError as err:
        writable, why = False, err.strerror or str(err)
    else:
        why = "permission denied"
    if not writable:
        raise DataError(
            f"{dataset}: cannot download {relpath}: folder {folder} is not writable ({why}); "
            f"set ZEROKARA_DATA_DIR to a writable folder or to a folder that holds {relpath}"
        )

    reason = "no URL given"
    # one download at a time per data folder: a second process waits for the first
    with FolderLock(root, "download").waiting():
        if path.exists():  # another process downloaded it while this one waited
            return verify(path, sha256, dataset=dataset)
        for stale in stale_temporaries(path):  # left by a download killed outright
            stale.unlink(missing_ok=True)
        for url in urls:
            try:
                _download(url, path, sha256)
                return path
            except (OSError, ValueError, http.client.HTTPException) as err:
                # OSError covers URLError, timeouts and disk errors; ValueError is
                # a hash mismatch (and bad URLs). Either way try the next mirror.
                reason = _reason(err)
    raise DataError(
        f"{dataset}: could not download {relpath} from {', '.join(urls) or '(no URLs)'} "
        f"(last error: {reason}); check the network, or set ZEROKARA_DATA_DIR to a folder "
        f"that holds {relpath}"
    )
