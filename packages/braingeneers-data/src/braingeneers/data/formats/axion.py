"""Axion BioSystems AxIS raw continuous files (``.raw``): header parser, reader and metadata generator.

Layout (little-endian; see ``docs/formats/axion.md``): a 1024-byte primary header
(magic ``AxionBio``, version, notes location, ``EntriesStart`` and 123 entry
records), entry payloads laid back to back from ``EntriesStart``, and 1024-byte
sub-headers with 126 more records whenever a header's records end without a
Terminate record. An entry record is a u64: the top 8 bits are the type, the low
56 bits the payload length (all ones: "to the end of the file"). The payloads used
here are the channel array (type 2), the block-vector header (type 3) or the
combined block-vector header (type 7) with the sample rate and ``VoltageScale``
(volts per count), and the block-vector data (type 4): int16 samples,
frame-interleaved in channel-array order.

One file holds a whole plate (384 channels on 6- and 24-well plates); Braingeneers
metadata has one experiment per well, so a reader reads only the columns of its
well, and ``voltage_scaling_factor`` in volts per count becomes ``gain_uv`` in µV.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from braingeneers.core.errors import FormatError
from braingeneers.data.formats._base import BlockReader, ChannelInfo
from braingeneers.data.formats._interleaved import InterleavedLayout

if TYPE_CHECKING:
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import ByteSource

__all__ = [
    "CHANNEL_DTYPE",
    "AxionHeader",
    "AxionReader",
    "EntryType",
    "generate_metadata",
    "parse_header",
    "read_header",
    "well_name",
]

logger = logging.getLogger(__name__)

MAGIC = b"AxionBio"
HEADER_SIZE = 1024
PRIMARY_RECORDS = 123
SUB_RECORDS = 126
_TO_EOF = (1 << 56) - 1
#: Bytes fetched first: the primary header plus the usual notes, channel array and
#: block header payloads (a 384-channel array is 3 KiB), so one range request
#: usually parses a whole header over the network.
_PREFIX_BYTES = 64 * 1024
#: Per-well channel map key written by :func:`generate_metadata` (legacy name).
CHANNEL_MAP_KEY = "axion_per_well_channel_map"


class EntryType:
    """Entry record types of an AxIS file."""

    TERMINATE = 0
    NOTES_ARRAY = 1
    CHANNEL_ARRAY = 2
    BLOCK_VECTOR_HEADER = 3
    BLOCK_VECTOR_DATA = 4
    BLOCK_VECTOR_HEADER_EXTENSION = 5
    TAG = 6
    COMBINED_BLOCK_VECTOR_HEADER = 7
    SKIP = 0xFF
    KNOWN = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 0xFF})


#: One channel-array element: 1-based well column/row and electrode column/row,
#: the amplifier's channel ``achk`` and index, and auxiliary data.
CHANNEL_DTYPE = np.dtype(
    [
        ("well_column", "u1"),
        ("well_row", "u1"),
        ("electrode_column", "u1"),
        ("electrode_row", "u1"),
        ("achk", "u1"),
        ("channel_index", "u1"),
        ("aux", "<u2"),
    ]
)

_DATETIME = struct.Struct("<7H")  # year, month, day, hour, minute, second, millisecond
_BLOCK_VECTOR_HEADER = struct.Struct("<dd14s14sqIII")  # 64 bytes
_COMBINED_FIXED = struct.Struct("<4Hdd5I")  # versions, data/sample type, fs, scale, 5 x u32


def well_name(row: int, column: int) -> str:
    """Return the plate name of a well from its 1-based row and column (``(1, 1)`` → ``"A1"``)."""
    return f"{chr(ord('A') + row - 1)}{column}"


def _datetime(raw: bytes) -> datetime | None:
    """Decode an AxIS DateTime (7 x u16); None when it is not a valid date."""
    year, month, day, hour, minute, second, millisecond = _DATETIME.unpack(raw)
    try:
        return datetime(year, month, day, hour, minute, second, millisecond * 1000)
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class AxionHeader:
    """What an AxIS raw file's headers say.

    Attributes
    ----------
    path
        The file the header was read from (for messages).
    version
        Header version (major, minor).
    sample_rate
        Samples per second per channel.
    voltage_scale
        Volts per count (may be negative).
    channels
        The channel array (``CHANNEL_DTYPE``), in the order of the samples of a frame.
    plate_type
        The channel array's PlateType code.
    data_start
        Byte offset of frame 0.
    num_frames
        Whole frames in the data entry.
    file_start, experiment_start
        Timestamps from the block-vector header, when valid.
    crc_ok
        Whether the primary header's CRC32 matched.
    """

    path: str
    version: tuple[int, int]
    sample_rate: float
    voltage_scale: float
    channels: np.ndarray
    plate_type: int
    data_start: int
    num_frames: int
    file_start: datetime | None = None
    experiment_start: datetime | None = None
    crc_ok: bool = True

    @property
    def num_channels(self) -> int:
        """Channels per frame (the whole plate)."""
        return len(self.channels)

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame."""
        return 2 * self.num_channels

    @property
    def plate_layout(self) -> tuple[int, int]:
        """Well rows and columns of the plate (2 x 3 for 6-well, 4 x 6 for 24-well plates)."""
        return int(self.channels["well_row"].max()), int(self.channels["well_column"].max())

    @property
    def electrode_layout(self) -> tuple[int, int]:
        """Electrode rows and columns in a well (8 x 8 on 6-well, 4 x 4 on 24-well plates)."""
        return int(self.channels["electrode_row"].max()), int(self.channels["electrode_column"].max())

    def wells(self) -> list[str]:
        """Return the names of the wells that have channels, row by row (``A1, A2, ..., B1, ...``)."""
        rows, columns = self.channels["well_row"], self.channels["well_column"]
        pairs = sorted({(int(r), int(c)) for r, c in zip(rows, columns, strict=True)})
        return [well_name(r, c) for r, c in pairs]

    def well_channels(self, well: str) -> np.ndarray:
        """Return the file channel indices of a well, in electrode row-major order (int64)."""
        match = re.fullmatch(r"([A-Z])(\d+)", well)
        if match is None:
            raise FormatError(f"{self.path}: {well!r} is not a well name like 'A1'")
        row, column = ord(match.group(1)) - ord("A") + 1, int(match.group(2))
        channels = self.channels
        (index,) = np.nonzero((channels["well_row"] == row) & (channels["well_column"] == column))
        if len(index) == 0:
            raise FormatError(f"{self.path}: the plate has no channels in well {well}; wells: {self.wells()}")
        _, electrode_columns = self.electrode_layout
        slot = (channels["electrode_row"][index].astype(np.int64) - 1) * electrode_columns + (
            channels["electrode_column"][index].astype(np.int64) - 1
        )
        return index[np.argsort(slot, kind="stable")].astype(np.int64)

    def per_well_channel_map(self) -> list[list[int]]:
        """Return, for each well in :meth:`wells` order, its file channel indices (the metadata map)."""
        return [self.well_channels(w).tolist() for w in self.wells()]


class _Bytes:
    """Byte access for the parser: the file's first bytes fetched once, the rest on demand."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, path: str) -> None:
        self._read = read
        self.size = size
        self.path = path
        self._prefix = read(0, min(size, _PREFIX_BYTES)) if size > 0 else b""

    def get(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FormatError(
                f"{self.path}: the {what} at byte {offset} ({length} bytes) lies past the end of the "
                f"{self.size}-byte file; the file is truncated or corrupt"
            )
        if offset + length <= len(self._prefix):
            return self._prefix[offset : offset + length]
        data = self._read(offset, length)
        if len(data) != length:
            raise FormatError(f"{self.path}: short read of the {what} at byte {offset}")
        return data


def _check_crc(block: bytes, stored: int) -> bool:
    """Return whether a header's CRC32 matches (standard CRC-32, or without its final XOR)."""
    value = zlib.crc32(block)
    return stored in (value, value ^ 0xFFFFFFFF)


def _parse_channel_array(payload: bytes, path: str) -> tuple[int, np.ndarray]:
    if len(payload) < 8:
        raise FormatError(
            f"{path}: channel array entry is {len(payload)} bytes, shorter than its 8-byte head"
        )
    plate_type, count = struct.unpack_from("<II", payload)
    if count == 0 or len(payload) != 8 + count * CHANNEL_DTYPE.itemsize:
        raise FormatError(
            f"{path}: channel array says {count} channels ({8 + count * 8} bytes) but the entry is "
            f"{len(payload)} bytes"
        )
    channels = np.frombuffer(payload, dtype=CHANNEL_DTYPE, count=count, offset=8).copy()
    for name in ("well_row", "well_column", "electrode_row", "electrode_column"):
        if int(channels[name].min()) < 1:
            raise FormatError(f"{path}: channel array has a {name} of 0; rows and columns are 1-based")
    if int(channels["well_row"].max()) > 26:
        raise FormatError(f"{path}: channel array has a well row past Z ({int(channels['well_row'].max())})")
    keys = np.stack(
        [
            channels[n].astype(np.int64)
            for n in ("well_row", "well_column", "electrode_row", "electrode_column")
        ]
    )
    if len(np.unique(keys, axis=1)[0]) != count:
        raise FormatError(f"{path}: channel array lists the same well electrode twice")
    return int(plate_type), channels


def _parse_block_vector_header(payload: bytes, path: str) -> dict[str, Any]:
    if len(payload) < _BLOCK_VECTOR_HEADER.size:
        raise FormatError(f"{path}: block-vector header entry is {len(payload)} bytes, expected 64")
    fs, scale, file_start, experiment_start, _first, n_channels, n_samples, block_header = (
        _BLOCK_VECTOR_HEADER.unpack_from(payload)
    )
    return {
        "sample_rate": fs,
        "voltage_scale": scale,
        "file_start": _datetime(file_start),
        "experiment_start": _datetime(experiment_start),
        "channels_per_block": n_channels,
        "samples_per_block": n_samples,
        "block_header_size": block_header,
    }


def _parse_combined_header(payload: bytes, path: str) -> dict[str, Any]:
    def need(offset: int, size: int) -> None:
        if offset + size > len(payload):
            raise FormatError(f"{path}: combined block-vector header entry ends early ({len(payload)} bytes)")

    need(0, _COMBINED_FIXED.size)
    (
        major,
        minor,
        _data_type,
        _sample_type,
        fs,
        scale,
        n_channels,
        n_sets,
        n_samples,
        _vector,
        block_header,
    ) = _COMBINED_FIXED.unpack_from(payload)
    pos = _COMBINED_FIXED.size
    need(pos, 4 * _DATETIME.size)
    dates = [_datetime(payload[pos + i * 14 : pos + (i + 1) * 14]) for i in range(4)]
    pos += 4 * _DATETIME.size
    if (major, minor) >= (1, 1):
        pos += 8  # duration, f64
    for _ in range(2):  # name, description: i32 length + characters
        need(pos, 4)
        (length,) = struct.unpack_from("<i", payload, pos)
        if length < 0:
            raise FormatError(f"{path}: combined block-vector header has a negative string length")
        pos += 4 + length
    need(pos, 16)
    region_start, region_length = struct.unpack_from("<qq", payload, pos)
    return {
        "sample_rate": fs,
        "voltage_scale": scale,
        "file_start": dates[0],
        "experiment_start": dates[1],
        "channels_per_block": n_channels,
        "samples_per_block": n_samples,
        "block_header_size": block_header,
        "data_sets_per_block": n_sets,
        "region": (region_start, region_length),
    }


def parse_header(  # noqa: PLR0912, PLR0915 (one walk over a binary layout)
    read: Callable[[int, int], bytes], size: int, path: str = "<axion file>"
) -> AxionHeader:
    """Parse the headers of an AxIS raw file.

    Parameters
    ----------
    read
        ``read(offset, length) -> bytes`` returning exactly ``length`` bytes.
    size
        The file's size in bytes.
    path
        Name of the file, for error messages.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        The bytes are not an AxIS raw continuous file, or a header is truncated, inconsistent or
        of an unsupported kind (spike files, blocked data); the message names the file and the field.
    """
    data = _Bytes(read, size, path)
    head = data.get(0, HEADER_SIZE, "primary header")
    if head[:8] != MAGIC:
        raise FormatError(f"{path}: not an Axion BioSystems file (magic {head[:8]!r}, expected {MAGIC!r})")
    _primary_type, major, minor, _notes_start, _notes_length, entries_start = struct.unpack_from(
        "<HHHQIq", head, 8
    )
    if major != 1:
        raise FormatError(f"{path}: Axion header version {major}.{minor} is not supported (only 1.x)")
    (crc,) = struct.unpack_from("<I", head, 1018)
    crc_ok = _check_crc(head[:1018], crc)
    if not crc_ok:
        logger.warning("%s: primary header CRC32 mismatch; the header may be corrupt", path)
    if not HEADER_SIZE <= entries_start <= size:
        raise FormatError(f"{path}: EntriesStart {entries_start} lies outside the file (size {size})")
    records = list(struct.unpack_from(f"<{PRIMARY_RECORDS}Q", head, 34))

    channels: np.ndarray | None = None
    plate_type = 0
    block_header: dict[str, Any] | None = None
    combined: dict[str, Any] | None = None
    data_entry: tuple[int, int] | None = None
    pos = entries_start
    while True:
        terminated = False
        for record in records:
            kind, length = record >> 56, record & _TO_EOF
            if kind == EntryType.TERMINATE:
                terminated = True
                break
            if kind not in EntryType.KNOWN:
                raise FormatError(f"{path}: unknown entry record type {kind} at payload byte {pos}")
            if length == _TO_EOF:
                length = size - pos
            if pos + length > size:
                raise FormatError(
                    f"{path}: entry of type {kind} claims {length} bytes at byte {pos} but the file has only "
                    f"{size} bytes; the file is truncated"
                )
            if kind == EntryType.CHANNEL_ARRAY:
                if channels is not None:
                    raise FormatError(f"{path}: more than one channel array")
                plate_type, channels = _parse_channel_array(data.get(pos, length, "channel array"), path)
            elif kind == EntryType.BLOCK_VECTOR_HEADER:
                block_header = _parse_block_vector_header(
                    data.get(pos, min(length, 64), "block header"), path
                )
            elif kind == EntryType.COMBINED_BLOCK_VECTOR_HEADER:
                combined = _parse_combined_header(data.get(pos, length, "combined block header"), path)
            elif kind == EntryType.BLOCK_VECTOR_DATA:
                if data_entry is not None:
                    raise FormatError(f"{path}: more than one block-vector data entry is not supported")
                data_entry = (pos, length)
            pos += length
        if terminated or pos >= size or data_entry is not None:
            # Entries after the data (tags) are not needed; reading their sub-headers would
            # cost a range request near the end of a multi-GB object.
            break
        sub = data.get(pos, HEADER_SIZE, "sub-header")
        if sub[:8] != MAGIC:
            raise FormatError(f"{path}: sub-header at byte {pos} has magic {sub[:8]!r}, expected {MAGIC!r}")
        records = list(struct.unpack_from(f"<{SUB_RECORDS}Q", sub, 8))
        pos += HEADER_SIZE

    if channels is None:
        raise FormatError(f"{path}: no channel array entry; not a raw continuous AxIS file")
    info = combined if combined is not None else block_header
    if info is None:
        raise FormatError(
            f"{path}: no block-vector header (type 3 or 7); sample rate and voltage scale unknown"
        )
    if (
        info["samples_per_block"] != 1
        or info["block_header_size"] != 0
        or info.get("data_sets_per_block", 1) != 1
    ):
        raise FormatError(
            f"{path}: blocks of {info['samples_per_block']} samples with {info['block_header_size']}-byte "
            "headers are not raw continuous data (a spike file?); only raw continuous files are supported"
        )
    if info["channels_per_block"] != len(channels):
        raise FormatError(
            f"{path}: block header says {info['channels_per_block']} channels per frame but the channel "
            f"array lists {len(channels)}"
        )
    fs, scale = float(info["sample_rate"]), float(info["voltage_scale"])
    if not np.isfinite(fs) or fs <= 0:
        raise FormatError(f"{path}: sample rate {fs} is not a positive number")
    if not np.isfinite(scale) or scale == 0:
        raise FormatError(f"{path}: voltage scale {scale} V/count is not a finite non-zero number")
    if data_entry is None and combined is not None and combined["region"][0] > 0:
        data_entry = (int(combined["region"][0]), int(combined["region"][1]))
        if data_entry[1] < 0 or data_entry[0] + data_entry[1] > size:
            raise FormatError(f"{path}: data region {data_entry} lies past the end of the {size}-byte file")
    if data_entry is None:
        raise FormatError(f"{path}: no block-vector data entry; the file holds no samples")
    start, length = data_entry
    frame_bytes = 2 * len(channels)
    frames, partial = divmod(length, frame_bytes)
    if partial:
        logger.warning(
            "%s: data entry of %d bytes ends in a partial frame (%d bytes); ignoring it",
            path,
            length,
            partial,
        )
    return AxionHeader(
        path=path,
        version=(major, minor),
        sample_rate=fs,
        voltage_scale=scale,
        channels=channels,
        plate_type=plate_type,
        data_start=start,
        num_frames=frames,
        file_start=info["file_start"],
        experiment_start=info["experiment_start"],
        crc_ok=crc_ok,
    )


def read_header(source: ByteSource) -> AxionHeader:
    """Parse the headers of the AxIS file behind a ``ByteSource`` (one range request when they are small)."""
    return parse_header(source.read, source.size, source.uri)


class AxionReader(BlockReader):
    """Read one well of one Axion ``.raw`` file.

    The well is taken from the experiment: the ``axion_well`` key (``"A1"``), else
    the legacy ``axion_channel_offset`` into the per-well channel map, else a well
    name ending the experiment's name. Channels are well-local (``0..n-1`` in
    electrode row-major order, or in the metadata's per-well map order when the
    batch has one). Only the byte ranges of the requested frames are read (memory
    mapped on a local disk); ``gain_uv`` is the header's ``VoltageScale`` x 1e6.
    """

    raw_dtype = np.dtype(np.int16)

    def __init__(
        self,
        source: ByteSource,
        batch: BatchMetadata,
        experiment: ExperimentMetadata,
        block: BlockMetadata,
    ) -> None:
        super().__init__(source, batch, experiment, block)
        self.header = read_header(source)
        self.columns = self._well_columns()
        self.num_channels = len(self.columns)
        self.num_frames = self.header.num_frames
        self.sample_rate = self.header.sample_rate
        claimed_start = block.extra.get("axion_data_start_position")
        if claimed_start is not None and int(claimed_start) != self.header.data_start:
            raise FormatError(
                f"{source.uri}: metadata says the data starts at byte {claimed_start} but the header puts it "
                f"at {self.header.data_start}; regenerate metadata.json"
            )
        self.check_num_frames(self.header.num_frames)
        self.layout = InterleavedLayout(
            source, self.header.data_start, self.header.num_channels, self.header.num_frames, "<i2"
        )

    def _well_columns(self) -> np.ndarray:
        """Return the file columns of this experiment's well, in the experiment's channel order."""
        header, experiment = self.header, self.experiment
        map_key = self.block.extra.get("axion_channel_map_key") or experiment.extra.get(
            "axion_channel_map_key"
        )
        well_map = self.batch.extra.get(map_key) if isinstance(map_key, str) else None
        well = experiment.extra.get("axion_well")
        offset = experiment.extra.get("axion_channel_offset")
        if well is None and well_map is not None and offset is not None:
            columns = _columns_from_map(well_map, int(offset), header, str(map_key))
            if columns is not None:
                return columns
        if well is None:
            match = re.search(r"([A-Z]\d+)$", experiment.name)
            if match is not None and match.group(1) in header.wells():
                well = match.group(1)
        if well is None and offset is not None:
            per_well = header.per_well_channel_map()
            starts = np.cumsum([0] + [len(c) for c in per_well])
            hits = np.nonzero(starts[:-1] == int(offset))[0]
            if len(hits):
                well = header.wells()[int(hits[0])]
        if well is None:
            raise FormatError(
                f"{self.source.uri}: experiment {experiment.name!r} of batch {self.batch.uuid!r} does not "
                f"say which well it is; add 'axion_well' (one of {header.wells()}) to the experiment"
            )
        return header.well_channels(str(well))

    def channel_info(self) -> ChannelInfo:
        """Return well-local ids, ``gain_uv`` = VoltageScale x 1e6 (µV per count), offset 0, electrode ids."""
        channels = self.header.channels[self.columns]
        _, electrode_columns = self.header.electrode_layout
        electrodes = (channels["electrode_row"].astype(np.int64) - 1) * electrode_columns + (
            channels["electrode_column"].astype(np.int64) - 1
        )
        return ChannelInfo.uniform(
            self.num_channels, self.header.voltage_scale * 1e6, 0.0, electrodes=electrodes
        )

    def read_raw(self, start: int, stop: int, channels: np.ndarray) -> np.ndarray:
        """Return frames ``[start, stop)`` of well channels ``channels`` as int16 ``[channels, frames]``."""
        return self.layout.read_columns(start, stop, self.columns[np.asarray(channels, dtype=np.int64)])

    def close(self) -> None:
        """Release the memory map and the source."""
        self.layout.close()
        super().close()

    @classmethod
    def probe(cls, source: ByteSource) -> bool:
        """Return whether the file starts with the AxIS magic."""
        return source.size >= HEADER_SIZE and source.read(0, 8) == MAGIC


def _columns_from_map(well_map: Any, offset: int, header: AxionHeader, key: str) -> np.ndarray | None:
    """Return the file columns of the well starting at ``offset`` in a metadata per-well map."""
    if not isinstance(well_map, list) or not all(isinstance(w, list) for w in well_map):
        raise FormatError(
            f"{header.path}: metadata field {key!r} must be a list of per-well lists of channels"
        )
    start = 0
    for index, channels in enumerate(well_map):
        if start == offset:
            columns = np.asarray(channels, dtype=np.int64)
            wells = header.wells()
            # Maps written by the legacy generator for non-square wells could mix wells up;
            # a row must hold exactly the file channels of its well.
            well = wells[index] if index < len(wells) else "?"
            expected = header.well_channels(well).tolist() if index < len(wells) else []
            if sorted(columns.tolist()) != sorted(expected):
                raise FormatError(
                    f"{header.path}: row {index} of the metadata's {key!r} does not hold the channels of "
                    f"well {well} in this file; regenerate metadata.json"
                )
            return columns
        start += len(channels)
    return None


def _sort_key(name: str) -> tuple[str, int]:
    """Order ``name(000).raw``, ``name(001).raw``, ... by prefix and number."""
    match = re.search(r"^(.*)\((\d+)\)\.raw$", name)
    if match is None:
        return name, -1
    return match.group(1), int(match.group(2))


def generate_metadata(
    files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    uuid: str | None = None,
    experiment_prefix: str = "",
    max_workers: int = 16,
) -> BatchMetadata:
    """Build the metadata of an Axion batch: one experiment per well, one block per ``.raw`` file.

    Parameters
    ----------
    files
        The ``.raw`` files (local paths or ``s3://`` URIs), or a folder/prefix whose ``*.raw``
        files (recursively) are used. Files are ordered by name and ``(NNN)`` number.
    uuid
        The batch UUID; by default the name of the folder holding ``original/``.
    experiment_prefix
        Prepended to each well name (``"A1"``) to name experiments; also prefixes the
        per-well channel map key so several plates can share a batch.
    max_workers
        Headers are read in parallel with this many threads.

    Raises
    ------
    ~braingeneers.core.errors.FormatError
        No ``.raw`` files, a header is invalid, or files disagree on channels, rate or scale.
    """
    from braingeneers.data.generators import find_batch_files, relative_path
    from braingeneers.data.metadata import BatchMetadata, BlockMetadata, ExperimentMetadata
    from braingeneers.data.sources import open_source

    uris, folder, uuid = find_batch_files(
        files, lambda u: u.endswith(".raw"), ".raw files", uuid, "axion-batch", sort_given=False
    )
    uris.sort(key=lambda u: _sort_key(u.rstrip("/").rsplit("/", 1)[-1]))

    def header_of(uri: str) -> tuple[AxionHeader, int]:
        source = open_source(uri)
        try:
            return read_header(source), source.size
        finally:
            source.close()

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(uris)))) as pool:
        headers = list(pool.map(header_of, uris))

    first = headers[0][0]
    for header, _ in headers[1:]:
        if (
            not np.array_equal(header.channels, first.channels)
            or header.sample_rate != first.sample_rate
            or header.voltage_scale != first.voltage_scale
        ):
            raise FormatError(
                f"{header.path}: channel array, sample rate or voltage scale differs from {first.path}; "
                "files of different recordings cannot be blocks of one experiment"
            )
    map_key = f"{experiment_prefix}{CHANNEL_MAP_KEY}"
    per_well = first.per_well_channel_map()
    blocks_common = []
    for uri, (header, _) in zip(uris, headers, strict=True):
        path = relative_path(folder, uri)
        entry: dict[str, Any] = {
            "axion_data_start_position": header.data_start,
            "axion_channel_map_key": map_key,
        }
        if header.file_start is not None:
            entry["timestamp"] = header.file_start.isoformat()
        blocks_common.append((path, header.num_frames, entry))
    experiments: dict[str, ExperimentMetadata] = {}
    offset = 0
    for well, channels in zip(first.wells(), per_well, strict=True):
        name = f"{experiment_prefix}{well}"
        extra: dict[str, Any] = {
            "axion_well": well,
            "axion_channel_offset": offset,
            "axion_plate_layout_row_col": list(first.plate_layout),
            "axion_electrode_layout_row_col": list(first.electrode_layout),
            "version": f"{first.version[0]}.{first.version[1]}",
        }
        if first.experiment_start is not None:
            extra["timestamp"] = first.experiment_start.isoformat()
        experiments[name] = ExperimentMetadata(
            name=name,
            hardware="Axion BioSystems",
            num_channels=len(channels),
            sample_rate=first.sample_rate,
            voltage_scaling_factor=first.voltage_scale,
            units="V",
            blocks=[BlockMetadata(path=p, num_frames=n, extra=dict(e)) for p, n, e in blocks_common],
            extra=extra,
        )
        offset += len(channels)
    return BatchMetadata(uuid=uuid, ephys_experiments=experiments, extra={map_key: per_well}, source=folder)
