"""Local files that concurrent writers share: an exclusive lock and atomic replacement.

Used by the conditional update of local mirrors and by the token store.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["is_bookkeeping", "lock_path", "locked", "replacing", "write_atomically"]


def lock_path(target: Path) -> Path:
    """Return the lock file of ``target``: the hidden ``.<name>.lock`` beside it."""
    return target.with_name(f".{target.name}.lock")


def is_bookkeeping(name: str) -> bool:
    """Whether a file name is one of this module's lock or in-progress temporary files."""
    return name.startswith(".") and name.endswith((".lock", ".tmp"))


@contextlib.contextmanager
def locked(target: Path, dir_mode: int = 0o777) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.<name>.lock`` beside ``target`` (POSIX), creating folders.

    ``flock`` locks belong to open file descriptions, so this serialises threads of one process
    as well as separate processes. The lock file is hidden (mirror listings skip it) and keeps
    the umask's mode, so other users of a shared mirror can lock it too; in a private folder
    (``dir_mode`` 0o700, e.g. the token store) it is made 0600.
    """
    import fcntl  # POSIX only: local mirrors and token files live on Linux/macOS machines

    target.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    with open(lock_path(target), "a") as lock:
        if dir_mode & 0o077 == 0:
            os.chmod(lock.name, 0o600)
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed over ``target``.

    Readers see the old file or the complete new one, never a part. On an exception the
    temporary file is removed and ``target`` is left untouched. The new file keeps the mode
    of the file it replaces (0644 when there was none).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    # mkstemp makes 0600 files; a shared mirror needs the target's mode (or 0644 for a new file).
    os.fchmod(fd, target.stat().st_mode & 0o7777 if target.exists() else 0o644)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_atomically(target: Path, data: bytes, file_mode: int | None = None) -> None:
    """Replace ``target`` with ``data`` through :func:`replacing`, flushed to disk first.

    ``file_mode`` (e.g. ``0o600``) is set before any byte is written.
    """
    with replacing(target) as temp:
        if file_mode is not None:
            temp.chmod(file_mode)
        with temp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
