"""NWB (HDF5) ElectricalSeries recordings, read with h5py only (pynwb is not needed).

Layout read: ``/acquisition/<series>`` with ``neurodata_type`` ElectricalSeries:
``data`` ``[time, electrodes]`` (the NWB standard; ``[electrodes, time]`` files
are recognised by the electrode count), attributes ``conversion`` (volts per
stored unit) and ``offset`` (volts), optional ``channel_conversion``
``[electrodes]``, ``starting_time`` with attribute ``rate`` (or ``timestamps``),
and ``electrodes``: row indices into ``/general/extracellular_ephys/electrodes``
(whose ``id`` gives the channel ids and ``rel_x``/``rel_y`` or ``x``/``y`` the
positions).

Units: volts = data · conversion · channel_conversion + offset, so
µV = (raw - offset_counts) * gain_uv with gain_uv = conversion * channel_conversion * 1e6
and offset_counts = -offset / (conversion * channel_conversion).

Choose the series of a file with several with ``nwb_electrical_series`` (its
name under ``/acquisition``) in the block's or experiment's metadata.
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
    text,
)

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = ["HARDWARE", "NwbReader", "electrical_series", "generate_metadata"]

HARDWARE = "NeurodataWithoutBorders"
ELECTRODES_TABLE = "general/extracellular_ephys/electrodes"


def electrical_series(h5: Any) -> list[str]:
    """Return the names of the ElectricalSeries under ``/acquisition``."""
    if "acquisition" not in h5:
        return []
    names = []
    for name, item in h5["acquisition"].items():
        kind = item.attrs.get("neurodata_type") if hasattr(item, "attrs") else None
        if kind is not None and text(kind) == "ElectricalSeries" and "data" in item:
            names.append(name)
    return names


def _choose(h5: Any, name: str, wanted: Any) -> str:
    found = electrical_series(h5)
    if wanted is not None:
        if str(wanted) not in found:
            raise FormatError(
                f"{name}: no ElectricalSeries {wanted!r} in /acquisition; found: {found or 'none'}"
            )
        return str(wanted)
    if len(found) == 1:
        return found[0]
    if not found:
        raise FormatError(
            f"{name}: no ElectricalSeries under /acquisition; not an NWB extracellular recording"
        )
    raise FormatError(
        f"{name}: several ElectricalSeries ({', '.join(found)}); set 'nwb_electrical_series' in the block "
        "or experiment metadata"
    )


class _Series:
    """The geometry of one ElectricalSeries, shared by the reader and the metadata generator."""

    def __init__(self, h5: Any, name: str, series: str) -> None:
        group = h5[f"acquisition/{series}"]
        self.group = group
        self.data = group["data"]
        if self.data.ndim != 2:
            raise FormatError(f"{name}: /acquisition/{series}/data should be 2-D, not {self.data.shape}")
        self.rows = np.asarray(group["electrodes"][()], dtype=np.int64) if "electrodes" in group else None
        n_electrodes = None if self.rows is None else len(self.rows)
        shape = self.data.shape
        self.channels_first = (
            n_electrodes is not None and shape[0] == n_electrodes and shape[1] != n_electrodes
        )
        self.num_channels = int(shape[0] if self.channels_first else shape[1])
        self.num_frames = int(shape[1] if self.channels_first else shape[0])
        if "starting_time" in group and "rate" in group["starting_time"].attrs:
            self.rate = float(group["starting_time"].attrs["rate"])
        elif "timestamps" in group and len(group["timestamps"]) > 1:
            stamps = np.asarray(group["timestamps"][: min(len(group["timestamps"]), 10001)], dtype=np.float64)
            self.rate = float(1.0 / np.median(np.diff(stamps)))
        else:
            raise FormatError(f"{name}: /acquisition/{series} has neither starting_time.rate nor timestamps")


class NwbReader(Hdf5Reader):
    """Reader of one ElectricalSeries of an NWB (HDF5) file."""

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        self._h5 = open_h5(source, "NWB file")
        try:
            wanted = block.extra.get("nwb_electrical_series", experiment.extra.get("nwb_electrical_series"))
            self.series_name = _choose(self._h5, source.uri, wanted)
            self._series = _Series(self._h5, source.uri, self.series_name)
            self.num_channels = self._series.num_channels
            self.num_frames = self._series.num_frames
            self.sample_rate = self._series.rate
            self.raw_dtype = np.dtype(self._series.data.dtype)
            self._index: ChunkIndex | None = None
            self.check_num_frames(self.num_frames)
        except BaseException:
            self._h5.close()
            raise

    def channel_info(self) -> ChannelInfo:
        """Return electrode ids, gains (``conversion`` x ``channel_conversion``), offsets and positions."""
        series, n = self._series, self.num_channels
        conversion = float(series.data.attrs.get("conversion", 1.0))
        offset_v = float(series.data.attrs.get("offset", 0.0))
        per_channel = np.ones(n)
        if "channel_conversion" in series.group:
            per_channel = np.asarray(series.group["channel_conversion"][()], dtype=np.float64)
            if per_channel.shape != (n,):
                raise FormatError(
                    f"{self.source.uri}: channel_conversion has {per_channel.shape}, not ({n},)"
                )
        volts_per_count = conversion * per_channel
        ids = np.arange(n, dtype=np.int64)
        positions = None
        table_path = ELECTRODES_TABLE
        if series.rows is not None and table_path in self._h5:
            table = self._h5[table_path]
            rows = series.rows
            if "id" in table:
                ids = np.asarray(table["id"][()], dtype=np.int64)[rows]
            for x_name, y_name in (("rel_x", "rel_y"), ("x", "y")):
                if x_name in table and y_name in table:
                    xs = np.asarray(table[x_name][()], dtype=np.float64)[rows]
                    ys = np.asarray(table[y_name][()], dtype=np.float64)[rows]
                    positions = np.stack([xs, ys], axis=1)
                    break
        with np.errstate(divide="ignore", invalid="ignore"):
            offset_counts = np.where(volts_per_count != 0, -offset_v / volts_per_count, 0.0)
        return ChannelInfo(
            ids=ids, gain_uv=volts_per_count * 1e6, offset=offset_counts, positions=positions, electrodes=ids
        )

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of the given channels, ``[channels, frames]``."""
        if stop <= start or not len(channels):
            return np.empty((len(channels), stop - start), dtype=self.raw_dtype)
        data = self._series.data
        try:
            if self.source.local_path is None and self._index is None:
                self._index = ChunkIndex(data)
            if self._series.channels_first:
                return read_rows_from(self.source, self._index, data, channels, start, stop)
            return read_columns_from(self.source, self._index, data, channels, start, stop)
        except OSError as exc:
            raise FormatError(
                f"{self.source.uri}: cannot read /acquisition/{self.series_name}/data ({exc})"
            ) from None

    @classmethod
    def probe(cls, source: ByteSource) -> bool:
        """Return whether the file is HDF5 holding an ElectricalSeries."""
        return probe_h5(source, lambda h5: bool(electrical_series(h5)))


def generate_metadata(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    uuid: str | None = None,
    experiment_prefix: str = "",
) -> BatchMetadata:
    """Build the metadata of NWB files: one experiment per ElectricalSeries (``<file stem>[_<series>]``)."""
    from braingeneers.data.generators import find_batch_files, relative_path
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import open_source

    uris, folder, uuid = find_batch_files(
        files, lambda u: u.endswith(".nwb"), ".nwb files", uuid, "nwb-batch"
    )
    experiments: dict[str, ExperimentMetadata] = {}
    for uri in uris:
        stem = uri.rsplit("/", 1)[-1][: -len(".nwb")]
        source = open_source(uri)
        with open_h5(source, "NWB file") as h5:
            names = electrical_series(h5)
            if not names:
                raise FormatError(f"{uri}: no ElectricalSeries under /acquisition")
            for series_name in names:
                series = _Series(h5, uri, series_name)
                conversion = float(series.data.attrs.get("conversion", 1.0))
                name = experiment_prefix + (stem if len(names) == 1 else f"{stem}_{series_name}")
                block = BlockMetadata(path=relative_path(folder, uri), num_frames=series.num_frames)
                extra: dict[str, Any] = {}
                if len(names) > 1:
                    block.extra["nwb_electrical_series"] = series_name
                experiments[name] = ExperimentMetadata(
                    name=name,
                    hardware=HARDWARE,
                    data_format=HARDWARE,
                    num_channels=series.num_channels,
                    sample_rate=series.rate,
                    voltage_scaling_factor=conversion * 1e6,
                    units="µV",
                    blocks=[block],
                    extra=extra,
                )
        source.close()
    return BatchMetadata(uuid=uuid, ephys_experiments=experiments, source=folder or None)
