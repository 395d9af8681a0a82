# ruff: noqa: RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Latencies from reference times to each unit's nearest spike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numba import jit
from .trains import as_trains

__all__ = ["latencies", "latency_matrix"]


@jit()
def _nearest(times: NDArray[np.float64], lo: int, hi: int, j: int, r: float) -> tuple[float, int]:
    """Return (nearest spike of ``times[lo:hi]`` − ``r``, the cursor ``j`` advanced past spikes < ``r``).

    ``j`` starts where the previous (smaller) reference left it; ties go to the earlier spike.
    """
    while j < hi and times[j] < r:
        j += 1
    if j == lo:
        return times[lo] - r, j
    if j == hi:
        return times[hi - 1] - r, j
    before = times[j - 1] - r
    after = times[j] - r
    return (after if after < -before else before), j


@jit()
def _nearest_offsets(
    times: NDArray[np.float64],
    offsets: NDArray[np.int64],
    first_unit: int,
    refs: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None:
    """Fill ``out[i, m]`` with (nearest spike of unit ``first_unit + i`` − ``refs[m]``), refs sorted.

    Ties go to the earlier spike; a unit without spikes gets NaN.
    """
    for i in range(out.shape[0]):
        lo = offsets[first_unit + i]
        hi = offsets[first_unit + i + 1]
        if lo == hi:
            for m in range(refs.size):
                out[i, m] = np.nan
            continue
        j = lo
        for m in range(refs.size):
            out[i, m], j = _nearest(times, lo, hi, j, refs[m])


@jit()
def _windowed_offsets(
    times: NDArray[np.float64], offsets: NDArray[np.int64], refs: NDArray[np.float64], window: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Nearest-spike offsets within ``window`` for sorted ``refs``: flat values and per-unit counts."""
    n_units = offsets.size - 1
    counts = np.zeros(n_units, dtype=np.int64)
    values = np.empty(16, dtype=np.float64)
    used = 0
    for i in range(n_units):
        lo = offsets[i]
        hi = offsets[i + 1]
        if lo == hi:
            continue
        j = lo
        for m in range(refs.size):
            d, j = _nearest(times, lo, hi, j, refs[m])
            if abs(d) <= window:
                if used == values.size:
                    grown = np.empty(2 * values.size, dtype=np.float64)
                    grown[:used] = values[:used]
                    values = grown
                values[used] = d
                used += 1
                counts[i] += 1
    return values[:used].copy(), counts


def _blocks(
    trains: Sequence[ArrayLike], times: ArrayLike
) -> Iterator[tuple[int, NDArray[np.float64], NDArray[np.intp]]]:
    """Yield ``(first_unit, offsets block (units × M, reference order), order)`` in bounded memory."""
    arrays = as_trains(trains)
    refs = np.asarray(times, dtype=np.float64).reshape(-1)
    order = np.argsort(refs, kind="stable")
    sorted_refs = np.ascontiguousarray(refs[order])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float64)
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([a.size for a in arrays], out=offsets[1:])
    step = max(1, _BLOCK_VALUES // max(refs.size, 1))
    for first in range(0, len(arrays), step):
        rows = min(step, len(arrays) - first)
        block = np.empty((rows, refs.size), dtype=np.float64)
        if refs.size:
            _nearest_offsets(flat, offsets, first, sorted_refs, block)
        result = np.empty_like(block)
        result[:, order] = block
        yield first, result, order


_BLOCK_VALUES = 1 << 22  # at most 32 MB of float64 offsets per block


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
    refs = np.asarray(times, dtype=np.float64).reshape(-1)
    out = np.empty((len(trains), refs.size), dtype=np.float64)
    for first, block, _ in _blocks(trains, refs):
        out[first : first + block.shape[0]] = block
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
        for the nearest spike (ties go to the earlier spike); empty for a unit without spikes.
    """
    refs = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    if refs.size < 2 or bool(np.all(refs[1:] >= refs[:-1])):
        # sorted references (e.g. a unit's train): one pass, no N x M intermediate
        arrays = as_trains(trains)
        flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float64)
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([a.size for a in arrays], out=offsets[1:])
        values, counts = _windowed_offsets(flat, offsets, refs, float(window_ms))
        return np.split(values, np.cumsum(counts)[:-1]) if arrays else []
    out: list[NDArray[np.float64]] = []
    for _, block, _ in _blocks(trains, refs):
        keep = np.abs(block) <= window_ms  # NaN (no spikes) compares False
        out.extend(row[mask] for row, mask in zip(block, keep, strict=True))
    return out
