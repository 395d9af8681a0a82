"""Iterable dataset streaming contiguous chunks of long recordings (inference)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.ml import _dtypes
from braingeneers.ml.recordings import as_opener, normalise_channels, open_and_measure
from braingeneers.ml.samplers import _world
from braingeneers.ml.windows import as_recording_list

if TYPE_CHECKING:
    import torch

__all__ = ["ChunkStream"]


def _register_as_iterable_dataset(cls: type) -> None:
    # DataLoader switches to its iterable mode on isinstance(dataset, IterableDataset).
    # IterableDataset is an ABC, so registering the class gives that without importing torch
    # when this module is imported (light imports); datasets import torch when created.
    from torch.utils.data import IterableDataset

    if not issubclass(cls, IterableDataset):
        IterableDataset.register(cls)


class ChunkStream:
    """Stream every recording in consecutive chunks ``(data, recording_index, start_frame)``.

    ``data`` is a tensor ``[channels, chunk]``; consecutive chunks start ``chunk - overlap``
    frames apart and the last one of a recording is zero-padded past its end (``pad_last``)
    or shorter. This is a ``torch.utils.data.IterableDataset``: with ``num_workers=k`` the chunks
    are dealt to the workers in groups of ``group`` consecutive chunks, round robin, so that a
    DataLoader with ``batch_size=group`` (or ``None`` and ``group=1``) returns them in recording
    order; distributed ranks split the chunks one by one first. Each worker opens its own
    handles.

    Parameters
    ----------
    recordings
        One or a list of recordings, in any form :class:`~braingeneers.ml.windows.WindowDataset`
        accepts.
    chunk
        Frames per chunk.
    overlap
        Frames shared by consecutive chunks (e.g. a filter's settling length), ``< chunk``.
    channels, units, dtype, transform
        As for :class:`~braingeneers.ml.windows.WindowDataset`.
    pad_last
        Zero-pad the last chunk of each recording to ``chunk`` frames so chunks batch.
    group
        Consecutive chunks each worker takes at a time; set it to the DataLoader's
        ``batch_size``.
    num_replicas, rank
        Distributed sharding; default the initialised ``torch.distributed`` group.
    """

    def __init__(
        self,
        recordings: Any,
        chunk: int,
        overlap: int = 0,
        *,
        channels: Any = None,
        units: str = "uV",
        dtype: Any = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        pad_last: bool = True,
        group: int = 1,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        _register_as_iterable_dataset(type(self))
        pairs = [as_opener(r) for r in as_recording_list(recordings)]
        if not pairs:
            raise ValueError("ChunkStream needs at least one recording")
        self._cache, self.shapes = open_and_measure([p[0] for p in pairs], [p[1] for p in pairs])
        self.chunk = int(chunk)
        self.overlap = int(overlap)
        if self.chunk < 1:
            raise ValueError(f"ChunkStream: chunk must be >= 1 frame, got {chunk}")
        if not 0 <= self.overlap < self.chunk:
            raise ValueError(f"ChunkStream: overlap must be in 0..chunk-1 = {self.chunk - 1}, got {overlap}")
        self.channels = normalise_channels(channels, self.shapes, "ChunkStream")
        self.units = _dtypes.check_units(units, "ChunkStream")
        self._read_dtype, self._convert = _dtypes.resolve(units, dtype, "ChunkStream")
        self.transform = transform
        self.pad_last = pad_last
        self.group = int(group)
        if self.group < 1:
            raise ValueError(f"ChunkStream: group must be >= 1, got {group}")
        self.num_replicas, self.rank = _world(num_replicas, rank)
        step = self.chunk - self.overlap
        plan = []
        for rec, shape in enumerate(self.shapes):
            last = max(0, shape.num_frames - self.overlap - 1)
            for start in range(0, last + 1, step):
                plan.append((rec, start))
                if start + self.chunk >= shape.num_frames:
                    break
        self.plan = np.asarray(plan, dtype=np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        """Chunks this rank streams (all its workers together)."""
        return len(range(self.rank, len(self.plan), self.num_replicas))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int, int]]:
        from torch.utils.data import get_worker_info

        mine = self.plan[self.rank :: self.num_replicas]
        info = get_worker_info()
        if info is not None:
            turn = (np.arange(len(mine)) // self.group) % info.num_workers
            mine = mine[turn == info.id]
        for rec, start in mine.tolist():
            yield self._read(rec, start), rec, start

    def _read(self, rec: int, start: int) -> torch.Tensor:
        recording = self._cache.get(rec)
        stop = min(start + self.chunk, self.shapes[rec].num_frames)
        data = recording.read(start, stop, channels=self.channels, units=self.units, dtype=self._read_dtype)
        if self.pad_last and stop - start < self.chunk:
            padded = np.zeros((data.shape[0], self.chunk), dtype=data.dtype)
            padded[:, : stop - start] = data
            data = padded
        tensor = _dtypes.to_tensor(data, self._convert)
        return self.transform(tensor) if self.transform is not None else tensor

    def close(self) -> None:
        """Close the recordings this process opened."""
        self._cache.close()

    def __repr__(self) -> str:
        return f"ChunkStream({len(self.shapes)} recordings, chunk={self.chunk}, overlap={self.overlap})"
