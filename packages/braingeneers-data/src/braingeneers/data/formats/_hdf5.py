"""Helpers shared by the HDF5-based readers (Maxwell, MEArec, NWB): open, scalars, row-group reads."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import BlockReader

if TYPE_CHECKING:
    from braingeneers.data.sources import ByteSource

__all__ = [
    "HDF5_MAGIC",
    "Hdf5Reader",
    "probe_h5",
    "ChunkIndex",
    "open_h5",
    "prefetched",
    "read_columns",
    "read_columns_from",
    "read_rows",
    "read_rows_from",
    "scalar",
    "text",
]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: HDF5 chunk cache per open file: several all-channel time-major chunks (Maxwell 1028 x 2048 x 2 B = 4 MiB).
CHUNK_CACHE = 64 * 1024 * 1024


def open_h5(source: ByteSource, what: str = "HDF5 recording") -> Any:
    """Open a source with h5py (the file itself when local, the S3 range reader otherwise)."""
    import h5py

    try:
        target: Any = source.local_path if source.local_path is not None else source.fileobj()
        return h5py.File(target, "r", rdcc_nbytes=CHUNK_CACHE, rdcc_nslots=100003)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FormatError(
            f"{source.uri}: not a readable HDF5 file ({exc}); it may be truncated or not a {what}"
        ) from None


def scalar(h5: Any, path: str) -> Any:
    """Return the first value of a dataset (or ``None`` when absent)."""
    if path not in h5:
        return None
    value = h5[path][()]
    return value.flat[0] if isinstance(value, np.ndarray) and value.size else value


def text(value: Any) -> str:
    """Decode bytes/numpy strings to ``str``."""
    if isinstance(value, np.ndarray) and value.size:
        value = value.flat[0]
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def row_groups(rows: np.ndarray, rows_per_chunk: int) -> list[np.ndarray]:
    """Split sorted rows into groups read with one h5py call each (see :func:`read_rows`)."""
    if rows_per_chunk <= 1:
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    else:
        key = rows // rows_per_chunk
        breaks = np.flatnonzero(np.diff(key) > 1) + 1
    return np.split(rows, breaks)


#: Bytes of one time slab when rows sharing chunks are read as a block and then selected.
SLAB_BYTES = 32 * 1024 * 1024


def read_rows(dataset: Any, rows: np.ndarray, start: int, stop: int, out: np.ndarray) -> None:
    """Fill ``out`` with ``dataset[rows, start:stop]`` for sorted unique ``rows`` of a (rows, frames) dataset.

    Consecutive runs go straight into ``out`` (one hyperslab each). Rows sharing
    chunks are read as their bounding block in chunk-aligned time slabs of about
    :data:`SLAB_BYTES` into one reused buffer, and selected with ``np.take``.
    Measured on a 1020 x 400 000 uint16 file with 1020 x 2048 chunks (2 vCPU,
    warm cache), 64 channels x 200 000 frames: 106 ms this way, 148-208 ms for
    h5py reading all rows then numpy selecting, and h5py fancy indexing was 3.5x
    slower still; slabs of 4096 frames took 228 ms, 32768 frames 117 ms.
    """
    rows_per_chunk = 1 if dataset.chunks is None else int(dataset.chunks[0])
    chunk_frames = 1 if dataset.chunks is None else int(dataset.chunks[1])
    position = 0
    for group in row_groups(rows, rows_per_chunk):
        lo, hi = int(group[0]), int(group[-1]) + 1
        if hi - lo == len(group) and len(group) == len(out):
            # the whole output: no memory selection (measured ~1.5x faster than with one)
            dataset.read_direct(out, np.s_[lo:hi, start:stop])
        elif hi - lo == len(group):
            dataset.read_direct(out, np.s_[lo:hi, start:stop], np.s_[position : position + len(group), :])
        else:
            per_frame = (hi - lo) * dataset.dtype.itemsize
            slab = max(chunk_frames, SLAB_BYTES // per_frame // chunk_frames * chunk_frames)
            flat = np.empty((hi - lo) * min(slab, stop - start), dtype=dataset.dtype)
            picked = group - lo
            begin = start
            while begin < stop:
                # end on a chunk boundary so no chunk is decoded twice
                end = min(stop, (begin // chunk_frames) * chunk_frames + slab)
                view = flat[: (hi - lo) * (end - begin)].reshape(hi - lo, end - begin)  # C-contiguous
                dataset.read_direct(view, np.s_[lo:hi, begin:end])
                target = out[position : position + len(group), begin - start : end - start]
                np.take(
                    view, picked, axis=0, out=target, mode="clip"
                )  # indices are valid; clip avoids a buffer
                begin = end
        position += len(group)


def read_columns(dataset: Any, columns: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Return ``dataset[start:stop, columns].T`` for sorted unique columns of a (frames, channels) dataset."""
    lo, hi = int(columns[0]), int(columns[-1]) + 1
    block = dataset[start:stop, lo:hi]
    picked = block if hi - lo == len(columns) else block[:, columns - lo]
    return np.ascontiguousarray(picked.T)


class ChunkIndex:
    """Byte ranges of a 2-D dataset's chunks in the file, read once, to prefetch the chunks a read touches."""

    def __init__(self, dataset: Any) -> None:
        self.shape = tuple(int(n) for n in dataset.shape)
        self.chunks = None if dataset.chunks is None else tuple(int(n) for n in dataset.chunks)
        self.itemsize = int(dataset.dtype.itemsize)
        self.offset: int | None = None
        if self.chunks is None:
            found = dataset.id.get_offset()
            self.offset = None if found is None else int(found)
            return
        entries: list[tuple[int, int, int, int]] = []

        def visit(info: Any) -> None:
            entries.append(
                (int(info.chunk_offset[0]), int(info.chunk_offset[1]), int(info.byte_offset), int(info.size))
            )

        try:
            dataset.id.chunk_iter(visit)
        except (AttributeError, RuntimeError):  # older HDF5: one call per chunk
            for i in range(dataset.id.get_num_chunks()):
                info = dataset.id.get_chunk_info(i)
                visit(info)
        self.table = np.array(entries, dtype=np.int64).reshape(-1, 4)

    def spans(self, rows: tuple[int, int], cols: tuple[int, int]) -> list[tuple[int, int]]:
        """Return the ``(offset, length)`` byte spans holding ``[rows) x [cols)``."""
        (r0, r1), (c0, c1) = rows, cols
        if r1 <= r0 or c1 <= c0:
            return []
        if self.chunks is None:
            if self.offset is None:
                return []
            width = self.shape[1]
            return [
                (self.offset + (r * width + c0) * self.itemsize, (c1 - c0) * self.itemsize)
                for r in range(r0, r1)
            ]
        t = self.table
        rows_hit = (t[:, 0] < r1) & (t[:, 0] + self.chunks[0] > r0)
        cols_hit = (t[:, 1] < c1) & (t[:, 1] + self.chunks[1] > c0)
        hit = t[rows_hit & cols_hit]
        return [(int(o), int(n)) for o, n in zip(hit[:, 2], hit[:, 3], strict=True)]


@contextmanager
def prefetched(
    source: ByteSource, index: ChunkIndex | None, rows: tuple[int, int], cols: tuple[int, int]
) -> Iterator[None]:
    """On S3, fetch the chunks of ``[rows) x [cols)`` concurrently before h5py reads them; no-op locally."""
    if source.local_path is not None or index is None:
        yield
        return
    reader: Any = source.fileobj()
    reader.prefetch(index.spans(rows, cols))
    try:
        yield
    finally:
        reader.release()


#: Chunk bytes prefetched at once over S3 (a read is split into windows of about this size).
PREFETCH_BYTES = 64 * 1024 * 1024


def _windows(index: ChunkIndex, time_axis: int, start: int, stop: int, other: int) -> list[tuple[int, int]]:
    """Split frames ``[start, stop)`` into chunk-aligned windows of about :data:`PREFETCH_BYTES` of chunks."""
    if index.chunks is None:
        per_frame = other * index.itemsize
        step = max(1, PREFETCH_BYTES // max(per_frame, 1))
    else:
        along = index.chunks[time_axis]
        across = index.chunks[1 - time_axis]
        per_frame = max(other, across) * index.itemsize
        step = max(along, PREFETCH_BYTES // max(per_frame, 1) // along * along)
    edges = [start]
    while edges[-1] < stop:
        edges.append(min(stop, (edges[-1] // step + 1) * step))
    return list(itertools.pairwise(edges))


def read_rows_from(  # noqa: PLR0917 (source, index, then the read itself)
    source: ByteSource, index: ChunkIndex | None, dataset: Any, rows: np.ndarray, start: int, stop: int
) -> np.ndarray:
    """Return ``dataset[rows, start:stop]`` (sorted unique rows); on S3 chunks are prefetched concurrently."""
    out = np.empty((len(rows), stop - start), dtype=dataset.dtype)
    if stop <= start or not len(rows):
        return out
    if source.local_path is not None or index is None:
        read_rows(dataset, rows, start, stop, out)
        return out
    span = (int(rows[0]), int(rows[-1]) + 1)
    for w0, w1 in _windows(index, 1, start, stop, span[1] - span[0]):
        part = np.empty((len(rows), w1 - w0), dtype=dataset.dtype)
        with prefetched(source, index, span, (w0, w1)):
            read_rows(dataset, rows, w0, w1, part)
        out[:, w0 - start : w1 - start] = part
    return out


def read_columns_from(  # noqa: PLR0917 (source, index, then the read itself)
    source: ByteSource, index: ChunkIndex | None, dataset: Any, columns: np.ndarray, start: int, stop: int
) -> np.ndarray:
    """Return ``dataset[start:stop, columns].T`` of a (frames, channels) dataset; prefetched on S3."""
    if stop <= start or not len(columns):
        return np.empty((len(columns), stop - start), dtype=dataset.dtype)
    if source.local_path is not None or index is None:
        return read_columns(dataset, columns, start, stop)
    span = (int(columns[0]), int(columns[-1]) + 1)
    out = np.empty((len(columns), stop - start), dtype=dataset.dtype)
    for w0, w1 in _windows(index, 0, start, stop, span[1] - span[0]):
        with prefetched(source, index, (w0, w1), span):
            out[:, w0 - start : w1 - start] = read_columns(dataset, columns, w0, w1)
    return out


class Hdf5Reader(BlockReader):
    """Base of the HDF5 block readers: holds the open file in ``_h5`` and closes it first."""

    _h5: Any

    def close(self) -> None:
        """Close the HDF5 file and the byte source."""
        try:
            self._h5.close()
        finally:
            super().close()


def probe_h5(source: ByteSource, test: Callable[[Any], bool]) -> bool:
    """Return whether ``source`` is an HDF5 file for which ``test(h5)`` holds (never raises)."""
    if source.size < 8 or source.read(0, 8) != HDF5_MAGIC:
        return False
    try:
        h5 = open_h5(source)
    except FormatError:
        return False
    with h5:
        return bool(test(h5))
