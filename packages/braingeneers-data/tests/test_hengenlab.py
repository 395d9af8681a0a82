"""Hengenlab eCube .bin: header timestamp, channel map, metadata generation, reads across files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.formats.hengenlab import (
    GAIN_UV,
    HengenlabReader,
    channel_map,
    channels_in_name,
    ecube_time,
    generate_metadata,
)
from braingeneers.data.metadata import BatchMetadata, load_metadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.sources import open_source
from braingeneers.data.synthetic.hengenlab import ecube_file_name, write_hengenlab, write_hengenlab_batch

CHANNELS = 12


def recording(frames: int = 1000, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-2000, 2000, size=(CHANNELS, frames), dtype=np.int16)


def probe_map() -> list[int]:
    return [int(c) for c in np.random.default_rng(7).permutation(CHANNELS)]


def test_file_name_and_header_timestamp(tmp_path: Path) -> None:
    from datetime import datetime

    name = ecube_file_name(192, datetime(2020, 4, 12, 10, 0, 0))
    assert name == "Headstages_192_Channels_int16_2020-04-12_10-00-00.bin"
    assert channels_in_name("s3://b/x/" + name) == 192
    assert channels_in_name("plain.bin") is None
    path = write_hengenlab(
        recording(10), tmp_path / ecube_file_name(CHANNELS, datetime(2020, 1, 1)), 123456789
    )
    assert ecube_time(path) == 123456789
    assert path.stat().st_size == 8 + 10 * CHANNELS * 2


def test_generated_metadata_orders_blocks_by_ecube_time(tmp_path: Path) -> None:
    meta_path = write_hengenlab_batch(tmp_path / "hl-uuid", recording(1000), 300, channel_map=probe_map())
    meta = load_metadata(meta_path.parent)
    assert list(meta.ephys_experiments) == ["experiment1"]
    experiment = meta.ephys_experiments["experiment1"]
    assert experiment.hardware == "Hengenlab"
    assert experiment.num_channels == CHANNELS
    assert experiment.sample_rate == 25000.0
    assert experiment.voltage_scaling_factor == GAIN_UV
    assert [b.num_frames for b in experiment.blocks] == [300, 300, 300, 100]
    times = [b.extra["ecube_time"] for b in experiment.blocks]
    assert times == sorted(times)
    assert all(
        b.path.startswith("original/experiment1/Headstages_12_Channels_int16_") for b in experiment.blocks
    )
    assert meta.extra["channel_map"] == probe_map()
    # Files listed out of order give the same blocks.
    files = sorted((tmp_path / "hl-uuid").rglob("*.bin"), reverse=True)
    again = generate_metadata(files, uuid="hl-uuid", channel_map=probe_map())
    assert again.to_dict() == meta.to_dict()


def test_reads_cross_file_boundaries_in_probe_order(tmp_path: Path, store: str) -> None:
    """The legacy golden read crossed two files; here every boundary and an unsorted, duplicated selection."""
    from braingeneers.core.transfer import upload

    data = recording(1000)
    folder = tmp_path / "hl-uuid"
    uuid = "2020-04-12-e-hengenlab-test"
    write_hengenlab_batch(folder, data, 300, channel_map=probe_map(), uuid=uuid)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            upload(path, f"s3://braingeneers/ephys/{uuid}/" + path.relative_to(folder).as_posix())
    rows = np.asarray(probe_map())
    with open_experiment(uuid, "experiment1") as rec:
        assert rec.shape == (CHANNELS, 1000)
        assert rec.sample_rate == 25000.0
        np.testing.assert_array_equal(rec.read(0, None, units="raw"), data[rows])
        picked = [5, 1, 5, 11]
        np.testing.assert_array_equal(
            rec.read(298, 602, channels=picked, units="raw"), data[rows[picked], 298:602]
        )
        np.testing.assert_array_equal(rec.read(899, 901, channels=1, units="raw"), data[rows[[1]], 899:901])
        np.testing.assert_allclose(
            rec.read(290, 310, channels=[0], units="uV"), data[rows[[0]], 290:310] * GAIN_UV
        )


def reader_for(tmp_path: Path, frames: int, num_frames: int, extra: dict | None = None) -> HengenlabReader:
    name = ecube_file_name(CHANNELS, __import__("datetime").datetime(2020, 1, 1))
    path = write_hengenlab(recording(frames), tmp_path / "original" / "e" / name)
    meta = BatchMetadata.from_dict(
        {
            "uuid": "u",
            **(extra or {}),
            "ephys_experiments": {
                "e": {
                    "hardware": "Hengenlab",
                    "num_channels": CHANNELS,
                    "sample_rate": 25000,
                    "blocks": [{"path": f"original/e/{name}", "num_frames": num_frames}],
                }
            },
        },
        source=str(tmp_path),
    )
    experiment = meta.ephys_experiments["e"]
    return HengenlabReader(open_source(path), meta, experiment, experiment.blocks[0])


def test_bad_input_raises_format_errors(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="num_frames=11 but the file holds 10"):
        reader_for(tmp_path, 10, 11)
    with pytest.raises(FormatError, match="channel_map"):
        reader_for(tmp_path, 10, 10, {"channel_map": [0, 1, 2]})
    with pytest.raises(FormatError, match="channel_map"):
        reader_for(tmp_path, 10, 10, {"channel_map": [0] * CHANNELS})
    with reader_for(tmp_path, 10, 10) as reader:
        np.testing.assert_allclose(
            reader.channel_info().gain_uv, GAIN_UV
        )  # factor 1 in metadata → eCube gain
    short = tmp_path / "x.bin"
    short.write_bytes(b"\x01\x02")
    with pytest.raises(FormatError, match=r"x\.bin: needs bytes \[0, 8\)"):
        generate_metadata([short], num_channels=4)
    unnamed = write_hengenlab(recording(3), tmp_path / "original" / "e" / "nothing-in-name.bin")
    with pytest.raises(FormatError, match="channel count"):
        generate_metadata([unnamed])
    assert (
        generate_metadata([unnamed], num_channels=CHANNELS).ephys_experiments["e"].blocks[0].num_frames == 3
    )


def test_channel_map_defaults_to_identity() -> None:
    meta = BatchMetadata.from_dict({"uuid": "u", "ephys_experiments": {}})
    assert channel_map(meta, 4).tolist() == [0, 1, 2, 3]
    assert json.dumps(meta.to_dict())


def test_batch_generator_dispatches_bin_files_here(tmp_path: Path) -> None:
    from braingeneers.data.generators import generate_metadata as generate_batch

    data = recording(700)
    write_hengenlab_batch(tmp_path / "hl", data, 300, experiment="rat1", channel_map=probe_map())
    meta = generate_batch(tmp_path / "hl")
    assert list(meta.ephys_experiments) == ["rat1"]
    assert meta.extra["channel_map"] == probe_map()  # kept from the existing metadata.json
    with open_experiment(meta, "rat1") as rec:
        np.testing.assert_array_equal(rec.read(290, 310, units="raw"), data[probe_map(), 290:310])
