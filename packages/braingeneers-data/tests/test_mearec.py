"""MEArec reader: both orientations by version, int16 + gain_to_uV, generator, orientation errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.formats import mearec
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.mearec import write_mearec
from braingeneers.data.synthetic.signal import synthetic_signal


def signal(channels: int = 4, frames: int = 3200) -> np.ndarray:
    counts, _ = synthetic_signal(channels, frames, sample_rate=32000.0, seed=8)
    return counts


@pytest.mark.parametrize("version", ["1.4.0", "1.5.0", "1.9.1"])
def test_both_orientations_read_the_same(tmp_path: Path, version: str) -> None:
    data = signal().astype(np.float32) * 0.5
    path = write_mearec(data, tmp_path / "original/data/recordings_x.h5", version=version)
    with h5py.File(path) as h5:
        assert h5["recordings"].shape == ((4, 3200) if version == "1.4.0" else (3200, 4))
    meta = mearec.generate_metadata(tmp_path)
    experiment = meta.experiment("experiment0")
    assert experiment.hardware == "MEArec Simulated Recording"
    assert experiment.blocks[0].num_frames == 3200
    assert experiment.sample_rate == 32000.0
    rec = open_experiment(meta, 0)
    np.testing.assert_array_equal(rec.read(100, 3100, [3, 1, 1], units="raw"), data[[3, 1, 1], 100:3100])
    np.testing.assert_array_equal(rec.read(100, 3100, [3, 1, 1]), data[[3, 1, 1], 100:3100])
    positions = rec.positions
    assert positions is not None
    np.testing.assert_allclose(positions[3], [20.0, 20.0])


def test_int16_with_gain(tmp_path: Path) -> None:
    data = signal()
    write_mearec(data, tmp_path / "recordings_i.h5", gain_to_uv=0.25)
    rec = open_experiment(mearec.generate_metadata(tmp_path), 0)
    assert rec.dtype == np.int16
    np.testing.assert_allclose(rec.read(0, 100), data[:, :100] * 0.25)


def test_unversioned_file_is_oriented_by_positions_or_refused(tmp_path: Path) -> None:
    data = signal(3, 50).astype(np.float32)
    path = write_mearec(data, tmp_path / "recordings_u.h5", version="1.9.0")
    with h5py.File(path, "a") as h5:
        del h5.attrs["mearec_version"]
    np.testing.assert_array_equal(open_experiment(mearec.generate_metadata(tmp_path), 0).read(), data)
    with h5py.File(path, "a") as h5:
        del h5["channel_positions"]
    with pytest.raises(FormatError, match=r"recordings_u\.h5.*orient"):
        mearec.generate_metadata(tmp_path)


@pytest.mark.parametrize("version", ["1.4.0", "1.9.0"])
def test_reads_over_s3_and_mirror(tmp_path: Path, store: str, publish: Any, version: str) -> None:
    data = signal(5, 30000).astype(np.float32)
    write_mearec(data, tmp_path / "b/original/data/recordings_s.h5", version=version)
    meta = mearec.generate_metadata(tmp_path / "b", uuid="2024-08-08-e-mearec")
    meta.source = None
    publish(tmp_path / "b", "2024-08-08-e-mearec")
    rec = open_experiment(meta, 0)
    np.testing.assert_array_equal(rec.read(100, 29000, [4, 0], units="raw"), data[[4, 0], 100:29000])
