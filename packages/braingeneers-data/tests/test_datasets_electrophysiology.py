"""Legacy API: names and argument order, legacy dtype contract, multi-file reads, side files, cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from braingeneers.data import datasets_electrophysiology as ephys
from braingeneers.data.synthetic.maxwell import write_maxwell, write_stim_log
from braingeneers.data.synthetic.signal import synthetic_signal

UUID = "2024-04-04-e-legacy"
LSB = 6.294e-6


def make_batch(folder: Path) -> np.ndarray:
    """Write a two-file Maxwell experiment plus metadata.json (legacy voltage_scaling_factor 1.0)."""
    signal, _ = synthetic_signal(5, 3000, seed=21)
    data = (signal.astype(np.int32) + 512).astype(np.uint16)
    write_maxwell(data[:, :1200], folder / "original/data/a.raw.h5", layout="data_store")
    write_maxwell(data[:, 1200:], folder / "original/data/b.raw.h5", layout="data_store")
    metadata = {
        "uuid": UUID,
        "notes": "legacy",
        "ephys_experiments": [
            {
                "name": "exp1",
                "hardware": "Maxwell",
                "num_channels": 5,
                "sample_rate": 20000,
                "scaler": 1,
                "units": "µV",
                "blocks": [
                    {"path": "original/data/a.raw.h5", "num_frames": 1200},
                    {"path": "original/data/b.raw.h5", "num_frames": 1800},
                ],
            }
        ],
    }
    (folder / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return data


@pytest.fixture
def batch(tmp_path: Path, store: str, publish: Any) -> tuple[dict[str, Any], np.ndarray]:
    folder = tmp_path / "batch"
    data = make_batch(folder)
    publish(folder, UUID)
    return ephys.load_metadata(UUID), data


def test_load_data_legacy_contract(batch: tuple[dict[str, Any], np.ndarray]) -> None:
    metadata, data = batch
    assert isinstance(metadata["ephys_experiments"], dict)
    raw = ephys.load_data(metadata, "exp1", offset=1190, length=20, channels=[4, 0], dtype="int16")
    assert raw.dtype == np.int16
    np.testing.assert_array_equal(raw, data[[4, 0], 1190:1210])
    floats = ephys.load_data(metadata, 0, np.int64(1190), np.int32(20), [4, 0])
    assert floats.dtype == np.float32
    np.testing.assert_array_equal(floats, data[[4, 0], 1190:1210].astype(np.float32))  # raw * scaler (1.0)
    metadata["ephys_experiments"]["exp1"]["voltage_scaling_factor"] = 0.5
    np.testing.assert_array_equal(ephys.load_data(metadata, "exp1", 0, 5, 2), data[[2], :5] * 0.5)
    whole = ephys.load_data(metadata, "exp1", 2990, -1, dtype="int16")
    np.testing.assert_array_equal(whole, data[:, 2990:])
    np.testing.assert_array_equal(ephys.load_data(metadata, "exp1", 2000, dtype=np.uint16), data[:, 2000:])
    # the legacy 7th positional argument, parallelism='auto', is accepted and ignored
    legacy_call = ephys.load_data(metadata, "exp1", 0, 5, [1], "int16", "auto")
    np.testing.assert_array_equal(legacy_call, data[[1], :5])
    with pytest.raises(ValueError, match="parallelism"):
        ephys.load_data(metadata, "exp1", 0, 5, parallelism="threads")


def test_load_data_errors(batch: tuple[dict[str, Any], np.ndarray]) -> None:
    metadata, _ = batch
    with pytest.raises(IndexError, match=r"valid frames are 0\.\.3000"):
        ephys.load_data(metadata, "exp1", 2990, 11)
    with pytest.raises(IndexError):
        ephys.load_data(metadata, "exp1", -5, 1)
    with pytest.raises(TypeError):
        ephys.load_data(metadata, "exp1", 1.0, 1)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="exp1"):
        ephys.load_data(metadata, "nope", 0, 1)


def test_windows_in_uv(batch: tuple[dict[str, Any], np.ndarray]) -> None:
    metadata, data = batch
    uv = (data.astype(np.float64) - 512) * LSB * 1e6
    np.testing.assert_allclose(
        ephys.load_window(metadata, "exp1", (1195, 1205), channels=[1]), uv[[1], 1195:1205], rtol=1e-6
    )
    windows = ephys.load_windows(metadata, "exp1", [1200, np.int64(3), 2999, 600], 9, dtype=np.float32)
    assert windows.shape == (4, 5, 9)
    np.testing.assert_allclose(windows[0], uv[:, 1196:1205], rtol=1e-6)
    assert not windows[1].any()  # outside the experiment: zeros
    assert not windows[2].any()
    np.testing.assert_allclose(windows[3], uv[:, 596:605], rtol=1e-6)


def test_metadata_save_list_and_generators(batch: tuple[dict[str, Any], np.ndarray]) -> None:
    metadata, _ = batch
    metadata["notes"] = "edited"
    ephys.save_metadata(metadata)
    assert ephys.load_metadata(UUID)["notes"] == "edited"
    assert ephys.list_uuids() == [UUID]
    generated = ephys.generate_metadata_maxwell(UUID)
    assert sorted(generated["ephys_experiments"]) == ["a", "b"]
    assert generated["ephys_experiments"]["b"]["blocks"][0] == {
        "path": "original/data/b.raw.h5",
        "num_frames": 1800,
    }
    assert generated["ephys_experiments"]["a"]["voltage_scaling_factor"] == pytest.approx(LSB * 1e6)


def test_mapping_stims_and_gpio(tmp_path: Path, store: str, publish: Any) -> None:
    folder = tmp_path / "batch"
    data = make_batch(folder)
    gpio_path = write_maxwell(
        data[:, :100], folder / "gpio.raw.h5", channels=range(5), gpio=[(5, 1), (15, 0), (30, 1)]
    )
    write_stim_log([{"time": 0.5, "electrode": 7}], folder / "original/log/alog.csv")
    publish(folder, UUID)
    metadata = ephys.load_metadata(UUID)
    experiment = metadata["ephys_experiments"]["exp1"]
    mapping = ephys.load_mapping_maxwell(UUID, experiment, channels=[1, 3])
    assert mapping["channel"].tolist() == [1, 3]
    assert mapping["electrode"].tolist() == [7, 21]
    stims = ephys.load_stims_maxwell(UUID, experiment)
    assert stims["electrode"].tolist() == [7]
    assert ephys.load_stims_maxwell(UUID, experiment_stem="missing") is None
    np.testing.assert_allclose(ephys.load_gpio_maxwell(gpio_path, fs=10.0), [0.5, 1.5, 3.0])


def test_cached_load_data_hits_and_stays_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    data = make_batch(folder)
    metadata = ephys.load_metadata(folder)
    cache = tmp_path / "cache"
    first = ephys.cached_load_data(
        cache, metadata=metadata, experiment="exp1", offset=0, length=100, dtype="int16"
    )
    np.testing.assert_array_equal(first, data[:, :100])
    (entry,) = cache.glob("*.npy")
    np.save(entry, np.full((5, 100), 7, dtype=np.int16))  # prove the second call reads the cache
    again = ephys.cached_load_data(
        cache, metadata=metadata, experiment="exp1", offset=0, length=100, dtype="int16"
    )
    assert (again == 7).all()
    for offset in range(0, 1000, 100):
        ephys.cached_load_data(
            cache, max_size_gb=2.5e-6, metadata=metadata, experiment="exp1", offset=offset, length=100
        )
    assert sum(p.stat().st_size for p in cache.glob("*.npy")) <= 2500
    assert len(list(cache.glob("*.npy"))) >= 1


def test_legacy_axion_and_mearec_generators_and_cross_file_axion_read(
    tmp_path: Path, store: str, publish: Any
) -> None:
    from braingeneers.data.synthetic.axion import write_axion_batch
    from braingeneers.data.synthetic.mearec import write_mearec

    rng = np.random.default_rng(3)
    plate = rng.integers(-500, 500, size=(384, 3000), dtype=np.int16)
    folder = tmp_path / "axion"
    write_axion_batch(folder, plate, 1000, uuid="2024-09-09-e-axion")
    (folder / "metadata.json").unlink()
    publish(folder, "2024-09-09-e-axion")
    generated = ephys.generate_metadata_axion("2024-09-09-e-axion", save=True)
    assert len(generated["ephys_experiments"]) == 6
    metadata = ephys.load_metadata("2024-09-09-e-axion")
    first = next(iter(metadata["ephys_experiments"]))
    raw = ephys.load_data(metadata, first, offset=990, length=20, channels=[0, 5], dtype="int16")
    assert raw.shape == (2, 20)  # crosses from the first file into the second (legacy #122)
    again = ephys.load_data(metadata, first, offset=990, length=20, channels=[5], dtype="int16")
    np.testing.assert_array_equal(raw[1], again[0])
    mearec_folder = tmp_path / "mearec"
    write_mearec(np.ones((3, 50), dtype=np.float32), mearec_folder / "original/data/recordings_x.h5")
    publish(mearec_folder, "2024-09-09-e-mearec")
    generated = ephys.generate_metadata_mearec("2024-09-09-e-mearec")
    experiment = generated["ephys_experiments"]["experiment0"]
    assert experiment["hardware"] == "MEArec Simulated Recording"
    assert experiment["blocks"][0]["path"] == "original/data/recordings_x.h5"
    np.testing.assert_array_equal(ephys.load_data(generated, "experiment0"), np.ones((3, 50)))


def test_load_data_follows_an_endpoint_change(tmp_path: Path) -> None:
    """The same batch on two endpoints: load_data reads the current one, not a cached reader."""
    from braingeneers.core import endpoint as ep

    first, second = tmp_path / "one", tmp_path / "two"
    data_one = make_batch(first / "ephys" / UUID)
    data_two = make_batch(second / "ephys" / UUID)
    data_two[0, :10] = 600 + np.arange(10)  # the second endpoint's file differs where we read
    write_maxwell(data_two[:, :1200], second / "ephys" / UUID / "original/data/a.raw.h5", layout="data_store")
    ep.set_default_endpoint(first)
    metadata = ephys.load_metadata(UUID)
    metadata.pop("_source", None)
    np.testing.assert_array_equal(ephys.load_data(metadata, "exp1", 0, 10, [0], "int16"), data_one[[0], :10])
    ep.set_default_endpoint(second)
    np.testing.assert_array_equal(ephys.load_data(metadata, "exp1", 0, 10, [0], "int16"), data_two[[0], :10])
