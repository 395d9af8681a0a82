"""Module-level spike metrics: Pearson correlation, Fano factors, population rate, moving averages.

Every function takes plain arrays (dense ``numpy`` or ``scipy.sparse`` rasters,
lists of spike-time arrays in ms), so it can be used without ``SpikeData``.
scipy is only touched when a sparse raster is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from braingeneers.core.errors import ConfigError, FormatError

__all__ = ["cumulative_moving_average", "fano_factors", "pearson", "population_firing_rate"]


def _is_sparse(x: Any) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def pearson(spikes: Any, *, nan_for_constant: bool = False) -> npt.NDArray[np.float64]:
    """Return the Pearson correlation matrix of the rows of a raster.

    ``r_ij = (E[x_i x_j] - E[x_i]E[x_j]) / (s_i s_j)`` over time bins, population
    moments, ``s`` the standard deviations (``ddof=0``).

    Parameters
    ----------
    spikes
        Units x bins raster, dense ``numpy`` or ``scipy.sparse``.
    nan_for_constant
        What a unit whose row is constant (silent, or active in every bin) gets.
        ``False`` (default): 0 against every other unit and 1 on the diagonal, on
        both the dense and the sparse path. ``True``: NaN in its row and column,
        diagonal included (what ``numpy.corrcoef`` gives).

    Returns
    -------
    numpy.ndarray
        Symmetric units x units float64 matrix.
    """
    if _is_sparse(spikes):
        x = spikes.tocsr().astype(np.float64)
        n_bins = x.shape[1]
        if n_bins == 0:
            raise FormatError("pearson: the raster has no time bins; pass a raster with at least one bin")
        mean = np.asarray(x.mean(axis=1)).ravel()
        second = np.asarray((x @ x.T).toarray()) / n_bins
        cov = second - np.outer(mean, mean)
        var = np.diag(cov).copy()
    else:
        dense = np.asarray(spikes, dtype=np.float64)
        if dense.ndim != 2 or dense.shape[1] == 0:
            raise FormatError(f"pearson: expected a units x bins raster with ≥1 bin, got shape {dense.shape}")
        centred = dense - dense.mean(axis=1, keepdims=True)
        cov = centred @ centred.T / dense.shape[1]
        var = np.diag(cov).copy()
    constant = var <= 0
    std = np.sqrt(np.where(constant, 1.0, var))
    corr = cov / np.outer(std, std)
    corr[constant, :] = np.nan if nan_for_constant else 0.0
    corr[:, constant] = np.nan if nan_for_constant else 0.0
    diagonal = np.where(constant & nan_for_constant, np.nan, 1.0)
    np.fill_diagonal(corr, diagonal)
    clipped: npt.NDArray[np.float64] = np.clip(corr, -1.0, 1.0)
    return clipped


def fano_factors(raster: Any) -> npt.NDArray[np.float64]:
    """Return each unit's Fano factor over time bins: variance / mean of its counts.

    Population variance (``ddof=0``). A silent unit gets 1 (the Poisson value).

    Parameters
    ----------
    raster
        Units x bins counts, dense ``numpy`` or ``scipy.sparse``.
    """
    if _is_sparse(raster):
        x = raster.tocsr().astype(np.float64)
        n_bins = x.shape[1]
        mean = np.asarray(x.sum(axis=1)).ravel() / n_bins
        second = np.asarray(x.multiply(x).sum(axis=1)).ravel() / n_bins
        var = second - mean**2
    else:
        dense = np.asarray(raster, dtype=np.float64)
        if dense.ndim != 2:
            raise FormatError(f"fano_factors: expected a units x bins raster, got shape {dense.shape}")
        mean = dense.mean(axis=1)
        var = dense.var(axis=1)
    out: npt.NDArray[np.float64] = np.ones(np.shape(mean), dtype=np.float64)
    active = mean > 0
    out[active] = var[active] / mean[active]
    return out


def cumulative_moving_average(hist: Any) -> list[npt.NDArray[np.float64]]:
    """Return the cumulative moving average ``CMA_i = mean(h_0..h_i)`` of each histogram.

    Parameters
    ----------
    hist
        A list of 1-D histograms (one per unit), or a single 1-D histogram.

    Returns
    -------
    list of numpy.ndarray
        One CMA array per histogram (a one-element list for a single histogram).
    """
    arr = np.asarray(hist, dtype=object) if not isinstance(hist, np.ndarray) else hist
    single = arr.dtype != object and arr.ndim == 1
    hists = [hist] if single else list(hist)
    out = []
    for h in hists:
        values = np.asarray(h, dtype=np.float64)
        out.append(np.cumsum(values) / np.arange(1, values.size + 1))
    return out


def population_firing_rate(
    trains: Sequence[Any] | npt.NDArray[Any],
    rec_length: float | None = None,
    bin_size: float = 10,
    w: int = 5,
    average: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the smoothed population firing rate, in kHz (spikes per ms).

    Pooled spikes are counted in bins ``[k·b, (k+1)·b)`` of width exactly
    ``bin_size`` (the last bin also holds spikes at ``rec_length`` and is shorter
    when ``bin_size`` does not divide it; its count is divided by its own width),
    divided by the bin width, then smoothed with a boxcar of ``w`` bins
    (``numpy.convolve(..., "same")``, so the first and last ``w // 2`` bins are
    attenuated). With ``average`` the rate is divided by the number of trains.

    Parameters
    ----------
    trains
        A list of spike-time arrays (ms), one per unit, or one 1-D array of pooled spike times.
    rec_length
        Recording length in ms; default the last spike.
    bin_size
        Bin width in ms.
    w
        Boxcar width in bins.
    average
        Divide by the number of trains (per-unit mean rate).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Bin centres (ms) and rates (kHz), of equal length.
    """
    if bin_size <= 0:
        raise ConfigError(f"population_firing_rate: bin_size must be positive, got {bin_size}")
    if w < 1:
        raise ConfigError(f"population_firing_rate: w must be at least 1 bin, got {w}")
    if isinstance(trains, np.ndarray) and trains.dtype != object and trains.ndim == 1:
        pooled = trains.astype(np.float64)
        n_trains = 1
    else:
        parts = [np.asarray(t, dtype=np.float64).ravel() for t in trains]
        pooled = np.concatenate(parts) if parts else np.zeros(0)
        n_trains = len(parts)
    length = float(rec_length) if rec_length is not None else (float(pooled.max()) if pooled.size else 0.0)
    n_bins = int(np.ceil(length / bin_size)) if length > 0 else 0
    if n_bins == 0:
        return np.zeros(0), np.zeros(0)
    idx = np.floor(pooled / bin_size).astype(np.int64)
    idx = idx[(pooled >= 0) & (pooled <= length)]
    idx = np.minimum(idx, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(np.float64)
    widths = np.full(n_bins, float(bin_size))
    widths[-1] = length - (n_bins - 1) * bin_size
    rate = counts / widths
    smoothed = np.convolve(rate, np.ones(w) / w, mode="same")
    if average and n_trains > 0:
        smoothed = smoothed / n_trains
    centres = (np.arange(n_bins) * bin_size) + widths / 2
    return centres, smoothed
