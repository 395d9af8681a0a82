"""SpikeData gives spikedata 0.2.2's numbers on random data (except the documented fixes)."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import braingeneers.analysis as ba
from braingeneers.analysis import SpikeData

ref = pytest.importorskip("spikedata")

LENGTH = 2000.0


def _trains(seed: int, n_units: int = 6, length: float = LENGTH) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    trains = []
    for i in range(n_units):
        n = int(rng.integers(2, 60)) if i else 0  # unit 0 silent: empty-train paths
        trains.append(np.sort(rng.uniform(0, length, n)))
    # a pair of units with coincident (shifted) spikes so STTC and Pearson are not ~0
    trains.append(np.sort(np.clip(trains[1] + rng.normal(0, 3, trains[1].size), 0, length)))
    return trains


def _pair(seed: int) -> tuple[SpikeData, Any]:
    trains = _trains(seed)
    return SpikeData(trains, length=LENGTH), ref.SpikeData([t.copy() for t in trains], length=LENGTH)


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("bin_size", [1.0, 7.0, 20.0, 40.0])
def test_binning_matches(seed: int, bin_size: float) -> None:
    ours, theirs = _pair(seed)
    np.testing.assert_array_equal(ours.raster(bin_size), theirs.raster(bin_size))
    np.testing.assert_array_equal(ours.sparse_raster(bin_size).toarray(), theirs.raster(bin_size))
    np.testing.assert_array_equal(ours.binned(bin_size), theirs.binned(bin_size))
    np.testing.assert_allclose(ours.binned_meanrate(bin_size, "Hz"), theirs.binned_meanrate(bin_size, "Hz"))


@pytest.mark.parametrize("seed", SEEDS)
def test_access_and_slicing_match(seed: int) -> None:
    ours, theirs = _pair(seed)
    np.testing.assert_allclose(ours.rates("Hz"), theirs.rates("Hz"))
    for a, b in zip(ours.idces_times(), theirs.idces_times(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert list(ours.times) == [float(t) for t in theirs.times]
    assert list(ours.events) == [(int(i), float(t)) for i, t in theirs.events]
    for start, end in [(0, 500), (250.5, 1000), (-300, None), (100, 5000)]:
        mine, other = ours.subtime(start, end), theirs.subtime(start, end)
        assert mine.length == other.length
        for a, b in zip(mine.train, other.train, strict=True):
            np.testing.assert_array_equal(a, b)
    for mine, other in zip(ours.frames(300, 100), theirs.frames(300, 100), strict=True):
        assert mine.length == other.length
        for a, b in zip(mine.train, other.train, strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(ours.subset([5, 1, 3]).train, theirs.subset([5, 1, 3]).train, strict=True):
        np.testing.assert_array_equal(a, b)
    joined_ours, joined_theirs = ours.append(ours, 5), theirs.append(theirs, 5)
    assert joined_ours.length == joined_theirs.length
    for a, b in zip(joined_ours.train, joined_theirs.train, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_constructors_match(seed: int) -> None:
    rng = np.random.default_rng(seed)
    idces = rng.integers(0, 7, 300)
    times = rng.uniform(0, 1000, 300)
    ours = SpikeData.from_idces_times(idces, times, N=8, length=1000)
    theirs = ref.SpikeData.from_idces_times(idces, times, N=8, length=1000)
    for a, b in zip(ours.train, theirs.train, strict=True):
        np.testing.assert_array_equal(a, b)
    raster = rng.poisson(0.4, size=(5, 50))
    for a, b in zip(
        SpikeData.from_raster(raster, 3.0).train, ref.SpikeData.from_raster(raster, 3.0).train, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_isi_family_matches(seed: int) -> None:
    ours, theirs = _pair(seed)
    for a, b in zip(ours.interspike_intervals(), theirs.interspike_intervals(), strict=True):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ours.isi_skewness(), np.asarray(theirs.isi_skewness(), dtype=float))
    busy = [i for i, t in enumerate(ours.train) if t.size >= 3]  # spikedata raises below 2 ISIs
    busy_us, busy_ref = ours.subset(busy), theirs.subset(busy)
    h1, e1 = busy_us.isi_log_histogram(50)
    h2, e2 = busy_ref.isi_log_histogram(50)
    for a, b in zip(h1, h2, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(e1, e2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    np.testing.assert_allclose(busy_us.isi_threshold_cma(h1, e1, 2), busy_ref.isi_threshold_cma(h2, e2, 2))
    for a, b in zip(ba.cumulative_moving_average(h1), ref.cumulative_moving_average(h2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    grid = np.arange(0.0, LENGTH, 5.0)
    np.testing.assert_allclose(busy_us.resampled_isi(grid, 20), busy_ref.resampled_isi(grid, 20), atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("delt", [5.0, 20.0, 100.0])
def test_sttc_matches_to_1e12(seed: int, delt: float) -> None:
    ours, theirs = _pair(seed)
    np.testing.assert_allclose(ours.spike_time_tilings(delt), theirs.spike_time_tilings(delt), atol=1e-12)
    assert ours.spike_time_tiling(1, 6, delt) == pytest.approx(
        theirs.spike_time_tiling(1, 6, delt), abs=1e-12
    )
    assert ba.spike_time_tiling(ours.train[1], ours.train[2], delt, LENGTH) == pytest.approx(
        ref.spike_time_tiling(theirs.train[1], theirs.train[2], delt, LENGTH), abs=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_correlation_and_variability_match(seed: int) -> None:
    ours, theirs = _pair(seed)
    active = ours.subset(range(1, ours.N))
    raster = active.raster(40)
    np.testing.assert_allclose(ba.pearson(raster), ref.pearson(raster), rtol=0, atol=1e-12)
    sparse = active.sparse_raster(40)
    np.testing.assert_allclose(ba.pearson(sparse), ref.pearson(sparse), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ba.fano_factors(raster), ref.fano_factors(raster), rtol=1e-12)
    np.testing.assert_allclose(ba.fano_factors(sparse), ref.fano_factors(sparse), rtol=1e-12)
    # unit 0 is silent: 1 on both paths here (spikedata: 0 dense, 1 sparse)
    assert ba.fano_factors(ours.raster(40))[0] == 1.0
    assert ba.fano_factors(ours.sparse_raster(40))[0] == 1.0
    assert ours.burstiness_index(40) == pytest.approx(theirs.burstiness_index(40), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_population_rate_matches_when_the_bin_divides_the_length(seed: int) -> None:
    ours, theirs = _pair(seed)
    centres, rate = ours.population_firing_rate(bin_size=10, w=5)
    edges, their_rate = theirs.population_firing_rate(bin_size=10, w=5)
    np.testing.assert_allclose(rate, their_rate, rtol=0, atol=1e-14)
    np.testing.assert_allclose(centres, edges[:-1] + 5.0)
    c2, r2 = ba.population_firing_rate(ours.train, LENGTH, 20, 3, average=True)
    _, r2_ref = ref.population_firing_rate(theirs.train, LENGTH, 20, 3, average=True)
    np.testing.assert_allclose(r2, r2_ref, rtol=0, atol=1e-14)
    assert c2.shape == r2.shape


def test_pearson_fix_constant_rows_agree_between_dense_and_sparse() -> None:
    import scipy.sparse

    raster = np.array([[0, 0, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
    dense = ba.pearson(raster)
    np.testing.assert_array_equal(dense, ba.pearson(scipy.sparse.csr_array(raster)))
    np.testing.assert_allclose(dense[1:3, 1:3], [[1, -1], [-1, 1]])
    assert dense[0, 1] == 0.0
    assert dense[0, 0] == 1.0
    assert np.isnan(ba.pearson(raster, nan_for_constant=True)[0]).all()


def test_pearson_and_fano_ground_truths() -> None:
    rng = np.random.default_rng(5)
    x = rng.poisson(2.0, 2000).astype(float)
    np.testing.assert_allclose(ba.pearson(np.stack([x, x, -x]))[0], [1.0, 1.0, -1.0], atol=1e-12)
    independent = rng.poisson(3.0, size=(2, 20000))
    assert abs(ba.pearson(independent)[0, 1]) < 0.03
    poisson = rng.poisson(4.0, size=(3, 20000))
    np.testing.assert_allclose(ba.fano_factors(poisson), 1.0, atol=0.05)
    np.testing.assert_array_equal(ba.fano_factors(np.array([[3, 3, 3], [0, 0, 0]])), [0.0, 1.0])


@pytest.mark.parametrize("seed", SEEDS)
def test_avalanches_and_latencies_match(seed: int) -> None:
    ours, theirs = _pair(seed)
    for thresh in (0, 1, 2):
        got = [a.tolist() for a in ours.avalanches(thresh, 20)]
        assert got == [list(map(int, a)) for a in theirs.avalanches(thresh, 20)]
        for a, b in zip(
            ours.avalanche_duration_size(thresh, 20), theirs.avalanche_duration_size(thresh, 20), strict=True
        ):
            np.testing.assert_array_equal(a, b)
    refs = ours.train[1]
    assert ours.latencies(refs, 50.0)[1:] == [list(map(float, r)) for r in theirs.latencies(refs, 50.0)][1:]
    got = ours.latencies_to_index(6, 30.0)
    want = theirs.latencies_to_index(6, 30.0)
    assert [np.round(r, 12).tolist() for r in got] == [np.round(r, 12).tolist() for r in want]


def test_filters_and_thresholding_match() -> None:
    rng = np.random.default_rng(6)
    data = rng.normal(0, 1, size=(3, 4000))
    data[:, 1000:1003] += 12.0
    legacy_filter = importlib.import_module("spikedata.spikedata").butter_filter
    for low, high in [(300.0, 3000.0), (None, 3000.0), (300.0, None)]:
        np.testing.assert_allclose(
            ba.butter_filter(data, low, high, fs=20000.0, order=3),
            legacy_filter(data, low, high, fs=20000.0, order=3),
            atol=1e-12,
        )
    for kwargs in ({}, {"hysteresis": False}, {"direction": "up"}, {"filter": False}):
        ours = SpikeData.from_thresholding(data, fs_Hz=20000.0, threshold_sigma=4.0, **kwargs)
        theirs = ref.SpikeData.from_thresholding(data, fs_Hz=20000.0, threshold_sigma=4.0, **kwargs)
        assert ours.length == pytest.approx(theirs.length)
        for a, b in zip(ours.train, theirs.train, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-9)


def test_streaming_filter_equals_one_pass_and_keeps_float_output() -> None:
    from scipy import signal

    rng = np.random.default_rng(7)
    data = (rng.normal(0, 50, size=(4, 9000)) + 100).astype(np.int16)
    whole = ba.filter(data, fs_Hz=20000, time_step_size_s=0.1)
    assert isinstance(whole, np.ndarray)
    assert whole.dtype == np.float64
    b, a = signal.butter(3, [300, 6000], btype="bandpass", fs=20000)
    zi = signal.lfilter_zi(b, a)[None, :] * data[:, :5].mean(axis=1)[:, None]
    expected, _ = signal.lfilter(b, a, data.astype(float), axis=1, zi=zi)
    np.testing.assert_allclose(whole, expected, atol=1e-9)
    first, state = ba.filter(data[:, :4000], fs_Hz=20000, return_zi=True)
    second = ba.filter(data[:, 4000:], fs_Hz=20000, zi=state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 4), min_size=1, max_size=12),
    m=st.integers(0, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_best_effort_sample_repeats_only_when_forced(counts: list[int], m: int, seed: int) -> None:
    total = sum(counts)
    if m > total:
        with pytest.raises(ValueError, match="cannot draw"):
            ba.best_effort_sample(counts, m, np.random.default_rng(seed))
        return
    picked = ba.best_effort_sample(counts, m, np.random.default_rng(seed))
    assert picked.size == m
    times = np.bincount(picked, minlength=len(counts))
    assert (times <= np.asarray(counts)).all()
    # as flat as possible: every index is drawn min(count, r) or min(count, r + 1) times for one r
    c = np.asarray(counts)
    short = times < c
    r = int(times[short].min()) if short.any() else int(c.max(initial=0))
    assert (times >= np.minimum(c, r)).all()
    assert (times <= np.minimum(c, r + 1)).all()
