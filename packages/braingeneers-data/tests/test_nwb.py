"""NWB ElectricalSeries reader (h5py only), checked against files written by pynwb and by our writer."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from braingeneers.core.errors import FormatError
from braingeneers.data.formats import nwb
from braingeneers.data.recording import open_experiment
from braingeneers.data.synthetic.nwb import write_nwb
from braingeneers.data.synthetic.signal import synthetic_signal


def counts(channels: int = 5, frames: int = 3000) -> np.ndarray:
    signal, _ = synthetic_signal(channels, frames, seed=4)
    return signal


@pytest.mark.parametrize("time_first", [True, False])
def test_our_writer_round_trips_both_orientations(tmp_path: Path, time_first: bool) -> None:
    data = counts()
    write_nwb(
        data,
        tmp_path / "a.nwb",
        conversion=2e-6,
        offset=-1e-4,
        time_first=time_first,
        electrode_ids=[7, 8, 9, 10, 11],
    )
    meta = nwb.generate_metadata(tmp_path)
    assert meta.experiment("a").hardware == "NeurodataWithoutBorders"
    rec = open_experiment(meta, "a")
    assert rec.shape == (5, 3000)
    np.testing.assert_array_equal(rec.channel_ids, [7, 8, 9, 10, 11])
    np.testing.assert_array_equal(rec.read(10, 2900, [4, 0, 0], units="raw"), data[[4, 0, 0], 10:2900])
    volts = data.astype(np.float64) * 2e-6 - 1e-4
    np.testing.assert_allclose(rec.read(0, 3000, dtype=np.float64), volts * 1e6, rtol=1e-9, atol=1e-9)


def test_channel_conversion_scales_each_channel(tmp_path: Path) -> None:
    data = counts(3, 100)
    factors = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    write_nwb(data, tmp_path / "c.nwb", conversion=1e-6, channel_conversion=factors)
    rec = open_experiment(nwb.generate_metadata(tmp_path), 0)
    np.testing.assert_allclose(rec.read(), data * factors[:, None], rtol=1e-6)


def test_several_series_need_a_choice(tmp_path: Path) -> None:
    path = write_nwb(counts(2, 50), tmp_path / "m.nwb")
    with h5py.File(path, "a") as h5:
        h5.copy("acquisition/ElectricalSeries", "acquisition/Other")
    meta = nwb.generate_metadata(tmp_path)
    assert sorted(meta.ephys_experiments) == ["m_ElectricalSeries", "m_Other"]
    np.testing.assert_array_equal(open_experiment(meta, "m_Other").read(units="raw"), counts(2, 50))
    del meta.experiment("m_Other").blocks[0].extra["nwb_electrical_series"]
    with pytest.raises(FormatError, match="nwb_electrical_series"):
        open_experiment(meta, "m_Other").read(0, 1)


def test_missing_series_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "e.nwb"
    with h5py.File(path, "w") as h5:
        h5.create_group("acquisition")
    with pytest.raises(FormatError, match=r"e\.nwb.*no ElectricalSeries"):
        nwb.generate_metadata(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("pynwb") is None, reason="pynwb not installed")
def test_reads_a_file_written_by_pynwb(tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ecephys import ElectricalSeries

    data = counts(4, 2000).astype(np.int16)
    nwbfile = NWBFile("synthetic", "id-1", datetime(2024, 1, 1, tzinfo=timezone.utc))
    device = nwbfile.create_device("MaxOne")
    group = nwbfile.create_electrode_group("g", "array", "organoid", device)
    nwbfile.add_electrode_column("rel_x", "x in µm")
    nwbfile.add_electrode_column("rel_y", "y in µm")
    for i in range(4):
        nwbfile.add_electrode(group=group, location="organoid", id=100 + i, rel_x=17.5 * i, rel_y=3.0)
    region = nwbfile.create_electrode_table_region(list(range(4)), "all")
    nwbfile.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            data=data.T,
            electrodes=region,
            rate=20000.0,
            conversion=6.294e-6,
            offset=0.25,
        )
    )
    path = tmp_path / "original/data/p.nwb"
    path.parent.mkdir(parents=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    rec = open_experiment(nwb.generate_metadata(tmp_path), "p")
    assert rec.sample_rate == 20000.0
    np.testing.assert_array_equal(rec.channel_ids, [100, 101, 102, 103])
    np.testing.assert_array_equal(rec.read(units="raw"), data)
    positions = rec.positions
    assert positions is not None
    np.testing.assert_allclose(positions, np.array([[0, 3], [17.5, 3], [35, 3], [52.5, 3]]))
    with NWBHDF5IO(str(path), "r") as io:
        series = io.read().acquisition["ElectricalSeries"]
        volts = series.get_data_in_units()
    np.testing.assert_allclose(rec.read(dtype=np.float64), np.asarray(volts).T * 1e6, rtol=1e-9)


def test_reads_over_s3_and_mirror(tmp_path: Path, store: str, publish: Any) -> None:
    data = counts(6, 20000)
    write_nwb(data, tmp_path / "b/original/data/s.nwb", conversion=1e-6)
    meta = nwb.generate_metadata(tmp_path / "b", uuid="2024-08-08-e-nwb")
    meta.source = None
    publish(tmp_path / "b", "2024-08-08-e-nwb")
    rec = open_experiment(meta, "s")
    np.testing.assert_array_equal(rec.read(1000, 19000, [5, 2, 2], units="raw"), data[[5, 2, 2], 1000:19000])
