"""The numba kernels equal straightforward reference implementations on random inputs."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from braingeneers.analysis import bursts, latencies, raster, sttc, surrogates, trains

SETTINGS = settings(max_examples=60, deadline=None)

# spike times on a 0.5 ms grid so ties and distances of exactly Δ occur
spike_lists = st.lists(
    st.lists(st.integers(min_value=0, max_value=200), max_size=12).map(
        lambda ks: np.sort(np.array(ks, dtype=np.float64) / 2)
    ),
    min_size=0,
    max_size=6,
)


# ---------------------------------------------------------------- references


def ref_tiled(a: np.ndarray, delt: float, length: float) -> float:
    if a.size == 0:
        return 0.0
    total = min(delt, a[0]) + min(delt, length - a[-1])
    for k in range(a.size - 1):
        total += min(a[k + 1] - a[k], 2 * delt)
    return total / length


def ref_near(a: np.ndarray, b: np.ndarray, delt: float) -> float:
    return sum(1 for x in a if any(abs(x - y) <= delt for y in b)) / a.size


def ref_sttc(a: np.ndarray, b: np.ndarray, delt: float, length: float) -> float:
    if a.size == 0 or b.size == 0:
        return 0.0
    ta, tb = ref_tiled(a, delt, length), ref_tiled(b, delt, length)
    pa, pb = ref_near(a, b, delt), ref_near(b, a, delt)

    def half(p: float, t: float) -> float:
        return 0.0 if 1 - p * t == 0 else (p - t) / (1 - p * t)

    return (half(pa, tb) + half(pb, ta)) / 2


def ref_raster(tr: list[np.ndarray], b: float, length: float) -> np.ndarray:
    n_bins = math.ceil(length / b)
    out = np.zeros((len(tr), n_bins), dtype=np.int64)
    for u, t in enumerate(tr):
        for x in t:
            out[u, min(max(math.ceil(x / b) - 1, 0), n_bins - 1)] += 1
    return out


# ---------------------------------------------------------------- STTC


@SETTINGS
@given(spike_lists, st.sampled_from([0.0, 0.5, 1.0, 2.5, 20.0]))
def test_sttc_matrix_equals_pairwise_reference(tr: list[np.ndarray], delt: float) -> None:
    length = 101.0
    m = sttc.sttc_matrix(tr, delt, length)
    assert m.shape == (len(tr), len(tr))
    for i in range(len(tr)):
        assert m[i, i] == 1.0
        for j in range(len(tr)):
            if i != j:
                assert m[i, j] == pytest.approx(ref_sttc(tr[i], tr[j], delt, length), abs=1e-12)
                assert m[i, j] == pytest.approx(sttc.spike_time_tiling(tr[i], tr[j], delt, length), abs=1e-12)
                assert -1.0 <= m[i, j] <= 1.0
    assert np.array_equal(m, m.T)


def test_sttc_helper_cases() -> None:
    assert sttc.tiling_fraction([42.0], 1.0, 100.0) * 100 == pytest.approx(2.0)
    # non-overlapping windows tile 2nΔ; fully overlapping spikes tile span + 2Δ
    assert sttc.tiling_fraction([10.0, 20.0, 30.0], 1.0, 100.0) * 100 == pytest.approx(6.0)
    assert sttc.tiling_fraction([10.0, 10.5, 11.0], 1.0, 100.0) * 100 == pytest.approx(3.0)
    # P uses closed intervals: a spike exactly Δ away counts
    a, b = np.array([10.0]), np.array([11.0])
    assert sttc.spike_time_tiling(a, b, 1.0, 100.0) == pytest.approx(ref_sttc(a, b, 1.0, 100.0))
    assert sttc.spike_time_tiling(a, b, 1.0, 100.0) > 0.9


def test_sttc_alternating_trains() -> None:
    a = np.arange(0.0, 100.0, 1.0) + 0.5
    b = a + 0.4
    c = a + 0.5
    assert sttc.spike_time_tiling(a, b, 0.4, 101.0) == pytest.approx(ref_sttc(a, b, 0.4, 101.0), abs=1e-12)
    assert sttc.spike_time_tiling(a, c, 0.4, 101.0) == pytest.approx(ref_sttc(a, c, 0.4, 101.0), abs=1e-12)


def test_sttc_conventions_for_empty_and_zero_over_zero() -> None:
    assert sttc.spike_time_tiling([], [1.0], 5.0, 10.0) == 0.0
    assert math.isnan(sttc.spike_time_tiling([], [1.0], 5.0, 10.0, convention="elephant"))
    assert sttc.spike_time_tiling([], [], 5.0) == 0.0  # spikedata crashes here
    full = np.array([5.0, 15.0])  # tiles all of [0, 20] at Δ = 5
    assert sttc.spike_time_tiling(full, full, 5.0, 20.0) == 0.0
    assert sttc.spike_time_tiling(full, full, 5.0, 20.0, convention="elephant") == 1.0
    m = sttc.sttc_matrix([full, full, []], 5.0, 20.0, convention="elephant")
    assert m[0, 1] == 1.0
    assert math.isnan(m[0, 2])
    assert m[2, 2] == 1.0
    m = sttc.sttc_matrix([full, full, []], 5.0, 20.0)
    assert m[0, 1] == 0.0
    assert m[0, 2] == 0.0
    with pytest.raises(ValueError, match="convention"):
        sttc.sttc_matrix([full], 5.0, 20.0, convention="nope")  # type: ignore[arg-type]


# ---------------------------------------------------------------- trains and rasters


@SETTINGS
@given(spike_lists)
def test_event_list_round_trip(tr: list[np.ndarray]) -> None:
    times, units = trains.events_from_trains(tr)
    assert np.all(np.diff(times) >= 0)
    back = trains.trains_from_events(units, times, len(tr))
    assert len(back) == len(tr)
    for x, y in zip(back, tr, strict=True):
        assert np.array_equal(x, y)
    order = np.random.default_rng(0).permutation(times.size)
    again = trains.trains_from_events(units[order], times[order], len(tr))
    assert all(np.array_equal(x, y) for x, y in zip(again, tr, strict=True))


def test_trains_from_events_rejects_bad_indices() -> None:
    with pytest.raises(ValueError, match="out of range"):
        trains.trains_from_events([0, 3], [1.0, 2.0], 2)
    with pytest.raises(ValueError, match="negative"):
        trains.trains_from_events([-1], [1.0])
    with pytest.raises(ValueError, match="one index per time"):
        trains.trains_from_events([0, 1], [1.0])
    assert trains.trains_from_events([], []) == []


@SETTINGS
@given(spike_lists, st.sampled_from([0.5, 1.0, 3.0, 20.0]), st.sampled_from([np.uint8, np.uint16, np.int64]))
def test_dense_and_sparse_rasters_equal_reference(tr: list[np.ndarray], b: float, dtype: type) -> None:
    length = 100.0
    ref = ref_raster(tr, b, length)
    dense = raster.dense_raster(tr, b, length, dtype=dtype)
    assert dense.dtype == dtype
    assert np.array_equal(dense, ref)
    assert np.array_equal(raster.sparse_raster(tr, b, length).toarray(), ref)
    # spreading counts back into trains gives the same raster (from_raster round trip)
    assert np.array_equal(raster.dense_raster(raster.trains_from_raster(ref, b), b, length), ref)


def test_bin_convention_golden() -> None:
    assert raster.dense_raster([[0.0, 20.0, 40.0]], 10.0, 40.0).tolist() == [[1, 1, 0, 1]]
    binned = raster.dense_raster([[1, 2, 5, 15, 16, 20, 22, 25]], 4.0, 25.0).sum(0)
    assert binned.tolist() == [2, 1, 0, 2, 1, 1, 1]
    back = raster.trains_from_raster(np.array([[0, 3, 0]]), 20.0)
    assert back[0].tolist() == [25.0, 30.0, 35.0]


def test_dense_raster_overflow_and_out_buffer() -> None:
    with pytest.raises(OverflowError, match="wider dtype"):
        raster.dense_raster([np.full(300, 5.0)], 10.0, 10.0, dtype=np.uint8)
    out = np.full((1, 2), 7, dtype=np.uint16)
    assert raster.dense_raster([[1.0, 15.0]], 10.0, 20.0, np.uint16, out=out) is out
    assert out.tolist() == [[1, 1]]
    with pytest.raises(ValueError, match="non-integer"):
        raster.trains_from_raster(np.array([[0.5]]), 1.0)
    with pytest.raises(ValueError, match="integer or float dtype"):
        raster.dense_raster([[1.0]], 1.0, 2.0, dtype=bool)


# ---------------------------------------------------------------- latencies


@SETTINGS
@given(spike_lists, st.lists(st.integers(0, 200), max_size=10), st.sampled_from([0.0, 1.0, 5.0, 100.0]))
def test_latencies_equal_reference(tr: list[np.ndarray], refs: list[int], window: float) -> None:
    unsorted = np.array(refs, dtype=np.float64) / 2
    for ref_times in (unsorted, np.sort(unsorted)):  # the matrix path and the one-pass path
        got = latencies.latencies(tr, ref_times, window)
        assert len(got) == len(tr)
        for train, row in zip(tr, got, strict=True):
            expected = []
            if train.size:
                for r in ref_times:
                    d = train - r
                    nearest = d[np.argmin(np.abs(d))]  # first minimum = earlier spike on ties
                    if abs(nearest) <= window:
                        expected.append(nearest)
            assert row.tolist() == expected


def test_latency_golden_cases() -> None:
    assert latencies.latencies([[10.2]], [10.0], 1.0)[0] == pytest.approx([0.2])
    assert latencies.latencies([[9.0]], [10.0], 1.0)[0].tolist() == [-1.0]
    assert latencies.latencies([[12.0]], [10.0], 1.0)[0].tolist() == []
    m = latencies.latency_matrix([[], [1.0, 3.0]], [2.0])
    assert math.isnan(m[0, 0])
    assert m[1, 0] == -1.0


# ---------------------------------------------------------------- bursts and avalanches


def ref_bursts(t: np.ndarray, thr: float, min_spikes: int) -> list[list[int]]:
    out, start = [], 0
    for k in range(1, t.size + 1):
        if k < t.size and t[k] - t[k - 1] <= thr:
            continue
        if k - start >= max(min_spikes, 2):
            out.append([start, k - start])
        start = k
    return out


@SETTINGS
@given(
    st.lists(st.integers(0, 100), max_size=30).map(lambda ks: np.sort(np.array(ks, float))),
    st.sampled_from([0.0, 1.0, 2.0, 5.0]),
    st.integers(1, 5),
)
def test_burst_detection_equals_reference(t: np.ndarray, thr: float, min_spikes: int) -> None:
    found, members = bursts.burst_detection(t, thr, min_spikes)
    assert found == ref_bursts(t, thr, min_spikes)
    assert members == [float(x) for s, n in found for x in t[s : s + n]]


def test_burst_running_to_the_last_spike_is_reported() -> None:
    assert bursts.burst_detection([0.0, 1.0, 2.0], 1.5)[0] == [[0, 3]]
    assert bursts.burst_detection([], 1.5) == ([], [])


def test_detect_bursts_statistics_merging_and_min_interval() -> None:
    tr = [
        np.array([10.0, 11.0, 12.0, 30.0, 31.0, 32.0, 100.0, 101.0, 102.0]),
        np.array([10.5, 11.5, 30.5, 100.5]),
        np.array([50.0]),
    ]
    b = bursts.detect_bursts(tr, 1.0, min_spikes=3, rate_window=2.0)
    assert len(b) == 3
    assert b.start.tolist() == [10.0, 30.0, 100.0]
    assert b.end.tolist() == [12.0, 32.0, 102.0]
    assert b.duration.tolist() == [2.0, 2.0, 2.0]
    assert b.n_spikes.tolist() == [5, 4, 4]
    assert b.n_units.tolist() == [2, 2, 2]
    assert [u.tolist() for u in b.units] == [[0, 1], [0, 1], [0, 1]]
    assert b.peak_rate[0] == pytest.approx(5 / 2.0 * 1e3)
    merged = bursts.detect_bursts(tr, 1.0, merge_gap=20.0)
    assert merged.start.tolist() == [10.0, 100.0]
    assert merged.end.tolist() == [32.0, 102.0]
    assert merged.n_spikes.tolist() == [9, 4]
    spaced = bursts.detect_bursts(tr, 1.0, min_interburst=50.0)
    assert spaced.start.tolist() == [10.0, 100.0]
    assert len(bursts.detect_bursts(tr, 1.0, min_units=3)) == 0


def ref_avalanches(c: np.ndarray, thr: float) -> list[list[int]]:
    runs, k = [], 0
    while k < c.size:
        if c[k] > thr:
            s = k
            while k < c.size and c[k] > thr:
                k += 1
            if s > 0 and k < c.size:
                runs.append(c[s:k].tolist())
        else:
            k += 1
    return runs


@SETTINGS
@given(st.lists(st.integers(0, 6), max_size=40).map(np.array), st.sampled_from([0, 1, 2.5]))
def test_avalanches_equal_reference(c: np.ndarray, thr: float) -> None:
    got = bursts.avalanches(c, thr)
    assert [a.tolist() for a in got] == ref_avalanches(c, thr)
    durations, sizes = bursts.avalanche_duration_size(c, thr)
    assert durations.tolist() == [len(a) for a in got]
    assert sizes.tolist() == [sum(a) for a in got]


def test_avalanche_edges_and_burstiness_ground_truths() -> None:
    assert [a.tolist() for a in bursts.avalanches([3, 3, 0, 3, 0, 3], 1)] == [[3]]
    assert bursts.avalanches([3, 3, 3], 1) == []
    assert bursts.burstiness_index(np.ones(100)) == pytest.approx(0.0)
    assert bursts.burstiness_index(np.r_[np.zeros(99), 50]) == pytest.approx(1.0)
    assert bursts.burstiness_index([7]) == 1.0


# ---------------------------------------------------------------- surrogates


@SETTINGS
@given(
    st.integers(1, 8),
    st.integers(1, 30),
    st.floats(0.05, 0.5),
    st.integers(0, 2),
    st.integers(0, 2**31),
)
def test_greedy_surrogate_preserves_marginals(n: int, t: int, p: float, extra: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = (rng.random((n, t)) < p).astype(np.int64) * rng.integers(1, extra + 2, (n, t))
    out = surrogates.randomize_raster(r, seed=seed)
    assert out.dtype == r.dtype
    assert out.shape == r.shape
    assert np.array_equal(out.sum(0), r.sum(0))
    assert np.array_equal(out.sum(1), r.sum(1))
    import scipy.sparse

    sparse = surrogates.randomize_raster(scipy.sparse.csr_array(r), seed=seed)
    assert np.array_equal(sparse.toarray(), out)  # same seed, same surrogate on either input


@SETTINGS
@given(st.integers(2, 8), st.integers(2, 40), st.floats(0.05, 0.5), st.integers(0, 2**31))
def test_okun_surrogate_preserves_marginals_and_binarity(n: int, t: int, p: float, seed: int) -> None:
    r = (np.random.default_rng(seed).random((n, t)) < p).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "too dense to mix well" on tiny rasters
        out = surrogates.randomize_raster(r, seed=seed, method="poprate_okun")
    assert set(np.unique(out)) <= {0, 1}
    assert np.array_equal(out.sum(0), r.sum(0))
    assert np.array_equal(out.sum(1), r.sum(1))


def test_greedy_spreads_a_dense_bin_over_distinct_units_and_rates_up_to_half() -> None:
    rng = np.random.default_rng(3)
    r = (rng.random((50, 400)) < 0.5).astype(np.int64)
    out = surrogates.randomize_raster(r, seed=1)
    assert np.array_equal(out.sum(0), r.sum(0))
    assert np.array_equal(out.sum(1), r.sum(1))
    assert out.max() <= 2
    single = surrogates.randomize_raster(np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0]]), seed=0)
    assert single.max() == 1  # distinct units whenever possible


def test_okun_rejects_multi_spike_bins_and_randomized_trains_round_trip() -> None:
    with pytest.raises(ValueError, match="binary"):
        surrogates.randomize_raster(np.array([[2, 0], [0, 1]]), method="poprate_okun")
    with pytest.raises(ValueError, match="unknown method"):
        surrogates.randomize_raster(np.array([[1]]), method="nope")  # type: ignore[arg-type]
    tr = [np.array([0.5, 3.2, 7.7]), np.array([1.1, 3.9]), np.array([])]
    for method in ("poprate_greedy", "poprate_okun"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 5 spikes cannot make 25 swaps
            out = surrogates.randomized_trains(tr, 1.0, 10.0, seed=5, method=method)  # type: ignore[arg-type]
        r0, r1 = raster.dense_raster(tr, 1.0, 10.0), raster.dense_raster(out, 1.0, 10.0)
        assert np.array_equal(r0.sum(0), r1.sum(0))
        assert np.array_equal(r0.sum(1), r1.sum(1))
    a = surrogates.randomized_trains(tr, 1.0, 10.0, seed=5)
    b = surrogates.randomized_trains(tr, 1.0, 10.0, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- imports


def test_kernel_modules_import_neither_numba_nor_scipy() -> None:
    code = (
        "import sys\n"
        "from braingeneers.analysis import _numba, trains, raster, sttc, surrogates\n"
        "from braingeneers.analysis import latencies, bursts, criticality\n"
        "heavy = [m for m in ('numba', 'scipy', 'powerlaw', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- criticality


@pytest.mark.parametrize(("alpha", "lam"), [(1.5, 0.01), (2.0, 0.1), (2.7, 0.002), (0.8, 0.05), (2.2, 0.0)])
def test_power_law_cdf_equals_numeric_integral(alpha: float, lam: float) -> None:
    from scipy import integrate

    from braingeneers.analysis import criticality

    fit = criticality.PowerLawFit(alpha=alpha, xmin=3.0, truncation=lam)

    def pdf(x: float) -> float:
        return float(x**-alpha * np.exp(-lam * x))

    norm = integrate.quad(pdf, 3.0, np.inf, limit=200)[0]
    for x in (3.0, 4.0, 10.0, 55.5, 400.0):
        expected = integrate.quad(pdf, 3.0, x, limit=200)[0] / norm
        assert criticality.power_law_cdf([x], fit)[0] == pytest.approx(expected, abs=1e-8)
    assert criticality.power_law_cdf([1.0], fit)[0] == 0.0


def test_uniform_ks_distances_follow_the_kolmogorov_distribution() -> None:
    from scipy import stats

    from braingeneers.analysis import criticality

    d = criticality.uniform_ks_distances(50, 4000, np.random.default_rng(0))
    # the fraction above the exact null median is close to one half
    assert np.mean(d > stats.kstwo.ppf(0.5, 50)) == pytest.approx(0.5, abs=0.03)


def test_dcc_without_avalanches() -> None:
    from braingeneers.analysis import criticality

    result = criticality.deviation_from_criticality(np.ones(20, dtype=np.int64))
    assert result == criticality.DCCResult(np.inf, 1.0, 1.0)


def test_lazy_kernels_expose_the_python_function_and_the_dispatcher() -> None:
    from braingeneers.analysis import _numba

    kernel = bursts._active_runs
    starts, stops = kernel.py_func(np.array([0.0, 5.0, 5.0, 0.0]), 1.0)  # type: ignore[attr-defined]
    assert starts.tolist() == [1]
    assert stops.tolist() == [3]
    dispatcher = _numba.compiled(kernel)
    assert hasattr(dispatcher, "signatures")  # a numba dispatcher, cached on disk
    assert kernel(np.array([0.0, 5.0, 0.0]), 1.0)[0].tolist() == [1]
    with pytest.raises(TypeError, match=r"not a braingeneers\.analysis kernel"):
        _numba.compiled(len)
