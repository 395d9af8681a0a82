"""Write small valid Axion BioSystems AxIS raw files (and whole batches) with known content.

The files follow the layout in ``docs/formats/axion.md``: a 1024-byte primary
header, entry payloads (notes, channel array, block-vector header and/or combined
block-vector header, int16 frame-interleaved data, a tag), optional 1024-byte
sub-headers, and a Terminate record.
"""

from __future__ import annotations

import os
import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from braingeneers.data.formats.axion import CHANNEL_DTYPE, HEADER_SIZE, MAGIC, PRIMARY_RECORDS, SUB_RECORDS

__all__ = ["plate_channels", "write_axion", "write_axion_batch"]

#: Plates: (well rows, well columns, electrode rows, electrode columns).
PLATES = {"6-well": (2, 3, 8, 8), "24-well": (4, 6, 4, 4), "12-well": (3, 4, 4, 8)}
_PLATE_TYPES = {"6-well": 6, "24-well": 24, "12-well": 12}
#: Axion files hold 12.5 kHz samples; VoltageScale of the Braingeneers golden file (V/count).
DEFAULT_SAMPLE_RATE = 12500.0
DEFAULT_VOLTAGE_SCALE = -5.484861781483107e-08
_TO_EOF = (1 << 56) - 1
_STEP_FRAMES = 65536

HeaderKind = Literal["combined", "block", "both"]


def plate_channels(
    plate: str = "6-well", order: Literal["interleaved", "well"] = "interleaved"
) -> np.ndarray:
    """Return a plate's channel array (``CHANNEL_DTYPE``), in the order samples are stored in a frame.

    ``"interleaved"`` cycles through the wells for each electrode (so a well's
    channels are spread over the frame, as in the vendor's files); ``"well"`` stores
    the wells one after the other.
    """
    if plate not in PLATES:
        raise ValueError(f"unknown plate {plate!r}; known: {sorted(PLATES)}")
    wrows, wcols, erows, ecols = PLATES[plate]
    wells = [(r, c) for r in range(1, wrows + 1) for c in range(1, wcols + 1)]
    electrodes = [(r, c) for r in range(1, erows + 1) for c in range(1, ecols + 1)]
    if order == "interleaved":
        pairs = [(w, e) for e in electrodes for w in wells]
    else:
        pairs = [(w, e) for w in wells for e in electrodes]
    channels = np.zeros(len(pairs), dtype=CHANNEL_DTYPE)
    for i, ((wr, wc), (er, ec)) in enumerate(pairs):
        channels[i] = (wc, wr, ec, er, i // 64, i % 64, 0)
    return channels


def _datetime_bytes(when: datetime) -> bytes:
    return struct.pack(
        "<7H", when.year, when.month, when.day, when.hour, when.minute, when.second, when.microsecond // 1000
    )


def _record(kind: int, length: int) -> int:
    return (kind << 56) | length


def write_axion(  # noqa: PLR0912, PLR0915 (one binary layout, written in order)
    data: np.ndarray,
    path: str | os.PathLike[str],
    *,
    plate: str = "6-well",
    channels: np.ndarray | None = None,
    sample_rate: float = DEFAULT_SAMPLE_RATE,
    voltage_scale: float = DEFAULT_VOLTAGE_SCALE,
    header: HeaderKind = "combined",
    sub_header: bool = False,
    data_to_eof: bool = False,
    start_time: datetime | None = None,
) -> Path:
    """Write int16 counts as an AxIS raw continuous file and return its path.

    Parameters
    ----------
    data
        ``[n_channels, n_frames]`` counts in the file's channel order (the order of
        ``channels``); converted to little-endian int16 and written frame-interleaved.
    path
        Destination file.
    plate
        ``"6-well"`` (2 x 3 wells of 8 x 8) or ``"24-well"`` (4 x 6 wells of 4 x 4), used when
        ``channels`` is not given.
    channels
        A channel array (``CHANNEL_DTYPE``) to use instead of :func:`plate_channels`.
    sample_rate, voltage_scale
        Written to the block-vector header(s); ``voltage_scale`` is volts per count.
    header
        Which block header to write: the combined header (type 7, newer files), the
        block-vector header (type 3, older files) or both.
    sub_header
        Put the block header and the data after a 1024-byte sub-header (the primary
        header's 123 records are filled with empty Skip records).
    data_to_eof
        Give the data entry the "to the end of the file" length.
    start_time
        File start time; default 2024-01-02 10:00:00.
    """
    channels = plate_channels(plate) if channels is None else np.asarray(channels, dtype=CHANNEL_DTYPE)
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] != len(channels):
        raise ValueError(f"data must be [{len(channels)} channels, frames], got shape {data.shape}")
    n_frames = data.shape[1]
    when = start_time or datetime(2024, 1, 2, 10, 0, 0)
    data_length = n_frames * len(channels) * 2

    notes = b"synthetic braingeneers test file".ljust(600, b"\0")
    channel_array = struct.pack("<II", _PLATE_TYPES.get(plate, 0), len(channels)) + channels.tobytes()
    block_header = struct.pack(
        "<dd14s14sqIII",
        sample_rate,
        voltage_scale,
        _datetime_bytes(when),
        _datetime_bytes(when),
        0,
        len(channels),
        1,
        0,
    )
    tag = b"TAG0" + bytes(28)

    def combined(data_start: int) -> bytes:
        head = struct.pack("<4Hdd5I", 1, 1, 0, 0, sample_rate, voltage_scale, len(channels), 1, 1, 0, 0)
        dates = b"".join(_datetime_bytes(when) for _ in range(4))
        name, description = b"synthetic", b"braingeneers synthetic plate"
        tail = struct.pack("<d", n_frames / sample_rate)
        tail += struct.pack("<i", len(name)) + name + struct.pack("<i", len(description)) + description
        tail += struct.pack("<qq", data_start, data_length)
        body = head + dates + tail
        return body + struct.pack("<I", zlib.crc32(body))

    combined_size = len(combined(0))
    headers: list[tuple[int, int]] = []  # (kind, payload size) of the block header entries
    if header in ("block", "both"):
        headers.append((3, len(block_header)))
    if header in ("combined", "both"):
        headers.append((7, combined_size))
    first = [(1, len(notes)), (2, len(channel_array))]
    later = [*headers, (4, data_length)]
    entries_start = HEADER_SIZE
    payload_first = sum(n for _, n in first)
    if sub_header:
        data_start = entries_start + payload_first + HEADER_SIZE + sum(n for _, n in headers)
    else:
        data_start = entries_start + payload_first + sum(n for _, n in headers)

    def data_record(kind: int, length: int) -> int:
        return _record(kind, _TO_EOF if (kind == 4 and data_to_eof) else length)

    payloads = {1: notes, 2: channel_array, 3: block_header, 7: combined(data_start)}
    if sub_header:
        primary = [_record(k, n) for k, n in first]
        primary += [_record(0xFF, 0)] * (PRIMARY_RECORDS - len(primary))
        secondary = [data_record(k, n) for k, n in later]
        if not data_to_eof:
            secondary += [_record(6, len(tag)), _record(0, 0)]
    else:
        primary = [_record(k, n) for k, n in first] + [data_record(k, n) for k, n in later]
        if not data_to_eof:
            primary += [_record(6, len(tag)), _record(0, 0)]
        secondary = []
    primary += [0] * (PRIMARY_RECORDS - len(primary))

    head = bytearray(HEADER_SIZE)
    struct.pack_into("<8sHHHQIq", head, 0, MAGIC, 0, 1, 0, entries_start, len(notes), entries_start)
    struct.pack_into(f"<{PRIMARY_RECORDS}Q", head, 34, *primary)
    struct.pack_into("<I", head, 1018, zlib.crc32(bytes(head[:1018])))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(head)
        for kind, _ in first:
            out.write(payloads[kind])
        if sub_header:
            sub = bytearray(HEADER_SIZE)
            sub[:8] = MAGIC
            records = secondary + [0] * (SUB_RECORDS - len(secondary))
            struct.pack_into(f"<{SUB_RECORDS}Q", sub, 8, *records)
            struct.pack_into("<I", sub, 1016, zlib.crc32(bytes(sub[:1016])))
            out.write(sub)
        for kind, _ in headers:
            out.write(payloads[kind])
        if out.tell() != data_start:  # the writer's own layout arithmetic
            raise RuntimeError(f"{path}: data written at byte {out.tell()}, header says {data_start}")
        for t0 in range(0, n_frames, _STEP_FRAMES):
            out.write(np.ascontiguousarray(data[:, t0 : t0 + _STEP_FRAMES].T).astype("<i2").tobytes())
        if not data_to_eof:
            out.write(tag)
    return path


def write_axion_batch(
    folder: str | os.PathLike[str],
    data: np.ndarray,
    frames_per_file: int,
    *,
    name: str = "plate",
    uuid: str | None = None,
    plate: str = "6-well",
    **options: object,
) -> Path:
    """Write a plate recording split into ``name(000).raw, name(001).raw, ...`` plus ``metadata.json``.

    The files go to ``<folder>/original/data/``; ``metadata.json`` (one experiment
    per well, one block per file) is built by
    :func:`braingeneers.data.formats.axion.generate_metadata` and written to
    ``<folder>/metadata.json``. Returns that path.

    Parameters
    ----------
    folder
        The batch folder.
    data
        ``[n_channels, n_frames]`` counts in file channel order.
    frames_per_file
        Frames per file (the last file takes the rest).
    name, uuid, plate, options
        File stem, batch UUID (default: the folder's name), plate, and further
        :func:`write_axion` options.
    """
    from braingeneers.data.formats.axion import generate_metadata
    from braingeneers.data.metadata import save_metadata

    folder = Path(folder)
    if frames_per_file <= 0:
        raise ValueError("frames_per_file must be positive")
    files = []
    for index, t0 in enumerate(range(0, data.shape[1], frames_per_file)):
        target = folder / "original" / "data" / f"{name}({index:03d}).raw"
        files.append(write_axion(data[:, t0 : t0 + frames_per_file], target, plate=plate, **options))  # type: ignore[arg-type]
    meta = generate_metadata(files, uuid=uuid or folder.name)
    return Path(save_metadata(meta, folder / "metadata.json"))
