"""Maxwell reader: layouts, MaxTwo wells, compression, side files, bad input, SpikeInterface cross-check."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.formats import maxwell
from braingeneers.data.metadata import BatchMetadata
from braingeneers.data.recording import open_experiment
from braingeneers.data.sources import open_source
from braingeneers.data.synthetic.maxwell import electrode_xy, write_maxwell, write_stim_log
from braingeneers.data.synthetic.signal import synthetic_signal

LSB = 6.294e-6
LAYOUTS = ["legacy", "data_store", "wells", "recordings"]


def counts(channels: int, frames: int, seed: int = 0) -> np.ndarray:
    signal, _ = synthetic_signal(channels, frames, seed=seed)
    return (signal.astype(np.int32) + 512).astype(np.uint16)


def batch_of(folder: Path) -> BatchMetadata:
    return maxwell.generate_metadata(folder)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_reads_back_raw_and_uv(tmp_path: Path, layout: str) -> None:
    data = counts(6, 3000)
    channels = [40, 3, 900, 7, 12, 1000]
    write_maxwell(data, tmp_path / "original/data/rec.raw.h5", layout=layout, channels=channels)
    rec = open_experiment(batch_of(tmp_path), "rec")
    if layout == "legacy":
        assert rec.num_channels == 1024
        rows = {c: c for c in channels}
        np.testing.assert_array_equal(rec.channel_ids, np.arange(1024))
    else:
        assert rec.num_channels == 6
        rows = {c: i for i, c in enumerate(channels)}
        np.testing.assert_array_equal(rec.channel_ids, channels)
    want = [900, 3, 3, 40]
    got = rec.read(100, 2100, [rows[c] for c in want], units="raw")
    expected = data[[channels.index(c) for c in want], 100:2100]
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, expected)
    uv = rec.read(100, 2100, [rows[c] for c in want])
    assert uv.dtype == np.float32
    np.testing.assert_allclose(uv, (expected.astype(np.float64) - 512) * LSB * 1e6, rtol=1e-6)
    assert rec.sample_rate == 20000.0
    positions = rec.positions
    assert positions is not None
    np.testing.assert_allclose(positions[rows[900]], electrode_xy(np.array([900 * 7]))[0])
    rec.close()


def test_legacy_unrouted_channels_have_no_position_and_read_midpoint(tmp_path: Path) -> None:
    write_maxwell(counts(2, 100), tmp_path / "r.raw.h5", channels=[5, 6])
    rec = open_experiment(batch_of(tmp_path), 0)
    assert rec.positions is not None
    assert np.isnan(rec.positions[0]).all()
    assert rec.channel_info.electrodes is not None
    assert rec.channel_info.electrodes[0] == -1
    np.testing.assert_array_equal(rec.read(0, 100, [0], units="raw"), np.full((1, 100), 512))


@pytest.mark.parametrize("chunks", ["time", "row", "contiguous", (3, 700)])
def test_chunk_layouts_and_channel_groupings_agree(tmp_path: Path, chunks: object) -> None:
    data = counts(10, 5000, seed=3)
    write_maxwell(data, tmp_path / "r.raw.h5", layout="wells", chunks=chunks, compression="gzip")
    rec = open_experiment(batch_of(tmp_path), 0)
    for request in ([9, 0, 5, 4, 3, 1], [2], list(range(10)), [7, 7, 8], [0, 9]):
        np.testing.assert_array_equal(rec.read(1234, 4321, request, units="raw"), data[request, 1234:4321])


def test_maxtwo_one_experiment_per_well(tmp_path: Path) -> None:
    wells = {0: counts(4, 800, 1), 3: counts(5, 800, 2)}
    write_maxwell(wells, tmp_path / "original/data/plate.raw.h5", layout="wells")
    meta = batch_of(tmp_path)
    assert list(meta.ephys_experiments) == ["plate_well000", "plate_well003"]
    assert meta.ephys_experiments["plate_well003"].extra["maxwell_well"] == 3
    assert meta.ephys_experiments["plate_well003"].data_format == "maxtwo"
    for name, well in (("plate_well000", 0), ("plate_well003", 3)):
        with open_experiment(meta, name) as rec:
            np.testing.assert_array_equal(rec.read(units="raw"), wells[well])


def test_ambiguous_stream_names_the_choices(tmp_path: Path) -> None:
    write_maxwell({0: counts(2, 50), 1: counts(2, 50)}, tmp_path / "p.raw.h5", layout="recordings")
    meta = batch_of(tmp_path)
    experiment = meta.ephys_experiments["p_well000"]
    del experiment.extra["maxwell_well"]
    with pytest.raises(FormatError, match="maxwell_well"):
        open_experiment(meta, "p_well000").read(0, 10)


def test_num_frames_disagreeing_with_file_names_the_file(tmp_path: Path) -> None:
    write_maxwell(counts(3, 200), tmp_path / "r.raw.h5", layout="data_store")
    meta = batch_of(tmp_path)
    meta.ephys_experiments["r"].blocks[0].num_frames = 250
    rec = open_experiment(meta, "r")
    with pytest.raises(FormatError, match=r"r\.raw\.h5.*num_frames=250.*200 frames"):
        rec.read(0, 10)


def test_truncated_file_is_a_format_error_naming_it(tmp_path: Path) -> None:
    path = write_maxwell(counts(3, 2000), tmp_path / "r.raw.h5", layout="wells", chunks="contiguous")
    meta = batch_of(tmp_path)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(FormatError, match=r"r\.raw\.h5"):
        open_experiment(meta, "r").read(0, 2000)


def test_missing_raw_dataset_is_a_format_error(tmp_path: Path) -> None:
    path = write_maxwell(counts(3, 20), tmp_path / "r.raw.h5", layout="wells")
    meta = batch_of(tmp_path)
    with h5py.File(path, "a") as h5:
        del h5["wells/well000/rec0000/groups/routed/raw"]
    with pytest.raises(FormatError, match=r"r\.raw\.h5.*no stream with continuous data"):
        open_experiment(meta, "r").read(0, 10)
    with h5py.File(path, "a") as h5:
        del h5["version"]
    with pytest.raises(FormatError, match="not a Maxwell"):
        open_experiment(meta, "r").read(0, 10)


def test_filter_401_without_plugin_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.raw.h5"
    write_maxwell(counts(2, 10), path, layout="data_store")
    with h5py.File(path, "a") as h5:
        del h5["data_store/data0000/groups/routed/raw"]
        ds = h5.create_dataset(
            "data_store/data0000/groups/routed/raw",
            shape=(2, 10),
            dtype=np.uint16,
            chunks=(2, 10),
            compression=401,
            allow_unknown_filter=True,
        )
        ds.id.write_direct_chunk((0, 0), b"\x00" * 40)
    monkeypatch.setenv("HDF5_PLUGIN_PATH", str(tmp_path / "plugins-elsewhere"))
    monkeypatch.setattr(maxwell, "NEO_PLUGIN_DIR", tmp_path / "no-plugin-here")
    monkeypatch.setattr(maxwell, "_plugin_state", {"checked": False})
    rec = open_experiment(batch_of(tmp_path), 0)
    assert rec.num_channels == 2  # metadata stays readable without the plugin
    with pytest.raises(FormatError, match=r"c\.raw\.h5.*filter 401.*HDF5_PLUGIN_PATH") as info:
        rec.read(0, 10)
    assert "libcompression.so" in str(info.value)


def test_plugin_folders_are_appended_not_replacing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine"
    maxwell_dir = tmp_path / "maxwell"
    maxwell_dir.mkdir()
    monkeypatch.setenv("HDF5_PLUGIN_PATH", str(mine))
    monkeypatch.setenv("MAXWELL_HDF5_PLUGIN_PATH", str(maxwell_dir))
    monkeypatch.setattr(maxwell, "_plugin_state", {"checked": False})
    monkeypatch.setattr(maxwell, "NEO_PLUGIN_DIR", tmp_path / "absent")
    assert maxwell.ensure_plugin_path() is False
    import os

    assert os.environ["HDF5_PLUGIN_PATH"].split(os.pathsep) == [str(mine), str(maxwell_dir)]


def test_mapping_gpio_and_stim_log(tmp_path: Path) -> None:
    path = write_maxwell(
        counts(3, 500),
        tmp_path / "original/data/s.raw.h5",
        channels=[4, 8, 2],
        gpio=[(1010, 1), (1200, 0)],
        first_frame=1000,
    )
    table = maxwell.read_mapping(path)
    np.testing.assert_array_equal(table["channel"], [4, 8, 2])
    np.testing.assert_array_equal(table["electrode"], [28, 56, 14])
    np.testing.assert_allclose(table["x"], (np.array([28, 56, 14]) % 220) * 17.5)
    events = maxwell.read_gpio_events(path)
    np.testing.assert_array_equal(events["frame"], [10, 200])
    np.testing.assert_array_equal(events["bits"], [1, 0])
    assert len(maxwell.read_gpio_events(write_maxwell(counts(1, 5), tmp_path / "n.raw.h5"))) == 0
    meta = batch_of(tmp_path)
    block = meta.ephys_experiments["s"].blocks[0]
    log = maxwell.stim_log_uri(meta, block)
    assert log.endswith("original/log/slog.csv")
    write_stim_log([{"time": "0.5", "channel": "4"}, {"time": "1.0", "channel": "8"}], log)
    assert maxwell.read_stim_log(log) == [{"time": "0.5", "channel": "4"}, {"time": "1.0", "channel": "8"}]


def test_probe_recognises_maxwell_only(tmp_path: Path) -> None:
    good = write_maxwell(counts(1, 5), tmp_path / "g.raw.h5")
    other = tmp_path / "o.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = [1]
    text = tmp_path / "t.raw.h5"
    text.write_bytes(b"not hdf5 at all")
    assert maxwell.MaxwellReader.probe(open_source(good))
    assert not maxwell.MaxwellReader.probe(open_source(other))
    assert not maxwell.MaxwellReader.probe(open_source(text))


def test_reads_from_s3_and_mirror_through_ranges(tmp_path: Path, store: str, publish) -> None:  # type: ignore[no-untyped-def]
    data = counts(8, 40000, seed=5)
    folder = tmp_path / "batch"
    write_maxwell(data, folder / "original/data/big.raw.h5", layout="wells")
    meta = batch_of(folder)
    meta.source = None
    meta.uuid = "2024-01-01-e-maxwell"
    publish(folder, meta.uuid)
    rec = open_experiment(meta, "big")
    np.testing.assert_array_equal(rec.read(30000, 40000, [7, 1], units="raw"), data[[7, 1], 30000:40000])
    np.testing.assert_array_equal(rec.read(0, 10, units="raw"), data[:, :10])
    reader = rec.reader(0)
    if store == "s3":
        assert reader.source.local_path is None
        before = reader.source.requests
        np.testing.assert_array_equal(rec.read(2000, 38000, [0, 5], units="raw"), data[[0, 5], 2000:38000])
        # 18 chunks of 8 x 2048 frames, 32 KiB each, adjacent in the file: merged into one prefetch request
        assert reader.source.requests - before <= 3
    else:
        assert reader.source.local_path is not None


@pytest.mark.skipif(importlib.util.find_spec("neo") is None, reason="neo not installed")
@pytest.mark.parametrize("layout", ["legacy", "wells"])
def test_matches_neo_maxwell_reader(tmp_path: Path, layout: str) -> None:
    """neo's MaxwellRawIO (what SpikeInterface's read_maxwell uses) reads the same counts and gains."""
    from neo.rawio import MaxwellRawIO

    data = counts(5, 4000, seed=9)
    channels = [10, 2, 33, 4, 25]
    path = write_maxwell(data, tmp_path / "x.raw.h5", layout=layout, channels=channels)
    theirs = MaxwellRawIO(filename=str(path))
    theirs.parse_header()
    signal_channels = theirs.header["signal_channels"]
    ids = [int(i) for i in signal_channels["id"]]
    assert ids == channels
    np.testing.assert_allclose(signal_channels["gain"], LSB * 1e6)
    rec = open_experiment(batch_of(tmp_path), 0)
    np.testing.assert_allclose(rec.gain_uv, LSB * 1e6)
    chunk = theirs.get_analogsignal_chunk(
        block_index=0, seg_index=0, i_start=500, i_stop=3500, stream_index=0, channel_indexes=None
    ).T
    if layout == "legacy":
        # neo 0.14 returns the whole 1028-row ``sig`` buffer of a legacy file (its routed-channel
        # slice is not applied), so compare that buffer with our 1024 channel rows.
        assert chunk.shape == (1028, 3000)
        np.testing.assert_array_equal(rec.read(500, 3500, units="raw"), chunk[:1024])
        return
    index = [channels.index(i) for i in ids]
    np.testing.assert_array_equal(rec.read(500, 3500, index, units="raw"), chunk)
    # neo does not subtract the ADC midpoint 512 (offset 0); with the same gain the two differ by 512 * lsb.
    their_uv = (
        chunk.astype(np.float64) * signal_channels["gain"][:, None] + signal_channels["offset"][:, None]
    )
    np.testing.assert_allclose(rec.read(500, 3500, index) + 512 * LSB * 1e6, their_uv, rtol=1e-5, atol=1e-3)


@pytest.mark.skipif(importlib.util.find_spec("spikeinterface") is None, reason="spikeinterface not installed")
def test_matches_spikeinterface_positions(tmp_path: Path) -> None:
    """SpikeInterface (optional: it pins zarr < 3) places the electrodes where we do."""
    import spikeinterface.extractors as se

    data = counts(5, 400, seed=9)
    channels = [10, 2, 33, 4, 25]
    path = write_maxwell(data, tmp_path / "x.raw.h5", layout="wells", channels=channels)
    theirs = se.read_maxwell(path, install_maxwell_plugin=False)
    rec = open_experiment(batch_of(tmp_path), 0)
    index = [channels.index(int(i)) for i in theirs.get_channel_ids()]
    positions = rec.positions
    assert positions is not None
    np.testing.assert_allclose(positions[index], theirs.get_channel_locations(), atol=1e-9)


def test_write_maxwell_batch_makes_a_loadable_batch(tmp_path: Path) -> None:
    from braingeneers.data.metadata import load_metadata
    from braingeneers.data.synthetic import write_maxwell_batch

    first, second = counts(3, 100, 1), counts(3, 150, 2)
    where = write_maxwell_batch(tmp_path / "2024-10-10-e-b", {"a": first, "b": second}, layout="data_store")
    assert where == tmp_path / "2024-10-10-e-b" / "metadata.json"
    meta = load_metadata(tmp_path / "2024-10-10-e-b")
    assert meta.uuid == "2024-10-10-e-b"
    np.testing.assert_array_equal(open_experiment(meta, "b").read(units="raw"), second)
