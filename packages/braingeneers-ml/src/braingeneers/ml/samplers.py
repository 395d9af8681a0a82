"""Samplers choosing which windows of a :class:`~braingeneers.ml.windows.WindowDataset` to visit.

Every sampler yields flat window indices of its dataset, is reproducible from ``seed`` (and the
epoch set with ``set_epoch``), and shards across distributed ranks like
``torch.utils.data.DistributedSampler``: each of ``num_replicas`` ranks gets every
``num_replicas``-th index of the same epoch order, padded by repeating the first indices so
that all ranks get the same count (``drop_last=True`` drops the tail instead). ``num_replicas``
and ``rank`` default to the initialised ``torch.distributed`` group, else one replica. Because a
sampler runs in the main process, the windows do not depend on ``num_workers``.
"""

from __future__ import annotations

import abc
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from braingeneers.ml.windows import WindowDataset

__all__ = ["EventWindowSampler", "RandomWindowSampler", "SlidingWindowSampler"]

log = logging.getLogger(__name__)

ALIGNS = ("center", "left", "right")


def _world(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    if num_replicas is None or rank is None:
        import torch.distributed as dist

        initialised = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if initialised else 1
        if rank is None:
            rank = dist.get_rank() if initialised else 0
    if num_replicas < 1:
        raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be in 0..{num_replicas - 1}, got {rank}")
    return num_replicas, rank


def _recording_selection(dataset: WindowDataset, recordings: Sequence[int] | None) -> np.ndarray:
    if recordings is None:
        return np.arange(dataset.num_recordings)
    chosen = np.asarray(recordings, dtype=np.int64)
    bad = chosen[(chosen < 0) | (chosen >= dataset.num_recordings)]
    if bad.size:
        raise IndexError(f"recordings {bad.tolist()} are out of range 0..{dataset.num_recordings - 1}")
    return chosen


def _allowed_starts(count: int, window: int, excluded: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the runs ``[lo, hi)`` of starts in ``0..count-1`` whose windows miss every exclusion."""
    blocked = []
    for pair in excluded:
        a, b = (int(v) for v in pair)
        if b <= a:
            raise ValueError(f"excluded interval [{a}, {b}) is empty or reversed")
        # A window [s, s + window) touches [a, b) when a - window < s < b.
        blocked.append((max(0, a - window + 1), min(count, b)))
    runs = []
    position = 0
    for lo, hi in sorted(blocked):
        if lo > position:
            runs.append((position, lo))
        position = max(position, hi)
    if position < count:
        runs.append((position, count))
    return runs


class _ShardedSampler(abc.ABC):
    def __init__(self, seed: int, num_replicas: int | None, rank: int | None, drop_last: bool) -> None:
        self.seed = int(seed)
        self.epoch = 0
        self.num_replicas, self.rank = _world(num_replicas, rank)
        self.drop_last = drop_last

    def set_epoch(self, epoch: int) -> None:
        """Use the window order of ``epoch`` (call before each epoch, like DistributedSampler)."""
        self.epoch = int(epoch)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    @abc.abstractmethod
    def _total(self) -> int:
        """Return the number of indices in one epoch before sharding."""

    @abc.abstractmethod
    def epoch_indices(self) -> np.ndarray:
        """Return every flat window index of the current epoch, in order, before sharding."""

    def _per_rank(self) -> int:
        total = self._total()
        if self.drop_last:
            return total // self.num_replicas
        return math.ceil(total / self.num_replicas)

    def indices(self) -> np.ndarray:
        """Return this rank's flat window indices for the current epoch."""
        everything = self.epoch_indices()
        if self.num_replicas == 1:
            return everything
        per_rank = self._per_rank()
        wanted = per_rank * self.num_replicas
        if wanted <= everything.size:
            everything = everything[:wanted]
        else:
            everything = np.concatenate([everything, np.resize(everything, wanted - everything.size)])
        return everything[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self._per_rank()


class RandomWindowSampler(_ShardedSampler):
    """Windows at uniformly random positions (with replacement), longer recordings drawn more.

    Parameters
    ----------
    dataset
        The dataset whose windows to draw.
    num_samples
        Windows per epoch (over all ranks); default: as many as fit end to end in the chosen
        recordings.
    seed
        Seed of the draw; epoch ``e`` uses ``(seed, e)``.
    recordings
        Restrict to these recording indices.
    exclude
        Frame intervals no window may touch (stimulation artefacts, bad stretches):
        ``{recording_index: [(start, stop), ...]}`` with ``[start, stop)`` in frames.
    num_replicas, rank, drop_last
        Distributed sharding (see the module documentation).

    Raises
    ------
    ValueError
        The exclusions leave no window to draw.
    """

    def __init__(
        self,
        dataset: WindowDataset,
        num_samples: int | None = None,
        *,
        seed: int = 0,
        recordings: Sequence[int] | None = None,
        exclude: Mapping[int, Sequence[tuple[int, int]]] | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last)
        self.dataset = dataset
        self.recordings = _recording_selection(dataset, recordings)
        exclude = {int(k): v for k, v in (exclude or {}).items()}
        for rec in exclude:
            if not 0 <= rec < dataset.num_recordings:
                raise IndexError(
                    f"exclude names recording {rec}, out of range 0..{dataset.num_recordings - 1}"
                )
        firsts: list[int] = []  # flat index of each run of allowed starts
        lengths: list[int] = []
        for rec in self.recordings.tolist():
            for lo, hi in _allowed_starts(
                int(dataset.window_counts[rec]), dataset.window, exclude.get(rec, ())
            ):
                firsts.append(int(dataset._offsets[rec]) + lo)
                lengths.append(hi - lo)
        if not lengths:
            raise ValueError("RandomWindowSampler: the exclusions leave no window that fits")
        self._firsts = np.asarray(firsts, dtype=np.int64)
        self._cumulative = np.cumsum(lengths)
        if num_samples is None:
            frames = sum(dataset.shapes[int(r)].num_frames for r in self.recordings)
            num_samples = max(1, frames // dataset.window)
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_samples = int(num_samples)

    def _total(self) -> int:
        return self.num_samples

    def epoch_indices(self) -> np.ndarray:
        """Return the epoch's windows (all ranks)."""
        draw = self._rng().integers(0, int(self._cumulative[-1]), size=self.num_samples)
        which = np.searchsorted(self._cumulative, draw, side="right")
        before = np.concatenate([[0], self._cumulative[:-1]])
        return np.asarray(self._firsts[which] + draw - before[which], dtype=np.int64)


class EventWindowSampler(_ShardedSampler):
    """Windows placed on events: spike times, stimulation log entries, GPIO/TTL edges.

    Parameters
    ----------
    dataset
        The dataset whose windows to take.
    events
        Event frames: an array (dataset with one recording), a sequence with one array per
        recording, or a mapping ``{recording_index: frames}``.
    align
        ``"center"``: the window is centred on the event (starts ``window // 2`` frames before it);
        ``"left"``: starts at the event; ``"right"``: ends at (includes) the event.
    jitter
        Shift every window by a uniform random ``-jitter..jitter`` frames each epoch, clipped to
        the recording.
    shuffle
        Visit events in a random order each epoch (else in the given order).
    seed
        Seed of the shuffle and jitter; epoch ``e`` uses ``(seed, e)``.
    out_of_bounds
        What to do with events whose window does not fit in the recording: ``"error"`` raises
        ``IndexError`` here (naming them), ``"drop"`` skips them (logged).
    num_replicas, rank, drop_last
        Distributed sharding (see the module documentation).
    """

    def __init__(
        self,
        dataset: WindowDataset,
        events: Any,
        *,
        align: str = "center",
        jitter: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        out_of_bounds: str = "error",
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last)
        if align not in ALIGNS:
            raise ValueError(f"align must be one of {ALIGNS}, got {align!r}")
        if out_of_bounds not in ("error", "drop"):
            raise ValueError(f"out_of_bounds must be 'error' or 'drop', got {out_of_bounds!r}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter}")
        self.dataset = dataset
        self.align = align
        self.jitter = int(jitter)
        self.shuffle = shuffle
        lead = {"center": dataset.window // 2, "left": 0, "right": dataset.window - 1}[align]
        recs: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        for rec, given in self._per_recording(dataset, events).items():
            frames = np.asarray(given)
            if frames.ndim != 1 or not np.issubdtype(frames.dtype, np.integer):
                raise TypeError(
                    f"events of recording {rec} must be a 1-D array of integer frames, got dtype "
                    f"{frames.dtype} and shape {frames.shape}; convert times with from_seconds()"
                )
            begin = frames.astype(np.int64) - lead
            fits = (begin >= 0) & (begin < dataset.window_counts[rec])
            if not fits.all():
                bad = frames[~fits]
                message = (
                    f"{bad.size} events of recording {rec} (frames {bad[:8].tolist()}...) are too close "
                    f"to an end of its {dataset.shapes[rec].num_frames} frames for a {align}-aligned "
                    f"window of {dataset.window} frames"
                )
                if out_of_bounds == "error":
                    raise IndexError(message + "; pass out_of_bounds='drop' to skip them")
                log.warning("%s: dropped", message)
                begin = begin[fits]
            recs.append(np.full(begin.size, rec, dtype=np.int64))
            starts.append(begin)
        self.event_recordings = np.concatenate(recs) if recs else np.empty(0, np.int64)
        self.event_starts = np.concatenate(starts) if starts else np.empty(0, np.int64)
        if self.event_starts.size == 0:
            raise ValueError("EventWindowSampler: no event has a window that fits in its recording")

    @staticmethod
    def _per_recording(dataset: WindowDataset, events: Any) -> dict[int, Any]:
        if isinstance(events, Mapping):
            mapping = {int(k): v for k, v in events.items()}
        elif (isinstance(events, np.ndarray) and events.ndim == 1) or (
            isinstance(events, Sequence) and len(events) > 0 and np.isscalar(events[0])
        ):
            if dataset.num_recordings != 1:
                raise ValueError(
                    f"the dataset has {dataset.num_recordings} recordings: give events as a list with one "
                    "array per recording or as a {recording_index: frames} mapping"
                )
            mapping = {0: events}
        else:
            if len(events) != dataset.num_recordings:
                raise ValueError(
                    f"got {len(events)} event arrays for {dataset.num_recordings} recordings; give one "
                    "per recording or a {recording_index: frames} mapping"
                )
            mapping = dict(enumerate(events))
        for rec in mapping:
            if not 0 <= rec < dataset.num_recordings:
                raise IndexError(
                    f"events given for recording {rec}, out of range 0..{dataset.num_recordings - 1}"
                )
        return mapping

    @classmethod
    def from_seconds(cls, dataset: WindowDataset, times: Any, **kwargs: Any) -> EventWindowSampler:
        """Build from event times in seconds (same layouts as ``events``), rounded to frames."""
        per = cls._per_recording(dataset, times)
        frames = {
            rec: np.rint(np.asarray(t, dtype=np.float64) * dataset.shapes[rec].sample_rate).astype(np.int64)
            for rec, t in per.items()
        }
        return cls(dataset, frames, **kwargs)

    def _total(self) -> int:
        return int(self.event_starts.size)

    def epoch_indices(self) -> np.ndarray:
        """Return the epoch's windows (all ranks)."""
        rng = self._rng()
        starts = self.event_starts
        recs = self.event_recordings
        if self.jitter:
            shifted = starts + rng.integers(-self.jitter, self.jitter + 1, size=starts.size)
            starts = np.clip(shifted, 0, self.dataset.window_counts[recs] - 1)
        flat = self.dataset._offsets[recs] + starts
        if self.shuffle:
            flat = flat[rng.permutation(flat.size)]
        return np.asarray(flat, dtype=np.int64)


class SlidingWindowSampler(_ShardedSampler):
    """Windows in order, every ``stride`` frames, recording after recording (inference).

    Parameters
    ----------
    dataset
        The dataset whose windows to visit.
    stride
        Frames between window starts; default the window length (no overlap).
    recordings
        Restrict to these recording indices (in this order).
    cover_end
        Also visit the last window of each recording when the stride steps over it, so that
        every frame is covered.
    num_replicas, rank, drop_last
        Distributed sharding (see the module documentation).
    """

    def __init__(
        self,
        dataset: WindowDataset,
        stride: int | None = None,
        *,
        recordings: Sequence[int] | None = None,
        cover_end: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__(0, num_replicas, rank, drop_last)
        self.dataset = dataset
        self.stride = dataset.window if stride is None else int(stride)
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        parts = []
        for rec in _recording_selection(dataset, recordings):
            count = int(dataset.window_counts[rec])
            starts = np.arange(0, count, self.stride, dtype=np.int64)
            if cover_end and starts[-1] != count - 1:
                starts = np.append(starts, count - 1)
            parts.append(dataset._offsets[rec] + starts)
        self._flat = np.concatenate(parts)

    def _total(self) -> int:
        return int(self._flat.size)

    def epoch_indices(self) -> np.ndarray:
        """Return every window in order (all ranks)."""
        return self._flat
