"""Axion BioSystems .raw: header parsing, per-well reads, metadata generation, bad input; local and S3."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.formats.axion import (
    AxionReader,
    generate_metadata,
    parse_header,
    read_header,
)
from braingeneers.data.metadata import BatchMetadata, load_metadata
from braingeneers.data.sources import open_source
from braingeneers.data.synthetic.axion import plate_channels, write_axion, write_axion_batch

SCALE = -5.484861781483107e-08


def counts(channels: int, frames: int, seed: int = 0) -> np.ndarray:
    """Distinct, recognisable counts: channel c at frame t is unique across the plate."""
    rng = np.random.default_rng(seed)
    return rng.integers(-30000, 30000, size=(channels, frames), dtype=np.int16)


def parse_file(path: Path):  # type: ignore[no-untyped-def]
    data = path.read_bytes()
    return parse_header(lambda o, n: data[o : o + n], len(data), str(path))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"header": "block"},
        {"header": "both"},
        {"sub_header": True},
        {"data_to_eof": True},
        {"sub_header": True, "data_to_eof": True, "header": "both"},
    ],
)
@pytest.mark.parametrize("plate", ["6-well", "24-well"])
def test_header_variants_parse_to_the_written_layout(tmp_path: Path, options: dict, plate: str) -> None:
    data = counts(384, 250)
    path = write_axion(data, tmp_path / "a.raw", plate=plate, voltage_scale=SCALE, **options)
    header = parse_file(path)
    assert header.num_channels == 384
    assert header.num_frames == 250
    assert header.sample_rate == 12500.0
    assert header.voltage_scale == SCALE
    assert header.crc_ok
    assert header.plate_layout == ((2, 3) if plate == "6-well" else (4, 6))
    assert header.electrode_layout == ((8, 8) if plate == "6-well" else (4, 4))
    assert len(header.wells()) == (6 if plate == "6-well" else 24)
    raw = path.read_bytes()[header.data_start : header.data_start + 250 * 768]
    np.testing.assert_array_equal(np.frombuffer(raw, "<i2").reshape(250, 384).T, data)


def test_well_channels_are_electrode_row_major_and_cover_the_plate(tmp_path: Path) -> None:
    path = write_axion(counts(384, 10), tmp_path / "a.raw")
    header = parse_file(path)
    per_well = header.per_well_channel_map()
    assert sorted(np.concatenate(per_well).tolist()) == list(range(384))
    channels = plate_channels("6-well")
    b2 = header.well_channels("B2")
    assert len(b2) == 64
    assert set(channels["well_row"][b2]) == {2}
    assert set(channels["well_column"][b2]) == {2}
    slots = (channels["electrode_row"][b2].astype(int) - 1) * 8 + channels["electrode_column"][b2] - 1
    assert slots.tolist() == list(range(64))
    with pytest.raises(FormatError, match="no channels in well C1"):
        header.well_channels("C1")


def test_rectangular_wells_use_electrode_columns_for_the_slot(tmp_path: Path) -> None:
    # 12-well plate: 4 x 8 electrodes; the legacy code used rows for the stride (wrong here).
    path = write_axion(counts(384, 5), tmp_path / "a.raw", plate="12-well")
    header = parse_file(path)
    channels = header.channels
    a1 = header.well_channels("A1")
    rows = channels["electrode_row"][a1].astype(int)
    cols = channels["electrode_column"][a1].astype(int)
    expected = [(r, c) for r in range(1, 5) for c in range(1, 9)]
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == expected


def batch(
    tmp_path: Path, frames: int = 1000, per_file: int = 400, plate: str = "6-well"
) -> tuple[Path, np.ndarray]:
    data = counts(384, frames, seed=3)
    write_axion_batch(tmp_path / "b-uuid", data, per_file, plate=plate)
    return tmp_path / "b-uuid", data


def test_generate_metadata_one_experiment_per_well_one_block_per_file(tmp_path: Path) -> None:
    folder, _ = batch(tmp_path)
    meta = load_metadata(folder)
    assert meta.uuid == "b-uuid"
    assert list(meta.ephys_experiments) == ["A1", "A2", "A3", "B1", "B2", "B3"]
    a2 = meta.ephys_experiments["A2"]
    assert a2.hardware == "Axion BioSystems"
    assert a2.num_channels == 64
    assert a2.sample_rate == 12500.0
    assert a2.voltage_scaling_factor == pytest.approx(SCALE)
    assert a2.units == "V"
    assert [b.num_frames for b in a2.blocks] == [400, 400, 200]
    assert [b.path for b in a2.blocks] == [f"original/data/plate({i:03d}).raw" for i in range(3)]
    assert a2.extra["axion_channel_offset"] == 64
    assert a2.extra["axion_well"] == "A2"
    assert (
        a2.blocks[0].extra["axion_data_start_position"]
        == read_header(open_source(meta.block_uri(a2.blocks[0]))).data_start
    )
    assert len(meta.extra["axion_per_well_channel_map"]) == 6
    # the folder itself is accepted too, and the result is the same
    again = generate_metadata(folder, uuid="b-uuid")
    assert again.to_dict() == meta.to_dict()


def open_block(meta: BatchMetadata, name: str, index: int) -> AxionReader:
    experiment = meta.ephys_experiments[name]
    block = experiment.blocks[index]
    return AxionReader(open_source(meta.block_uri(block)), meta, experiment, block)


@pytest.mark.parametrize("well", ["A1", "B3"])
def test_reader_reads_exactly_the_wells_channels(tmp_path: Path, well: str) -> None:
    folder, data = batch(tmp_path)
    meta = load_metadata(folder)
    columns = np.asarray(
        meta.extra["axion_per_well_channel_map"][["A1", "A2", "A3", "B1", "B2", "B3"].index(well)]
    )
    with open_block(meta, well, 1) as reader:
        assert reader.num_channels == 64
        assert reader.num_frames == 400
        every = np.arange(64)
        np.testing.assert_array_equal(reader.read_raw(0, 400, every), data[columns, 400:800])
        picked = np.array([3, 17, 63])
        np.testing.assert_array_equal(reader.read_raw(123, 321, picked), data[columns[picked], 523:721])
        assert reader.read_raw(5, 5, picked).shape == (3, 0)
        assert reader.read_raw(0, 1, picked).dtype == np.int16
        info = reader.channel_info()
        np.testing.assert_allclose(info.gain_uv, SCALE * 1e6)
        np.testing.assert_array_equal(info.ids, every)
        assert info.electrodes is not None
        assert info.electrodes.tolist() == list(range(64))


def test_reader_finds_the_well_without_generated_keys(tmp_path: Path) -> None:
    """Legacy metadata: only the per-well map and axion_channel_offset; or only a well-named experiment."""
    folder, data = batch(tmp_path)
    meta = load_metadata(folder)
    header = read_header(open_source(meta.block_uri(meta.ephys_experiments["B1"].blocks[0])))
    for name in ("B1",):
        experiment = meta.ephys_experiments[name]
        del experiment.extra["axion_well"]
        with open_block(meta, name, 0) as reader:
            np.testing.assert_array_equal(
                reader.read_raw(0, 10, np.arange(64)), data[header.well_channels("B1"), :10]
            )
        for block in experiment.blocks:
            block.extra.pop("axion_channel_map_key")
        experiment.extra.pop("axion_channel_offset")
        with open_block(meta, name, 0) as reader:  # from the name "B1"
            np.testing.assert_array_equal(
                reader.read_raw(0, 10, np.arange(64)), data[header.well_channels("B1"), :10]
            )
        experiment.name = "plate-well"
        with pytest.raises(FormatError, match="axion_well"):
            open_block(meta, name, 0)


def test_metadata_disagreeing_with_the_file_is_a_format_error(tmp_path: Path) -> None:
    folder, _ = batch(tmp_path)
    meta = load_metadata(folder)
    # a legacy-style experiment (map + offset, no axion_well) whose map row mixes two wells
    legacy = meta.ephys_experiments["A2"]
    del legacy.extra["axion_well"]
    well_map = meta.extra["axion_per_well_channel_map"]
    well_map[1][0], well_map[2][0] = well_map[2][0], well_map[1][0]
    with pytest.raises(FormatError, match="row 1 of the metadata's 'axion_per_well_channel_map'"):
        open_block(meta, "A2", 0)
    meta.ephys_experiments["A1"].blocks[0].num_frames = 401
    with pytest.raises(FormatError, match="num_frames=401"):
        open_block(meta, "A1", 0)
    meta.ephys_experiments["A1"].blocks[0].num_frames = 400
    meta.ephys_experiments["A1"].blocks[0].extra["axion_data_start_position"] = 2048
    with pytest.raises(FormatError, match="data starts at byte 2048"):
        open_block(meta, "A1", 0)


def test_s3_and_mirror_reads_match_and_fetch_only_needed_ranges(tmp_path: Path, store: str) -> None:
    from braingeneers.core.endpoint import current_endpoint
    from braingeneers.core.transfer import upload

    folder, data = batch(tmp_path, frames=3000, per_file=3000)
    uuid = "2024-01-02-e-axion-test"
    base = f"s3://braingeneers/ephys/{uuid}/"
    for path in sorted(folder.rglob("*.raw")):
        upload(path, base + path.relative_to(folder).as_posix())
    meta = generate_metadata(base, uuid=uuid)
    assert meta.block_uri(meta.ephys_experiments["A3"].blocks[0]) == base + "original/data/plate(000).raw"
    experiment = meta.ephys_experiments["A3"]
    columns = np.asarray(meta.extra["axion_per_well_channel_map"][2])
    source = open_source(meta.block_uri(experiment.blocks[0]))
    with AxionReader(source, meta, experiment, experiment.blocks[0]) as reader:
        before = source.requests
        np.testing.assert_array_equal(
            reader.read_raw(1000, 1100, np.array([0, 9])), data[columns[[0, 9]], 1000:1100]
        )
        if store == "s3":
            assert current_endpoint().is_local is False
            assert source.requests - before == 1  # one range GET of 100 frames x 768 B


def test_legacy_generator_and_cross_file_reads_on_s3_and_mirror(tmp_path: Path, store: str) -> None:
    from braingeneers.core.transfer import upload
    from braingeneers.data.datasets_electrophysiology import generate_metadata_axion
    from braingeneers.data.recording import open_experiment

    folder, data = batch(tmp_path, frames=2000, per_file=1200)
    uuid = "2024-01-03-e-axion-two-files"
    for path in sorted(folder.rglob("*.raw")):
        upload(path, f"s3://braingeneers/ephys/{uuid}/" + path.relative_to(folder).as_posix())
    generate_metadata_axion(uuid, save=True)
    columns = np.asarray(load_metadata(uuid).extra["axion_per_well_channel_map"][5])
    with open_experiment(uuid, "B3") as rec:
        assert rec.shape == (64, 2000)
        picked = [40, 2, 40]
        np.testing.assert_array_equal(
            rec.read(1100, 1300, picked, units="raw"), data[columns[picked], 1100:1300]
        )


def truncated(path: Path, size: int) -> Path:
    data = path.read_bytes()[:size]
    path.write_bytes(data)
    return path


def patched(path: Path, offset: int, value: bytes) -> Path:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))
    return path


def test_bad_files_raise_format_errors_naming_the_file(tmp_path: Path) -> None:
    data = counts(384, 20)
    good = write_axion(data, tmp_path / "good.raw")
    size = good.stat().st_size
    header = parse_file(good)
    cases = {
        "magic": (patched(write_axion(data, tmp_path / "m.raw"), 0, b"NotAxion"), "not an Axion"),
        "short": (truncated(write_axion(data, tmp_path / "s.raw"), 500), "past the end"),
        "data cut": (truncated(write_axion(data, tmp_path / "d.raw"), size - 800), "truncated"),
        "version": (patched(write_axion(data, tmp_path / "v.raw"), 10, struct.pack("<H", 2)), "version 2"),
        "entries": (
            patched(write_axion(data, tmp_path / "e.raw"), 26, struct.pack("<q", 10**12)),
            "EntriesStart",
        ),
        "type": (
            patched(write_axion(data, tmp_path / "t.raw"), 34 + 7, b"\x42"),
            "unknown entry record type",
        ),
        "channels": (
            patched(write_axion(data, tmp_path / "c.raw"), 1024 + 600 + 4, struct.pack("<I", 383)),
            "channel array says 383",
        ),
        "spikes": (
            patched(
                write_axion(data, tmp_path / "k.raw", header="block"),
                1024 + 600 + 8 + 384 * 8 + 56,
                struct.pack("<I", 40),
            ),
            "not raw continuous",
        ),
        "rate": (
            patched(
                write_axion(data, tmp_path / "r.raw", header="block"),
                1024 + 600 + 8 + 384 * 8,
                struct.pack("<d", -1.0),
            ),
            "sample rate",
        ),
    }
    for name, (path, message) in cases.items():
        with pytest.raises(FormatError, match=message) as caught:
            parse_file(path)
        assert path.name in str(caught.value), name
    assert header.num_frames == 20


def test_a_partial_trailing_frame_to_eof_is_dropped(tmp_path: Path) -> None:
    path = write_axion(counts(384, 20), tmp_path / "a.raw", data_to_eof=True)
    with open(path, "ab") as out:
        out.write(b"\x01\x02\x03")
    assert parse_file(path).num_frames == 20


@pytest.mark.parametrize("well", ["A1", "B2"])
def test_open_experiment_reads_across_file_boundaries_exactly(tmp_path: Path, well: str) -> None:
    """The legacy reader crashed on the second file (#122); every boundary and selection must be exact."""
    from braingeneers.data.recording import open_experiment

    folder, data = batch(tmp_path, frames=1000, per_file=400)
    meta = load_metadata(folder)
    columns = np.asarray(
        meta.extra["axion_per_well_channel_map"][["A1", "A2", "A3", "B1", "B2", "B3"].index(well)]
    )
    well_data = data[columns]
    with open_experiment(folder, well) as rec:
        assert rec.shape == (64, 1000)
        assert rec.sample_rate == 12500.0
        np.testing.assert_array_equal(rec.read(units="raw"), well_data)
        for start, stop in [(399, 401), (0, 400), (350, 850), (799, 1000), (400, 800)]:
            np.testing.assert_array_equal(rec.read(start, stop, units="raw"), well_data[:, start:stop])
        picked = [63, 0, 17, 0]
        np.testing.assert_array_equal(
            rec.read(390, 810, channels=picked, units="raw"), well_data[picked, 390:810]
        )
        sliced = rec[5, np.int64(398) : np.int64(402)]  # numpy-style: µV, an int channel drops its axis
        np.testing.assert_allclose(sliced, well_data[5, 398:402] * SCALE * 1e6, rtol=1e-6)
        micro = rec.read(395, 405, channels=[1, 2], units="uV")
        np.testing.assert_allclose(micro, well_data[[1, 2], 395:405] * SCALE * 1e6, rtol=1e-6)
        half = rec.read(395, 405, channels=[1, 2], units="uV", dtype="float16")
        np.testing.assert_allclose(half, micro, rtol=2e-3, atol=2e-3)
        with pytest.raises(IndexError, match=r"valid frames are 0\.\.1000"):
            rec.read(990, 1001)


def test_batch_generator_dispatches_raw_files_here(tmp_path: Path) -> None:
    from braingeneers.data.generators import generate_metadata as generate_batch

    folder, data = batch(tmp_path)
    meta = generate_batch(folder, experiment_prefix="plate1-")
    assert list(meta.ephys_experiments) == [f"plate1-{w}" for w in ("A1", "A2", "A3", "B1", "B2", "B3")]
    assert "plate1-axion_per_well_channel_map" in meta.extra
    from braingeneers.data.recording import open_experiment

    with open_experiment(meta, "plate1-A3") as rec:
        columns = meta.extra["plate1-axion_per_well_channel_map"][2]
        np.testing.assert_array_equal(rec.read(395, 405, units="raw"), data[columns, 395:405])
