"""Plot helpers return figures holding the data they were given."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from braingeneers.analysis import (
    SpikeData,
    plot,
)
from braingeneers.core.errors import ConfigError


def _sd() -> SpikeData:
    rng = np.random.default_rng(0)
    return SpikeData([np.sort(rng.uniform(0, 5000, n)) for n in (10, 25, 0, 40)], length=5000)


def test_module_import_does_not_load_matplotlib_until_called() -> None:
    import subprocess

    code = "import sys, braingeneers.analysis.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_raster_draws_every_spike_and_shades_bursts() -> None:
    from matplotlib.collections import PathCollection
    from matplotlib.figure import Figure

    sd = _sd()
    fig = plot.plot_raster(sd, bursts=[(100.0, 300.0), (2000.0, 2500.0)], order=[3, 2, 1, 0])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    points = next(c for c in ax.collections if isinstance(c, PathCollection)).get_offsets()
    assert len(points) == 75
    bottom_row = np.asarray(points)[np.asarray(points)[:, 1] == 0, 0]
    np.testing.assert_allclose(np.sort(bottom_row), sd.train[3] / 1e3)
    assert len(ax.patches) == 2
    assert ax.get_xlim() == (0.0, 5.0)


def test_population_rate_plots_in_hz_and_accepts_burst_objects() -> None:
    class Bursts:
        start = np.array([1000.0])
        end = np.array([1200.0])

    sd = _sd()
    fig = plot.plot_population_rate(sd, bin_size=100, w=1, bursts=Bursts())
    line = fig.axes[0].lines[0]
    centres, rate = sd.population_firing_rate(bin_size=100, w=1)
    np.testing.assert_allclose(line.get_ydata(), rate * 1e3)
    np.testing.assert_allclose(line.get_xdata(), centres / 1e3)
    assert len(fig.axes[0].patches) == 1
    with pytest.raises(ConfigError):
        plot.burst_intervals([(5.0, 1.0)])


def test_sttc_heatmap_orders_units_by_position() -> None:
    matrix = np.array([[1.0, 0.1, 0.2], [0.1, 1.0, 0.3], [0.2, 0.3, 1.0]])
    positions = [(20.0, 0.0), (0.0, 5.0), (0.0, 1.0)]
    fig = plot.plot_sttc(matrix, positions=positions)
    image = fig.axes[0].images[0].get_array()
    order = [2, 1, 0]
    np.testing.assert_array_equal(np.asarray(image), matrix[np.ix_(order, order)])
    fig2 = plot.plot_sttc(_sd(), delt=50)
    assert np.asarray(fig2.axes[0].images[0].get_array()).shape == (4, 4)
    with pytest.raises(ConfigError):
        plot.plot_sttc(np.zeros((2, 3)))


def test_isi_histogram_counts_every_positive_interval() -> None:
    sd = _sd()
    fig = plot.plot_isi_histogram(sd, bins=20)
    assert sum(float(np.sum(p.get_data().values)) for p in fig.axes[0].patches) == 9 + 24 + 39
    pooled = plot.plot_isi_histogram(sd, pooled=True, log=False, units=[0, 1])
    assert len(pooled.axes[0].patches) == 1
    empty = plot.plot_isi_histogram(SpikeData([[1.0]], length=2))
    assert len(empty.axes[0].patches) == 0


def test_drawing_into_given_axes_returns_their_figure() -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    ax1, ax2 = fig.subplots(2)
    sd = _sd()
    assert plot.plot_raster(sd, ax=ax1) is fig
    assert plot.plot_population_rate(sd, ax=ax2) is fig
