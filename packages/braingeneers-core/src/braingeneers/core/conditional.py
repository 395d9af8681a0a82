"""Safe read-modify-write of a shared object, such as a batch's ``metadata.json``, without a lock server.

:func:`update` reads the object, calls ``change`` on its content and writes the
result back only if nobody else wrote in between:

* on S3, the write carries the ETag that was read as a precondition
  (``If-Match``; ``If-None-Match: *`` when the object did not exist). If another
  writer got there first the server refuses the write (HTTP 412/409), and
  :func:`update` reads again and re-applies ``change``, with jittered backoff,
  up to ``attempts`` times; then it raises
  :class:`~braingeneers.core.errors.ConflictError`. ``change`` may therefore run
  more than once and must depend only on the content it is given.
* on a local path or mirror, an exclusive ``flock`` on ``<file>.lock`` serialises
  writers (processes and threads) and the new content replaces the file
  atomically (temporary file + ``os.replace``), so readers never see a partial
  file.

Either way, two writers racing never silently lose an update.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from braingeneers.core.atomic import locked, write_atomically
from braingeneers.core.endpoint import local_path
from braingeneers.core.errors import ConflictError, FormatError, NotFoundError, StorageError
from braingeneers.core.storage import _s3_errors, _split, s3_client

__all__ = ["update", "update_json"]

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def _update_local(path: Path, change: Callable[[bytes | None], bytes]) -> bytes:
    with locked(path):
        current = path.read_bytes() if path.exists() else None
        new = change(current)
        write_atomically(path, new)
        return new


def _update_s3(uri: str, change: Callable[[bytes | None], bytes], attempts: int) -> bytes:
    from botocore.exceptions import ClientError

    bucket, key = _split(uri)
    client = s3_client()
    for attempt in range(attempts):
        current: bytes | None
        with _s3_errors(uri):
            try:
                response = client.get_object(Bucket=bucket, Key=key)
                current, etag = response["Body"].read(), response["ETag"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
                    raise
                current, etag = None, None
        new = change(current)
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            with _s3_errors(uri):
                try:
                    client.put_object(Bucket=bucket, Key=key, Body=new, **condition)
                    return new
                except ClientError as exc:
                    if str(exc.response.get("Error", {}).get("Code")) not in _CONFLICT_CODES:
                        raise
        except NotFoundError:
            pass  # deleted between read and write: read again
        time.sleep(min(2.0, 0.01 * 2**attempt) * random.random())
    raise ConflictError(
        f"{uri}: another writer changed it during each of {attempts} attempts; retry later or "
        "raise `attempts`"
    )


def update(uri: str | os.PathLike[str], change: Callable[[bytes | None], bytes], attempts: int = 10) -> bytes:
    """Apply ``change`` to the content of ``uri`` and write the result, safely against other writers.

    Parameters
    ----------
    uri
        An ``s3://`` URI or a local path.
    change
        Receives the current content (``None`` if the object does not exist) and
        returns the new content. It may be called more than once on S3.
    attempts
        How many read-change-write rounds to try on S3 before giving up.

    Returns
    -------
    bytes
        The content written.

    Raises
    ------
    ~braingeneers.core.errors.ConflictError
        Every attempt lost the race to another writer.
    """
    if attempts < 1:
        raise StorageError(f"{uri}: attempts must be at least 1, not {attempts}")
    path = local_path(uri)
    if path is not None:
        return _update_local(path, change)
    return _update_s3(str(uri), change, attempts)


def update_json(uri: str | os.PathLike[str], change: Callable[[Any], Any], attempts: int = 10) -> Any:
    """Like :func:`update` for a JSON document: ``change`` receives the parsed value (``None`` if absent).

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        The current content is not valid JSON.
    """

    def apply(raw: bytes | None) -> bytes:
        try:
            value = None if raw is None else json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FormatError(f"{uri} is not valid JSON ({exc}); fix or restore it before updating") from None
        return (json.dumps(change(value), indent=2) + "\n").encode()

    return json.loads(update(uri, apply, attempts))
