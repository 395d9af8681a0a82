"""The kernels agree with spikedata 0.2.2 on random data, except for the documented fixes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from braingeneers.analysis import bursts, criticality, latencies, raster, sttc, surrogates

spikedata = pytest.importorskip("spikedata")


def random_trains(seed: int, n: int = 25, length: float = 5000.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(np.log(5.0), 1.0, n)  # Hz
    trains = [np.sort(rng.uniform(0, length, rng.poisson(r * length / 1e3))) for r in rates]
    trains[1] = np.array([])  # an empty unit
    trains[2] = np.array([length / 2])  # a single-spike unit
    # network bursts: several units fire within 30 ms
    for start in rng.uniform(0, length - 50, 8):
        for u in rng.choice(n, 12, replace=False):
            trains[u] = np.sort(np.r_[trains[u], start + rng.uniform(0, 30, 3)])
    return trains


@pytest.fixture(params=[0, 1])
def data(request: pytest.FixtureRequest) -> tuple[list[np.ndarray], float, object]:
    length = 5000.0
    tr = random_trains(request.param, length=length)
    return tr, length, spikedata.SpikeData(tr, length=length)


@pytest.mark.parametrize("delt", [5.0, 20.0, 100.0])
def test_sttc_matrix_matches(data: tuple, delt: float) -> None:
    tr, length, sd = data
    ours = sttc.sttc_matrix(tr, delt, length)
    theirs = sd.spike_time_tilings(delt)
    assert np.max(np.abs(ours - theirs)) <= 1e-12
    assert sttc.spike_time_tiling(tr[0], tr[3], delt, length) == pytest.approx(theirs[0, 3], abs=1e-12)
    assert sttc.spike_time_tiling(tr[0], tr[3], delt) == pytest.approx(
        spikedata.spike_time_tiling(tr[0], tr[3], delt), abs=1e-12
    )


@pytest.mark.parametrize("bin_size", [1.0, 20.0, 40.0])
def test_rasters_match(data: tuple, bin_size: float) -> None:
    tr, length, sd = data
    expected = sd.raster(bin_size)
    assert np.array_equal(raster.dense_raster(tr, bin_size, length, np.uint16), expected)
    assert np.array_equal(raster.sparse_raster(tr, bin_size, length).toarray(), expected)
    again = spikedata.SpikeData.from_raster(expected, bin_size)
    for ours, theirs in zip(raster.trains_from_raster(expected, bin_size), again.train, strict=True):
        assert np.allclose(ours, theirs, rtol=0, atol=1e-9)


def test_latencies_match(data: tuple) -> None:
    tr, _, sd = data
    for ref in (0, 2):
        ours = latencies.latencies(tr, tr[ref], 100.0)
        theirs = sd.latencies_to_index(ref, 100.0)
        assert [row.tolist() for row in ours] == [list(map(float, row)) for row in theirs]


def test_bursts_and_avalanches_match(data: tuple) -> None:
    tr, _, sd = data
    pooled = np.sort(np.concatenate(tr))
    for thr in (0.5, 2.0, 10.0):
        ours, ours_times = bursts.burst_detection(pooled, thr, 3)
        theirs, theirs_times = spikedata.burst_detection(pooled, thr, 3)
        # identical except that spikedata drops a burst running to the last spike
        assert ours[: len(theirs)] == [list(b) for b in theirs]
        assert ours_times[: len(theirs_times)] == [float(t) for t in theirs_times]
        assert len(ours) - len(theirs) in (0, 1)
    counts = sd.binned(40)
    for thresh in (0, 2, float(np.quantile(counts, 0.35))):
        ours_av = bursts.avalanches(counts, thresh)
        theirs_av = sd.avalanches(thresh, 40)
        assert [a.tolist() for a in ours_av] == [list(a) for a in theirs_av]
        d, s = bursts.avalanche_duration_size(counts, thresh)
        td, ts = sd.avalanche_duration_size(thresh, 40)
        assert d.tolist() == list(td)
        assert s.tolist() == list(ts)
    assert bursts.burstiness_index(counts) == pytest.approx(sd.burstiness_index(40), abs=1e-12)


def test_burst_tail_fix_against_spikedata() -> None:
    t = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])
    assert spikedata.burst_detection(t, 1.5, 3)[0] == [[0, 3]]  # spikedata drops the last burst
    assert bursts.burst_detection(t, 1.5, 3)[0] == [[0, 3], [3, 3]]


def test_surrogates_keep_spikedata_rasters_marginals(data: tuple) -> None:
    _, _, sd = data
    sparse = sd.sparse_raster(1.0)
    out = surrogates.randomize_raster(sparse, seed=3)
    assert np.array_equal(np.asarray(out.sum(0)).ravel(), np.asarray(sparse.sum(0)).ravel())
    assert np.array_equal(np.asarray(out.sum(1)).ravel(), np.asarray(sparse.sum(1)).ravel())
    binary = np.minimum(sd.raster(5.0), 1)
    okun = surrogates.randomize_raster(binary, seed=3, method="poprate_okun")  # raises in spikedata
    assert okun.max() <= 1
    assert np.array_equal(okun.sum(0), binary.sum(0))
    assert np.array_equal(okun.sum(1), binary.sum(1))


def test_dcc_matches_spikedata_on_the_fit() -> None:
    pytest.importorskip("powerlaw")
    tr = random_trains(7, n=40, length=60_000.0)
    sd = spikedata.SpikeData(tr, length=60_000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sd.deviation_from_criticality(N=2)
    ours = criticality.deviation_from_criticality(sd.binned(40), N=200, seed=0)
    assert ours.dcc == pytest.approx(theirs.dcc, abs=1e-9)
    assert 0.0 <= ours.p_size <= 1.0
    assert 0.0 <= ours.p_duration <= 1.0


@pytest.mark.parametrize("seed", range(6))
def test_find_xmin_matches_powerlaw(seed: int) -> None:
    powerlaw = pytest.importorskip("powerlaw")
    rng = np.random.default_rng(seed)
    samples = [
        np.round(rng.pareto(0.6 + 0.5 * (seed % 4), 400) * 5 + 1, 1),
        np.ceil(rng.lognormal(1.0, 1.2, 400)),
        rng.geometric(0.4, 300).astype(float),
    ]
    for x in samples:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import contextlib
            import io

            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                expected = powerlaw.Fit(x).xmin
        assert criticality.find_xmin(x) == expected
