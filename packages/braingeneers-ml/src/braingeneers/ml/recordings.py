"""How the datasets name, open and cache recordings, one set of open handles per process.

A dataset never pickles or shares an open file: it holds *openers* (picklable recipes such as
:class:`RecordingRef`) plus the geometry read once at construction, and each process (the main
one, every DataLoader worker) opens its own handles on first use and keeps them for later items.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["RecordingLike", "RecordingRef", "RecordingShape"]

log = logging.getLogger(__name__)


@runtime_checkable
class RecordingLike(Protocol):
    """What the datasets need from a recording (``braingeneers.data`` ``Recording`` has it)."""

    @property
    def num_channels(self) -> int: ...  # noqa: D102

    @property
    def num_frames(self) -> int: ...  # noqa: D102

    @property
    def sample_rate(self) -> float: ...  # noqa: D102

    @property
    def channel_ids(self) -> np.ndarray: ...  # noqa: D102

    def read(  # noqa: D102
        self,
        start: int = 0,
        stop: int | None = None,
        channels: Any = None,
        units: str = "uV",
        dtype: Any = None,
    ) -> np.ndarray: ...

    def close(self) -> None: ...  # noqa: D102


@dataclass(frozen=True)
class RecordingRef:
    """A picklable recipe for one experiment of a batch: ``open_experiment(metadata, experiment)``.

    Parameters
    ----------
    metadata
        A batch UUID, a path/URI of a batch folder or ``metadata.json``, or a loaded
        ``BatchMetadata``. Datasets call :meth:`resolved` once so that workers receive the loaded
        metadata instead of fetching ``metadata.json`` again.
    experiment
        Experiment name or index within the batch.
    prefer_zarr
        Read the experiment's Zarr copy (``braingeneers.data.zarr_convert``, at its default
        location ``<batch>/derived/zarr/<experiment>.zarr``) instead of the original files when
        a complete copy exists. Checked once, by :meth:`resolved`.
    """

    metadata: Any
    experiment: str | int
    prefer_zarr: bool = True

    def resolved(self) -> RecordingRef:
        """Return a ref holding the loaded ``BatchMetadata``, switched to a complete Zarr copy.

        Loads ``metadata.json`` (once) unless the ref already holds the loaded metadata.
        """
        import dataclasses

        from braingeneers.data.metadata import BatchMetadata, load_metadata

        batch = self.metadata if isinstance(self.metadata, BatchMetadata) else load_metadata(self.metadata)
        name = batch.experiment(self.experiment).name
        if self.prefer_zarr:
            zarr_batch = _with_zarr_copy(batch, name)
            if zarr_batch is not None:
                return dataclasses.replace(self, metadata=zarr_batch, experiment=name, prefer_zarr=False)
        return dataclasses.replace(self, metadata=batch, experiment=name, prefer_zarr=False)

    def open(self) -> RecordingLike:
        """Open the recording (``braingeneers.data.open_experiment``)."""
        from braingeneers.data.recording import open_experiment

        recording: RecordingLike = open_experiment(self.metadata, self.experiment)
        return recording

    def __call__(self) -> RecordingLike:
        """Open the recording; a ref is an opener."""
        return self.open()


Opener = Callable[[], RecordingLike]


def _with_zarr_copy(batch: Any, name: str) -> Any:
    """Return ``batch`` with experiment ``name`` reading its complete Zarr copy, or ``None``."""
    import dataclasses

    from braingeneers.core.errors import BraingeneersError

    try:
        from braingeneers.data.zarr_convert import zarr_copy, zarr_experiment

        found = zarr_copy(batch, name)
    except (ImportError, BraingeneersError) as exc:
        log.debug("no Zarr copy of %s/%s: %s", batch.uuid, name, exc)
        return None
    if found is None or found[1] != "complete":
        return None
    experiment = batch.experiment(name)
    log.info("reading %s/%s from its Zarr copy %s", batch.uuid, name, found[0])
    switched = zarr_experiment(experiment, found[0], experiment.num_frames)
    return dataclasses.replace(batch, ephys_experiments={**batch.ephys_experiments, name: switched})


def as_opener(recording: Any) -> tuple[Opener, RecordingLike | None]:
    """Turn what a user passed into ``(picklable opener, already-open recording or None)``.

    Accepted: a :class:`RecordingRef`, a ``(metadata, experiment)`` tuple, a zero-argument
    callable returning a recording, or an open ``Recording`` (reopened in other processes from
    the batch metadata and experiment it was opened with).
    """
    if isinstance(recording, RecordingRef):
        return recording.resolved(), None
    if isinstance(recording, tuple) and len(recording) == 2:
        return RecordingRef(*recording).resolved(), None
    if isinstance(recording, RecordingLike):
        batch = getattr(recording, "batch", None)
        experiment = getattr(recording, "experiment", None)
        if batch is None or experiment is None:
            raise TypeError(
                f"cannot reopen {recording!r} in DataLoader workers: it does not say which batch and "
                "experiment it reads; pass RecordingRef(metadata, experiment) or a picklable "
                "zero-argument callable that opens it"
            )
        name = getattr(experiment, "name", experiment)
        # Workers read what the user opened (no switch to a Zarr copy).
        return RecordingRef(batch, name, prefer_zarr=False), recording
    if callable(recording):
        return recording, None
    raise TypeError(
        f"expected a Recording, RecordingRef, (metadata, experiment) tuple or a callable opening a "
        f"recording, got {type(recording).__name__}"
    )


@dataclass(frozen=True)
class RecordingShape:
    """Geometry of one recording, read once at dataset construction."""

    num_channels: int
    num_frames: int
    sample_rate: float
    channel_ids: np.ndarray
    #: µV per count and the count offset per channel, when the recording says (``channel_info``).
    gain_uv: np.ndarray | None = None
    offset: np.ndarray | None = None


class HandleCache:
    """Open recordings lazily, once per process, and never use a handle across ``fork``.

    The cache remembers the process id that opened its handles; when used from another process
    (a forked DataLoader worker) it forgets them without closing (closing would touch the
    parent's files) and opens its own. Pickling (spawned workers) drops the handles.
    """

    def __init__(self, openers: Sequence[Opener], opened: Sequence[RecordingLike | None] = ()) -> None:
        self.openers = list(openers)
        self._pid = os.getpid()
        self._handles: dict[int, RecordingLike] = {i: r for i, r in enumerate(opened) if r is not None}
        self._inherited: list[RecordingLike] = []

    def get(self, index: int) -> RecordingLike:
        """Return the open recording ``index`` for this process, opening it on first use."""
        pid = os.getpid()
        if pid != self._pid:
            # Keep references so the garbage collector does not close the parent's files here.
            self._inherited.extend(self._handles.values())
            self._handles = {}
            self._pid = pid
        handle = self._handles.get(index)
        if handle is None:
            log.debug("process %d opens recording %d", pid, index)
            handle = self.openers[index]()
            self._handles[index] = handle
        return handle

    def close(self) -> None:
        """Close the handles this process opened."""
        if os.getpid() == self._pid:
            for handle in self._handles.values():
                handle.close()
        self._handles = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"openers": self.openers}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.openers = state["openers"]
        self._pid = os.getpid()
        self._handles = {}
        self._inherited = []


def open_and_measure(
    openers: Sequence[Opener], opened: Sequence[RecordingLike | None]
) -> tuple[HandleCache, list[RecordingShape]]:
    """Open every recording once in this process and read its geometry."""
    cache = HandleCache(openers, opened)
    shapes = []
    for i in range(len(openers)):
        rec = cache.get(i)
        info = getattr(rec, "channel_info", None)
        gain, offset = getattr(info, "gain_uv", None), getattr(info, "offset", None)
        shapes.append(
            RecordingShape(
                num_channels=int(rec.num_channels),
                num_frames=int(rec.num_frames),
                sample_rate=float(rec.sample_rate),
                channel_ids=np.asarray(rec.channel_ids),
                gain_uv=None if gain is None else np.asarray(gain, dtype=np.float64),
                offset=None if offset is None else np.asarray(offset, dtype=np.float64),
            )
        )
    return cache, shapes


def normalise_channels(channels: Any, shapes: Sequence[RecordingShape], what: str) -> np.ndarray | None:
    """Validate a channel selection (indices) against every recording; ``None`` means all.

    Raises ``IndexError`` naming the recording when an index is out of range, and ``ValueError``
    when recordings have different channel counts but no selection is given.
    """
    if channels is None:
        counts = {s.num_channels for s in shapes}
        if len(counts) > 1:
            raise ValueError(
                f"{what}: the recordings have different channel counts {sorted(counts)}; pass channels= "
                "(indices present in every recording) so that every window has the same shape"
            )
        return None
    if isinstance(channels, slice):
        n = min(s.num_channels for s in shapes)
        selection = np.arange(n)[channels]
    else:
        selection = np.atleast_1d(np.asarray(channels))
    if selection.ndim != 1 or not np.issubdtype(selection.dtype, np.integer):
        raise TypeError(f"{what}: channels must be integer indices, got {channels!r}")
    if selection.size == 0:
        raise ValueError(f"{what}: channels selects no channel")
    selection = selection.astype(np.int64)
    for i, shape in enumerate(shapes):
        bad = selection[(selection < 0) | (selection >= shape.num_channels)]
        if bad.size:
            raise IndexError(
                f"{what}: channel indices {bad[:8].tolist()} are out of range for recording {i} "
                f"with {shape.num_channels} channels (valid 0..{shape.num_channels - 1})"
            )
    return selection
