"""Map-style dataset of fixed-length windows over one or many recordings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.ml import _dtypes
from braingeneers.ml.recordings import (
    RecordingLike,
    as_opener,
    normalise_channels,
    open_and_measure,
)

if TYPE_CHECKING:
    import torch

__all__ = ["WindowDataset"]

log = logging.getLogger(__name__)


def as_recording_list(recordings: Any) -> list[Any]:
    """Accept one recording (in any accepted form) or a list/tuple of them."""
    if isinstance(recordings, list):
        return recordings
    if isinstance(recordings, tuple) and not (
        len(recordings) == 2 and isinstance(recordings[1], (str, int)) and not isinstance(recordings[1], bool)
    ):
        return list(recordings)
    return [recordings]


class WindowDataset:
    """Every ``window``-frame window of one or many recordings, as a map-style dataset.

    Item ``i`` is the window at flat position ``i``: windows of recording 0 starting at frames
    ``0 .. num_frames - window``, then those of recording 1, and so on (:meth:`locate`,
    :meth:`index`). Use the samplers of :mod:`braingeneers.ml.samplers` to choose which windows
    an epoch visits (uniform random, centred on events, sliding with a stride).

    Metadata and recording geometry are read once here; every process (the main one and each
    DataLoader worker) opens its own file handles on first use and reuses them. A DataLoader
    batch is read through :meth:`read_windows`: windows of the same recording that overlap or lie
    close together are fetched with one read.

    Parameters
    ----------
    recordings
        One or a list of: an open ``braingeneers.data`` ``Recording`` (from ``open_experiment``),
        a :class:`~braingeneers.ml.recordings.RecordingRef`, a ``(metadata, experiment)`` tuple, or
        a picklable zero-argument callable that opens a recording.
    window
        Window length in frames.
    channels
        Channel indices (any order, repeats allowed) or a slice, the same for every recording;
        ``None`` means all channels (then every recording must have the same channel count).
    units
        ``"uV"`` (scaled microvolts) or ``"raw"`` (integer counts as stored).
    dtype
        Dtype of the returned tensors (torch or numpy spelling); default float32 for ``"uV"`` and
        the stored integer type for ``"raw"``.
    transform
        Callable applied to every window tensor ``[channels, frames]`` (e.g. from
        :mod:`braingeneers.ml.transforms`).
    targets
        Optional ``targets(recording_index, start, stop) -> target``, e.g. an
        :class:`~braingeneers.ml.labels.IntervalLabels`; items are then ``(window, target)``.
    merge_gap
        Windows of one batch that overlap or lie closer than this many frames are read
        together; default ``window // 2``. A negative value reads every window on its own.
    max_read_bytes
        Upper bound on one merged read.

    Raises
    ------
    ValueError
        ``window`` is not positive or longer than a recording.
    IndexError
        A channel index is out of range for some recording.
    """

    def __init__(
        self,
        recordings: Any,
        window: int,
        channels: Any = None,
        *,
        units: str = "uV",
        dtype: Any = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        targets: Callable[[int, int, int], Any] | None = None,
        merge_gap: int | None = None,
        max_read_bytes: int = 64 << 20,
    ) -> None:
        items = as_recording_list(recordings)
        if not items:
            raise ValueError("WindowDataset needs at least one recording")
        pairs = [as_opener(r) for r in items]
        self._cache, self.shapes = open_and_measure([p[0] for p in pairs], [p[1] for p in pairs])
        window = int(window)
        if window <= 0:
            raise ValueError(f"WindowDataset: window must be a positive number of frames, got {window}")
        for i, shape in enumerate(self.shapes):
            if window > shape.num_frames:
                raise ValueError(
                    f"WindowDataset: window of {window} frames is longer than recording {i} "
                    f"({shape.num_frames} frames); use a shorter window or drop that recording"
                )
        self.window = window
        self.channels = normalise_channels(channels, self.shapes, "WindowDataset")
        self.num_channels = (
            int(self.channels.size) if self.channels is not None else self.shapes[0].num_channels
        )
        self.units = _dtypes.check_units(units, "WindowDataset")
        self._read_dtype, self._convert = _dtypes.resolve(units, dtype, "WindowDataset")
        self.transform = transform
        self.targets = targets
        self.merge_gap = window // 2 if merge_gap is None else int(merge_gap)
        self.max_read_bytes = int(max_read_bytes)
        self._scale: tuple[np.ndarray, np.ndarray] | None = None
        self.window_counts = np.array([s.num_frames - window + 1 for s in self.shapes], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self.window_counts)]).astype(np.int64)

    # -- geometry ---------------------------------------------------------------------------

    @property
    def num_recordings(self) -> int:
        """Number of recordings."""
        return len(self.shapes)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """Return ``(recording_index, start_frame)`` of flat window ``index``."""
        i = int(index)
        n = len(self)
        if not 0 <= i < n:
            raise IndexError(f"window index {i} is out of range 0..{n - 1}")
        rec = int(np.searchsorted(self._offsets, i, side="right")) - 1
        return rec, i - int(self._offsets[rec])

    def locate_many(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`locate`: arrays of recording indices and start frames."""
        idx = np.asarray(indices, dtype=np.int64)
        n = len(self)
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise IndexError(f"window indices {bad[:8].tolist()} are out of range 0..{n - 1}")
        rec = np.searchsorted(self._offsets, idx, side="right") - 1
        return rec, idx - self._offsets[rec]

    def index(self, recording: int, start: int | np.ndarray) -> Any:
        """Return the flat index of the window starting at ``start`` in ``recording``.

        ``start`` may be an array; every start must lie in ``0 .. num_frames - window``.
        """
        if not 0 <= recording < self.num_recordings:
            raise IndexError(f"recording index {recording} is out of range 0..{self.num_recordings - 1}")
        starts = np.asarray(start, dtype=np.int64)
        count = int(self.window_counts[recording])
        bad = starts[(starts < 0) | (starts >= count)]
        if bad.size:
            raise IndexError(
                f"window starts {bad[:8].tolist()} of recording {recording} are out of range 0..{count - 1} "
                f"(a {self.window}-frame window must fit in its {self.shapes[recording].num_frames} frames)"
            )
        flat = starts + self._offsets[recording]
        return int(flat) if flat.ndim == 0 else flat

    def recording(self, index: int) -> RecordingLike:
        """Return this process's open handle of recording ``index`` (opened on first use)."""
        return self._cache.get(index)

    # -- reading ----------------------------------------------------------------------------

    def read_windows(self, recording: int, starts: Sequence[int] | np.ndarray) -> np.ndarray:
        """Read windows of one recording as one array ``[len(starts), channels, window]``.

        Windows are sorted by start and grouped: a group whose windows overlap or lie within
        ``merge_gap`` frames of each other is fetched with a single read of the range covering
        it (at most ``max_read_bytes``), then sliced.
        """
        views = self._window_views(recording, starts)
        if not views:
            return np.empty((0, self.num_channels, self.window), dtype=self._read_dtype or np.int16)
        return np.stack(views)

    def _window_views(self, recording: int, starts: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """Windows in the order of ``starts``, as views into as few reads as the grouping allows."""
        rec = self.recording(recording)
        begin = np.asarray(starts, dtype=np.int64)
        n = begin.size
        order = np.argsort(begin, kind="stable")
        sorted_starts = begin[order].tolist()
        views: list[np.ndarray] = [np.empty(0)] * n
        itemsize = (self._read_dtype or np.dtype(np.int16)).itemsize
        frame_bytes = max(1, self.num_channels * itemsize)
        w = self.window
        i = 0
        while i < n:
            lo = sorted_starts[i]
            hi = lo + w
            j = i
            while j + 1 < n:
                nxt = sorted_starts[j + 1]
                if (
                    self.merge_gap < 0
                    or nxt - hi > self.merge_gap
                    or (max(hi, nxt + w) - lo) * frame_bytes > self.max_read_bytes
                ):
                    break
                j += 1
                hi = max(hi, nxt + w)
            block = rec.read(lo, hi, channels=self.channels, units=self.units, dtype=self._read_dtype)
            for k in range(i, j + 1):
                offset = sorted_starts[k] - lo
                views[order[k]] = block[:, offset : offset + w]
            i = j + 1
        return views

    def _item(self, recording: int, start: int, data: torch.Tensor) -> Any:
        if self.transform is not None:
            data = self.transform(data)
        if self.targets is None:
            return data
        return data, self.targets(recording, start, start + self.window)

    def __getitem__(self, index: int) -> Any:
        rec, start = self.locate(index)
        array = self.recording(rec).read(
            start, start + self.window, channels=self.channels, units=self.units, dtype=self._read_dtype
        )
        return self._item(rec, start, _dtypes.to_tensor(array, self._convert))

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """Read a whole DataLoader batch, one pass per recording (see :meth:`read_windows`)."""
        recs, starts = self.locate_many(indices)
        items: list[Any] = [None] * len(recs)
        for rec in np.unique(recs):
            positions = np.flatnonzero(recs == rec)
            views = self._window_views(int(rec), starts[positions])
            for view, position in zip(views, positions.tolist(), strict=True):
                # Views of a merged read stay views (no copy): the DataLoader's collate copies once.
                tensor = _dtypes.to_tensor(view, self._convert, copy=False)
                items[position] = self._item(int(rec), int(starts[position]), tensor)
        return items

    def to_microvolts(self, raw: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Convert raw windows ``[..., channels, frames]`` of this dataset to µV, on their device.

        With ``units="raw"`` DataLoader workers send integer counts (half the bytes of float32
        through the workers' shared memory); convert the batch after ``batch.to(device)``. The
        result equals what ``units="uV"`` reads: ``(raw - offset) * gain_uv`` per channel,
        computed in float32 (or ``dtype``).

        Raises
        ------
        ValueError
            The recordings do not report their gains, or differ in gain/offset on the selected
            channels (then a batch mixing them cannot be scaled with one table).
        """
        import torch

        scale = self._scale
        if scale is None:
            tables = []
            for i, shape in enumerate(self.shapes):
                if shape.gain_uv is None or shape.offset is None:
                    raise ValueError(f"recording {i} does not report per-channel gains; read units='uV'")
                pick = slice(None) if self.channels is None else self.channels
                tables.append((shape.gain_uv[pick], shape.offset[pick]))
            gain, offset = tables[0]
            for i, (g, o) in enumerate(tables[1:], 1):
                if not (np.array_equal(g, gain) and np.array_equal(o, offset)):
                    raise ValueError(
                        f"recording {i} has other gains/offsets than recording 0 on the selected channels; "
                        "read units='uV' instead"
                    )
            scale = self._scale = (gain, offset)
        work = dtype or (torch.float64 if raw.dtype == torch.float64 else torch.float32)
        gain_t = torch.as_tensor(scale[0], dtype=work, device=raw.device)[:, None]
        offset_t = torch.as_tensor(scale[1], dtype=work, device=raw.device)[:, None]
        result: torch.Tensor = (raw.to(work) - offset_t) * gain_t
        return result

    def close(self) -> None:
        """Close the recordings this process opened."""
        self._cache.close()

    def __enter__(self) -> WindowDataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"WindowDataset({self.num_recordings} recordings, window={self.window}, "
            f"channels={self.num_channels}, units={self.units!r}, windows={len(self)})"
        )
