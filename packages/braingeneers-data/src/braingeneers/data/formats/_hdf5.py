"""Helpers shared by the HDF5-based readers (Maxwell, MEArec, NWB): open, scalars, row-group reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import FormatError

if TYPE_CHECKING:
    from braingeneers.data.sources import ByteSource

__all__ = ["HDF5_MAGIC", "open_h5", "read_rows", "scalar", "text"]

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
        if hi - lo == len(group):
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
