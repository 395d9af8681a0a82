"""The ``Recording`` API: one experiment as a lazy ``[channels, frames]`` array over its blocks.

``open_experiment(uuid_or_metadata, experiment)`` returns a :class:`Recording`
that opens each block's reader on first use and keeps it (file handles, HDF5
chunk caches and S3 range caches are reused across reads). Reads spanning
block boundaries are assembled exactly; channels can be requested in any
order, with duplicates, as an int, a list, a slice or an array.

Units: ``units="raw"`` returns the file's integer counts; ``units="uV"``
returns ``(raw - offset) * gain_uv`` per channel with the file's own scaling
(see each format's page). This differs from the legacy
``datasets_electrophysiology.load_data``, whose float output is
``raw * voltage_scaling_factor`` from the metadata.
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats import BlockReader, ChannelInfo, reader_class
from braingeneers.data.metadata import BatchMetadata, ExperimentMetadata, load_metadata
from braingeneers.data.sources import open_source

__all__ = ["Recording", "open_experiment"]

logger = logging.getLogger(__name__)

_FLOAT16_MAX = float(np.finfo(np.float16).max)
_FLOAT16_TINY = float(np.finfo(np.float16).tiny)


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer (int or numpy integer), not {value!r}") from None


def _check_float16(values: np.ndarray) -> None:
    """Raise if float32 ``values`` would overflow or silently underflow in float16."""
    if not values.size:
        return
    magnitude = np.abs(values)
    biggest = float(magnitude.max())
    if biggest > _FLOAT16_MAX:
        raise ValueError(f"values up to {biggest:g} overflow float16 (max {_FLOAT16_MAX:g}); use float32")
    tiny = (magnitude > 0) & (magnitude < _FLOAT16_TINY)
    if tiny.any():
        raise ValueError(
            f"values as small as {float(magnitude[tiny].min()):g} underflow float16 "
            f"(smallest normal {_FLOAT16_TINY:g}); use float32, or units='uV' instead of volts"
        )


class Recording:
    """One experiment of a batch as a lazy ``[channels, frames]`` array.

    Use :func:`open_experiment` to get one. Channel indices are positions
    ``0..num_channels-1``; :attr:`channel_ids` gives the file's channel numbers.

    Parameters
    ----------
    batch
        The batch metadata.
    experiment
        The experiment (of ``batch``) to read.
    """

    def __init__(self, batch: BatchMetadata, experiment: ExperimentMetadata) -> None:
        self.batch = batch
        self.experiment = experiment
        self._bounds = np.cumsum([0] + [int(b.num_frames) for b in experiment.blocks], dtype=np.int64)
        self._readers: list[BlockReader | None] = [None] * len(experiment.blocks)
        self._info: ChannelInfo | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"Recording(batch={self.batch.uuid!r}, experiment={self.experiment.name!r}, "
            f"blocks={len(self.experiment.blocks)}, frames={self.num_frames})"
        )

    # -- readers -------------------------------------------------------------------------------------------

    def reader(self, index: int) -> BlockReader:
        """Return the (open, cached) reader of block ``index``."""
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        existing = self._readers[index]
        if existing is not None:
            return existing
        block = self.experiment.blocks[index]
        cls = reader_class(self.experiment, block)
        source = open_source(self.batch.block_uri(block))
        try:
            reader = cls(source, self.batch, self.experiment, block)
        except BaseException:
            source.close()
            raise
        first = next((r for r in self._readers if r is not None), None)
        if first is not None and reader.num_channels != first.num_channels:
            reader.close()
            raise FormatError(
                f"{source.uri}: block {index} of experiment {self.experiment.name!r} has "
                f"{reader.num_channels} channels but block 0 has {first.num_channels}"
            )
        self._readers[index] = reader
        return reader

    def _first_reader(self) -> BlockReader | None:
        for index, block in enumerate(self.experiment.blocks):
            if block.num_frames > 0 or index == len(self.experiment.blocks) - 1:
                return self.reader(index)
        return None

    # -- properties ----------------------------------------------------------------------------------------

    @property
    def num_channels(self) -> int:
        """Number of channels (from the file; the metadata's when the experiment has no blocks)."""
        reader = self._first_reader()
        return reader.num_channels if reader is not None else int(self.experiment.num_channels)

    @property
    def num_frames(self) -> int:
        """Total frames over all blocks."""
        return int(self._bounds[-1])

    @property
    def sample_rate(self) -> float:
        """Frames per second (from the file where it says, else the metadata)."""
        reader = self._first_reader()
        return float(reader.sample_rate) if reader is not None else float(self.experiment.sample_rate)

    @property
    def dtype(self) -> np.dtype:
        """The raw (``units="raw"``) dtype."""
        reader = self._first_reader()
        return np.dtype(reader.raw_dtype) if reader is not None else np.dtype(np.int16)

    @property
    def channel_info(self) -> ChannelInfo:
        """Channel ids, gains, offsets and positions (of the first block)."""
        if self._info is None:
            reader = self._first_reader()
            if reader is None:
                n = int(self.experiment.num_channels)
                self._info = ChannelInfo.uniform(n, float(self.experiment.voltage_scaling_factor))
            else:
                self._info = reader.channel_info()
        return self._info

    @property
    def channel_ids(self) -> np.ndarray:
        """The file's channel numbers, int64 ``[num_channels]``."""
        return self.channel_info.ids

    @property
    def positions(self) -> np.ndarray | None:
        """Electrode x, y in µm, float64 ``[num_channels, 2]`` (NaN where unknown), or ``None``."""
        return self.channel_info.positions

    @property
    def gain_uv(self) -> np.ndarray:
        """µV per count per channel."""
        return self.channel_info.gain_uv

    @property
    def shape(self) -> tuple[int, int]:
        """``(num_channels, num_frames)``."""
        return (self.num_channels, self.num_frames)

    def __len__(self) -> int:
        return self.num_channels

    # -- argument parsing ----------------------------------------------------------------------------------

    def channel_indices(self, channels: Any) -> np.ndarray:
        """Turn a channel request (None, int, slice, list, array) into int64 indices, validated."""
        n = self.num_channels
        if channels is None:
            return np.arange(n, dtype=np.int64)
        if isinstance(channels, slice):
            return np.arange(n, dtype=np.int64)[channels]
        if isinstance(channels, (int, np.integer)) and not isinstance(channels, (bool, np.bool_)):
            idx = np.array([int(channels)], dtype=np.int64)
        else:
            array = np.asarray(channels)
            if array.dtype == bool:
                if array.shape != (n,):
                    raise IndexError(f"a boolean channel mask must have {n} entries, not {array.shape}")
                return np.flatnonzero(array).astype(np.int64)
            if array.size == 0:
                return np.zeros(0, dtype=np.int64)
            if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
                raise TypeError(
                    f"channels must be integers (int, list, slice or 1-D array), not {channels!r}"
                )
            idx = array.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = int(idx[(idx < 0) | (idx >= n)][0])
            raise IndexError(f"channel {bad} is out of range; valid channels are 0..{n - 1} ({n} channels)")
        return idx

    def _frames(self, start: Any, stop: Any) -> tuple[int, int]:
        total = self.num_frames
        first = _as_int(start, "start")
        last = total if stop is None else _as_int(stop, "stop")
        if first < 0 or last > total or first > last:
            raise IndexError(
                f"frames [{first}, {last}) are out of range; valid frames are 0..{total} "
                f"(experiment {self.experiment.name!r} has {total} frames)"
            )
        return first, last

    # -- reading -------------------------------------------------------------------------------------------

    def read_raw_sorted(self, start: int, stop: int, unique: np.ndarray) -> np.ndarray:
        """Return raw counts of sorted unique channel indices over frames ``[start, stop)``, across blocks."""
        length = stop - start
        first = int(np.searchsorted(self._bounds, start, side="right")) - 1
        pieces: list[tuple[int, np.ndarray]] = []
        position = start
        index = max(first, 0)
        while position < stop:
            block_start, block_stop = int(self._bounds[index]), int(self._bounds[index + 1])
            if block_stop <= position:
                index += 1
                continue
            lo, hi = position - block_start, min(stop, block_stop) - block_start
            reader = self.reader(index)
            part = reader.read_raw(lo, hi, unique)
            if part.shape != (len(unique), hi - lo):
                raise FormatError(
                    f"{reader.source.uri}: reader returned shape {part.shape} for frames [{lo}, {hi}) of "
                    f"{len(unique)} channels; the file is shorter than its metadata says"
                )
            pieces.append((position - start, part))
            position += hi - lo
            index += 1
        if len(pieces) == 1:
            return pieces[0][1]
        dtype = pieces[0][1].dtype if pieces else self.dtype
        out = np.empty((len(unique), length), dtype=dtype)
        for offset, part in pieces:
            out[:, offset : offset + part.shape[1]] = part
        return out

    def read(  # noqa: PLR0912 (argument checks and the three output kinds)
        self,
        start: Any = 0,
        stop: Any = None,
        channels: Any = None,
        units: str = "uV",
        dtype: Any = None,
    ) -> np.ndarray:
        """Return frames ``[start, stop)`` of the requested channels, shaped ``[channels, frames]``.

        Parameters
        ----------
        start, stop
            Frame range (any integer type); ``stop=None`` reads to the end.
        channels
            ``None`` (all), an int, a list/array of indices (any order, duplicates
            allowed; output rows follow the request) or a slice.
        units
            ``"uV"``: ``(raw - offset) * gain_uv``; ``"raw"``: the file's integer counts.
        dtype
            Output dtype (default float32 for µV, the raw dtype for raw). float16
            is computed in float32 and refused with ``ValueError`` if it would
            overflow or underflow.

        Raises
        ------
        IndexError
            Frames or channels out of range (the message gives the valid range).
        ~braingeneers.core.errors.FormatError
            A file is missing data its metadata promises, or is unreadable.
        """
        if units not in ("uV", "µV", "raw"):
            raise ValueError(f"units must be 'uV' or 'raw', not {units!r}")
        first, last = self._frames(start, stop)
        idx = self.channel_indices(channels)
        unique, inverse = np.unique(idx, return_inverse=True)
        raw = self.read_raw_sorted(first, last, unique)
        if not (len(unique) == len(idx) and np.array_equal(unique, idx)):
            raw = raw[inverse.reshape(-1)]
        if units == "raw":
            target = raw.dtype if dtype is None else np.dtype(dtype)
            if target == raw.dtype:
                return raw
            if np.issubdtype(target, np.integer) and raw.size:
                limits = np.iinfo(target)
                if raw.min() < limits.min or raw.max() > limits.max:
                    raise ValueError(f"raw counts {raw.min()}..{raw.max()} do not fit {target}")
            if target == np.float16:
                _check_float16(raw.astype(np.float32))
            return raw.astype(target)
        target = np.dtype(np.float32 if dtype is None else dtype)
        if not np.issubdtype(target, np.floating):
            raise ValueError(f"µV output needs a float dtype, not {target}; use units='raw' for counts")
        work = np.float64 if target == np.float64 else np.float32
        info = self.channel_info
        gain, offset = info.gain_uv[idx], info.offset[idx]
        out: np.ndarray = raw.astype(work)
        if len(idx) and np.all(offset == offset[0]):
            if offset[0]:
                out -= work(offset[0])
        else:
            out -= offset.astype(work)[:, None]
        if len(idx) and np.all(gain == gain[0]):
            out *= work(gain[0])
        else:
            out *= gain.astype(work)[:, None]
        if target == np.float16:
            _check_float16(out)
        return out if out.dtype == target else out.astype(target)

    def __getitem__(self, key: Any) -> np.ndarray:
        """Numpy-style ``rec[channels, start:stop]`` in µV (float32); an int channel gives a 1-D row."""
        if isinstance(key, tuple) and len(key) != 2:
            raise IndexError("index as rec[channels, frames]")
        channels, frames = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(frames, slice):
            step = 1 if frames.step is None else _as_int(frames.step, "step")
            if step < 1:
                raise IndexError("frame slices need a positive step")
            start = 0 if frames.start is None else frames.start
            data = self.read(start, frames.stop, channels)
            data = data[:, ::step] if step != 1 else data
        else:
            frame = _as_int(frames, "frame")
            data = self.read(frame, frame + 1, channels)[:, 0]
        single = isinstance(channels, (int, np.integer)) and not isinstance(channels, (bool, np.bool_))
        return data[0] if single else data

    def iter_chunks(
        self, frames: int, channels: Any = None, units: str = "uV", dtype: Any = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start_frame, data)`` for chunks of ``frames`` frames (the last may be shorter)."""
        step = _as_int(frames, "frames")
        if step < 1:
            raise ValueError(f"chunk size must be >= 1 frame, not {step}")
        idx = self.channel_indices(channels)
        for start in range(0, self.num_frames, step):
            yield start, self.read(start, min(start + step, self.num_frames), idx, units=units, dtype=dtype)

    def to_spikeinterface(self) -> Any:
        """Return a lazy SpikeInterface ``BaseRecording`` over this recording (needs ``spikeinterface``)."""
        try:
            from braingeneers.data._spikeinterface import as_spikeinterface
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"to_spikeinterface() needs SpikeInterface: pip install spikeinterface ({exc})"
            ) from exc
        return as_spikeinterface(self)

    # -- lifetime ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every open block reader."""
        for index, reader in enumerate(self._readers):
            if reader is not None:
                reader.close()
                self._readers[index] = None
        self._closed = True

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_experiment(
    metadata_or_uuid: BatchMetadata | dict[str, Any] | str | os.PathLike[str], experiment: str | int
) -> Recording:
    """Open one experiment of a batch as a :class:`Recording`.

    Parameters
    ----------
    metadata_or_uuid
        A :class:`~braingeneers.data.metadata.BatchMetadata`, a parsed
        ``metadata.json`` dict, a batch UUID, or a local batch folder.
    experiment
        The experiment's name, or its index in file order (any integer type).
    """
    if isinstance(metadata_or_uuid, BatchMetadata):
        batch = metadata_or_uuid
    elif isinstance(metadata_or_uuid, dict):
        batch = BatchMetadata.from_dict(metadata_or_uuid)
    else:
        batch = load_metadata(metadata_or_uuid)
    return Recording(batch, batch.experiment(experiment))
