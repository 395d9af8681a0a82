"""Figures of spike data: raster with burst shading, population rate, STTC heatmap, ISI histograms.

Needs the ``plot`` extra (``pip install "braingeneers-analysis[plot]"``);
matplotlib is imported when a function is called, not with this module. Every
function draws into ``ax`` when one is given, else into a new
``matplotlib.figure.Figure`` (no pyplot global state, so it is safe in servers
and threads), and returns the figure; notebooks display it as the cell's value.
Times on the axes are in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from braingeneers.core.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .spikedata import SpikeData

__all__ = [
    "burst_intervals",
    "plot_isi_histogram",
    "plot_population_rate",
    "plot_raster",
    "plot_sttc",
    "position_order",
]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        figure = ax.get_figure()
        if figure is None:
            raise ConfigError("the axes passed as ax belong to no figure")
        return figure, ax  # type: ignore[return-value]
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('plotting needs matplotlib: pip install "braingeneers-analysis[plot]"') from err
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def burst_intervals(bursts: Any) -> npt.NDArray[np.float64]:
    """Return bursts as an ``(n, 2)`` array of ``(start, end)`` in ms.

    Accepts anything with ``start`` and ``end`` arrays (e.g. the result of
    :func:`braingeneers.analysis.bursts.detect_bursts`) or a sequence of pairs.
    """
    if bursts is None:
        return np.zeros((0, 2))
    if hasattr(bursts, "start") and hasattr(bursts, "end"):
        pairs = np.stack([np.asarray(bursts.start, float), np.asarray(bursts.end, float)], axis=1)
    else:
        pairs = np.asarray(bursts, dtype=np.float64).reshape(-1, 2)
    if pairs.size and np.any(pairs[:, 1] < pairs[:, 0]):
        raise ConfigError("bursts: every end must be at or after its start")
    return pairs


def _shade(ax: Axes, bursts: Any, color: str) -> None:
    for start, end in burst_intervals(bursts):
        ax.axvspan(start / 1e3, end / 1e3, color=color, alpha=0.25, linewidth=0)


def plot_raster(
    sd: SpikeData,
    *,
    bursts: Any = None,
    order: Sequence[int] | None = None,
    ax: Axes | None = None,
    marker_size: float = 2.0,
    color: str = "black",
    burst_color: str = "tab:orange",
    figsize: tuple[float, float] = (10.0, 4.0),
) -> Figure:
    """Draw a spike raster (one row per unit), shading network bursts.

    Parameters
    ----------
    sd
        The spike data.
    bursts
        Bursts to shade: ``(start, end)`` pairs in ms or an object with ``start``/``end``.
    order
        Units from the bottom row up (default ``0..N-1``); e.g. ``numpy.argsort(sd.rates())``.
    ax
        Axes to draw into; default a new figure.
    marker_size, color, burst_color
        Marker size (points) and colours.
    figsize
        Size of a new figure, inches.
    """
    figure, axes = _axes(ax, figsize)
    rows = list(range(sd.N)) if order is None else [int(i) for i in order]
    xs, ys = [], []
    for row, unit in enumerate(rows):
        xs.append(sd.train[unit] / 1e3)
        ys.append(np.full(sd.train[unit].size, row))
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    _shade(axes, bursts, burst_color)
    axes.scatter(x, y, s=marker_size, c=color, marker="|", linewidths=0.8)
    axes.set_xlim(0, sd.length / 1e3)
    axes.set_ylim(-0.5, max(len(rows), 1) - 0.5)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("unit")
    return figure


def plot_population_rate(
    sd: SpikeData,
    *,
    bin_size: float = 10.0,
    w: int = 5,
    average: bool = False,
    bursts: Any = None,
    ax: Axes | None = None,
    color: str = "tab:blue",
    burst_color: str = "tab:orange",
    figsize: tuple[float, float] = (10.0, 3.0),
) -> Figure:
    """Draw the smoothed population firing rate (Hz), shading network bursts.

    ``bin_size``, ``w`` and ``average`` are those of
    :meth:`braingeneers.analysis.spikedata.SpikeData.population_firing_rate`.
    """
    figure, axes = _axes(ax, figsize)
    centres, rate = sd.population_firing_rate(bin_size=bin_size, w=w, average=average)
    _shade(axes, bursts, burst_color)
    axes.plot(centres / 1e3, rate * 1e3, color=color, linewidth=1.0)
    axes.set_xlim(0, sd.length / 1e3)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("rate per unit (Hz)" if average else "population rate (Hz)")
    return figure


def position_order(positions: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Return unit indices sorted by electrode position: by x, then by y."""
    xy = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    return np.lexsort((xy[:, 1], xy[:, 0])).astype(np.int64)


def plot_sttc(
    data: SpikeData | npt.ArrayLike,
    *,
    delt: float = 20.0,
    positions: npt.ArrayLike | None = None,
    ax: Axes | None = None,
    cmap: str = "RdBu_r",
    figsize: tuple[float, float] = (6.0, 5.0),
) -> Figure:
    """Draw an STTC matrix as a heatmap on ``[-1, 1]``.

    Parameters
    ----------
    data
        A ``SpikeData`` (its :meth:`~braingeneers.analysis.spikedata.SpikeData.spike_time_tilings`
        with window ``delt`` is drawn) or a precomputed N x N matrix.
    delt
        STTC window (ms) when ``data`` is a ``SpikeData``.
    positions
        N x 2 electrode positions; units are then ordered by x, then y, so that
        neighbouring electrodes sit next to each other. With a ``SpikeData``
        whose neuron attributes have a ``position``, pass
        ``[a.position for a in sd.neuron_attributes]``.
    ax, cmap, figsize
        Target axes, colour map and size of a new figure.
    """
    if hasattr(data, "spike_time_tilings"):
        matrix = np.asarray(data.spike_time_tilings(delt), dtype=np.float64)
    else:
        matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ConfigError(f"plot_sttc: expected a square matrix, got shape {matrix.shape}")
    order = np.arange(matrix.shape[0])
    if positions is not None:
        order = position_order(positions)
        if order.size != matrix.shape[0]:
            raise ConfigError(f"plot_sttc: {order.size} positions for {matrix.shape[0]} units")
        matrix = matrix[np.ix_(order, order)]
    figure, axes = _axes(ax, figsize)
    image = axes.imshow(matrix, vmin=-1.0, vmax=1.0, cmap=cmap, interpolation="nearest")
    figure.colorbar(image, ax=axes, label="STTC")
    if matrix.shape[0] <= 30:
        axes.set_xticks(range(order.size), [str(i) for i in order])
        axes.set_yticks(range(order.size), [str(i) for i in order])
    axes.set_xlabel("unit (ordered by position)" if positions is not None else "unit")
    axes.set_ylabel("unit")
    return figure


def plot_isi_histogram(
    sd: SpikeData,
    *,
    units: Sequence[int] | None = None,
    bins: int = 60,
    log: bool = True,
    pooled: bool = False,
    ax: Axes | None = None,
    figsize: tuple[float, float] = (6.0, 4.0),
) -> Figure:
    """Draw inter-spike-interval histograms (ms), one step line per unit or pooled.

    Parameters
    ----------
    sd
        The spike data.
    units
        Units to draw (default all).
    bins
        Number of bins, shared by every unit.
    log
        Log-spaced bins and a log x axis (ISIs span decades).
    pooled
        One histogram of the ISIs of all selected units together.
    ax, figsize
        Target axes and size of a new figure.
    """
    chosen = list(range(sd.N)) if units is None else [int(u) for u in units]
    isis = [np.diff(sd.train[u]) for u in chosen]
    everything = np.concatenate(isis) if isis else np.zeros(0)
    positive = everything[everything > 0]
    figure, axes = _axes(ax, figsize)
    if positive.size == 0:
        axes.set_xlabel("inter-spike interval (ms)")
        return figure
    lo, hi = float(positive.min()), float(positive.max())
    if hi <= lo:
        hi = lo * 1.01 + 1e-9
    edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(0.0, hi, bins + 1)
    groups = (
        [("all", positive)] if pooled else [(str(u), i[i > 0]) for u, i in zip(chosen, isis, strict=True)]
    )
    for label, values in groups:
        if values.size:
            counts, _ = np.histogram(values, edges)
            axes.stairs(counts, edges, label=label)
    if log:
        axes.set_xscale("log")
    axes.set_xlabel("inter-spike interval (ms)")
    axes.set_ylabel("count")
    if 1 < len(groups) <= 10:
        axes.legend(title="unit")
    return figure
