# ruff: noqa: RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Bursts, network-burst statistics, avalanches and the burstiness index.

* :func:`burst_detection` — spikedata's ISI-threshold burst finder (a maximal run of
  consecutive ISIs ≤ threshold forms a burst of run + 1 spikes, kept if it has at least
  ``spike_num_thr`` spikes), including the burst that runs to the last spike (spikedata drops it).
* :func:`detect_bursts` — the same on the pooled population train, with merging of nearby
  bursts, a minimum inter-burst interval and per-burst statistics (:class:`Bursts`).
* :func:`avalanches` — maximal runs of bins whose population count is ``> thresh``, strictly
  inside the recording (runs touching the first or last bin are discarded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numba import jit
from .trains import events_from_trains

__all__ = [
    "Bursts",
    "avalanche_duration_size",
    "avalanche_runs",
    "avalanches",
    "burst_detection",
    "burst_runs",
    "burstiness_index",
    "detect_bursts",
]


@jit()
def _isi_runs(
    times: NDArray[np.float64], threshold: float, min_spikes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n = times.size
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    sizes = np.empty(n // 2 + 1, dtype=np.int64)
    found = 0
    run_start = 0
    for k in range(1, n + 1):
        if k < n and times[k] - times[k - 1] <= threshold:
            continue
        size = k - run_start
        if size >= min_spikes and size >= 2:
            starts[found] = run_start
            sizes[found] = size
            found += 1
        run_start = k
    return starts[:found].copy(), sizes[:found].copy()


def burst_runs(
    times: ArrayLike, threshold: float, min_spikes: int = 3
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Find maximal runs of consecutive ISIs ≤ ``threshold`` in one sorted train.

    Parameters
    ----------
    times
        Sorted spike times (ms), one unit or a pooled population train.
    threshold
        Largest ISI (ms, inclusive) inside a burst.
    min_spikes
        Smallest number of spikes in a burst (a burst always has at least 2).

    Returns
    -------
    starts, sizes : numpy.ndarray
        Index of the first spike of each burst and its number of spikes (int64).
    """
    t = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    if t.size > 1 and bool(np.any(t[1:] < t[:-1])):
        raise ValueError("spike times must be sorted ascending; sort them or pass a pooled sorted train")
    return _isi_runs(t, float(threshold), int(min_spikes))


def burst_detection(
    spike_times: ArrayLike, burst_threshold: float, spike_num_thr: int = 3
) -> tuple[list[list[int]], list[float]]:
    """Detect bursts as runs of short ISIs, in spikedata's output format.

    Parameters
    ----------
    spike_times
        Sorted spike times (ms) of one unit or of the pooled population.
    burst_threshold
        Largest ISI (ms, inclusive) inside a burst.
    spike_num_thr
        Smallest number of spikes in a burst.

    Returns
    -------
    bursts : list of [int, int]
        ``[index of first spike, number of spikes]`` per burst.
    burst_times : list of float
        The times of all spikes that belong to a burst, in order.

    Notes
    -----
    Unlike spikedata 0.2.2, a burst that extends to the last spike is reported.
    """
    t = np.ascontiguousarray(spike_times, dtype=np.float64).reshape(-1)
    starts, sizes = burst_runs(t, burst_threshold, spike_num_thr)
    bursts: list[list[int]] = np.column_stack((starts, sizes)).tolist()
    inside = np.zeros(t.size + 1, dtype=np.int64)
    np.add.at(inside, starts, 1)
    np.add.at(inside, starts + sizes, -1)
    members = t[np.cumsum(inside[:-1]) > 0]
    return bursts, members.tolist()


@dataclass(frozen=True)
class Bursts:
    """Network bursts and their statistics (one entry per burst, times in ms).

    Attributes
    ----------
    start, end
        Time of the first and last spike of each burst.
    duration
        ``end - start``.
    n_spikes
        Number of spikes (all units) in the burst.
    n_units
        Number of distinct units that fire in the burst.
    peak_rate
        Largest population rate (Hz) in a sliding window of ``rate_window`` ms within the burst.
    units
        Sorted indices of the participating units, one array per burst.
    """

    start: NDArray[np.float64]
    end: NDArray[np.float64]
    duration: NDArray[np.float64]
    n_spikes: NDArray[np.int64]
    n_units: NDArray[np.int64]
    peak_rate: NDArray[np.float64]
    units: list[NDArray[np.int64]] = field(repr=False)

    def __len__(self) -> int:
        return int(self.start.size)


@jit()
def _peak_count(times: NDArray[np.float64], first: int, stop: int, window: float) -> int:
    """Most spikes of ``times[first:stop]`` inside any closed window of width ``window``."""
    best = 0
    lo = first
    for hi in range(first, stop):
        while times[hi] - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def detect_bursts(
    trains: Sequence[ArrayLike],
    isi_threshold: float,
    *,
    min_spikes: int = 3,
    merge_gap: float = 0.0,
    min_interburst: float = 0.0,
    min_units: int = 1,
    rate_window: float = 10.0,
) -> Bursts:
    """Detect network bursts on the pooled train and return their statistics.

    Steps: (1) runs of pooled ISIs ≤ ``isi_threshold`` with ≥ ``min_spikes`` spikes, as
    :func:`burst_detection`; (2) bursts whose gap (next start − previous end) is
    ≤ ``merge_gap`` are merged (the spikes between them join the burst); (3) a burst starting
    less than ``min_interburst`` ms after the end of the previous kept burst is dropped;
    (4) bursts with fewer than ``min_units`` participating units are dropped.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    isi_threshold
        Largest pooled ISI (ms, inclusive) inside a burst.
    min_spikes
        Smallest number of spikes in a burst before merging.
    merge_gap
        Merge bursts separated by at most this many ms (0 merges only touching bursts).
    min_interburst
        Minimum interval (ms) from the end of a kept burst to the start of the next.
    min_units
        Smallest number of distinct units in a kept burst.
    rate_window
        Width (ms) of the sliding window for the peak population rate.

    Returns
    -------
    Bursts
        Per-burst start, end, duration, spike and unit counts, peak rate (Hz) and units.
    """
    if not rate_window > 0:
        raise ValueError(f"rate_window must be positive, got {rate_window}")
    times, units = events_from_trains(trains)
    starts, sizes = burst_runs(times, isi_threshold, min_spikes)
    first = starts
    last = starts + sizes - 1
    if first.size:
        # merge bursts separated by at most merge_gap
        gap = times[first[1:]] - times[last[:-1]]
        new = np.r_[True, gap > merge_gap]
        last = np.maximum.reduceat(last, np.flatnonzero(new))
        first = first[new]
    keep_first: list[int] = []
    keep_last: list[int] = []
    prev_end = -np.inf
    for f, e in zip(first.tolist(), last.tolist(), strict=True):
        if keep_first and times[f] - prev_end < min_interburst:
            continue
        keep_first.append(f)
        keep_last.append(e)
        prev_end = float(times[e])
    starts_t: list[float] = []
    ends_t: list[float] = []
    n_spk: list[int] = []
    n_u: list[int] = []
    peaks: list[float] = []
    members: list[NDArray[np.int64]] = []
    for f, e in zip(keep_first, keep_last, strict=True):
        who = np.unique(units[f : e + 1])
        if who.size < min_units:
            continue
        starts_t.append(float(times[f]))
        ends_t.append(float(times[e]))
        n_spk.append(e - f + 1)
        n_u.append(int(who.size))
        peaks.append(_peak_count(times, f, e + 1, float(rate_window)) / rate_window * 1e3)
        members.append(who)
    start = np.array(starts_t, dtype=np.float64)
    end = np.array(ends_t, dtype=np.float64)
    return Bursts(
        start=start,
        end=end,
        duration=end - start,
        n_spikes=np.array(n_spk, dtype=np.int64),
        n_units=np.array(n_u, dtype=np.int64),
        peak_rate=np.array(peaks, dtype=np.float64),
        units=members,
    )


@jit()
def _active_runs(counts: NDArray[np.float64], thresh: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n = counts.size
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    stops = np.empty(n // 2 + 1, dtype=np.int64)
    found = 0
    k = 0
    while k < n:
        if counts[k] > thresh:
            s = k
            while k < n and counts[k] > thresh:
                k += 1
            if s > 0 and k < n:
                starts[found] = s
                stops[found] = k
                found += 1
        else:
            k += 1
    return starts[:found].copy(), stops[:found].copy()


def avalanche_runs(counts: ArrayLike, thresh: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return ``(starts, stops)`` of maximal runs of bins with ``counts > thresh``.

    Runs that touch the first or the last bin are discarded (they may be cut by the
    recording's edges). Bin ``k`` belongs to a run when ``starts[i] <= k < stops[i]``.
    """
    c = np.ascontiguousarray(counts, dtype=np.float64).reshape(-1)
    return _active_runs(c, float(thresh))


def avalanches(counts: ArrayLike, thresh: float) -> list[NDArray[np.int64]]:
    """Return the population counts of each avalanche (run of bins with count > ``thresh``)."""
    c = np.asarray(counts).reshape(-1)
    starts, stops = avalanche_runs(c, thresh)
    return [c[s:e] for s, e in zip(starts, stops, strict=True)]


def avalanche_duration_size(counts: ArrayLike, thresh: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return each avalanche's duration (bins) and size (summed counts, threshold not subtracted)."""
    c = np.asarray(counts).reshape(-1)
    starts, stops = avalanche_runs(c, thresh)
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=c.dtype if c.dtype.kind in "iu" else np.float64)
    csum = np.r_[0, np.cumsum(c)]
    sizes = csum[stops] - csum[starts]
    return (stops - starts).astype(np.int64), sizes


def burstiness_index(counts: ArrayLike) -> float:
    """Return the burstiness index (Wagenaar et al. 2005) of binned population counts.

    ``f15`` is the share of all spikes in the 15 % of bins with the most spikes (bins from
    index ``round(0.85 · n_bins)`` of the ascending sort); ``BI = (f15 − 0.15) / 0.85``.
    A single bin gives 1.0.
    """
    c = np.sort(np.asarray(counts, dtype=np.float64).reshape(-1))
    if c.size == 0:
        raise ValueError("burstiness_index needs at least one bin of counts")
    if c.size == 1:
        return 1.0
    total = c.sum()
    if total == 0:
        raise ValueError("burstiness_index is undefined without spikes")
    f15 = c[round(0.85 * c.size) :].sum() / total
    return float((f15 - 0.15) / 0.85)
