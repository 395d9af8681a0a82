"""Storage operations on ``s3://`` URIs and local paths, against the current endpoint.

Every function takes an ``s3://bucket/key`` URI or a local path. Under a local
mirror endpoint, ``s3://braingeneers/...`` URIs are served from the mirror (see
:mod:`braingeneers.core.endpoint`); plain paths are always local files.

S3 calls go through one boto3 client per endpoint, built on first use and
rebuilt after :func:`~braingeneers.core.endpoint.set_default_endpoint`, with
botocore's own retries (``standard`` mode, ``BRAINGENEERS_S3_MAX_ATTEMPTS``
attempts, default 5) and connect/read timeouts
(``BRAINGENEERS_S3_TIMEOUT`` seconds, default 30). Credentials come from boto3's
usual chain (environment, the credentials file's ``[default]`` profile, ...).
boto3, botocore and smart_open are imported on first use.

Failures raise :class:`~braingeneers.core.errors.NotFoundError` for a missing
object and :class:`~braingeneers.core.errors.StorageError` (naming the URI and
the endpoint) for anything else.
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from braingeneers.core.atomic import is_bookkeeping
from braingeneers.core.endpoint import current_endpoint, endpoint_generation, local_path, to_uri
from braingeneers.core.errors import NotFoundError, StorageError

S3Client = Any  # boto3 clients are generated at run time and carry no static type

__all__ = [
    "ObjectInfo",
    "exists",
    "list_directories",
    "list_objects",
    "open",
    "read_range",
    "read_ranges",
    "s3_client",
    "size",
]

_client_lock = threading.Lock()
_client: tuple[int, Any] | None = None


def _forget_client_in_child() -> None:
    """After ``fork`` the child builds its own client: pooled connections must not be shared."""
    global _client, _client_lock  # noqa: PLW0603 - reset the process-wide cache in the new process
    _client = None
    _client_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_client_in_child)


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object or file.

    Attributes
    ----------
    uri
        Its ``s3://`` URI (under a local mirror too) or, for plain paths, its path.
    size
        Size in bytes.
    modified
        Last modification time, timezone-aware UTC.
    """

    uri: str
    size: int
    modified: datetime


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def s3_client() -> S3Client:
    """Return the boto3 S3 client bound to the current endpoint (rebuilt when it changes).

    One client per process: a forked child (e.g. a DataLoader worker) builds its own instead of
    sharing the parent's pooled connections.
    """
    global _client  # noqa: PLW0603 - one client per endpoint, shared by the process
    generation = endpoint_generation()
    with _client_lock:
        if _client is not None and _client[0] == generation:
            return _client[1]
        import boto3
        from botocore.config import Config

        where = current_endpoint()
        if where.url is None:
            raise StorageError(f"the endpoint {where} is a local directory: there is no S3 client to build")
        timeout = float(os.environ.get("BRAINGENEERS_S3_TIMEOUT", "30"))
        config = Config(
            retries={
                "max_attempts": int(os.environ.get("BRAINGENEERS_S3_MAX_ATTEMPTS", "5")),
                "mode": "standard",
            },
            connect_timeout=timeout,
            read_timeout=timeout,
            max_pool_connections=32,
        )
        client = boto3.session.Session().client(
            "s3", endpoint_url=where.url, verify=where.verify_ssl_cert, config=config
        )
        _client = (generation, client)
        return client


@contextmanager
def _s3_errors(uri: str) -> Iterator[None]:
    """Translate botocore errors into the toolkit's errors, naming the URI and the endpoint."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"} or status == 404:
            raise NotFoundError(f"{uri} does not exist on {current_endpoint()}") from None
        raise StorageError(f"{uri} on {current_endpoint()}: {code or status} {exc}") from None
    except BotoCoreError as exc:
        raise StorageError(
            f"{uri}: cannot reach {current_endpoint()} ({exc}); check the network and the endpoint "
            "(ENDPOINT, set_default_endpoint)"
        ) from None


def open(uri: str | os.PathLike[str], mode: str = "r", **kwargs: Any) -> IO[Any]:
    """Open a file or object for streaming, like :func:`open`, text or binary, read or write.

    Writing to a local path creates missing parent directories. S3 objects are
    streamed by smart_open with the endpoint's client; a write becomes visible
    only when the file is closed without error.
    """
    path = local_path(uri)
    if path is not None:
        if any(flag in mode for flag in "wax"):
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return builtins.open(path, mode, **kwargs)
        except FileNotFoundError:
            raise NotFoundError(f"{path} does not exist") from None
    import smart_open

    params = dict(kwargs.pop("transport_params", {}) or {})
    params.setdefault("client", s3_client())
    with _s3_errors(str(uri)):
        try:
            handle: IO[Any] = smart_open.open(str(uri), mode, transport_params=params, **kwargs)
            return handle
        except OSError as exc:
            if "NoSuchKey" in str(exc) or "does not exist" in str(exc) or "404" in str(exc):
                raise NotFoundError(f"{uri} does not exist on {current_endpoint()}") from None
            raise StorageError(f"{uri} on {current_endpoint()}: {exc}") from None


def exists(uri: str | os.PathLike[str]) -> bool:
    """Return whether the file or object exists (an S3 error other than 404 raises)."""
    path = local_path(uri)
    if path is not None:
        return path.is_file()
    try:
        size(uri)
    except NotFoundError:
        return False
    return True


def size(uri: str | os.PathLike[str]) -> int:
    """Return the size in bytes of a file or object."""
    path = local_path(uri)
    if path is not None:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"{path} does not exist") from None
    bucket, key = _split(str(uri))
    with _s3_errors(str(uri)):
        return int(s3_client().head_object(Bucket=bucket, Key=key)["ContentLength"])


def read_range(uri: str | os.PathLike[str], start: int, stop: int) -> bytes:
    """Return bytes ``[start, stop)`` of a file or object.

    Raises
    ------
    ~braingeneers.core.errors.StorageError
        The range is invalid or reaches past the end (never a silently short result).
    """
    if start < 0 or stop < start:
        raise StorageError(f"{uri}: invalid byte range [{start}, {stop})")
    if stop == start:
        return b""
    path = local_path(uri)
    if path is not None:
        try:
            with builtins.open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read(stop - start)
        except FileNotFoundError:
            raise NotFoundError(f"{path} does not exist") from None
    else:
        bucket, key = _split(str(uri))
        with _s3_errors(str(uri)):
            response = s3_client().get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{stop - 1}")
            data = response["Body"].read()
    if len(data) != stop - start:
        raise StorageError(
            f"{uri}: asked for bytes [{start}, {stop}) but got {len(data)}; the file is shorter than "
            "expected (truncated or still being written?)"
        )
    return data


def read_ranges(
    uri: str | os.PathLike[str], ranges: Sequence[tuple[int, int]], max_workers: int = 8
) -> list[bytes]:
    """Return several byte ranges ``[(start, stop), ...]`` of one object, fetched concurrently, in order."""
    if not ranges:
        return []
    path = local_path(uri)
    if path is not None:
        return _read_local_ranges(path, ranges)
    if len(ranges) == 1:
        return [read_range(uri, *ranges[0])]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(ranges))) as pool:
        return list(pool.map(lambda r: read_range(uri, r[0], r[1]), ranges))


def _read_local_ranges(path: Path, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """Read several ranges of a local file through one handle, with the same checks as :func:`read_range`."""
    chunks: list[bytes] = []
    try:
        with builtins.open(path, "rb") as handle:
            for start, stop in ranges:
                if start < 0 or stop < start:
                    raise StorageError(f"{path}: invalid byte range [{start}, {stop})")
                handle.seek(start)
                data = handle.read(stop - start)
                if len(data) != stop - start:
                    raise StorageError(
                        f"{path}: asked for bytes [{start}, {stop}) but got {len(data)}; the file is shorter "
                        "than expected (truncated or still being written?)"
                    )
                chunks.append(data)
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist") from None
    return chunks


def _local_listing(path: Path, recursive: bool, as_uri: bool) -> list[ObjectInfo]:
    if not path.is_dir():
        raise NotFoundError(f"{path} is not a directory")
    files = path.rglob("*") if recursive else path.iterdir()
    found: list[ObjectInfo] = []
    for item in files:
        if item.is_file() and not is_bookkeeping(item.name):
            stat = item.stat()
            name = to_uri(item) if as_uri else str(item)
            found.append(
                ObjectInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc))
            )
    return sorted(found, key=lambda info: info.uri)


def list_objects(uri: str | os.PathLike[str], recursive: bool = True) -> list[ObjectInfo]:
    """List the objects (files) under a prefix (directory), sorted by name, past S3's 1000-key pages.

    ``recursive=False`` lists only the objects directly under the prefix.
    """
    text = os.fspath(uri)
    path = local_path(uri)
    if path is not None:
        return _local_listing(path, recursive, as_uri=text.startswith("s3://"))
    bucket, key = _split(text)
    prefix = key if not key or key.endswith("/") else key + "/"
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if not recursive:
        params["Delimiter"] = "/"
    found: list[ObjectInfo] = []
    with _s3_errors(text):
        for page in s3_client().get_paginator("list_objects_v2").paginate(**params):
            for item in page.get("Contents", []):
                found.append(
                    ObjectInfo(f"s3://{bucket}/{item['Key']}", int(item["Size"]), item["LastModified"])
                )
    return sorted(found, key=lambda info: info.uri)


def list_directories(uri: str | os.PathLike[str]) -> list[str]:
    """List the immediate sub-directories (common prefixes) of a prefix, as names without slashes."""
    text = os.fspath(uri)
    path = local_path(uri)
    if path is not None:
        if not path.is_dir():
            raise NotFoundError(f"{path} is not a directory")
        return sorted(item.name for item in path.iterdir() if item.is_dir())
    bucket, key = _split(text)
    prefix = key if not key or key.endswith("/") else key + "/"
    names: list[str] = []
    with _s3_errors(text):
        pages = (
            s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        )
        for page in pages:
            names += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
    return sorted(names)
