"""MEArec simulated recordings (``recordings_*.h5``).

Layout: ``recordings`` (float32 µV, or int16 with attribute ``gain_to_uV``),
``channel_positions`` ``[channels, 3]`` µm, ``info/recordings/fs``, root
attribute ``mearec_version``. Files written by MEArec < 1.5.0 store
``recordings`` as ``[channels, samples]``; 1.5.0 and later as
``[samples, channels]``. Files without a version are oriented by the number of
channel positions.

Units: ``raw`` is the stored value; µV = raw · ``gain_to_uV`` (1 for float files).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import ChannelInfo
from braingeneers.data.formats._hdf5 import (
    ChunkIndex,
    Hdf5Reader,
    open_h5,
    probe_h5,
    read_columns_from,
    read_rows_from,
    scalar,
    text,
)

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = ["HARDWARE", "MearecReader", "generate_metadata", "is_channels_first", "plane_positions"]

HARDWARE = "MEArec Simulated Recording"


def _version(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    parts = []
    for piece in text(value).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def is_channels_first(h5: Any, name: str) -> bool:
    """Return whether ``recordings`` is ``[channels, samples]`` (MEArec < 1.5.0) rather than the reverse."""
    shape = h5["recordings"].shape
    if len(shape) != 2:
        raise FormatError(f"{name}: 'recordings' should be 2-D, not shape {shape}")
    version = _version(h5.attrs.get("mearec_version"))
    if version is not None:
        return version < (1, 5, 0)
    if "channel_positions" in h5:
        n = int(h5["channel_positions"].shape[0])
        if shape[0] == n and shape[1] != n:
            return True
        if shape[1] == n:
            return False
    raise FormatError(f"{name}: no 'mearec_version' and no 'channel_positions' to orient 'recordings' by")


def plane_positions(positions: np.ndarray) -> np.ndarray:
    """Return the two in-plane coordinates of MEArec 3-D positions (dropping a constant axis, else z)."""
    xyz = np.asarray(positions, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] < 2:
        raise FormatError(f"channel_positions should be [channels, 2 or 3], not {xyz.shape}")
    if xyz.shape[1] == 2:
        return xyz
    spread = np.ptp(xyz, axis=0) if len(xyz) else np.zeros(3)
    flat = int(np.argmin(spread)) if len(xyz) > 1 and spread.min() == 0 else 2
    keep = [axis for axis in range(3) if axis != flat]
    return xyz[:, keep]


def _sample_rate(h5: Any) -> float | None:
    for path in ("info/recordings/fs",):
        value = scalar(h5, path)
        if value is not None:
            return float(text(value)) if isinstance(value, (bytes, str, np.bytes_)) else float(value)
    if "info/recordings" in h5 and "fs" in h5["info/recordings"].attrs:
        return float(h5["info/recordings"].attrs["fs"])
    return None


class MearecReader(Hdf5Reader):
    """Reader of one MEArec ``recordings_*.h5`` file."""

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        self._h5 = open_h5(source, "MEArec recording")
        try:
            name = source.uri
            if "recordings" not in self._h5:
                raise FormatError(f"{name}: no 'recordings' dataset; not a MEArec recording")
            self._data = self._h5["recordings"]
            self.channels_first = is_channels_first(self._h5, name)
            shape = self._data.shape
            self.num_channels = int(shape[0] if self.channels_first else shape[1])
            self.num_frames = int(shape[1] if self.channels_first else shape[0])
            rate = _sample_rate(self._h5)
            self.sample_rate = float(rate) if rate is not None else float(experiment.sample_rate)
            self.raw_dtype = np.dtype(self._data.dtype)
            self._index: ChunkIndex | None = None
            self.check_num_frames(self.num_frames)
        except BaseException:
            self._h5.close()
            raise

    def channel_info(self) -> ChannelInfo:
        """Return ids ``0..n-1``, gain ``gain_to_uV`` (1 for float data), positions in the array's plane."""
        gain = float(self._data.attrs.get("gain_to_uV", 1.0))
        positions = None
        if "channel_positions" in self._h5:
            positions = plane_positions(self._h5["channel_positions"][()])
        return ChannelInfo.uniform(self.num_channels, gain, 0.0, positions=positions)

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of the given channels, ``[channels, frames]``."""
        if stop <= start or not len(channels):
            return np.empty((len(channels), stop - start), dtype=self.raw_dtype)
        try:
            if self.source.local_path is None and self._index is None:
                self._index = ChunkIndex(self._data)
            if self.channels_first:
                return read_rows_from(self.source, self._index, self._data, channels, start, stop)
            return read_columns_from(self.source, self._index, self._data, channels, start, stop)
        except OSError as exc:
            raise FormatError(f"{self.source.uri}: cannot read 'recordings' ({exc})") from None

    @classmethod
    def probe(cls, source: ByteSource) -> bool:
        """Return whether the file is HDF5 with a MEArec ``recordings`` dataset."""
        return probe_h5(
            source,
            lambda h5: "recordings" in h5 and ("channel_positions" in h5 or "mearec_version" in h5.attrs),
        )


def generate_metadata(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    uuid: str | None = None,
    experiment_prefix: str = "",
) -> BatchMetadata:
    """Build the metadata of MEArec files: ``experiment0``, ``experiment1``, ... one file (block) each.

    Parameters
    ----------
    files
        ``recordings_*.h5`` files (local paths or ``s3://`` URIs), or a folder/prefix searched recursively.
    uuid
        The batch UUID; by default the name of the folder holding ``original/``.
    experiment_prefix
        Prepended to every experiment name.
    """
    from braingeneers.data.generators import find_batch_files, relative_path
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import open_source

    def is_recording(uri: str) -> bool:
        return uri.rsplit("/", 1)[-1].startswith("recordings_") and uri.endswith((".h5", ".hdf5"))

    uris, folder, uuid = find_batch_files(
        files, is_recording, "MEArec recordings_*.h5 files", uuid, "mearec-batch"
    )
    experiments: dict[str, ExperimentMetadata] = {}
    for index, uri in enumerate(uris):
        source = open_source(uri)
        with open_h5(source, "MEArec recording") as h5:
            if "recordings" not in h5:
                raise FormatError(f"{uri}: no 'recordings' dataset; not a MEArec recording")
            first = is_channels_first(h5, uri)
            shape = h5["recordings"].shape
            rate = _sample_rate(h5)
            if rate is None:
                raise FormatError(f"{uri}: no info/recordings/fs; cannot tell the sample rate")
            gain = float(h5["recordings"].attrs.get("gain_to_uV", 1.0))
            version = h5.attrs.get("mearec_version")
        source.close()
        name = f"{experiment_prefix}experiment{index}"
        extra: dict[str, Any] = {}
        if version is not None:
            extra["version"] = text(version)
        experiments[name] = ExperimentMetadata(
            name=name,
            hardware=HARDWARE,
            num_channels=int(shape[0] if first else shape[1]),
            sample_rate=rate,
            voltage_scaling_factor=gain,
            units="µV",
            blocks=[
                BlockMetadata(
                    path=relative_path(folder, uri), num_frames=int(shape[1] if first else shape[0])
                )
            ],
            extra=extra,
        )
    return BatchMetadata(uuid=uuid, ephys_experiments=experiments, source=folder or None)
