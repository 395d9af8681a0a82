# ruff: noqa: RUF001, RUF003  (math notation: −, ×, α, Δ, λ)
"""Bin spike trains into rasters, and spread raster counts back into spike times.

Bin convention (as spikedata): bins are right-closed and left-open, ``(k·b, (k+1)·b]``,
except that ``t = 0`` falls in bin 0. A spike at time ``t`` goes to bin
``ceil(t / b) - 1`` clipped into ``[0, n_bins - 1]``, with ``n_bins = ceil(length / b)``;
spikes before 0 or after ``length`` land in the first or last bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._numba import jit
from .trains import as_trains

if TYPE_CHECKING:
    import scipy.sparse

__all__ = [
    "bin_count",
    "bin_indices",
    "dense_raster",
    "raster_entries",
    "sparse_raster",
    "trains_from_entries",
    "trains_from_raster",
]


def bin_count(length: float, bin_size: float) -> int:
    """Return the number of bins, ``ceil(length / bin_size)``.

    Raises
    ------
    ValueError
        If ``bin_size`` is not positive or ``length`` is negative.
    """
    if not bin_size > 0:
        raise ValueError(f"bin_size must be positive, got {bin_size}")
    if not length >= 0:
        raise ValueError(f"length must be non-negative, got {length}")
    return math.ceil(length / bin_size)


def bin_indices(times: ArrayLike, bin_size: float, n_bins: int) -> NDArray[np.int64]:
    """Return the bin of each spike time: ``ceil(t / bin_size) - 1`` clipped to ``[0, n_bins - 1]``."""
    t = np.asarray(times, dtype=np.float64)
    idx = np.ceil(t / bin_size).astype(np.int64) - 1
    return np.clip(idx, 0, max(n_bins - 1, 0))


@jit()
def _fill_dense(
    times: NDArray[np.float64], offsets: NDArray[np.int64], bin_size: float, out: Any, limit: int
) -> int:
    """Add every spike to ``out[unit, bin]``; return the first unit reaching ``limit`` (if ≥ 0) or -1."""
    n_bins = out.shape[1]
    top = n_bins - 1
    for u in range(offsets.size - 1):
        for k in range(offsets[u], offsets[u + 1]):
            b = int(np.ceil(times[k] / bin_size)) - 1
            if b < 0:
                b = 0
            elif b > top:
                b = top
            if limit >= 0 and out[u, b] >= limit:
                return u
            out[u, b] += 1
    return -1


def _flat(trains: Sequence[ArrayLike]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    arrays = as_trains(trains)
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([a.size for a in arrays], out=offsets[1:])
    times = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float64)
    return times, offsets


def dense_raster(
    trains: Sequence[ArrayLike],
    bin_size: float,
    length: float,
    dtype: DTypeLike = np.int64,
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Bin trains into a dense ``(N, n_bins)`` count raster of a chosen dtype.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    bin_size
        Bin width (ms).
    length
        Recording length (ms); ``n_bins = ceil(length / bin_size)``.
    dtype
        Integer or float dtype of the raster (``uint8``/``uint16`` keep a 1 ms raster small).
    out
        Optional preallocated ``(N, n_bins)`` array to fill (it is zeroed first).

    Returns
    -------
    numpy.ndarray
        Spike counts per unit and bin.

    Raises
    ------
    OverflowError
        If a count does not fit the integer dtype.
    ValueError
        If ``out`` has the wrong shape.
    """
    n_bins = bin_count(length, bin_size)
    times, offsets = _flat(trains)
    shape = (offsets.size - 1, n_bins)
    kind = np.dtype(dtype if out is None else out.dtype).kind
    if kind not in "iuf":
        raise ValueError(
            f"dense_raster counts into an integer or float dtype, not {np.dtype(dtype)}; use uint8"
        )
    if out is None:
        raster = np.zeros(shape, dtype=dtype)
    else:
        if out.shape != shape:
            raise ValueError(f"out has shape {out.shape}; expected {shape} for these trains")
        raster = out
        raster.fill(0)
    if n_bins == 0 or times.size == 0:
        return raster
    limit = -1
    if raster.dtype.kind in "iu":
        limit = min(int(np.iinfo(raster.dtype).max), 2**63 - 1)
    unit = _fill_dense(times, offsets, float(bin_size), raster, limit)
    if unit >= 0:
        raise OverflowError(
            f"unit {unit} has more spikes in one bin than dtype {raster.dtype} holds; use a wider dtype"
        )
    return raster


def raster_entries(
    trains: Sequence[ArrayLike], bin_size: float, length: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Return the non-zero raster entries ``(units, bins, counts)`` in O(S) memory.

    Entries are sorted by unit, then bin, with duplicate (unit, bin) pairs summed.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    bin_size
        Bin width (ms).
    length
        Recording length (ms).

    Returns
    -------
    units, bins, counts : numpy.ndarray
        Int64 arrays of equal length.
    """
    n_bins = bin_count(length, bin_size)
    times, offsets = _flat(trains)
    if n_bins == 0 or times.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    bins = bin_indices(times, bin_size, n_bins)
    units = np.repeat(np.arange(offsets.size - 1, dtype=np.int64), np.diff(offsets))
    # trains are sorted, so bins are non-decreasing within each unit: run-length encode
    key = units * n_bins + bins
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[start, key.size]).astype(np.int64)
    return units[start], bins[start], counts


def sparse_raster(trains: Sequence[ArrayLike], bin_size: float, length: float) -> scipy.sparse.csr_array:
    """Bin trains into a canonical ``scipy.sparse.csr_array`` of int64 counts, shape ``(N, n_bins)``."""
    import scipy.sparse

    units, bins, counts = raster_entries(trains, bin_size, length)
    shape = (len(trains), bin_count(length, bin_size))
    return scipy.sparse.csr_array((counts, (units, bins)), shape=shape)


@jit()
def _spread(
    units: NDArray[np.int64], bins: NDArray[np.int64], counts: NDArray[np.int64], bin_size: float
) -> NDArray[np.float64]:
    """Place k spikes of an entry at ``bin·b + j·b/(k+1)``, j = 1..k."""
    total = 0
    for e in range(counts.size):
        total += counts[e]
    times = np.empty(total, dtype=np.float64)
    pos = 0
    for e in range(counts.size):
        k = counts[e]
        start = bins[e] * bin_size
        step = bin_size / (k + 1)
        for j in range(1, k + 1):
            times[pos] = start + j * step
            pos += 1
    return times


def trains_from_entries(
    units: ArrayLike,
    bins: ArrayLike,
    counts: ArrayLike,
    n_units: int,
    bin_size: float,
) -> list[NDArray[np.float64]]:
    """Turn raster entries back into trains, spreading ``k`` spikes evenly inside their bin.

    The ``k`` spikes of bin ``t`` go to ``t·b + j·b/(k + 1)`` for ``j = 1..k``, so binning
    the result with the same ``bin_size`` gives the raster back.

    Parameters
    ----------
    units, bins, counts
        Non-zero raster entries (any order; duplicates add up).
    n_units
        Number of units (rows).
    bin_size
        Bin width (ms).

    Returns
    -------
    list of numpy.ndarray
        One sorted float64 train per unit.
    """
    from .trains import trains_from_events

    u = np.asarray(units, dtype=np.int64).reshape(-1)
    b = np.asarray(bins, dtype=np.int64).reshape(-1)
    c = np.asarray(counts, dtype=np.int64).reshape(-1)
    if not (u.size == b.size == c.size):
        raise ValueError("units, bins and counts must have the same length")
    if c.size and int(c.min()) < 0:
        raise ValueError("raster counts must be non-negative")
    if u.size and not bool(np.all(np.diff(u * (int(b.max()) + 1) + b) > 0)):
        # canonicalise: sort by (unit, bin) and merge duplicates
        key = u * (int(b.max()) + 1) + b
        order = np.argsort(key, kind="stable")
        key, u, b, c = key[order], u[order], b[order], c[order]
        start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        c = np.add.reduceat(c, start) if start.size else c
        u, b = u[start], b[start]
    times = _spread(u, b, c, float(bin_size))
    return trains_from_events(np.repeat(u, c), times, n_units)


def trains_from_raster(raster: Any, bin_size: float) -> list[NDArray[np.float64]]:
    """Turn a dense or ``scipy.sparse`` count raster ``(N, T)`` back into trains.

    Integer-valued float rasters are accepted; non-integer or negative counts raise ``ValueError``.
    """
    if hasattr(raster, "tocoo"):
        coo = raster.tocoo()
        rows, cols, data = np.asarray(coo.row), np.asarray(coo.col), np.asarray(coo.data)
        n_units = int(coo.shape[0])
    else:
        dense = np.asarray(raster)
        if dense.ndim != 2:
            raise ValueError(f"raster must be 2-D (units × bins), got shape {dense.shape}")
        rows, cols = np.nonzero(dense)
        data = dense[rows, cols]
        n_units = int(dense.shape[0])
    values = np.asarray(data)
    if values.dtype.kind == "f" and not bool(np.all(values == np.round(values))):
        raise ValueError("raster holds non-integer counts; pass spike counts per bin")
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    return trains_from_entries(rows, cols, values.astype(np.int64), n_units, bin_size)
