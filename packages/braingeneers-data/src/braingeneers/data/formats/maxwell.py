"""Maxwell Biosystems MaxOne/MaxTwo ``.raw.h5`` recordings (legacy and new format).

Layouts read
------------
* Legacy MaxOne (``version`` 20160704): ``sig`` uint16 ``[1028, frames]`` (rows
  0..1023 are hardware channels, 1026/1027 the frame counter), ``mapping``
  (channel, electrode, x, y), ``settings/lsb``; always 20 kHz. Channel index
  ``i`` is hardware channel ``i`` (1024 channels; unrouted ones carry no signal).
* New format (``version`` > 20160704), one stream per recording group, under
  ``data_store/dataNNNN``, ``wells/wellNNN/recNNNN`` or ``recordings/recNNNN/wellNNN``:
  ``groups/routed/raw`` uint16 ``[routed, frames]``, ``settings/{mapping, lsb,
  sampling}``. Channel index ``i`` is routed row ``i``; its id is
  ``groups/routed/channels[i]`` (else the mapping's ``channel`` column).
  MaxTwo files hold one stream per well: choose it with ``maxwell_well`` (and,
  when wells hold several recordings, ``maxwell_recording``) in the block's or
  experiment's metadata.

Units: µV = (raw - 512) * lsb * 1e6 (lsb in volts per count; 3.3 / (1024 * gain) when absent).

Compressed files (HDF5 filter 401, "mxw-data") need Maxwell's decoder plugin;
see :data:`PLUGIN_HELP`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import ChannelInfo
from braingeneers.data.formats._hdf5 import (
    ChunkIndex,
    Hdf5Reader,
    open_h5,
    probe_h5,
    read_rows_from,
    scalar,
)

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = [
    "PLUGIN_HELP",
    "MaxwellReader",
    "MaxwellStream",
    "ensure_plugin_path",
    "generate_metadata",
    "list_streams",
    "read_gpio_events",
    "read_mapping",
    "read_stim_log",
]

logger = logging.getLogger(__name__)

LEGACY_VERSION = 20160704
LEGACY_SAMPLE_RATE = 20000.0
LEGACY_CHANNELS = 1024
ADC_MIDPOINT = 512.0
MAXWELL_FILTER = 401
#: Folder where neo's ``auto_install_maxwell_hdf5_compression_plugin()`` puts the plugin.
NEO_PLUGIN_DIR = Path.home() / "hdf5_plugin_path_maxwell"

#: The install instructions of the filter-401 plugin, part of the ``FormatError`` when it is missing.
PLUGIN_HELP = (
    "this file is compressed with Maxwell's HDF5 filter 401 ('mxw-data'), whose decoder is not installed. "
    "Install it: download Maxwell Biosystems' decompression library for your platform "
    "(libcompression.so on Linux, libcompression.dylib on macOS, compression.dll on Windows; "
    "https://mxw.bio/MxW_Doc_Installing_Decompression_Library_to_load_MaxLab_Live_Recordings) into a folder, "
    "e.g. ~/hdf5_plugin_path_maxwell (neo's auto_install_maxwell_hdf5_compression_plugin() does this), "
    "then add that folder to HDF5_PLUGIN_PATH before starting Python "
    '(export HDF5_PLUGIN_PATH="$HDF5_PLUGIN_PATH:$HOME/hdf5_plugin_path_maxwell"; '
    "';'-separated on Windows). braingeneers also looks in ~/hdf5_plugin_path_maxwell and "
    "$MAXWELL_HDF5_PLUGIN_PATH on its own"
)

_plugin_state = {"checked": False}


def ensure_plugin_path() -> bool:
    """Make the Maxwell filter-401 plugin findable, if it is installed; return whether it is available.

    Folders from ``$MAXWELL_HDF5_PLUGIN_PATH`` and ``~/hdf5_plugin_path_maxwell``
    that exist are appended (never prepended, never replacing) to
    ``HDF5_PLUGIN_PATH`` and to HDF5's plugin search path.
    """
    import h5py

    if not _plugin_state["checked"]:
        _plugin_state["checked"] = True
        current = [p for p in os.environ.get("HDF5_PLUGIN_PATH", "").split(os.pathsep) if p]
        extra = [p for p in os.environ.get("MAXWELL_HDF5_PLUGIN_PATH", "").split(os.pathsep) if p]
        for folder in [*extra, str(NEO_PLUGIN_DIR)]:
            if Path(folder).is_dir() and folder not in current:
                current.append(folder)
                os.environ["HDF5_PLUGIN_PATH"] = os.pathsep.join(current)
                h5py.h5pl.append(folder.encode())
                logger.info("appended %s to the HDF5 plugin path", folder)
    return bool(h5py.h5z.filter_avail(MAXWELL_FILTER))


def _filters(dataset: Any) -> list[int]:
    plist = dataset.id.get_create_plist()
    return [int(plist.get_filter(i)[0]) for i in range(plist.get_nfilters())]


@dataclass(frozen=True)
class MaxwellStream:
    """One recording stream of a Maxwell file.

    Attributes
    ----------
    group
        HDF5 group of the stream (``""`` for the legacy layout).
    well
        Well number (MaxTwo), ``None`` when the file does not say.
    recording
        Recording number, ``None`` for the legacy layout.
    has_raw
        Whether the stream holds continuous data (``groups/routed/raw`` or ``sig``).
    """

    group: str
    well: int | None
    recording: int | None
    has_raw: bool

    @property
    def raw_path(self) -> str:
        """Path of the raw dataset."""
        return "sig" if self.group == "" else f"{self.group}/groups/routed/raw"

    @property
    def settings(self) -> str:
        """Path of the settings group."""
        return "settings" if self.group == "" else f"{self.group}/settings"


def _number(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else -1


def file_version(h5: Any, name: str) -> int:
    """Return the integer ``version`` of an open Maxwell file (``FormatError`` when it is not one)."""
    if "version" not in h5:
        raise FormatError(f"{name}: no 'version' dataset; this is not a Maxwell .raw.h5 file")
    value = scalar(h5, "version")
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return int(text.strip())
    except ValueError:
        raise FormatError(f"{name}: unreadable Maxwell version {text!r}") from None


def list_streams(h5: Any, name: str = "file") -> list[MaxwellStream]:
    """Return the recording streams of an open Maxwell file, in file order."""
    if file_version(h5, name) <= LEGACY_VERSION:
        return [MaxwellStream("", None, None, "sig" in h5)]
    streams: list[MaxwellStream] = []
    if "data_store" in h5:
        for key in sorted(h5["data_store"]):
            group = f"data_store/{key}"
            well = scalar(h5, f"{group}/well_id")
            rec = scalar(h5, f"{group}/recording_id")
            streams.append(
                MaxwellStream(
                    group,
                    None if well is None else int(well),
                    _number(key) if rec is None else int(rec),
                    f"{group}/groups/routed/raw" in h5,
                )
            )
    if "wells" in h5:
        for well in sorted(h5["wells"]):
            for rec in sorted(h5[f"wells/{well}"]):
                group = f"wells/{well}/{rec}"
                streams.append(
                    MaxwellStream(group, _number(well), _number(rec), f"{group}/groups/routed/raw" in h5)
                )
    if "recordings" in h5:
        for rec in sorted(h5["recordings"]):
            for well in sorted(h5[f"recordings/{rec}"]):
                group = f"recordings/{rec}/{well}"
                streams.append(
                    MaxwellStream(group, _number(well), _number(rec), f"{group}/groups/routed/raw" in h5)
                )
    return streams


def _describe(streams: list[MaxwellStream]) -> str:
    return ", ".join(f"{s.group} (well={s.well}, recording={s.recording})" for s in streams) or "none"


def choose_stream(
    streams: list[MaxwellStream], name: str, well: Any = None, recording: Any = None
) -> MaxwellStream:
    """Pick the one stream with continuous data matching ``well``/``recording`` (``None`` = any)."""
    usable = [s for s in streams if s.has_raw]
    if well is not None:
        usable = [s for s in usable if s.well == int(well)]
    if recording is not None:
        usable = [s for s in usable if s.recording == int(recording)]
    if len(usable) == 1:
        return usable[0]
    if not usable:
        raise FormatError(
            f"{name}: no stream with continuous data (groups/routed/raw) matches well={well}, "
            f"recording={recording}; streams in the file: {_describe(streams)}"
        )
    raise FormatError(
        f"{name}: {len(usable)} streams match; set 'maxwell_well' (and 'maxwell_recording') in the block "
        f"or experiment metadata to one of: {_describe(usable)}"
    )


def _open_h5(source: ByteSource) -> Any:
    return open_h5(source, "Maxwell recording")


def _mapping_table(h5: Any, stream: MaxwellStream) -> np.ndarray | None:
    path = "mapping" if stream.group == "" else f"{stream.settings}/mapping"
    if path not in h5:
        return None
    table = np.asarray(h5[path][()])
    names = table.dtype.names or ()
    if not {"channel", "electrode"} <= set(names):
        return None
    return table


def _lsb(h5: Any, stream: MaxwellStream) -> float:
    lsb = scalar(h5, f"{stream.settings}/lsb")
    if lsb is not None:
        return float(lsb)
    gain = scalar(h5, f"{stream.settings}/gain")
    return 3.3 / (1024 * float(gain if gain is not None else 512.0))


class MaxwellReader(Hdf5Reader):
    """Reader of one Maxwell ``.raw.h5`` block (one stream of it)."""

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        self._h5 = _open_h5(source)
        try:
            self._setup()
        except BaseException:
            self._h5.close()
            raise

    def _setup(self) -> None:
        h5, name = self._h5, self.source.uri
        streams = list_streams(h5, name)
        well = self.block.extra.get("maxwell_well", self.experiment.extra.get("maxwell_well"))
        rec = self.block.extra.get("maxwell_recording", self.experiment.extra.get("maxwell_recording"))
        self.stream = choose_stream(streams, name, well, rec)
        self.legacy = self.stream.group == ""
        self._raw = h5[self.stream.raw_path]
        if self._raw.ndim != 2:
            raise FormatError(f"{name}: {self.stream.raw_path} should be 2-D, not shape {self._raw.shape}")
        rows, frames = (int(n) for n in self._raw.shape)
        if self.legacy:
            if rows < LEGACY_CHANNELS:
                raise FormatError(f"{name}: 'sig' has {rows} rows; a legacy Maxwell file has 1028")
            self.num_channels = LEGACY_CHANNELS
            self.sample_rate = LEGACY_SAMPLE_RATE
        else:
            self.num_channels = rows
            rate = scalar(h5, f"{self.stream.settings}/sampling")
            self.sample_rate = float(rate) if rate is not None else float(self.experiment.sample_rate)
        self.num_frames = frames
        self.raw_dtype = np.dtype(self._raw.dtype)
        self.compressed = MAXWELL_FILTER in _filters(self._raw)
        self._index: ChunkIndex | None = None
        self.check_num_frames(frames)

    def channel_info(self) -> ChannelInfo:
        """Return channel ids, gain (lsb·1e6 µV), offset 512, electrode ids and positions."""
        h5 = self._h5
        table = _mapping_table(h5, self.stream)
        n = self.num_channels
        if self.legacy:
            ids = np.arange(n, dtype=np.int64)
        else:
            channels_path = f"{self.stream.group}/groups/routed/channels"
            if channels_path in h5 and len(h5[channels_path]) == n:
                ids = np.asarray(h5[channels_path][()], dtype=np.int64)
            elif table is not None and int((table["channel"] >= 0).sum()) == n:
                ids = np.asarray(table["channel"][table["channel"] >= 0], dtype=np.int64)
            else:
                ids = np.arange(n, dtype=np.int64)
        positions = np.full((n, 2), np.nan)
        electrodes = np.full(n, -1, dtype=np.int64)
        if table is not None:
            lookup = {int(c): i for i, c in enumerate(ids)}
            has_xy = {"x", "y"} <= set(table.dtype.names or ())
            for entry in table:
                row = lookup.get(int(entry["channel"]))
                if row is None or int(entry["channel"]) < 0:
                    continue
                electrodes[row] = int(entry["electrode"])
                if has_xy:
                    positions[row] = (float(entry["x"]), float(entry["y"]))
        gain = _lsb(h5, self.stream) * 1e6
        return ChannelInfo(
            ids=ids,
            gain_uv=np.full(n, gain),
            offset=np.full(n, ADC_MIDPOINT),
            positions=positions,
            electrodes=electrodes,
        )

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of the given channel indices as uint16 counts."""
        if self.compressed and not ensure_plugin_path():
            raise FormatError(f"{self.source.uri}: {PLUGIN_HELP}")
        try:
            if self.source.local_path is None and self._index is None:
                self._index = ChunkIndex(self._raw)
            out = read_rows_from(self.source, self._index, self._raw, channels, start, stop)
        except OSError as exc:
            if self.compressed:
                raise FormatError(f"{self.source.uri}: {PLUGIN_HELP} ({exc})") from None
            raise FormatError(f"{self.source.uri}: cannot read {self.stream.raw_path} ({exc})") from None
        return out

    @classmethod
    def probe(cls, source: ByteSource) -> bool:
        """Return whether the file is HDF5 with a Maxwell ``version`` dataset."""
        return probe_h5(
            source,
            lambda h5: "version" in h5 and any(k in h5 for k in ("sig", "data_store", "wells", "recordings")),
        )


# ----------------------------------------------------------------------------------------------------
# Side files and tables


def _source_of(where: str | os.PathLike[str] | ByteSource) -> ByteSource:
    from braingeneers.data.sources import ByteSource, open_source

    return where if isinstance(where, ByteSource) else open_source(where)


def read_mapping(
    where: str | os.PathLike[str] | ByteSource, well: int | None = None, recording: int | None = None
) -> np.ndarray:
    """Return the electrode mapping of a Maxwell file: a structured array (channel, electrode, x, y).

    Rows with ``channel < 0`` (unused) are dropped. ``well``/``recording`` choose the
    stream of a MaxTwo file.
    """
    source = _source_of(where)
    with _open_h5(source) as h5:
        stream = choose_stream(list_streams(h5, source.uri), source.uri, well, recording)
        table = _mapping_table(h5, stream)
    if table is None:
        raise FormatError(f"{source.uri}: no electrode mapping (mapping / settings/mapping) in the file")
    out = np.zeros(len(table), dtype=[("channel", "<i8"), ("electrode", "<i8"), ("x", "<f8"), ("y", "<f8")])
    for field in out.dtype.names or ():
        if field in (table.dtype.names or ()):
            out[field] = table[field]
        else:
            out[field] = np.nan
    return out[out["channel"] >= 0]


def read_gpio_events(where: str | os.PathLike[str] | ByteSource) -> np.ndarray:
    """Return a legacy file's GPIO/TTL events: structured (frame, bits), frames from recording start.

    The ``bits`` dataset stores absolute frame numbers; the recording's first
    frame number comes from the frame counter rows of ``sig``
    (``sig[1027, 0] << 16 | sig[1026, 0]``). Files without ``bits`` (no events,
    or the new format) give an empty array.
    """
    source = _source_of(where)
    out_dtype = [("frame", "<i8"), ("bits", "<i8")]
    with _open_h5(source) as h5:
        if "bits" not in h5:
            return np.zeros(0, dtype=out_dtype)
        table = np.asarray(h5["bits"][()])
        if "sig" not in h5:
            raise FormatError(f"{source.uri}: 'bits' without 'sig'; cannot find the recording's first frame")
        counter = np.asarray(h5["sig"][-2:, 0], dtype=np.int64)
    first = int(counter[1] << 16 | counter[0])
    names = table.dtype.names or ()
    if not names:
        raise FormatError(f"{source.uri}: 'bits' should be a compound table (frameno, bits)")
    out = np.zeros(len(table), dtype=out_dtype)
    out["frame"] = np.asarray(table[names[0]], dtype=np.int64) - first
    out["bits"] = np.asarray(table[names[1]], dtype=np.int64) if len(names) > 1 else 0
    return out


def stim_log_uri(batch: BatchMetadata, block: BlockMetadata) -> str:
    """Return where the stimulation log of a block lives: ``original/log/<stem>log.csv`` of the batch."""
    name = block.path.rsplit("/", 1)[-1]
    stem = name[: -len(".raw.h5")] if name.endswith(".raw.h5") else name.rsplit(".", 1)[0]
    base = batch.base()
    if base.startswith("s3://"):
        return f"{base}original/log/{stem}log.csv"
    return str(Path(base) / "original" / "log" / f"{stem}log.csv")


def read_stim_log(where: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Return the rows of a Maxwell stimulation log CSV as dicts keyed by its header."""
    import csv
    import io

    from braingeneers.core import storage

    with storage.open(where, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# ----------------------------------------------------------------------------------------------------
# Metadata generation


def describe_file(
    where: str | os.PathLike[str] | ByteSource, path_in_batch: str
) -> dict[str, dict[str, Any]]:
    """Return one experiment dict per stream with continuous data, keyed by experiment name."""
    source = _source_of(where)
    stem = path_in_batch.rsplit("/", 1)[-1]
    stem = stem[: -len(".raw.h5")] if stem.endswith(".raw.h5") else stem.rsplit(".", 1)[0]
    experiments: dict[str, dict[str, Any]] = {}
    with _open_h5(source) as h5:
        version = file_version(h5, source.uri)
        streams = [s for s in list_streams(h5, source.uri) if s.has_raw]
        wells = {s.well for s in streams}
        for stream in streams:
            raw = h5[stream.raw_path]
            legacy = stream.group == ""
            rate = LEGACY_SAMPLE_RATE if legacy else scalar(h5, f"{stream.settings}/sampling")
            block: dict[str, Any] = {"path": path_in_batch, "num_frames": int(raw.shape[1])}
            experiment: dict[str, Any] = {
                "hardware": "Maxwell",
                "data_format": "maxone" if legacy or len(wells) <= 1 else "maxtwo",
                "num_channels": LEGACY_CHANNELS if legacy else int(raw.shape[0]),
                "sample_rate": float(rate if rate is not None else LEGACY_SAMPLE_RATE),
                "voltage_scaling_factor": _lsb(h5, stream) * 1e6,
                "units": "µV",
                "offset": 0,
                "version": version,
            }
            name = stem
            if len(streams) > 1:
                if stream.well is not None and len(wells) > 1:
                    experiment["maxwell_well"] = stream.well
                    name += f"_well{stream.well:03d}"
                if stream.recording is not None and sum(s.well == stream.well for s in streams) > 1:
                    block["maxwell_recording"] = stream.recording
                    name += f"_rec{stream.recording:04d}"
            experiment["name"] = name
            experiment["blocks"] = [block]
            experiments[name] = experiment
    return experiments


def generate_metadata(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    uuid: str | None = None,
    experiment_prefix: str = "",
) -> BatchMetadata:
    """Build the metadata of Maxwell files: one experiment per file (MaxTwo: per well), one block each.

    Parameters
    ----------
    files
        The ``.raw.h5`` files (local paths or ``s3://`` URIs), or a batch folder/prefix
        whose ``*.raw.h5`` files (recursively) are used.
    uuid
        The batch UUID; by default the name of the folder holding ``original/``.
    experiment_prefix
        Prepended to every experiment name (the file name without ``.raw.h5``,
        plus ``_wellNNN`` for MaxTwo wells).

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        No Maxwell files, or a file is not a readable Maxwell recording.
    """
    from braingeneers.data.generators import find_batch_files, relative_path
    from braingeneers.data.metadata import BatchMetadata, ExperimentMetadata

    uris, folder, uuid = find_batch_files(
        files, lambda u: u.endswith(".raw.h5"), "Maxwell .raw.h5 files", uuid, "maxwell-batch"
    )
    where = f"batch {uuid!r}"
    experiments: dict[str, ExperimentMetadata] = {}
    for uri in uris:
        for name, experiment in describe_file(uri, relative_path(folder, uri)).items():
            full = experiment_prefix + name
            if full in experiments:
                raise FormatError(f"{uri}: experiment name {full!r} is produced by two files; rename one")
            experiment["name"] = full
            experiments[full] = ExperimentMetadata.from_dict(full, experiment, where)
    return BatchMetadata(uuid=uuid, ephys_experiments=experiments, source=folder or None)
