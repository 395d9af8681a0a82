"""``braingeneers demo`` does the toolkit's main job end to end, and its report says what it drew.

The command runs once per test session (it takes well under a minute); the tests then check
the summary's numbers and recompute each figure's numbers from the data the demo saved.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    command = shutil.which("braingeneers", path=str(Path(sys.executable).parent))
    assert command, "the braingeneers command is not installed in this environment"
    proc = subprocess.run(
        [command, "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"MPLBACKEND": "Agg", "PATH": str(Path(sys.executable).parent), "HOME": str(out)},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "report written" in proc.stdout
    assert str(out / "report") in proc.stdout
    return out


def _summary(demo: Path) -> dict[str, Any]:
    return dict(json.loads((demo / "report" / "summary.json").read_text()))


def _trains(demo: Path) -> tuple[list[np.ndarray], float]:
    with np.load(demo / "report" / "spikes.npz") as saved:
        units = sorted(k for k in saved.files if k.startswith("unit"))
        return [saved[k] for k in units], float(saved["length_ms"])


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def test_detection_finds_the_embedded_spikes(demo: Path) -> None:
    detection = _summary(demo)["detection"]
    assert detection["true_spikes"] > 2000
    assert detection["recall"] >= 0.9
    assert detection["precision"] >= 0.9
    assert detection["matched"] <= min(detection["true_spikes"], detection["detected"])


def test_bursts_match_the_embedded_network_bursts(demo: Path) -> None:
    bursts = _summary(demo)["bursts"]
    assert bursts["embedded"] >= 5
    assert bursts["embedded_found"] == bursts["embedded"]
    assert bursts["count"] == bursts["embedded"]
    assert all(n >= 8 for n in bursts["n_units"])


def test_summary_numbers_recomputed_from_the_saved_spikes(demo: Path) -> None:
    from braingeneers.analysis import SpikeData
    from braingeneers.analysis.bursts import detect_bursts

    summary = _summary(demo)
    trains, length = _trains(demo)
    sd = SpikeData(trains, length=length)
    assert sd.N == summary["recording"]["channels"] == 64
    assert np.allclose(sd.rates(unit="Hz"), summary["rates_hz"]["per_unit"])
    sttc = sd.spike_time_tilings(delt=summary["sttc"]["delt_ms"])
    off = sttc[~np.eye(sd.N, dtype=bool)]
    assert off.mean() == pytest.approx(summary["sttc"]["mean_off_diagonal"])
    assert summary["sttc"]["figure"]["shape"] == [64, 64]
    assert summary["sttc"]["figure"]["max"] == pytest.approx(sttc.max())
    assert 0.05 < off.mean() < 0.9  # bursts make units co-fire: clearly positive, not saturated
    bursts = detect_bursts(
        sd.train, summary["bursts"]["isi_threshold_ms"], min_spikes=20, merge_gap=20.0, min_units=8
    )
    assert np.allclose(bursts.start, summary["bursts"]["start_ms"])


def test_raster_figure_draws_the_spikes_and_bursts_of_its_window(demo: Path) -> None:
    summary = _summary(demo)
    raster = summary["figures"]["raster.png"]
    start, stop = raster["window_ms"]
    trains, _ = _trains(demo)
    assert raster["spikes_drawn"] == sum(int(((t >= start) & (t < stop)).sum()) for t in trains)
    inside = [
        [a, b]
        for a, b in zip(summary["bursts"]["start_ms"], summary["bursts"]["end_ms"], strict=True)
        if b >= start and a < stop
    ]
    assert raster["burst_windows_ms"] == inside
    assert raster["bursts_shaded"] == len(inside) >= 2
    width, height = _png_size(demo / "report" / "raster.png")
    assert width > 600
    assert height > 200


def test_trace_figure_shows_the_recorded_voltage(demo: Path) -> None:
    from braingeneers.core import set_default_endpoint
    from braingeneers.data.metadata import load_metadata
    from braingeneers.data.recording import open_experiment

    summary = _summary(demo)
    traces = summary["figures"]["traces.png"]
    set_default_endpoint(demo / "endpoint")
    batch = load_metadata(summary["batch"])
    with open_experiment(batch, summary["experiment"]) as recording:
        start = traces["start_frame"]
        data = recording.read(start, start + traces["frames"], channels=traces["channels"], units="uV")
    assert np.allclose(data.min(axis=1), traces["min_uv"])
    assert np.allclose(data.max(axis=1), traces["max_uv"])
    assert min(traces["min_uv"]) < -100  # a spike trough is visible: far below the noise
    assert sum(traces["spikes_marked"]) >= 3
    _png_size(demo / "report" / "traces.png")
    _png_size(demo / "report" / "sttc.png")


def test_batch_on_the_local_endpoint_has_both_experiments_and_a_zarr_copy(demo: Path) -> None:
    from braingeneers.data.metadata import load_metadata

    summary = _summary(demo)
    batch = load_metadata(demo / "endpoint" / "ephys" / summary["batch"])
    hardware = {e.hardware for e in batch.ephys_experiments.values()}
    assert hardware == {"Maxwell", "Axion BioSystems"}
    assert len(batch.ephys_experiments[summary["experiment"]].blocks) == 2
    assert sum(e.hardware == "Axion BioSystems" for e in batch.ephys_experiments.values()) == 6
    assert (demo / "endpoint" / summary["zarr_store"].removeprefix("s3://braingeneers/")).is_dir()
