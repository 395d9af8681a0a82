"""Recording API over a multi-block Maxwell experiment: boundaries, channel requests, units, errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.metadata import BatchMetadata
from braingeneers.data.recording import Recording, open_experiment
from braingeneers.data.synthetic.maxwell import write_maxwell
from braingeneers.data.synthetic.signal import synthetic_signal

LSB = 6.294e-6


def three_blocks(folder: Path) -> tuple[BatchMetadata, np.ndarray]:
    """Write one experiment as three files of 700, 0 and 1300 frames; return metadata and all counts."""
    signal, _ = synthetic_signal(6, 2000, seed=11)
    data = (signal.astype(np.int32) + 512).astype(np.uint16)
    parts = [(0, 700), (700, 700), (700, 2000)]
    blocks = []
    for i, (a, b) in enumerate(parts):
        write_maxwell(data[:, a:b], folder / f"original/data/part{i}.raw.h5", layout="data_store")
        blocks.append({"path": f"original/data/part{i}.raw.h5", "num_frames": b - a})
    meta = BatchMetadata.from_dict(
        {
            "uuid": "2024-03-03-e-blocks",
            "ephys_experiments": {
                "exp": {
                    "hardware": "Maxwell",
                    "num_channels": 6,
                    "sample_rate": 20000,
                    "blocks": blocks,
                }
            },
        },
        source=str(folder),
    )
    return meta, data


@pytest.fixture
def rec(tmp_path: Path) -> tuple[Recording, np.ndarray]:
    meta, data = three_blocks(tmp_path)
    return open_experiment(meta, "exp"), data


def test_reads_across_block_boundaries_are_exact(rec: tuple[Recording, np.ndarray]) -> None:
    recording, data = rec
    assert recording.shape == (6, 2000)
    for start, stop in [(0, 2000), (690, 710), (699, 701), (700, 701), (0, 700), (1999, 2000), (5, 5)]:
        np.testing.assert_array_equal(recording.read(start, stop, units="raw"), data[:, start:stop])


@pytest.mark.parametrize(
    "channels",
    [
        None,
        3,
        [5, 0, 2],
        [1, 1, 4, 1],
        slice(1, 5, 2),
        slice(None, None, -1),
        np.array([4, 2], dtype=np.uint8),
        [],
    ],
)
def test_channel_requests_keep_request_order(rec: tuple[Recording, np.ndarray], channels: Any) -> None:
    recording, data = rec
    expected_rows = np.arange(6)[channels] if channels is not None else np.arange(6)
    expected = data[np.atleast_1d(expected_rows)][:, 650:760]
    np.testing.assert_array_equal(recording.read(650, 760, channels, units="raw"), expected)


def test_numpy_integer_offsets_and_none_stop(rec: tuple[Recording, np.ndarray]) -> None:
    recording, data = rec
    np.testing.assert_array_equal(
        recording.read(np.int64(1990), None, np.int32(2), units="raw"), data[[2], 1990:]
    )
    np.testing.assert_array_equal(recording.read(np.uint16(3), np.int8(9), units="raw"), data[:, 3:9])


def test_out_of_range_requests_raise_index_error_with_the_range(rec: tuple[Recording, np.ndarray]) -> None:
    recording, _ = rec
    with pytest.raises(IndexError, match=r"valid frames are 0\.\.2000"):
        recording.read(1990, 2001)
    with pytest.raises(IndexError, match="valid frames"):
        recording.read(-1, 10)
    with pytest.raises(IndexError, match="valid frames"):
        recording.read(10, 5)
    with pytest.raises(IndexError, match=r"valid channels are 0\.\.5"):
        recording.read(0, 10, [0, 6])
    with pytest.raises(IndexError, match="valid channels"):
        recording.read(0, 10, -1)
    with pytest.raises(TypeError):
        recording.read(1.5, 10)
    with pytest.raises(TypeError):
        recording.read(0, 10, [0.5])


def test_units_and_dtypes(rec: tuple[Recording, np.ndarray]) -> None:
    recording, data = rec
    expected = (data[:, 100:200].astype(np.float64) - 512) * LSB * 1e6
    np.testing.assert_allclose(recording.read(100, 200), expected, rtol=1e-6)
    as64 = recording.read(100, 200, dtype=np.float64)
    assert as64.dtype == np.float64
    np.testing.assert_allclose(as64, expected, rtol=1e-12)
    half = recording.read(100, 200, dtype="float16")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, expected, rtol=1e-3, atol=0.01)
    raw32 = recording.read(100, 200, units="raw", dtype=np.int32)
    assert raw32.dtype == np.int32
    np.testing.assert_array_equal(raw32, data[:, 100:200])
    with pytest.raises(ValueError, match="do not fit"):
        recording.read(100, 200, units="raw", dtype=np.int8)
    with pytest.raises(ValueError, match="float dtype"):
        recording.read(100, 200, dtype=np.int16)
    with pytest.raises(ValueError, match="units"):
        recording.read(100, 200, units="mV")


def test_float16_refuses_underflow_and_overflow(rec: tuple[Recording, np.ndarray]) -> None:
    recording, _ = rec
    info = recording.channel_info
    object.__setattr__(info, "gain_uv", np.full(6, 5.48e-8))  # Axion-like volts per count
    with pytest.raises(ValueError, match="underflow float16"):
        recording.read(0, 100, dtype=np.float16)
    object.__setattr__(info, "gain_uv", np.full(6, 1e4))
    with pytest.raises(ValueError, match="overflow float16"):
        recording.read(0, 100, dtype=np.float16)


def test_getitem_and_iter_chunks(rec: tuple[Recording, np.ndarray]) -> None:
    recording, data = rec
    uv = (data.astype(np.float32) - 512) * np.float32(LSB * 1e6)
    np.testing.assert_allclose(recording[[4, 1], 695:705], uv[[4, 1], 695:705], rtol=1e-6)
    row = recording[2, 10:20]
    assert row.shape == (10,)
    np.testing.assert_allclose(recording[2, 700], uv[2, 700], rtol=1e-6)
    np.testing.assert_allclose(recording[:, 0:100:7], uv[:, 0:100:7], rtol=1e-6)
    with pytest.raises(IndexError, match=r"rec\[channels, frames\]"):
        recording[0, 1, 2]
    with pytest.raises(IndexError, match="positive step"):
        recording[0, ::-1]
    chunks = list(recording.iter_chunks(600, channels=[0, 5], units="raw"))
    assert [start for start, _ in chunks] == [0, 600, 1200, 1800]
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks], axis=1), data[[0, 5]])


def test_readers_are_reused_and_closed(rec: tuple[Recording, np.ndarray]) -> None:
    recording, _ = rec
    recording.read(0, 2000)
    first = recording.reader(0)
    recording.read(0, 10)
    assert recording.reader(0) is first
    recording.close()
    with pytest.raises(ValueError, match="closed"):
        recording.read(0, 10)


def test_missing_block_file_and_unknown_hardware(tmp_path: Path) -> None:
    meta, _ = three_blocks(tmp_path)
    (tmp_path / "original/data/part2.raw.h5").unlink()
    with pytest.raises(FileNotFoundError):
        open_experiment(meta, "exp").read(0, 2000)
    meta.experiment("exp").hardware = "Abacus"
    with pytest.raises(FormatError, match=r"unknown hardware.*Maxwell"):
        open_experiment(meta, "exp").read(0, 10)


@pytest.mark.skipif(importlib.util.find_spec("spikeinterface") is None, reason="spikeinterface not installed")
def test_to_spikeinterface(rec: tuple[Recording, np.ndarray]) -> None:
    recording, data = rec
    si = recording.to_spikeinterface()
    assert si.get_num_samples() == 2000
    assert si.get_num_channels() == 6
    np.testing.assert_array_equal(
        si.get_traces(start_frame=650, end_frame=750, channel_ids=[3, 1]).T, data[[3, 1], 650:750]
    )
    np.testing.assert_allclose(
        si.get_traces(start_frame=0, end_frame=50, return_in_uV=True).T,
        (data[:, :50].astype(np.float64) - 512) * LSB * 1e6,
        rtol=1e-5,
    )
