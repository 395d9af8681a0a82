"""Fuzz the binary header parsers: any bytes give a header or a FormatError, never another error or a hang."""

from __future__ import annotations

import struct
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braingeneers.core.errors import FormatError
from braingeneers.data.formats.axion import MAGIC, PRIMARY_RECORDS, AxionHeader, parse_header
from braingeneers.data.formats.hengenlab import HengenlabReader
from braingeneers.data.metadata import BatchMetadata
from braingeneers.data.sources import open_source
from braingeneers.data.synthetic.axion import write_axion

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def valid_files() -> tuple[bytes, ...]:
    """Small valid files of each header variant (6-well, 3 frames)."""
    data = np.arange(384 * 3, dtype=np.int16).reshape(384, 3)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-axion-"))
    variants = [{}, {"header": "block"}, {"sub_header": True, "header": "both"}, {"data_to_eof": True}]
    return tuple(write_axion(data, folder / f"{i}.raw", **v).read_bytes() for i, v in enumerate(variants))  # type: ignore[arg-type]


def parse(data: bytes) -> AxionHeader | None:
    """Parse, returning None on FormatError; any other exception fails the test."""
    try:
        header = parse_header(lambda o, n: data[o : o + n], len(data), "fuzz.raw")
    except FormatError:
        return None
    # A parsed header never points past the end of the file (no short reads later).
    assert header.data_start + header.num_frames * header.frame_bytes <= len(data)
    assert header.num_channels > 0
    return header


@FUZZ
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data: bytes) -> None:
    parse(data)
    parse(MAGIC + data)


@FUZZ
@given(
    variant=st.integers(0, 3),
    edits=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 6000)),
)
def test_mutated_valid_files(variant: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(valid_files()[variant])
    for position, value in edits:
        if position < len(data):
            data[position] = value
    if cut is not None:
        del data[cut:]
    parse(bytes(data))


@FUZZ
@given(
    entries_start=st.integers(-(2**63), 2**63 - 1),
    records=st.lists(
        st.tuples(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 0xFF, 9]), st.integers(0, 2**56 - 1)),
        max_size=PRIMARY_RECORDS,
    ),
    tail=st.binary(max_size=2048),
)
def test_random_entry_records(entries_start: int, records: list[tuple[int, int]], tail: bytes) -> None:
    head = bytearray(1024)
    struct.pack_into("<8sHHHQIq", head, 0, MAGIC, 0, 1, 0, 1024, 600, entries_start)
    values = [(kind << 56) | length for kind, length in records]
    struct.pack_into(f"<{len(values)}Q", head, 34, *values)
    parse(bytes(head) + tail)


@FUZZ
@given(size=st.integers(0, 200), channels=st.integers(1, 16), claimed=st.integers(0, 20))
def test_hengenlab_any_size_and_channel_count(size: int, channels: int, claimed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.bin"
        path.write_bytes(bytes(range(256))[:size] if size <= 256 else bytes(size))
        meta = BatchMetadata.from_dict(
            {
                "uuid": "fuzz",
                "ephys_experiments": {
                    "e": {
                        "hardware": "Hengenlab",
                        "num_channels": channels,
                        "sample_rate": 25000,
                        "blocks": [{"path": "x.bin", "num_frames": claimed}],
                    }
                },
            },
            source=folder,
        )
        experiment = meta.ephys_experiments["e"]
        try:
            reader = HengenlabReader(open_source(path), meta, experiment, experiment.blocks[0])
        except FormatError:
            return
        with reader:
            assert reader.num_frames == claimed == max(0, size - 8) // (2 * channels)
            out = reader.read_raw(0, reader.num_frames, np.arange(channels))
            assert out.shape == (channels, claimed)
