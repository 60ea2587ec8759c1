"""Find a data file on disk, or download it once, always checking its SHA-256.

Files live under ``data_dir()``: ``$ZEROKARA_DATA_DIR`` if set, else
``~/.cache/zerokara``. A file that is already there is only read, never
replaced: if its hash is wrong the user is told to delete it. Downloads go
through ``pooch.retrieve``, which writes to a temporary file in the same
folder, checks the hash and only then moves it into place (and deletes the
temporary file on any failure), so a broken or interrupted download never
leaves a half-written file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pooch

from zerokara.errors import DataError

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


def _urllib_download(
    url: str, output_file: str, pooch_obj: object = None, check_only: bool = False
) -> bool | None:
    """A pooch downloader on plain urllib, so ``file://`` URLs work as well as http(s)."""
    with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
        if check_only:
            return True
        with open(output_file, "wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    return None


def _reason(err: BaseException) -> str:
    """One short line for why a URL failed."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    text = " ".join(str(err).split()) or type(err).__name__
    if "hash" in text.lower() and "does not match" in text.lower():
        return "downloaded file has the wrong sha256 (corrupt or changed upstream)"
    return text[:200]


def fetch(relpath: str, urls: list[str], sha256: str, *, dataset: str) -> Path:
    """Return the path of ``data_dir()/relpath``, downloading it if it is missing.

    ``urls`` are tried in order; the first download whose SHA-256 equals
    ``sha256`` is kept. Raises ``DataError`` (one line) when the existing file
    has the wrong hash, the folder cannot be written, or every URL fails.
    """
    path = data_dir() / relpath
    sha256 = sha256.lower()
    if path.exists():
        try:
            actual = sha256_of(path)
        except OSError as err:
            raise DataError(f"{dataset}: cannot read {path}: {err.strerror or err}") from err
        if actual != sha256:
            raise DataError(
                f"{dataset}: {path} is corrupt: sha256 expected {sha256}, got {actual}; "
                f"delete it so it is downloaded again"
            )
        return path

    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
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
    # pooch logs each attempt to stderr; a failure must read as the one error line below
    pooch.get_logger().setLevel("WARNING")
    for url in urls:
        try:
            pooch.retrieve(
                url,
                known_hash=f"sha256:{sha256}",
                fname=path.name,
                path=folder,
                downloader=_urllib_download,
                progressbar=False,
            )
            return path
        except (OSError, ValueError, http.client.HTTPException) as err:
            # OSError covers URLError, timeouts and disk errors; ValueError is
            # pooch's hash mismatch (and bad URLs). Either way try the next mirror.
            reason = _reason(err)
    raise DataError(
        f"{dataset}: could not download {relpath} from {', '.join(urls) or '(no URLs)'} "
        f"(last error: {reason}); check the network, or set ZEROKARA_DATA_DIR to a folder "
        f"that holds {relpath}"
    )
