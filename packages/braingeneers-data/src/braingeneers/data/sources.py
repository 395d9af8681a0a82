"""Byte access to one recording file, local or on S3, for the format readers.

:func:`open_source` returns a :class:`ByteSource`. Local paths, and ``s3://``
URIs under a local mirror endpoint, read the file directly (readers may
``np.memmap`` :attr:`ByteSource.local_path`). On S3 every read is a byte-range
GET through :mod:`braingeneers.core.storage`; large reads are split into parts
fetched concurrently, and :meth:`ByteSource.fileobj` gives h5py a seekable file
object backed by a block cache of range requests, so an HDF5 file is never
streamed whole.
"""

from __future__ import annotations

import bisect
import builtins
import io
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

from braingeneers.core import storage
from braingeneers.core.endpoint import local_path as _endpoint_local_path
from braingeneers.core.errors import FormatError, NotFoundError, StorageError

__all__ = ["ByteSource", "RangeReader", "open_source"]

#: Reads at least this large are split into parts of this size fetched concurrently on S3.
PART_SIZE = 8 * 1024 * 1024
#: Block size of the S3 range cache behind :meth:`ByteSource.fileobj`.
CACHE_BLOCK = 256 * 1024
#: Bytes of blocks the range cache keeps (least recently used dropped first).
CACHE_BYTES = 64 * 1024 * 1024


class ByteSource:
    """The bytes of one file or object.

    Parameters
    ----------
    uri
        An ``s3://`` URI or a local path.

    Attributes
    ----------
    uri
        What was opened, as given.
    local_path
        The local file (a plain path, or the mirror's copy of an ``s3://`` URI), or ``None`` on S3.
    requests
        Requests (S3 HEAD and range GETs) made so far; 0 for local files.
    bytes_fetched
        Bytes received from S3 so far.
    """

    def __init__(self, uri: str | os.PathLike[str]) -> None:
        self.uri = os.fspath(uri)
        self.local_path: Path | None = _endpoint_local_path(uri)
        self.requests = 0
        self.bytes_fetched = 0
        self._size: int | None = None
        self._handle: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._reader: RangeReader | None = None

    def __repr__(self) -> str:
        return f"ByteSource({self.uri!r})"

    @property
    def size(self) -> int:
        """Size of the file in bytes (one HEAD request on S3, cached)."""
        if self._size is None:
            if self.local_path is not None:
                try:
                    self._size = self.local_path.stat().st_size
                except FileNotFoundError:
                    raise NotFoundError(f"{self.local_path} does not exist") from None
            else:
                self._size = storage.size(self.uri)
                self.requests += 1
        return self._size

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0:
            raise FormatError(f"{self.uri}: invalid byte range offset={offset} length={length}")
        if offset + length > self.size:
            raise FormatError(
                f"{self.uri}: needs bytes [{offset}, {offset + length}) but the file has {self.size} bytes "
                "(truncated file, or a header that claims more data than exists)"
            )

    def _local_handle(self) -> IO[bytes]:
        if self._handle is None:
            assert self.local_path is not None  # callers check; narrows the type
            try:
                self._handle = builtins.open(self.local_path, "rb")  # noqa: SIM115 (kept open until close())
            except FileNotFoundError:
                raise NotFoundError(f"{self.local_path} does not exist") from None
        return self._handle

    def read(self, offset: int, length: int) -> bytes:
        """Return exactly ``length`` bytes from ``offset``.

        Raises
        ------
        ~braingeneers.core.errors.FormatError
            The file is shorter than ``offset + length`` (names the file).
        """
        offset, length = int(offset), int(length)
        self._check(offset, length)
        if length == 0:
            return b""
        if self.local_path is not None:
            with self._lock:
                handle = self._local_handle()
                handle.seek(offset)
                data = handle.read(length)
            if len(data) != length:
                raise FormatError(f"{self.uri}: short read at byte {offset} (file changed while reading?)")
            return data
        return b"".join(self._fetch(offset, offset + length))

    def read_into(self, offset: int, out: memoryview | bytearray) -> None:
        """Fill ``out`` with the bytes from ``offset`` (no extra copy for local files)."""
        view = memoryview(out).cast("B")
        offset, length = int(offset), len(view)
        self._check(offset, length)
        if length == 0:
            return
        if self.local_path is not None:
            with self._lock:
                handle = self._local_handle()
                handle.seek(offset)
                got = handle.readinto(view)  # type: ignore[attr-defined]
            if got != length:
                raise FormatError(f"{self.uri}: short read at byte {offset} (file changed while reading?)")
            return
        position = 0
        for part in self._fetch(offset, offset + length):
            view[position : position + len(part)] = part
            position += len(part)

    def _fetch(self, start: int, stop: int) -> list[bytes]:
        """GET ``[start, stop)`` from S3, in concurrent parts when large."""
        ranges = [(s, min(s + PART_SIZE, stop)) for s in range(start, stop, PART_SIZE)]
        self.requests += len(ranges)
        self.bytes_fetched += stop - start
        try:
            return storage.read_ranges(self.uri, ranges)
        except StorageError as exc:
            if isinstance(exc, NotFoundError):
                raise
            raise FormatError(f"{self.uri}: {exc}") from None

    def read_many(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        """Return the bytes of several ``(offset, length)`` ranges, in order.

        On S3, ranges closer than 1 MiB are merged into one request and the
        requests run concurrently.
        """
        spans = [(int(o), int(n)) for o, n in ranges]
        for offset, length in spans:
            self._check(offset, length)
        if self.local_path is not None:
            return [self.read(o, n) for o, n in spans]
        order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        merged: list[list[int]] = []  # [start, stop, member indices...]
        for i in order:
            start, stop = spans[i][0], spans[i][0] + spans[i][1]
            if merged and start <= merged[-1][1] + (1 << 20) and stop - merged[-1][0] <= PART_SIZE * 4:
                merged[-1][1] = max(merged[-1][1], stop)
                merged[-1].append(i)
            else:
                merged.append([start, stop, i])
        requests = [(m[0], m[1]) for m in merged if m[1] > m[0]]
        self.requests += len(requests)
        self.bytes_fetched += sum(b - a for a, b in requests)
        try:
            fetched = iter(storage.read_ranges(self.uri, requests))
        except StorageError as exc:
            if isinstance(exc, NotFoundError):
                raise
            raise FormatError(f"{self.uri}: {exc}") from None
        out: list[bytes] = [b""] * len(spans)
        for group in merged:
            data = next(fetched) if group[1] > group[0] else b""
            for i in group[2:]:
                rel = spans[i][0] - group[0]
                out[i] = data[rel : rel + spans[i][1]]
        return out

    def fileobj(self) -> IO[bytes]:
        """Return a seekable, read-only binary file object (for h5py).

        The real file on local storage; on S3 a :class:`RangeReader` sharing this
        source's request counter. The object stays owned by the source
        (closed by :meth:`close`).
        """
        if self.local_path is not None:
            try:
                return builtins.open(self.local_path, "rb")
            except FileNotFoundError:
                raise NotFoundError(f"{self.local_path} does not exist") from None
        if self._reader is None or self._reader.closed:
            self._reader = RangeReader(self)
        return self._reader  # type: ignore[return-value]

    def close(self) -> None:
        """Close the local handle and the range reader, if open."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> ByteSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RangeReader(io.RawIOBase):
    """A seekable read-only file over an S3 object, fetched in cached blocks by range requests.

    Small reads (HDF5 superblock, object headers, B-tree nodes) fetch aligned
    :data:`CACHE_BLOCK` blocks kept in an LRU of :data:`CACHE_BYTES`; a read
    spanning many blocks fetches only the missing span, in concurrent parts.
    """

    def __init__(
        self, source: ByteSource, block_size: int = CACHE_BLOCK, cache_bytes: int = CACHE_BYTES
    ) -> None:
        super().__init__()
        self._source = source
        self._size = source.size
        self._block = block_size
        self._max_blocks = max(4, cache_bytes // block_size)
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self._pinned: list[tuple[int, bytes]] = []
        self._pinned_starts: list[int] = []

    def prefetch(self, spans: list[tuple[int, int]]) -> None:
        """Fetch ``(offset, length)`` spans now, concurrently, and serve reads inside them from memory.

        Used before an HDF5 read with the byte ranges of the chunks it will touch,
        so they arrive in parallel range requests instead of one request per
        chunk as h5py asks for them. Replaces the previous prefetch.
        """
        wanted = sorted({(int(o), int(n)) for o, n in spans if n > 0})
        data = self._source.read_many(wanted) if wanted else []
        self._pinned = [(offset, blob) for (offset, _), blob in zip(wanted, data, strict=True)]
        self._pinned_starts = [offset for offset, _ in self._pinned]

    def release(self) -> None:
        """Drop the prefetched spans."""
        self._pinned, self._pinned_starts = [], []

    def _from_pinned(self, start: int, stop: int) -> bytes | None:
        index = bisect.bisect_right(self._pinned_starts, start) - 1
        if index < 0:
            return None
        offset, blob = self._pinned[index]
        if stop <= offset + len(blob):
            return blob[start - offset : stop - offset]
        return None

    def readable(self) -> bool:
        """Return True."""
        return True

    def seekable(self) -> bool:
        """Return True."""
        return True

    def tell(self) -> int:
        """Return the current position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to a position; return it."""
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._pos = position
        return position

    def _blocks(self, first: int, last: int) -> list[bytes]:
        """Return blocks ``first..last`` (inclusive), fetching missing ones in as few requests as possible."""
        missing = [b for b in range(first, last + 1) if b not in self._cache]
        runs: list[tuple[int, int]] = []
        for b in missing:
            if runs and runs[-1][1] == b - 1:
                runs[-1] = (runs[-1][0], b)
            else:
                runs.append((b, b))
        for run_first, run_last in runs:
            start = run_first * self._block
            stop = min((run_last + 1) * self._block, self._size)
            data = b"".join(self._source._fetch(start, stop))
            for b in range(run_first, run_last + 1):
                rel = (b - run_first) * self._block
                self._cache[b] = data[rel : rel + self._block]
        blocks = []
        for b in range(first, last + 1):
            self._cache.move_to_end(b)
            blocks.append(self._cache[b])
        while len(self._cache) > self._max_blocks:
            self._cache.popitem(last=False)
        return blocks

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``; return the number of bytes read (0 at the end)."""
        view = memoryview(buffer).cast("B")
        length = min(len(view), max(0, self._size - self._pos))
        if length == 0:
            return 0
        start, stop = self._pos, self._pos + length
        first, last = start // self._block, (stop - 1) // self._block
        pinned = self._from_pinned(start, stop) if self._pinned else None
        if pinned is not None:
            view[:length] = pinned
        elif last - first + 1 > self._max_blocks // 2:
            # A read larger than half the cache: fetch it directly without caching.
            position = 0
            for part in self._source._fetch(start, stop):
                view[position : position + len(part)] = part
                position += len(part)
        else:
            position = 0
            for index, data in zip(range(first, last + 1), self._blocks(first, last), strict=True):
                lo = max(start - index * self._block, 0)
                hi = min(stop - index * self._block, len(data))
                view[position : position + hi - lo] = data[lo:hi]
                position += hi - lo
        self._pos = stop
        return length

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes (all to the end when negative)."""
        if size is None or size < 0:
            size = max(0, self._size - self._pos)
        buffer = bytearray(size)
        got = self.readinto(buffer)
        return bytes(buffer[:got])

    def readall(self) -> bytes:
        """Read to the end."""
        return self.read(-1)


def open_source(uri: str | os.PathLike[str]) -> ByteSource:
    """Open the bytes of one file: a local path, or an ``s3://`` URI (S3 or the local mirror)."""
    return ByteSource(uri)
