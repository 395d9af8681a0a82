"""Golden semantics of SpikeData: bins, slicing, constructors, combining, rates and ISIs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from braingeneers.analysis import NestIDNeuronAttributes, SpikeData
from braingeneers.core.errors import ConfigError, FormatError


def test_bin_convention_is_right_closed_with_zero_in_the_first_bin() -> None:
    sd = SpikeData([[0.0, 20.0, 40.0]], length=40)
    np.testing.assert_array_equal(sd.raster(10), [[1, 1, 0, 1]])
    sd = SpikeData([[1, 2, 5, 15, 16, 20, 22, 25]], length=25)
    np.testing.assert_array_equal(sd.binned(4), [2, 1, 0, 2, 1, 1, 1])
    assert sd.binned(4).dtype == np.int64


def test_spikes_outside_the_recording_are_clipped_into_the_edge_bins() -> None:
    sd = SpikeData([[-5.0, 3.0, 50.0]], length=20)
    np.testing.assert_array_equal(sd.raster(10), [[2, 1]])


def test_raster_into_a_small_dtype_and_overflow_is_an_error() -> None:
    sd = SpikeData([[1.0, 2.0, 3.0]], length=10)
    small = sd.raster(10, dtype=np.uint8)
    assert small.dtype == np.uint8
    np.testing.assert_array_equal(small, [[3]])
    many = SpikeData([np.linspace(0.1, 1.0, 300)], length=1)
    with pytest.raises(OverflowError):
        many.raster(1.0, dtype=np.uint8)


def test_sparse_raster_equals_dense() -> None:
    rng = np.random.default_rng(1)
    sd = SpikeData([np.sort(rng.uniform(0, 100, 30)) for _ in range(4)], length=100)
    sparse = sd.sparse_raster(7)
    assert sparse.shape == (4, 15)
    np.testing.assert_array_equal(sparse.toarray(), sd.raster(7))


def test_from_raster_round_trip_with_multi_spike_bins() -> None:
    sd = SpikeData.from_raster(np.array([[0, 3, 0]]), 20)
    np.testing.assert_allclose(sd.train[0], [25.0, 30.0, 35.0])
    assert sd.length == 60
    rng = np.random.default_rng(2)
    raster = rng.poisson(0.7, size=(5, 40))
    np.testing.assert_array_equal(SpikeData.from_raster(raster, 2.5).raster(2.5), raster)


def test_from_raster_accepts_integer_valued_float_and_bool_and_sparse_rasters() -> None:
    import scipy.sparse

    r = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(SpikeData.from_raster(r, 5).raster(5), r)
    np.testing.assert_array_equal(SpikeData.from_raster(r > 0, 5).raster(5), r > 0)
    np.testing.assert_array_equal(SpikeData.from_raster(scipy.sparse.csr_array(r), 5).raster(5), r)
    with pytest.raises(FormatError):
        SpikeData.from_raster(np.array([[0.5, 1.0]]), 5)


def test_constructor_sorts_copies_pads_and_validates() -> None:
    source = np.array([3, 1, 2])
    sd = SpikeData([source], N=3)
    np.testing.assert_array_equal(sd.train[0], [1.0, 2.0, 3.0])
    assert sd.train[0].dtype == np.float64
    assert sd.N == 3
    assert sd.length == 3.0
    assert sd.train[2].size == 0
    with pytest.raises(ConfigError):
        SpikeData([[1.0], [2.0]], N=1)
    with pytest.raises(ConfigError):
        SpikeData([[1.0]], neuron_attributes=[1, 2])
    with pytest.raises(ConfigError):
        SpikeData([[1.0]], raw_data=np.zeros((1, 3)))
    with pytest.raises(ConfigError):
        SpikeData([[1.0]], raw_data=np.zeros((1, 3)), raw_time=np.zeros(2))
    assert SpikeData([[1.0]], neuron_attributes=[]).neuron_attributes is None


def test_all_empty_trains_give_length_zero_instead_of_an_error() -> None:
    sd = SpikeData([[], []])
    assert sd.N == 2
    assert sd.length == 0.0
    assert sd.raster(10).shape == (2, 0)


def test_raw_time_as_sample_rate_in_khz() -> None:
    sd = SpikeData([[1.0]], length=10, raw_data=np.zeros((2, 5)), raw_time=0.5)
    np.testing.assert_array_equal(sd.raw_time, [0.0, 2.0, 4.0, 6.0, 8.0])


def test_from_idces_times_groups_by_unit_and_sorts() -> None:
    sd = SpikeData.from_idces_times([2, 0, 2, 0], [5.0, 3.0, 1.0, 4.0], length=10)
    assert sd.N == 3
    np.testing.assert_array_equal(sd.train[0], [3.0, 4.0])
    assert sd.train[1].size == 0
    np.testing.assert_array_equal(sd.train[2], [1.0, 5.0])
    assert SpikeData.from_idces_times([0], [1.0], N=4).N == 4
    with pytest.raises(FormatError):
        SpikeData.from_idces_times([3], [1.0], N=2)
    events = SpikeData.from_events([(1, 2.0), (0, 1.0)])
    assert events.N == 2
    assert events.train[1][0] == 2.0


def test_times_events_and_idces_times_are_time_ordered_with_ties_by_unit() -> None:
    sd = SpikeData([[1.0, 5.0], [1.0, 2.0]], length=6)
    assert list(sd.times) == [1.0, 1.0, 2.0, 5.0]
    assert list(sd.events) == [(0, 1.0), (1, 1.0), (1, 2.0), (0, 5.0)]
    idces, times = sd.idces_times()
    np.testing.assert_array_equal(idces, [0, 1, 1, 0])
    np.testing.assert_array_equal(times, [1.0, 1.0, 2.0, 5.0])


def test_subtime_keeps_left_open_right_closed_and_zero_closed() -> None:
    sd = SpikeData([[0.0, 10.0, 20.0, 30.0]], length=40)
    np.testing.assert_array_equal(sd.subtime(0, 20).train[0], [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(sd.subtime(10, 30).train[0], [10.0, 20.0])
    assert sd.subtime(10, 30).length == 20
    np.testing.assert_array_equal(sd.subtime(-20, None).train[0], [10.0])
    np.testing.assert_array_equal(sd.subtime(..., 10).train[0], [0.0, 10.0])
    assert sd.subtime(5, 100).length == 35
    np.testing.assert_array_equal(sd[10:30].train[0], [10.0, 20.0])
    with pytest.raises(ConfigError):
        sd.subtime(30, 10)


def test_subtime_slices_raw_data_on_the_closed_interval() -> None:
    raw = np.arange(22.0).reshape(2, 11)
    sd = SpikeData([[5.0]], length=10, raw_data=raw, raw_time=1.0)
    part = sd.subtime(2, 5)
    np.testing.assert_array_equal(part.raw_data, raw[:, 2:6])
    np.testing.assert_array_equal(part.raw_time, [0.0, 1.0, 2.0, 3.0])


def test_frames_cover_the_recording_with_a_shorter_last_frame() -> None:
    sd = SpikeData([[1.0, 5.0, 9.0]], length=10)
    assert [f.length for f in sd.frames(4)] == [4.0, 4.0, 2.0]
    assert [f.length for f in sd.frames(4, overlap=2)] == [4.0, 4.0, 4.0, 4.0, 2.0]
    with pytest.raises(ConfigError):
        list(sd.frames(4, overlap=4))


@dataclass
class _Attrs:
    region: str


def test_subset_keeps_original_order_and_selects_by_attribute() -> None:
    sd = SpikeData([[1.0], [2.0], [3.0]], neuron_attributes=[_Attrs("a"), _Attrs("b"), _Attrs("a")])
    picked = sd.subset([2, 0])
    assert [t[0] for t in picked.train] == [1.0, 3.0]
    assert sd.subset(1).N == 1
    assert [t[0] for t in sd.subset("a", by="region").train] == [1.0, 3.0]
    assert [t[0] for t in sd[[1]].train] == [2.0]
    assert [t[0] for t in sd.subset("a", by="missing").train] == []


def test_append_shifts_the_second_recording_and_concatenates_raw_data() -> None:
    a = SpikeData(
        [[1.0], [2.0]], length=10, metadata={"x": 1}, raw_data=np.ones((1, 3)), raw_time=np.array([0.0, 4, 8])
    )
    b = SpikeData(
        [[3.0], []],
        length=5,
        metadata={"x": 2, "y": 3},
        raw_data=np.full((1, 2), 2.0),
        raw_time=np.array([0.0, 4]),
    )
    c = a.append(b, offset=1)
    np.testing.assert_array_equal(c.train[0], [1.0, 14.0])
    assert c.length == 16
    assert c.metadata == {"x": 1, "y": 3}
    np.testing.assert_array_equal(c.raw_data, [[1, 1, 1, 2, 2]])
    np.testing.assert_array_equal(c.raw_time, [0, 4, 8, 11, 15])
    with pytest.raises(ConfigError):
        a.append(SpikeData([[1.0]]))
    with pytest.raises(FormatError):
        a.append(SpikeData([[1.0], [1.0]], length=3))


def test_concatenate_spike_data_adds_units_and_never_adds_raw_arrays() -> None:
    raw = np.ones((1, 3))
    a = SpikeData([[1.0]], length=10, raw_data=raw, raw_time=np.array([0.0, 5, 10]), neuron_attributes=["a"])
    b = SpikeData([[2.0, 15.0]], length=20, raw_data=raw * 2, raw_time=np.array([0.0, 5, 10]))
    with pytest.warns(UserWarning, match="neuron_attributes"):
        a.concatenate_spike_data(b)
    assert a.N == 2
    np.testing.assert_array_equal(a.train[1], [2.0])
    np.testing.assert_array_equal(a.raw_data, [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(a.raw_time, [0, 5, 10])
    assert a.neuron_attributes == ["a", None]
    c = SpikeData([[1.0]], length=10, raw_data=raw, raw_time=np.array([0.0, 1, 2]))
    with pytest.raises(FormatError):
        c.concatenate_spike_data(SpikeData([[1.0]], length=10, raw_data=raw, raw_time=np.array([0.0, 2, 4])))


def test_rates_and_binned_meanrate_units() -> None:
    sd = SpikeData([[1.0, 2.0], [3.0]], length=1000)
    np.testing.assert_allclose(sd.rates(), [0.002, 0.001])
    np.testing.assert_allclose(sd.rates("Hz"), [2.0, 1.0])
    np.testing.assert_allclose(sd.binned_meanrate(500, "Hz"), [3.0, 0.0])
    with pytest.raises(ConfigError):
        sd.rates("MHz")


def test_population_firing_rate_has_equal_lengths_and_exact_bin_width() -> None:
    sd = SpikeData([[1.0, 2.0, 5.0, 15.0], [0.0, 3.0, 20.0]], length=35)
    centres, rate = sd.population_firing_rate(bin_size=10, w=1)
    np.testing.assert_allclose(centres, [5.0, 15.0, 25.0, 32.5])
    np.testing.assert_allclose(rate, [0.5, 0.1, 0.1, 0.0])
    assert centres.shape == rate.shape


def test_interspike_intervals_and_log_histogram_edge_cases() -> None:
    sd = SpikeData([[1.0, 2.0, 4.0, 8.0], [3.0], [5.0, 5.0, 6.0, 8.0]], length=10)
    np.testing.assert_array_equal(sd.interspike_intervals()[0], [1.0, 2.0, 4.0])
    hists, edges = sd.isi_log_histogram(bin_num=2)
    np.testing.assert_array_equal(hists[0], [1, 2])
    np.testing.assert_allclose(edges[0], [1.0, 2.0, 4.0])
    assert hists[1].sum() == 0
    assert np.isnan(edges[1]).all()
    assert hists[2].tolist() == [2, 1]  # the zero ISI is counted in the first bin
    thresholds = sd.isi_threshold_cma(hists, edges)
    assert thresholds[0] == 4.0
    assert np.isnan(thresholds[1])


def test_resampled_isi_single_spike_gives_zeros() -> None:
    sd = SpikeData([[5.0], [1.0, 3.0, 7.0]], length=10)
    out = sd.resampled_isi(np.arange(0.0, 10.0, 1.0), sigma_ms=1.0)
    assert out.shape == (2, 10)
    assert not out[0].any()
    assert out[1].max() <= 0.5 + 1e-12
    assert out[1].min() >= 0.25 - 1e-12


def test_burstiness_index_ground_truths() -> None:
    uniform = SpikeData([np.arange(20.0, 4001.0, 40.0)], length=4000)
    assert uniform.burstiness_index(40) == pytest.approx(0.0)
    at_once = SpikeData([np.full(50, 2000.0)], length=4000)
    assert at_once.burstiness_index(40) == pytest.approx(1.0)
    assert np.isnan(SpikeData([[]], length=400).burstiness_index(40))


def test_avalanches_discard_runs_touching_the_edges() -> None:
    sd = SpikeData.from_raster(np.array([[1, 0, 2, 3, 0, 1, 0, 0, 4]]), 40)
    assert [a.tolist() for a in sd.avalanches(0, 40)] == [[2, 3], [1]]
    durations, sizes = sd.avalanche_duration_size(0, 40)
    np.testing.assert_array_equal(durations, [2, 1])
    np.testing.assert_array_equal(sizes, [5, 1])


def test_latencies_nearest_spike_within_the_window() -> None:
    sd = SpikeData([[10.2, 30.0], [50.0]], length=60)
    assert sd.latencies([10.0], 1.0)[0] == pytest.approx([0.2])
    assert sd.latencies([10.0], 0.1)[0] == []
    assert sd.latencies([30.5], 1.0)[0] == pytest.approx([-0.5])
    assert sd.latencies_to_index(0, 25.0)[1] == pytest.approx([20.0])


def test_spike_time_tilings_diagonal_and_convention_flag() -> None:
    sd = SpikeData([[10.0, 50.0], [11.0, 80.0], []], length=100)
    m = sd.spike_time_tilings(5)
    assert m.shape == (3, 3)
    np.testing.assert_array_equal(np.diag(m), 1.0)
    assert m[0, 2] == 0.0
    assert m[0, 1] == pytest.approx(sd.spike_time_tiling(0, 1, 5))
    assert np.isnan(sd.spike_time_tiling(0, 2, 5, convention="elephant"))


def test_randomized_preserves_both_marginals() -> None:
    rng = np.random.default_rng(3)
    raster = (rng.random((8, 200)) < 0.2).astype(np.int64)
    sd = SpikeData.from_raster(raster, 1.0)
    for method in ("poprate_greedy", "poprate_okun"):
        surrogate = sd.randomized(1.0, seed=4, method=method)  # type: ignore[arg-type]
        out = surrogate.raster(1.0)
        np.testing.assert_array_equal(out.sum(axis=1), raster.sum(axis=1))
        np.testing.assert_array_equal(out.sum(axis=0), raster.sum(axis=0))
        assert surrogate.length == sd.length
    with pytest.raises(ConfigError):
        sd.randomized(1.0, method="shuffle")  # type: ignore[arg-type]


class _Quantity:
    def __init__(self, values: Any, scale: float) -> None:
        self.values, self.scale = np.asarray(values, dtype=float), scale

    def rescale(self, unit: str) -> _Quantity:
        assert unit == "ms"
        return _Quantity(self.values * self.scale, 1.0)

    @property
    def magnitude(self) -> Any:
        return self.values


class _NeoTrain(_Quantity):
    """What SpikeData reads from a ``neo.SpikeTrain``: ``rescale`` and ``t_stop``."""

    def __init__(self, seconds: list[float], t_stop: float) -> None:
        super().__init__(seconds, 1e3)
        self.t_stop = _Quantity(t_stop, 1e3)


def test_from_neo_spiketrains_converts_to_ms() -> None:
    sd = SpikeData.from_neo_spiketrains([_NeoTrain([0.5, 1.0], 2.0), _NeoTrain([0.25], 2.0)])
    np.testing.assert_array_equal(sd.train[0], [500.0, 1000.0])
    assert sd.length == 2000.0


def test_from_nest_keeps_requested_nodes_in_order() -> None:
    recorder = {"events": {"senders": np.array([3, 1, 2, 3]), "times": np.array([1.0, 2.0, 3.0, 4.0])}}

    class Recorder:
        def get(self, key: str) -> Any:
            return recorder[key]

    sd = SpikeData.from_nest(Recorder(), [3, 1])
    assert sd.N == 2
    np.testing.assert_array_equal(sd.train[0], [1.0, 4.0])
    np.testing.assert_array_equal(sd.train[1], [2.0])
    assert sd.neuron_attributes == [NestIDNeuronAttributes(3), NestIDNeuronAttributes(1)]


def test_from_mbt_neurons_converts_samples_to_ms() -> None:
    @dataclass
    class Neuron:
        spike_time: Any
        fs: float

    sd = SpikeData.from_mbt_neurons([Neuron(np.array([20, 40]), 20000.0)])
    np.testing.assert_array_equal(sd.train[0], [1.0, 2.0])


def test_from_thresholding_finds_rising_edges_per_channel() -> None:
    data = np.zeros((2, 1000))
    data[0, [100, 101, 500]] = 10.0
    data[1, 700] = -10.0
    sd = SpikeData.from_thresholding(data, fs_Hz=1000.0, threshold_sigma=3.0, filter=False)
    np.testing.assert_allclose(sd.train[0], [99.5, 499.5])
    np.testing.assert_allclose(sd.train[1], [699.5])
    up = SpikeData.from_thresholding(data, fs_Hz=1000.0, threshold_sigma=3.0, filter=False, direction="up")
    assert up.train[1].size == 0
    assert sd.raw_data.shape == data.shape


def test_importing_the_package_and_spikedata_loads_no_heavy_modules() -> None:
    code = (
        "import sys, braingeneers.analysis as a\n"
        "sd = a.SpikeData([[1.0, 2.0]], length=3)\n"
        "a.NeuronAttributes; a.pearson; a.load_spike_data\n"
        "heavy = [m for m in ('numba', 'scipy', 'matplotlib', 'boto3', 'pandas') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


_trains_strategy = st.lists(
    st.lists(st.floats(0.0, 100.0, allow_nan=False), max_size=15).map(sorted), min_size=1, max_size=5
)


@settings(max_examples=40, deadline=None)
@given(raster=st.lists(st.lists(st.integers(0, 3), min_size=4, max_size=4), min_size=1, max_size=4))
def test_from_raster_round_trip_property(raster: list[list[int]]) -> None:
    r = np.array(raster)
    np.testing.assert_array_equal(SpikeData.from_raster(r, 2.5).raster(2.5), r)


@settings(max_examples=40, deadline=None)
@given(trains=_trains_strategy, cut=st.floats(0.01, 100.0, allow_nan=False))  # cut 0 is closed on both sides
def test_subtime_halves_partition_the_spikes(trains: list[list[float]], cut: float) -> None:
    sd = SpikeData(trains, length=100.0)
    left, right = sd.subtime(0, cut), sd.subtime(cut, None)
    for whole, a, b in zip(sd.train, left.train, right.train, strict=True):
        np.testing.assert_allclose(np.concatenate([a, b + cut]), whole, rtol=0, atol=1e-12)
    assert left.length + right.length == pytest.approx(100.0)
    joined = left.append(right)
    for whole, back in zip(sd.train, joined.train, strict=True):
        np.testing.assert_allclose(back, whole, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(trains=_trains_strategy, bin_size=st.sampled_from([1.0, 3.0, 7.5, 40.0]))
def test_binning_agrees_with_a_plain_loop(trains: list[list[float]], bin_size: float) -> None:
    sd = SpikeData(trains, length=100.0)
    n_bins = int(np.ceil(100.0 / bin_size))
    expected = np.zeros((sd.N, n_bins), dtype=np.int64)
    for i, train in enumerate(trains):
        for t in train:
            expected[i, min(max(int(np.ceil(t / bin_size)) - 1, 0), n_bins - 1)] += 1
    np.testing.assert_array_equal(sd.raster(bin_size), expected)
    np.testing.assert_array_equal(sd.binned(bin_size), expected.sum(axis=0))
    units, times = sd.idces_times()
    again = SpikeData.from_idces_times(units, times, N=sd.N, length=100.0)
    for a, b in zip(again.train, sd.train, strict=True):
        np.testing.assert_array_equal(a, b)


def test_network_bursts_wraps_the_burst_detector_and_plots() -> None:
    from braingeneers.analysis.bursts import detect_bursts

    rng = np.random.default_rng(8)
    trains = [
        np.sort(np.r_[rng.uniform(0, 10_000, 20), rng.uniform(2000, 2100, 15), rng.uniform(7000, 7080, 15)])
        for _ in range(10)
    ]
    sd = SpikeData(trains, length=10_000)
    bursts = sd.network_bursts(5.0, min_spikes=20, merge_gap=20.0, min_units=5)
    assert len(bursts) == 2
    assert 2000 <= bursts.start[0] < bursts.end[0] <= 2100
    assert 7000 <= bursts.start[1] < bursts.end[1] <= 7080
    np.testing.assert_array_equal(bursts.n_units, [10, 10])
    direct = detect_bursts(sd.train, 5.0, min_spikes=20, merge_gap=20.0, min_units=5)
    np.testing.assert_array_equal(direct.start, bursts.start)
    pytest.importorskip("matplotlib")
    from braingeneers.analysis.plot import plot_raster

    assert len(plot_raster(sd, bursts=bursts).axes[0].patches) == 2


def test_legacy_module_path_resolves_the_same_objects() -> None:
    import braingeneers.analysis as package
    from braingeneers.analysis.analysis import SpikeData, load_spike_data

    assert SpikeData is package.SpikeData
    assert load_spike_data is package.load_spike_data
