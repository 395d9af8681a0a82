"""Zarr stores on the configured endpoint: S3 through core's boto3 client, or local files.

:func:`open_store` turns an ``s3://`` URI or a path into a Zarr v3 store:

- a local path, or an ``s3://braingeneers/...`` URI under a local mirror endpoint,
  becomes zarr's own ``LocalStore`` on the file;
- any other ``s3://`` URI becomes an ``S3Store`` (a ``zarr.abc.store.Store``) that sends every
  request through :func:`braingeneers.core.storage.s3_client`, so the endpoint,
  credentials, retries and timeouts are exactly core's, and no second S3 stack
  (s3fs/aiobotocore, which pin botocore tightly) is installed beside boto3.

Read-only stores cache shard indexes (the small suffix range a sharded array reads
before its chunks), so a window read after the first costs one request per chunk.
With ``strict=True`` a missing chunk or shard raises
:class:`~braingeneers.core.errors.FormatError` naming it instead of reading as
the fill value. Every store counts its requests in ``requests`` (for benchmarks).

zarr is imported on first use; it needs Python 3.11 or newer (zarr 3), and
:func:`require_zarr` raises a :class:`~braingeneers.core.errors.ConfigError`
saying so on older Pythons.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from braingeneers.core.endpoint import current_endpoint, local_path
from braingeneers.core.errors import ConfigError, FormatError, StorageError

if TYPE_CHECKING:
    from types import ModuleType

    from zarr.abc.store import ByteRequest, Store
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["METADATA_NAMES", "open_store", "require_zarr", "store_uri_join"]

#: Names of metadata keys (a missing one is not a missing chunk).
METADATA_NAMES = ("zarr.json", ".zattrs", ".zgroup", ".zarray", ".zmetadata")

_INDEX_CACHE_ENTRIES = 4096


def require_zarr() -> ModuleType:
    """Import and return ``zarr`` (version 3), or raise a ``ConfigError`` saying what to install.

    Raises
    ------
    ~braingeneers.core.errors.ConfigError
        On Python older than 3.11 (zarr 3 needs 3.11) or when zarr 3 is not installed.
    """
    if sys.version_info < (3, 11):
        raise ConfigError(
            "Zarr copies need Python 3.11 or newer (zarr 3 supports no older Python); "
            f"this is Python {sys.version_info.major}.{sys.version_info.minor}"
        )
    try:
        import zarr
    except ImportError:
        raise ConfigError("Zarr copies need zarr 3: pip install 'zarr>=3.1'") from None
    if int(zarr.__version__.split(".")[0]) < 3:
        raise ConfigError(f"Zarr copies need zarr 3, found zarr {zarr.__version__}: pip install 'zarr>=3.1'")
    return zarr


def store_uri_join(uri: str, *names: str) -> str:
    """Join key names onto a store URI or path with ``/``."""
    text = os.fspath(uri).rstrip("/")
    return "/".join([text, *(name.strip("/") for name in names)])


def _is_metadata(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in METADATA_NAMES


def open_store(uri: str | os.PathLike[str], *, read_only: bool = True, strict: bool = False) -> Store:
    """Open the Zarr store at ``uri`` (``s3://bucket/prefix`` or a local path) on the current endpoint.

    Parameters
    ----------
    uri
        Where the store lives.
    read_only
        Open read-only (readers) or writable (the converter).
    strict
        Raise ``FormatError`` naming the key when a chunk or shard is missing, instead of
        letting zarr fill it with the fill value.
    """
    require_zarr()
    path = local_path(uri)
    if path is not None:
        from zarr.storage import LocalStore

        base: Store = LocalStore(path, read_only=read_only)
        if strict:
            base = _counting_class()(base, label=str(path), strict=True)
        return base
    parts = urlsplit(os.fspath(uri))
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"{uri!r} is neither a local path nor an s3://bucket/prefix URI")
    remote: Store = _s3_store_class()(parts.netloc, parts.path.strip("/"), read_only=read_only, strict=strict)
    return remote


def _missing(label: str, key: str) -> FormatError:
    return FormatError(
        f"{label}/{key}: chunk is missing from the Zarr store; the copy is damaged: convert the "
        "experiment again (braingeneers data convert --overwrite) or read the original"
    )


@functools.cache
def _counting_class() -> Any:
    """Build the class of the strict wrapper over another store (local files)."""
    require_zarr()
    from zarr.storage import WrapperStore

    class StrictStore(WrapperStore[Any]):
        """Wrap a store; a missing chunk raises ``FormatError`` naming it."""

        def __init__(self, store: Store, *, label: str, strict: bool = True) -> None:
            super().__init__(store)
            self.label = label
            self.strict = strict
            self.requests = 0

        def _with_store(self, store: Store) -> StrictStore:
            return type(self)(store, label=self.label, strict=self.strict)

        async def get(
            self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
        ) -> Buffer | None:
            self.requests += 1
            found: Buffer | None = await self._store.get(key, prototype, byte_range)
            if found is None and self.strict and not _is_metadata(key):
                raise _missing(self.label, key)
            return found

        async def get_partial_values(
            self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
        ) -> list[Buffer | None]:
            pairs = list(key_ranges)
            return [await self.get(key, prototype, byte_range) for key, byte_range in pairs]

    return StrictStore


@functools.cache
def _s3_store_class() -> Any:
    """Build the S3 store class (on first use, so that importing this module loads no zarr)."""
    require_zarr()
    from zarr.abc.store import OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest

    from braingeneers.core.storage import s3_client

    def _range_header(byte_range: ByteRequest) -> str:
        if isinstance(byte_range, RangeByteRequest):
            return f"bytes={byte_range.start}-{byte_range.end - 1}"
        if isinstance(byte_range, OffsetByteRequest):
            return f"bytes={byte_range.offset}-"
        return f"bytes=-{byte_range.suffix}"

    class S3Store(Store):
        """A Zarr v3 store under ``s3://bucket/prefix`` using core's boto3 client (blocking calls in threads).

        Parameters
        ----------
        bucket, prefix
            Where the store's keys live.
        read_only
            Refuse writes; also enables the shard-index cache.
        strict
            A missing chunk raises ``FormatError`` naming it.
        """

        supports_writes = True
        supports_deletes = True
        supports_partial_writes = False
        supports_listing = True

        def __init__(self, bucket: str, prefix: str, *, read_only: bool = True, strict: bool = False) -> None:
            super().__init__(read_only=read_only)
            self.bucket = bucket
            self.prefix = prefix.strip("/")
            self.strict = strict
            self.requests = 0
            self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
            self._lock = threading.Lock()

        def __eq__(self, other: object) -> bool:
            mine = (self.bucket, self.prefix, self.read_only)
            return isinstance(other, S3Store) and (other.bucket, other.prefix, other.read_only) == mine

        def __hash__(self) -> int:
            return hash((self.bucket, self.prefix, self.read_only))

        def __str__(self) -> str:
            return f"s3://{self.bucket}/{self.prefix}"

        def __repr__(self) -> str:
            return f"S3Store({str(self)!r}, read_only={self.read_only}, endpoint={current_endpoint()})"

        def with_read_only(self, read_only: bool = False) -> S3Store:
            return S3Store(self.bucket, self.prefix, read_only=read_only, strict=self.strict)

        def _key(self, key: str) -> str:
            return f"{self.prefix}/{key}" if self.prefix else key

        def _uri(self, key: str) -> str:
            return f"s3://{self.bucket}/{self._key(key)}"

        def _get_sync(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
            from botocore.exceptions import BotoCoreError, ClientError

            cache_key: tuple[str, int] | None = None
            if self.read_only and isinstance(byte_range, SuffixByteRequest):
                cache_key = (key, byte_range.suffix)
                with self._lock:
                    if cache_key in self._cache:
                        self._cache.move_to_end(cache_key)
                        return self._cache[cache_key]
            params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
            if isinstance(byte_range, RangeByteRequest) and byte_range.end <= byte_range.start:
                return b""
            if byte_range is not None:
                params["Range"] = _range_header(byte_range)
            with self._lock:
                self.requests += 1
            try:
                data: bytes = s3_client().get_object(**params)["Body"].read()
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in {"NoSuchKey", "404", "NotFound"}:
                    if self.strict and not _is_metadata(key):
                        raise _missing(str(self), key) from None
                    return None
                raise StorageError(f"{self._uri(key)} on {current_endpoint()}: {code} {exc}") from None
            except BotoCoreError as exc:
                raise StorageError(
                    f"{self._uri(key)}: cannot reach {current_endpoint()} ({exc}); check the network and "
                    "the endpoint"
                ) from None
            if isinstance(byte_range, RangeByteRequest) and len(data) != byte_range.end - byte_range.start:
                raise FormatError(
                    f"{self._uri(key)}: asked for bytes [{byte_range.start}, {byte_range.end}) but got "
                    f"{len(data)}; the chunk is truncated: convert the experiment again"
                )
            if cache_key is not None:
                with self._lock:
                    self._cache[cache_key] = data
                    while len(self._cache) > _INDEX_CACHE_ENTRIES:
                        self._cache.popitem(last=False)
            return data

        async def get(
            self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
        ) -> Buffer | None:
            data = await asyncio.to_thread(self._get_sync, key, byte_range)
            return None if data is None else prototype.buffer.from_bytes(data)

        async def get_partial_values(
            self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
        ) -> list[Buffer | None]:
            pairs = list(key_ranges)
            return list(await asyncio.gather(*(self.get(key, prototype, rng) for key, rng in pairs)))

        def _call(self, key: str, method: str, **params: Any) -> Any:
            from botocore.exceptions import BotoCoreError, ClientError

            with self._lock:
                self.requests += 1
            try:
                return getattr(s3_client(), method)(Bucket=self.bucket, **params)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                where = f"{self._uri(key)} on {current_endpoint()}"
                raise StorageError(f"{where}: {method} {code} {exc}") from None
            except BotoCoreError as exc:
                raise StorageError(
                    f"{self._uri(key)}: cannot reach {current_endpoint()} ({exc}); check the network and "
                    "the endpoint"
                ) from None

        async def exists(self, key: str) -> bool:
            def head() -> bool:
                from botocore.exceptions import ClientError

                try:
                    s3_client().head_object(Bucket=self.bucket, Key=self._key(key))
                except ClientError as exc:
                    if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                        return False
                    raise StorageError(f"{self._uri(key)} on {current_endpoint()}: {exc}") from None
                return True

            return await asyncio.to_thread(head)

        async def set(self, key: str, value: Buffer) -> None:
            self._check_writable()
            body = value.to_bytes()
            await asyncio.to_thread(self._call, key, "put_object", Key=self._key(key), Body=body)

        async def set_if_not_exists(self, key: str, value: Buffer) -> None:
            if not await self.exists(key):
                await self.set(key, value)

        async def delete(self, key: str) -> None:
            self._check_writable()
            await asyncio.to_thread(self._call, key, "delete_object", Key=self._key(key))

        def _list_sync(self, prefix: str, delimiter: bool) -> list[str]:
            full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
            params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full}
            if delimiter:
                params["Delimiter"] = "/"
            strip = len(self.prefix) + 1 if self.prefix else 0
            names: list[str] = []
            for page in s3_client().get_paginator("list_objects_v2").paginate(**params):
                names += [item["Key"][strip:] for item in page.get("Contents", [])]
                names += [item["Prefix"][strip:] for item in page.get("CommonPrefixes", [])]
            return names

        async def list(self) -> AsyncIterator[str]:
            for name in await asyncio.to_thread(self._list_sync, "", False):
                yield name

        async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
            for name in await asyncio.to_thread(self._list_sync, prefix, False):
                yield name

        async def list_dir(self, prefix: str) -> AsyncIterator[str]:
            base = prefix.rstrip("/") + "/" if prefix else ""
            for name in await asyncio.to_thread(self._list_sync, base, True):
                yield name[len(base) :].rstrip("/")

    return S3Store
