# ruff: noqa: RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Spike-time tiling coefficient (STTC, Cutts & Eglen 2014) for pairs and all pairs.

For trains A, B in a recording ``[0, T]`` and window Δ (closed):

* ``T_A`` — fraction of ``[0, T]`` within Δ of a spike of A,
  ``(min(Δ, a_1) + min(Δ, T − a_n) + Σ_k min(a_{k+1} − a_k, 2Δ)) / T``;
* ``P_A`` — fraction of spikes of A with a spike of B at distance ≤ Δ;
* ``STTC = ½ [(P_A − T_B) / (1 − P_A T_B) + (P_B − T_A) / (1 − P_B T_A)]``.

Conventions (``convention=``): ``"spikedata"`` (default, as spikedata 0.2.2) gives 0 for a
pair with an empty train and replaces a half-term whose denominator is 0 by 0;
``"elephant"`` gives NaN and 1 instead (as elephant's ``spike_time_tiling_coefficient``).

The matrix is an event sweep: all spikes sorted by time are visited once, and each spike
marks which units have a spike within ±Δ of it, so the cost is O(S·K̄) with K̄ the mean
number of spikes in a 2Δ window, instead of O(N·S) for any per-pair method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numba import jit, prange
from .trains import as_trains

__all__ = ["Convention", "spike_time_tiling", "sttc_matrix", "tiling_fraction"]

Convention = Literal["spikedata", "elephant"]


def _check(delt: float, convention: str) -> None:
    if not delt >= 0:
        raise ValueError(f"delt must be a non-negative window in ms, got {delt}")
    if convention not in ("spikedata", "elephant"):
        raise ValueError(f"convention must be 'spikedata' or 'elephant', got {convention!r}")


def _tiled(train: NDArray[np.float64], delt: float, length: float) -> float:
    """Measure of ``[0, length]`` within ``delt`` of a spike (not normalised)."""
    if train.size == 0:
        return 0.0
    total = min(delt, float(train[0])) + min(delt, length - float(train[-1]))
    if train.size > 1:
        total += float(np.minimum(np.diff(train), 2 * delt).sum())
    return total


def tiling_fraction(train: ArrayLike, delt: float, length: float) -> float:
    """Return ``T_A``: the fraction of ``[0, length]`` within ``delt`` ms of a spike of the train."""
    arr = as_trains([train])[0]
    if not length > 0:
        raise ValueError(f"length must be positive, got {length}")
    return _tiled(arr, float(delt), float(length)) / float(length)


def _half(p: float, t: float, zero_over_zero: float) -> float:
    den = 1.0 - p * t
    if den == 0.0:
        return zero_over_zero
    return (p - t) / den


def _near_fraction(a: NDArray[np.float64], b: NDArray[np.float64], delt: float) -> float:
    """Fraction of spikes of ``a`` with a spike of ``b`` at distance ≤ ``delt``."""
    idx = np.searchsorted(b, a)
    left = np.abs(a - b[np.maximum(idx - 1, 0)])
    right = np.abs(b[np.minimum(idx, b.size - 1)] - a)
    near = (left <= delt) | (right <= delt)
    return float(np.count_nonzero(near)) / a.size


def spike_time_tiling(
    tA: ArrayLike,  # noqa: N803 (spikedata’s argument names)
    tB: ArrayLike,  # noqa: N803
    delt: float = 20.0,
    length: float | None = None,
    *,
    convention: Convention = "spikedata",
) -> float:
    """Compute the spike-time tiling coefficient of two spike trains.

    Parameters
    ----------
    tA, tB
        Spike times (ms) of the two trains.
    delt
        Coincidence window Δ (ms), closed: spikes at distance exactly Δ count.
    length
        Recording length T (ms); defaults to the last spike of either train.
    convention
        ``"spikedata"`` (0 for an empty train, a 0/0 half-term is 0) or
        ``"elephant"`` (NaN for an empty train, a 0/0 half-term is 1).

    Returns
    -------
    float
        The STTC, in [-1, 1].
    """
    _check(delt, convention)
    a, b = as_trains([tA, tB])
    if a.size == 0 or b.size == 0:
        return 0.0 if convention == "spikedata" else float("nan")
    if length is None:
        length = max(float(a[-1]), float(b[-1]))
    if not length > 0:
        raise ValueError(f"length must be positive, got {length}")
    ta = _tiled(a, delt, length) / length
    tb = _tiled(b, delt, length) / length
    pa = _near_fraction(a, b, delt)
    pb = _near_fraction(b, a, delt)
    fill = 0.0 if convention == "spikedata" else 1.0
    return (_half(pa, tb, fill) + _half(pb, ta, fill)) / 2


@jit(parallel=True)
def _near_counts(
    times: NDArray[np.float64], units: NDArray[np.int64], n_units: int, delt: float, n_chunks: int
) -> NDArray[np.int64]:
    """``near[u, v]`` = number of spikes of u with a spike of v within ±delt (event sweep)."""
    n = times.size
    per_chunk = np.zeros((n_chunks, n_units, n_units), dtype=np.int32)
    for c in prange(n_chunks):
        first = c * n // n_chunks
        stop = (c + 1) * n // n_chunks
        if first >= stop:
            continue
        near = per_chunk[c]
        seen = np.full(n_units, -1, dtype=np.int64)
        lo = first
        while lo > 0 and times[first] - times[lo - 1] <= delt:
            lo -= 1
        hi = first
        for i in range(first, stop):
            t = times[i]
            u = units[i]
            while t - times[lo] > delt:
                lo += 1
            hi = max(hi, i)
            while hi + 1 < n and times[hi + 1] - t <= delt:
                hi += 1
            for j in range(lo, hi + 1):
                v = units[j]
                if seen[v] != i:
                    seen[v] = i
                    near[u, v] += 1
    total = np.zeros((n_units, n_units), dtype=np.int64)
    for c in range(n_chunks):
        for u in prange(n_units):
            for v in range(n_units):
                total[u, v] += per_chunk[c, u, v]
    return total


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


def sttc_matrix(
    trains: Sequence[ArrayLike],
    delt: float = 20.0,
    length: float | None = None,
    *,
    convention: Convention = "spikedata",
) -> NDArray[np.float64]:
    """Compute the STTC of every pair of trains as a symmetric ``(N, N)`` matrix.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    delt
        Coincidence window Δ (ms), closed.
    length
        Recording length T (ms); defaults to the last spike of any train.
    convention
        ``"spikedata"`` or ``"elephant"``, see :func:`spike_time_tiling`.

    Returns
    -------
    numpy.ndarray
        Float64 ``(N, N)`` matrix with ones on the diagonal.
    """
    _check(delt, convention)
    arrays = as_trains(trains)
    n_units = len(arrays)
    counts = np.array([a.size for a in arrays], dtype=np.int64)
    if length is None:
        lasts = [float(a[-1]) for a in arrays if a.size]
        length = max(lasts) if lasts else 0.0
    result = np.eye(n_units, dtype=np.float64)
    if n_units == 0:
        return result
    empty_value = 0.0 if convention == "spikedata" else np.nan
    if counts.sum() == 0 or not length > 0:
        if counts.sum() and not length > 0:
            raise ValueError(f"length must be positive, got {length}")
        off = ~np.eye(n_units, dtype=bool)
        result[off] = empty_value
        return result
    tiled = np.array([_tiled(a, float(delt), float(length)) for a in arrays]) / length
    times = np.concatenate(arrays)
    units = np.repeat(np.arange(n_units, dtype=np.int64), counts)
    order = np.argsort(times, kind="stable")
    near = _near_counts(times[order], units[order], n_units, float(delt), max(1, min(_threads(), times.size)))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = near / counts[:, None].astype(np.float64)
        den = 1.0 - p * tiled[None, :]
        half = (p - tiled[None, :]) / den
    half[den == 0.0] = 0.0 if convention == "spikedata" else 1.0
    result = (half + half.T) / 2
    empty = counts == 0
    result[empty, :] = empty_value
    result[:, empty] = empty_value
    np.fill_diagonal(result, 1.0)
    return result
