"""Frame-interleaved integer samples: the data layout of Axion, Hengenlab, Raspi and Intan files.

A frame is one sample instant of every channel stored back to back; frames follow
each other. Reading some channels of a frame range therefore means reading the
bytes of the whole frame range and gathering the wanted columns, which this
module does in cache-sized pieces straight into the channel-major result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from braingeneers.core.errors import FormatError

if TYPE_CHECKING:
    from braingeneers.data.sources import ByteSource

__all__ = ["InterleavedLayout", "gather_columns"]


#: Frames gathered per step, so a step's source rows (384 int16 channels x 2048 frames
#: = 1.5 MiB) and output columns stay in cache. Measured on the shared 2-vCPU dev box,
#: 64 of 384 channels x 125 000 frames in memory: steps of 512 → 21 ms, 2048 → 19 ms,
#: 8192 → 25 ms; one fancy index + transpose copy → 32 ms; copying all 96 MB → 13 ms.
_FRAMES_PER_STEP = 2048


def gather_columns(frames: np.ndarray, columns: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return ``frames[:, columns].T`` as a C-contiguous ``[len(columns), n_frames]`` array in native order.

    Parameters
    ----------
    frames
        ``[n_frames, n_file_channels]`` samples (any byte order; may be a memmap).
    columns
        Column indices to pick, in output order.
    out
        Optional preallocated result.
    """
    n_frames = frames.shape[0]
    columns = np.asarray(columns, dtype=np.intp)
    dtype = frames.dtype.newbyteorder("=")
    if out is None:
        out = np.empty((len(columns), n_frames), dtype=dtype)
    if len(columns) == 0 or n_frames == 0:
        return out
    first = int(columns[0])
    contiguous = bool(np.all(np.diff(columns) == 1)) if len(columns) > 1 else True
    for t0 in range(0, n_frames, _FRAMES_PER_STEP):
        t1 = min(t0 + _FRAMES_PER_STEP, n_frames)
        if contiguous:
            piece = frames[t0:t1, first : first + len(columns)]
        else:
            piece = frames[t0:t1].take(columns, axis=1)
        out[:, t0:t1] = piece.T
    return out


class InterleavedLayout:
    """Where the frames of one file are and how to read columns of them.

    Parameters
    ----------
    source
        The file's bytes.
    data_start
        Byte offset of frame 0.
    num_file_channels
        Samples per frame.
    num_frames
        Frames in the file (the caller checked they fit in the file).
    dtype
        Sample type with its byte order (``"<i2"``, ``">i2"``).
    """

    def __init__(
        self, source: ByteSource, data_start: int, num_file_channels: int, num_frames: int, dtype: str
    ) -> None:
        self.source = source
        self.data_start = int(data_start)
        self.num_file_channels = int(num_file_channels)
        self.num_frames = int(num_frames)
        self.dtype = np.dtype(dtype)
        self.frame_bytes = self.dtype.itemsize * self.num_file_channels
        end = self.data_start + self.num_frames * self.frame_bytes
        if end > source.size:
            raise FormatError(
                f"{source.uri}: the header puts {self.num_frames} frames of {self.num_file_channels} "
                f"channels at byte {self.data_start} (ending at byte {end}) but the file has only "
                f"{source.size} bytes; the file is truncated"
            )
        self._memmap: np.ndarray | None = None

    def _local_frames(self) -> np.ndarray | None:
        """Return a memmap of all frames when the file is on a local disk, else None."""
        if self._memmap is None:
            path = getattr(self.source, "local_path", None)
            if path is None or self.num_frames == 0:
                return None
            self._memmap = np.memmap(
                path,
                dtype=self.dtype,
                mode="r",
                offset=self.data_start,
                shape=(self.num_frames, self.num_file_channels),
            )
        return self._memmap

    def read_columns(self, start: int, stop: int, columns: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of file columns ``columns`` as ``[len(columns), stop - start]``."""
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.num_frames:
            raise IndexError(f"{self.source.uri}: frames [{start}, {stop}) outside [0, {self.num_frames}]")
        n = stop - start
        local = self._local_frames()
        # Local files: gather straight from the memory map, with no copy of the frame bytes first
        # (bench_axion, 10 s of one 6-well well: 19-53 ms, vs 29-94 ms to readinto + transpose).
        if local is not None:
            return gather_columns(local[start:stop], columns)
        if n == 0:
            return np.empty((len(columns), 0), dtype=self.dtype.newbyteorder("="))
        # One exact read of the frame range (split into concurrent range requests on S3 by the source).
        frames = np.empty((n, self.num_file_channels), dtype=self.dtype)
        self.source.read_into(self.data_start + start * self.frame_bytes, frames.data.cast("B"))
        return gather_columns(frames, columns)

    def close(self) -> None:
        """Drop the memmap (the source is closed by its owner)."""
        self._memmap = None
