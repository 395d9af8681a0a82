"""Legacy Raspi (big-endian) and Intan-derived flat binaries through open_experiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.metadata import BatchMetadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.flat import write_intan, write_raspi


def counts(channels: int, frames: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-32768, 32767, size=(channels, frames), dtype=np.int16)


def batch(folder: Path, hardware: str, paths: list[str], frames: list[int], **fields: float) -> BatchMetadata:
    return BatchMetadata.from_dict(
        {
            "uuid": "flat",
            "ephys_experiments": {
                "e": {
                    "hardware": hardware,
                    "num_channels": 5,
                    "sample_rate": 1000,
                    "blocks": [{"path": p, "num_frames": n} for p, n in zip(paths, frames, strict=True)],
                    **fields,
                }
            },
        },
        source=str(folder),
    )


def test_raspi_big_endian_with_header_across_blocks(tmp_path: Path) -> None:
    a, b = counts(5, 70, 1), counts(5, 33, 2)
    write_raspi(a, tmp_path / "derived" / "a.bin", header_bytes=16)
    write_raspi(b, tmp_path / "derived" / "b.bin", header_bytes=16)
    with open(tmp_path / "derived" / "b.bin", "ab") as out:
        out.write(b"\x07")  # trailing partial frame: ignored
    meta = batch(
        tmp_path,
        "Raspi",
        ["derived/a.bin", "derived/b.bin"],
        [70, 33],
        offset=16 * 32,
        voltage_scaling_factor=0.5,
    )
    whole = np.concatenate([a, b], axis=1)
    with open_experiment(meta, "e") as rec:
        assert rec.shape == (5, 103)
        np.testing.assert_array_equal(rec.read(units="raw"), whole)
        np.testing.assert_array_equal(
            rec.read(60, 80, channels=[4, 0, 4], units="raw"), whole[[4, 0, 4], 60:80]
        )
        np.testing.assert_allclose(
            rec.read(0, 5, channels=[2], units="uV"), whole[[2], :5] * 0.5
        )  # offset is not subtracted


def test_intan_skips_8_bytes_and_subtracts_the_offset(tmp_path: Path) -> None:
    a = counts(5, 40, 3)
    write_intan(a, tmp_path / "derived" / "i.bin", header=b"INTAN\0\0\0")
    meta = batch(tmp_path, "Intan", ["derived/i.bin"], [40], offset=32768, voltage_scaling_factor=0.195)
    with open_experiment(meta, "e") as rec:
        np.testing.assert_array_equal(rec.read(units="raw"), a)
        np.testing.assert_allclose(
            rec.read(3, 9, channels=[1, 3], units="uV"),
            (a[[1, 3], 3:9].astype(np.float64) - 32768) * 0.195,
            rtol=1e-6,
        )


def test_metadata_that_disagrees_with_the_file(tmp_path: Path) -> None:
    write_intan(counts(5, 40, 3), tmp_path / "i.bin")
    with (
        open_experiment(batch(tmp_path, "Intan", ["i.bin"], [41]), "e") as rec,
        pytest.raises(FormatError, match="num_frames=41"),
    ):
        rec.read(0, 1)
