"""A notebook written against spikedata 0.2.2 gives the same numbers after swapping the import."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

import braingeneers.analysis as ours

spikedata = pytest.importorskip("spikedata")


def notebook(lib: types.ModuleType, units: np.ndarray, times: np.ndarray) -> dict[str, Any]:
    """Typical analysis cells, using only spikedata 0.2.2's public API through ``lib``."""
    sd = lib.SpikeData.from_idces_times(units, times, N=12, length=5000.0)
    thresh = float(np.percentile(sd.binned(40.0), 60))
    out: dict[str, Any] = {
        "N": sd.N,
        "length": sd.length,
        "rates_hz": sd.rates("Hz"),
        "raster_20": sd.raster(20.0),
        "binned_40": sd.binned(40.0),
        "meanrate": sd.binned_meanrate(40, "Hz"),
        "sttc_20": sd.spike_time_tilings(20.0),
        "sttc_pair": sd.spike_time_tiling(0, 1, 5.0),
        "pearson": lib.pearson(sd.sparse_raster(20.0)),
        "pearson_dense": lib.pearson(sd.raster(20.0)),
        "fano": lib.fano_factors(sd.raster(20.0)),
        "burstiness": sd.burstiness_index(40.0),
        "avalanches": [list(map(int, a)) for a in sd.avalanches(thresh, 40.0)],
        "duration_size": sd.avalanche_duration_size(thresh, 40.0),
        "latencies": sd.latencies_to_index(0, 50.0),
        "bursts": lib.burst_detection(np.array(list(sd.times)), 2.0, 4),
        "sub_raster": sd.subtime(1000.0, 3000.0).raster(10.0),
        "sub_slice": sd[1000.0:3000.0].raster(10.0),
        "subset": sd.subset([3, 1]).raster(50.0),
        "frames": [f.raster(100.0) for f in sd.frames(1000.0, 250.0)],
        "isi": sd.interspike_intervals(),
        "skew": sd.isi_skewness(),
        "cma": lib.cumulative_moving_average(sd.isi_log_histogram(20)[0]),
        "threshold": sd.isi_threshold_cma(*sd.isi_log_histogram(20)),
        "pop_rate": sd.population_firing_rate(10, 5)[1],
        "resampled": sd.resampled_isi(np.arange(0.0, 5000.0, 10.0), 20.0),
        "round_trip": lib.SpikeData.from_raster(sd.raster(5.0), 5.0).raster(5.0),
        "events": [(int(i), float(t)) for i, t in list(sd.events)[:50]],
    }
    return out


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)) and not (len(a) and isinstance(a[0], (int, float, np.number))):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        np.testing.assert_allclose(
            np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=1e-12, err_msg=where
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_notebook_gives_spikedata_numbers(seed: int) -> None:
    rng = np.random.default_rng(seed)
    units = rng.integers(0, 12, 3000)
    times = rng.uniform(0, 5000.0, 3000)
    # network bursts, and an isolated last spike so spikedata's dropped final burst does not apply
    burst_units = rng.integers(0, 12, 600)
    burst_times = rng.choice([800.0, 2100.0, 3900.0], 600) + rng.uniform(0, 60.0, 600)
    units = np.r_[units, burst_units, 5]
    times = np.r_[times, burst_times, 4999.5]
    times[np.argmax(times[:-1])] = min(times[:-1].max(), 4980.0)
    mine = notebook(ours, units, times)
    assert len(mine["avalanches"]) > 5
    assert len(mine["bursts"][0]) > 3
    _same(mine, notebook(spikedata, units, times), "notebook")
