"""ByteSource and the S3 range reader: exact reads, short-read errors, coalescing, h5py over ranges."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from braingeneers.core.errors import FormatError, NotFoundError
from braingeneers.core.transfer import upload
from braingeneers.data import sources
from braingeneers.data.sources import RangeReader, open_source

URI = "s3://braingeneers/ephys/2024-01-01-e-bytes/original/data/blob.bin"


@pytest.fixture
def blob(tmp_path: Path, store: str) -> bytes:
    data = np.random.default_rng(0).integers(0, 256, size=3 * 1024 * 1024 + 17, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    upload(path, URI)
    return data


def test_read_exact_and_short_reads_name_the_file(blob: bytes) -> None:
    with open_source(URI) as source:
        assert source.size == len(blob)
        assert source.read(5, 100) == blob[5:105]
        assert source.read(len(blob) - 3, 3) == blob[-3:]
        assert source.read(0, 0) == b""
        with pytest.raises(FormatError, match=r"blob\.bin.*file has 3145745 bytes"):
            source.read(len(blob) - 3, 4)
        with pytest.raises(FormatError, match="invalid byte range"):
            source.read(-1, 4)
        out = bytearray(1000)
        source.read_into(2000, out)
        assert bytes(out) == blob[2000:3000]


def test_large_reads_split_into_concurrent_parts(
    blob: bytes, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "PART_SIZE", 1024 * 1024)
    with open_source(URI) as source:
        assert source.read(10, len(blob) - 10) == blob[10:]
        if store == "s3":
            assert source.requests == 1 + 4  # HEAD + ceil((3 MiB + 7) / 1 MiB) parts


def test_read_many_coalesces_nearby_ranges(blob: bytes, store: str) -> None:
    ranges = [(3_000_000, 10), (0, 4), (100, 50), (2_000_000, 0), (120, 10)]
    with open_source(URI) as source:
        got = source.read_many(ranges)
        assert got == [blob[o : o + n] for o, n in ranges]
        if store == "s3":
            assert source.requests == 1 + 2  # HEAD, then [0, 2 000 000] and [3 000 000, +10]
        with pytest.raises(FormatError):
            source.read_many([(len(blob), 1)])


def test_range_reader_matches_the_bytes_under_random_access(blob: bytes, store: str) -> None:
    if store == "local":
        pytest.skip("the range reader serves S3 objects")
    source = open_source(URI)
    reader = RangeReader(source, block_size=4096, cache_bytes=64 * 4096)
    rng = np.random.default_rng(1)
    for _ in range(200):
        position = int(rng.integers(0, len(blob)))
        size = int(rng.choice([1, 100, 5000, 300_000]))
        reader.seek(position)
        assert reader.read(size) == blob[position : position + size]
        assert reader.tell() == min(position + size, len(blob))
    reader.seek(-10, 2)
    assert reader.read() == blob[-10:]
    assert reader.read(5) == b""
    before = source.requests
    reader.seek(100)
    reader.read(10)
    reader.seek(50)
    reader.read(100)
    assert source.requests - before <= 1  # block 0 fetched once at most


def test_h5py_over_s3_reads_only_needed_ranges(tmp_path: Path, store: str) -> None:
    data = np.arange(2_000_000, dtype=np.int32).reshape(100, 20_000)
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("d", data=data, chunks=(100, 1000))
    uri = "s3://braingeneers/ephys/2024-01-01-e-bytes/x.h5"
    upload(path, uri)
    source = open_source(uri)
    with h5py.File(source.fileobj(), "r") as h5:
        np.testing.assert_array_equal(h5["d"][:, 5000:6000], data[:, 5000:6000])
    if store == "s3":
        assert source.requests < 10
    source.close()


def test_missing_object_is_not_found(store: str) -> None:
    with pytest.raises(NotFoundError):
        _ = open_source("s3://braingeneers/ephys/none/x.bin").size
