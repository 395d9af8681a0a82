"""Convert between per-unit spike trains and one time-sorted event list.

A *train list* is a sequence of 1-D arrays of spike times in ms, one per unit.
An *event list* is a pair ``(times, units)`` of equal-length arrays sorted by
time (ties broken by unit index), the layout every sweep kernel works on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numba import jit

__all__ = ["as_trains", "events_from_trains", "trains_from_events"]


def as_trains(trains: Sequence[ArrayLike]) -> list[NDArray[np.float64]]:
    """Return the trains as contiguous float64 arrays, each sorted ascending.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.

    Returns
    -------
    list of numpy.ndarray
        Float64 copies (or the inputs themselves when already float64, 1-D and sorted).
    """
    out: list[NDArray[np.float64]] = []
    for i, train in enumerate(trains):
        arr = np.ascontiguousarray(train, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"train {i} has shape {arr.shape}; pass one 1-D array of spike times per unit")
        if arr.size > 1 and bool(np.any(arr[1:] < arr[:-1])):
            arr = np.sort(arr)
        out.append(arr)
    return out


def events_from_trains(trains: Sequence[ArrayLike]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Flatten per-unit trains into one event list sorted by time.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.

    Returns
    -------
    times : numpy.ndarray
        Float64 spike times, ascending; equal times are ordered by unit index.
    units : numpy.ndarray
        Int64 unit index of each spike.
    """
    arrays = as_trains(trains)
    counts = np.array([a.size for a in arrays], dtype=np.int64)
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
    times = np.concatenate(arrays)
    units = np.repeat(np.arange(len(arrays), dtype=np.int64), counts)
    # concatenation is unit-major, so a stable sort by time breaks ties by unit
    order = np.argsort(times, kind="stable")
    return times[order], units[order]


@jit()
def _group_by_unit(
    units: NDArray[np.int64], times: NDArray[np.float64], n_units: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Group events by unit with a stable counting sort; return grouped times and offsets."""
    offsets = np.zeros(n_units + 1, dtype=np.int64)
    for k in range(units.size):
        offsets[units[k] + 1] += 1
    for u in range(n_units):
        offsets[u + 1] += offsets[u]
    fill = offsets[:-1].copy()
    grouped = np.empty(times.size, dtype=np.float64)
    for k in range(units.size):
        u = units[k]
        grouped[fill[u]] = times[k]
        fill[u] += 1
    return grouped, offsets


def trains_from_events(
    units: ArrayLike, times: ArrayLike, n_units: int | None = None
) -> list[NDArray[np.float64]]:
    """Group an event list into one sorted train per unit, in O(S).

    Parameters
    ----------
    units
        Integer unit index of each spike (need not be sorted).
    times
        Spike time (ms) of each spike.
    n_units
        Number of units; defaults to ``max(units) + 1`` (0 for no events). Units
        without spikes get empty trains.

    Returns
    -------
    list of numpy.ndarray
        ``n_units`` float64 arrays, each sorted ascending.

    Raises
    ------
    ValueError
        If the arrays differ in length, an index is negative, or an index is not below ``n_units``.
    """
    u = np.ascontiguousarray(units, dtype=np.int64).reshape(-1)
    t = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    if u.size != t.size:
        raise ValueError(f"got {u.size} unit indices but {t.size} spike times; pass one index per time")
    top = int(u.max()) + 1 if u.size else 0
    if n_units is None:
        n_units = top
    if u.size and int(u.min()) < 0:
        raise ValueError(f"unit index {int(u.min())} is negative; indices must be 0..N-1")
    if top > n_units:
        raise ValueError(f"unit index {top - 1} is out of range for N={n_units}; pass a larger N")
    grouped, offsets = _group_by_unit(u, t, int(n_units))
    trains = np.split(grouped, offsets[1:-1]) if n_units > 0 else []
    out: list[NDArray[np.float64]] = []
    for train in trains:
        unsorted = train.size > 1 and bool(np.any(train[1:] < train[:-1]))
        out.append(np.sort(train) if unsorted else train)
    return out
