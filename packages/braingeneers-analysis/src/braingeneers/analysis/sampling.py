"""Weighted sampling without replacement where possible (used by surrogate rasters)."""
# ruff: noqa: N803 - spikedata's argument name M is kept

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from braingeneers.core.errors import ConfigError

__all__ = ["best_effort_sample"]


def best_effort_sample(counts: Any, M: int, rng: np.random.Generator | None = None) -> npt.NDArray[np.int64]:
    """Draw ``M`` indices with probability proportional to ``counts``, repeating only when forced.

    If at least ``M`` entries are positive, ``M`` distinct indices are drawn
    without replacement with ``p ∝ counts``. Otherwise every index with a positive
    count is taken once and the remainder is drawn the same way from
    ``counts - 1``, so an index repeats only as often as the pigeonhole
    principle forces.

    Parameters
    ----------
    counts
        Non-negative integer weights (e.g. remaining spikes per unit).
    M
        Number of indices to draw.
    rng
        Random generator; default a fresh ``numpy.random.default_rng()``.

    Returns
    -------
    numpy.ndarray
        ``M`` int64 indices.

    Raises
    ------
    ConfigError
        If ``sum(counts) < M`` or a count is negative.
    """
    rng = np.random.default_rng() if rng is None else rng
    remaining = np.asarray(counts, dtype=np.int64).copy()
    if np.any(remaining < 0):
        raise ConfigError("best_effort_sample: counts must be non-negative")
    if M < 0 or remaining.sum() < M:
        raise ConfigError(
            f"best_effort_sample: cannot draw {M} samples from counts totalling {remaining.sum()}"
        )
    chosen: list[npt.NDArray[np.int64]] = []
    need = int(M)
    while need > 0:
        positive = np.flatnonzero(remaining > 0)
        if positive.size <= need:
            chosen.append(positive.astype(np.int64))
            remaining[positive] -= 1
            need -= positive.size
            continue
        weights = remaining[positive].astype(np.float64)
        pick = rng.choice(positive.size, size=need, replace=False, p=weights / weights.sum())
        chosen.append(positive[pick].astype(np.int64))
        need = 0
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
