"""A persistent queue of uploads and downloads for devices: it survives restarts and retries failures.

Each transfer is a small JSON file in ``<directory>/pending/`` written atomically before the
transfer is attempted and removed when it succeeds, so a transfer queued before a crash or a
restart runs when the next :class:`TransferQueue` on the same directory starts. Transfers run
one at a time on a worker thread through core's storage (:func:`braingeneers.core.transfer.upload`
and :func:`~braingeneers.core.transfer.download`, which honour the process endpoint and mirrors).
A failure is retried with exponential backoff; after ``retries`` attempts the job moves to
``<directory>/failed/`` with its last error and is not retried again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from braingeneers.core.atomic import write_atomically
from braingeneers.core.errors import BraingeneersError, ConfigError

__all__ = ["Transfer", "TransferQueue"]

_log = logging.getLogger(__name__)


@dataclass
class Transfer:
    """One queued transfer.

    Attributes
    ----------
    id
        The job id (also its file name).
    kind
        ``"upload"`` (``local`` → ``uri``) or ``"download"`` (``uri`` → ``local``).
    local, uri
        The local file and the storage URI (``s3://...`` or a mirror path).
    delete_local
        Remove the local file after a successful upload.
    announce
        ``[topic, message]`` to publish when the transfer succeeds, or ``None``.
    attempts
        Failed attempts so far.
    error
        The last error, if any.
    created
        Unix time the job was queued (jobs run in this order).
    """

    id: str
    kind: str
    local: str
    uri: str
    delete_local: bool = False
    announce: list[Any] | None = None
    attempts: int = 0
    error: str | None = None
    created: float = field(default_factory=time.time)


class TransferQueue:
    """Run uploads and downloads one at a time, journaled in ``directory`` so they survive restarts.

    Parameters
    ----------
    directory
        Where the journal lives (``pending/`` and ``failed/``); created if absent.
    retries
        Attempts before a job is given up and moved to ``failed/``.
    backoff
        Seconds before the first retry; doubled each time up to ``max_backoff``.
    max_backoff
        Upper bound of the wait between attempts.
    on_success
        Called with each finished :class:`Transfer` (e.g. to publish its ``announce`` message).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        retries: int = 60,
        backoff: float = 5.0,
        max_backoff: float = 60.0,
        on_success: Callable[[Transfer], object] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.pending_dir = self.directory / "pending"
        self.failed_dir = self.directory / "failed"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_success = on_success
        self._cond = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"TransferQueue({str(self.directory)!r}, pending={len(self.pending())})"

    def upload(
        self,
        local: str | Path,
        uri: str,
        delete_local: bool = False,
        announce: tuple[str, Any] | None = None,
    ) -> Transfer:
        """Queue an upload of file ``local`` to ``uri`` and return the job."""
        path = Path(local).resolve()
        if not path.is_file():
            raise ConfigError(f"cannot queue the upload of {path}: no such file")
        return self._queue(
            Transfer(uuid.uuid4().hex, "upload", str(path), uri, delete_local, _pair(announce))
        )

    def download(self, uri: str, local: str | Path, announce: tuple[str, Any] | None = None) -> Transfer:
        """Queue a download of ``uri`` to file ``local`` and return the job."""
        path = Path(local).resolve()
        return self._queue(Transfer(uuid.uuid4().hex, "download", str(path), uri, False, _pair(announce)))

    def pending(self) -> list[Transfer]:
        """Return the queued jobs, oldest first."""
        jobs = [self._read(path) for path in self.pending_dir.glob("*.json")]
        return sorted((job for job in jobs if job is not None), key=lambda job: (job.created, job.id))

    def failed(self) -> list[Transfer]:
        """Return the jobs given up after ``retries`` attempts."""
        jobs = [self._read(path) for path in self.failed_dir.glob("*.json")]
        return sorted((job for job in jobs if job is not None), key=lambda job: (job.created, job.id))

    def start(self) -> TransferQueue:
        """Start the worker thread (jobs left by an earlier run start with it); return self."""
        with self._cond:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._loop, name="braingeneers-transfers", daemon=True)
                self._thread.start()
        return self

    def wait(self, job: Transfer | None = None, timeout: float | None = None) -> bool:
        """Wait until ``job`` (or every job) is finished or given up; return whether it is."""

        def done() -> bool:
            if job is None:
                return not self._busy and not any(self.pending_dir.glob("*.json"))
            return not (self.pending_dir / f"{job.id}.json").exists()

        with self._cond:
            return self._cond.wait_for(done, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the transfer in progress; queued jobs stay in the journal."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    # --- internals -----------------------------------------------------------------------------

    def _queue(self, job: Transfer) -> Transfer:
        self._write(self.pending_dir, job)
        with self._cond:
            self._cond.notify_all()
        return job

    def _write(self, where: Path, job: Transfer) -> None:
        write_atomically(where / f"{job.id}.json", json.dumps(asdict(job)).encode())

    def _read(self, path: Path) -> Transfer | None:
        try:
            return Transfer(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            _log.error("transfer journal %s is unreadable (%s); moving it to %s", path, exc, self.failed_dir)
            path.replace(self.failed_dir / path.name)
            return None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not any(self.pending_dir.glob("*.json")):
                    self._cond.wait(1.0)
                if self._closing:
                    return
                self._busy = True
            delay = 0.0
            for job in self.pending():
                ok = self._run(job)
                if not ok:
                    delay = min(self.max_backoff, self.backoff * 2 ** max(0, job.attempts - 1))
                    break
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                if delay and not self._closing:
                    self._cond.wait(delay)

    def _run(self, job: Transfer) -> bool:
        from braingeneers.core import transfer

        try:
            if job.kind == "upload":
                transfer.upload(job.local, job.uri)
            else:
                Path(job.local).parent.mkdir(parents=True, exist_ok=True)
                transfer.download(job.uri, job.local)
        except (BraingeneersError, OSError) as exc:
            job.attempts += 1
            job.error = f"{type(exc).__name__}: {exc}"
            if job.attempts >= self.retries:
                _log.error(
                    "%s %s -> %s failed %d times, giving up: %s",
                    job.kind,
                    job.local,
                    job.uri,
                    job.attempts,
                    exc,
                )
                self._write(self.failed_dir, job)
                (self.pending_dir / f"{job.id}.json").unlink(missing_ok=True)
                return True
            _log.warning(
                "%s of %s failed (attempt %d of %d): %s", job.kind, job.uri, job.attempts, self.retries, exc
            )
            self._write(self.pending_dir, job)
            return False
        if job.kind == "upload" and job.delete_local:
            Path(job.local).unlink(missing_ok=True)
        (self.pending_dir / f"{job.id}.json").unlink(missing_ok=True)
        _log.info("%s of %s done", job.kind, job.uri)
        if self.on_success is not None:
            try:
                self.on_success(job)
            except Exception:
                _log.exception("on_success callback failed for transfer %s", job.id)
        with self._cond:
            self._cond.notify_all()
        return True


def _pair(announce: tuple[str, Any] | None) -> list[Any] | None:
    return [announce[0], announce[1]] if announce is not None else None
