# ruff: noqa: RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Latencies from reference times to each unit's nearest spike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numba import jit
from .trains import as_trains

__all__ = ["latencies", "latency_matrix"]


@jit()
def _nearest_offsets(train: NDArray[np.float64], refs: NDArray[np.float64], out: NDArray[np.float64]) -> None:
    """``out[m]`` = (nearest spike − refs[m]) for sorted ``refs``; ties go to the earlier spike."""
    n = train.size
    j = 0
    for m in range(refs.size):
        r = refs[m]
        while j < n and train[j] < r:
            j += 1
        # train[j-1] < r <= train[j]
        if j == 0:
            out[m] = train[0] - r
        elif j == n:
            out[m] = train[n - 1] - r
        else:
            before = train[j - 1] - r
            after = train[j] - r
            if after < -before:
                out[m] = after
            else:
                out[m] = before


def latency_matrix(trains: Sequence[ArrayLike], times: ArrayLike) -> NDArray[np.float64]:
    """Return the signed offset (ms) from each reference time to each unit's nearest spike.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    times
        Reference times (ms).

    Returns
    -------
    numpy.ndarray
        ``(N, M)`` float64 array of ``spike − reference`` for the nearest spike (ties go to
        the earlier spike); NaN for a unit without spikes.
    """
    arrays = as_trains(trains)
    refs = np.asarray(times, dtype=np.float64).reshape(-1)
    order = np.argsort(refs, kind="stable")
    sorted_refs = np.ascontiguousarray(refs[order])
    out = np.full((len(arrays), refs.size), np.nan, dtype=np.float64)
    row = np.empty(refs.size, dtype=np.float64)
    for i, train in enumerate(arrays):
        if train.size == 0 or refs.size == 0:
            continue
        _nearest_offsets(train, sorted_refs, row)
        out[i, order] = row
    return out


def latencies(
    trains: Sequence[ArrayLike], times: ArrayLike, window_ms: float = 100.0
) -> list[NDArray[np.float64]]:
    """Return, per unit, the latencies of its nearest spike to each reference time within a window.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    times
        Reference times (ms), e.g. another unit's spikes.
    window_ms
        Keep a latency only if its absolute value is ≤ ``window_ms``.

    Returns
    -------
    list of numpy.ndarray
        One float64 array per unit, in reference-time order, of ``spike − reference``
        for the nearest spike (ties go to the earlier spike).
    """
    arrays = as_trains(trains)
    refs = np.asarray(times, dtype=np.float64).reshape(-1)
    order = np.argsort(refs, kind="stable")
    sorted_refs = np.ascontiguousarray(refs[order])
    sorted_row = np.empty(refs.size, dtype=np.float64)
    row = np.empty(refs.size, dtype=np.float64)
    out: list[NDArray[np.float64]] = []
    for train in arrays:
        if train.size == 0 or refs.size == 0:
            out.append(np.zeros(0, dtype=np.float64))
            continue
        _nearest_offsets(train, sorted_refs, sorted_row)
        row[order] = sorted_row
        out.append(row[np.abs(row) <= window_ms])
    return out
