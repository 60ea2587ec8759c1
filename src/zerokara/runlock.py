"""One writer per folder: a run folder (or a sweep folder) is locked while a
process writes into it.

The lock is ``fcntl.flock`` on ``FOLDER/.lock``. The kernel drops it when the
process ends, however it ends (kill -9 included), so a lock left by a killed
process is simply free: the next run takes it over without a stale-lock
heuristic. The file keeps the holder's pid and start time, so a refused
process can say who holds the folder. Locks are per open file, so a second
lock on the same folder is refused even inside one process.

Also here: :func:`clean_temporaries`, which removes the half-written files a
killed writer left (the atomic writers' ``.NAME.*.tmp``); it runs under the
lock, when no other process can be writing them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from zerokara.errors import ZerokaraError

LOCK = ".lock"


class FolderBusyError(ZerokaraError):
    """Another process holds the folder's lock."""


class FolderLock:
    """``with FolderLock(folder, what="run"):`` -- refuse, in one line, a folder
    another process is writing. ``what`` names the folder in the message."""

    def __init__(self, folder: Path | str, what: str = "run") -> None:
        self.folder, self.what = Path(folder), what
        self._fd: int | None = None

    def acquire(self, wait: bool = False) -> None:
        """Take the lock; ``wait``: block until the holder lets go, instead of refusing."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderBusyError(self._busy(holder)) from None
        except BaseException:
            os.close(fd)
            raise
        # who holds it, for the message another process would print
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0
        )
        self._fd = fd

    def acquire_and_release(self) -> None:
        path = self.folder / LOCK
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusyError(self._busy(_holder(fd))) from None
        finally:
            os.close(fd)  # closing lets go of the lock too

    def _busy(self, holder: str) -> str:
        return (
            f"{self.folder} is in use: another {self.what} ({holder}) is writing into it; "
            f"wait for it to end or choose another folder"
        )

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """``with lock.waiting():`` -- held, after waiting for any other holder."""
        self.acquire(wait=True)
        try:
            yield
        finally:
            self.release()

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def busy(folder: Path | str, what: str = "run") -> None:
    """Raise :class:`FolderBusyError` if another process holds ``folder``'s lock
    (checked by taking it and letting go at once); nothing if it is free."""
    if (Path(folder) / LOCK).is_file():
        FolderLock(folder, what).acquire_and_release()


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 200, 0) or b"{}")
        return f"pid {info['pid']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


@contextlib.contextmanager
def locked(folder: Path | str | None, what: str = "run") -> Iterator[None]:
    """:class:`FolderLock` on ``folder``, or nothing when there is no folder."""
    if folder is None:
        yield
        return
    with FolderLock(folder, what):
        yield


def clean_temporaries(folder: Path | str) -> list[Path]:
    """Remove the temporaries a killed writer left in ``folder`` (call it under the
    folder's lock); return what was removed."""
    removed = []
    for p in Path(folder).glob(".*.tmp*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
