# ruff: noqa: RUF001, RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Surrogate rasters that keep every unit's spike count and the population rate.

Two methods, both working on the non-zero raster entries in O(S) memory (a dense
``N × T`` array is built only when a dense raster is passed in):

* ``"poprate_greedy"`` — visit the non-empty bins from the largest population count down;
  for a bin with ``k`` spikes draw ``k`` distinct units with probability proportional to
  their remaining spike counts (a Fenwick tree makes each draw O(log N)); when fewer than
  ``k`` units have spikes left, every such unit gets one and the rest is drawn again from
  the remaining counts, so repeats occur only as forced by the pigeonhole principle.
  Marginals are preserved; a unit may get more than one spike in a bin.
* ``"poprate_okun"`` — degree-preserving checkerboard swaps (Okun et al. 2015) of a binary
  raster: pick two spikes ``(i0, j0)``, ``(i1, j1)`` at random; if ``i0 ≠ i1``, ``j0 ≠ j1`` and
  ``(i0, j1)``, ``(i1, j0)`` are empty, move the spikes there. ``swap_per_spike · S``
  successful swaps are attempted (with a hash set of occupied entries); both marginals and
  binarity are preserved.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._numba import jit
from .raster import bin_count, raster_entries, trains_from_entries

__all__ = [
    "Method",
    "randomize_entries_greedy",
    "randomize_entries_okun",
    "randomize_raster",
    "randomize_raster_greedy",
    "randomize_raster_okun",
    "randomized_trains",
]

Method = Literal["poprate_greedy", "poprate_okun"]

Entries = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def _seed(seed: int | np.random.Generator | None) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**62))
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**62))
    return int(seed) % (2**62)


@jit()
def _greedy(  # noqa: PLR0912, PLR0915 (one flat numba loop)
    unit_counts: NDArray[np.int64],
    bin_order: NDArray[np.int64],
    bin_sizes: NDArray[np.int64],
    seed: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Assign ``bin_sizes[b]`` spikes of bin ``bin_order[b]`` to units, largest bins first."""
    np.random.seed(seed)
    n = unit_counts.size
    remaining = unit_counts.copy()
    tree = np.zeros(n + 1, dtype=np.int64)  # Fenwick tree over the current weights
    weight = np.zeros(n, dtype=np.int64)
    for u in range(n):
        weight[u] = remaining[u]
        i = u + 1
        while i <= n:
            tree[i] += remaining[u]
            i += i & (-i)
    total = 0
    positive = 0
    for u in range(n):
        total += remaining[u]
        if remaining[u] > 0:
            positive += 1
    log = 1
    while log * 2 <= n:
        log *= 2
    s_total = total
    out_units = np.empty(s_total, dtype=np.int64)
    out_bins = np.empty(s_total, dtype=np.int64)
    picked = np.empty(n, dtype=np.int64)
    pos = 0
    for b in range(bin_order.size):
        k = bin_sizes[b]
        col = bin_order[b]
        while k > 0:
            if positive <= k:
                # pigeonhole: every unit with spikes left gets one
                for u in range(n):
                    if remaining[u] > 0:
                        out_units[pos] = u
                        out_bins[pos] = col
                        pos += 1
                        remaining[u] -= 1
                        i = u + 1
                        while i <= n:
                            tree[i] -= 1
                            i += i & (-i)
                        weight[u] -= 1
                        total -= 1
                        k -= 1
                        if remaining[u] == 0:
                            positive -= 1
                continue
            # draw k distinct units proportionally to their weights
            avail = total
            for d in range(k):
                r = int(np.random.random() * avail)
                if r >= avail:
                    r = avail - 1
                idx = 0
                step = log
                while step > 0:
                    nxt = idx + step
                    if nxt <= n and tree[nxt] <= r:
                        idx = nxt
                        r -= tree[nxt]
                    step //= 2
                u = idx  # 0-based unit with prefix(u) <= r < prefix(u + 1)
                picked[d] = u
                w = weight[u]
                avail -= w
                i = u + 1
                while i <= n:
                    tree[i] -= w
                    i += i & (-i)
                weight[u] = 0
            for d in range(k):
                u = picked[d]
                out_units[pos] = u
                out_bins[pos] = col
                pos += 1
                remaining[u] -= 1
                total -= 1
                if remaining[u] == 0:
                    positive -= 1
                weight[u] = remaining[u]
                i = u + 1
                while i <= n:
                    tree[i] += remaining[u]
                    i += i & (-i)
            k = 0
    return out_units[:pos].copy(), out_bins[:pos].copy()


def _canonical(units: NDArray[np.int64], bins: NDArray[np.int64], n_bins: int) -> Entries:
    if units.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    key = units * max(n_bins, 1) + bins
    key.sort()
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[start, key.size]).astype(np.int64)
    k = key[start]
    return k // max(n_bins, 1), k % max(n_bins, 1), counts


def _check_entries(
    units: ArrayLike, bins: ArrayLike, counts: ArrayLike, n_units: int, n_bins: int
) -> Entries:
    u = np.ascontiguousarray(units, dtype=np.int64).reshape(-1)
    b = np.ascontiguousarray(bins, dtype=np.int64).reshape(-1)
    c = np.ascontiguousarray(counts, dtype=np.int64).reshape(-1)
    if not (u.size == b.size == c.size):
        raise ValueError("units, bins and counts must have the same length")
    if u.size:
        if int(u.min()) < 0 or int(u.max()) >= n_units or int(b.min()) < 0 or int(b.max()) >= n_bins:
            raise ValueError(f"raster entries fall outside the ({n_units}, {n_bins}) raster")
        if int(c.min()) < 0:
            raise ValueError("raster counts must be non-negative")
    return u, b, c


def randomize_entries_greedy(
    units: ArrayLike,
    bins: ArrayLike,
    counts: ArrayLike,
    n_units: int,
    n_bins: int,
    *,
    seed: int | np.random.Generator | None = None,
) -> Entries:
    """Greedy population-rate-preserving surrogate of a raster given by its entries.

    Parameters
    ----------
    units, bins, counts
        Non-zero entries of an ``(n_units, n_bins)`` count raster (duplicates add up).
    n_units, n_bins
        Raster shape.
    seed
        Seed or ``numpy.random.Generator`` for reproducible surrogates.

    Returns
    -------
    units, bins, counts : numpy.ndarray
        Entries of the surrogate, sorted by unit then bin, with the same row and column sums.
    """
    u, b, c = _check_entries(units, bins, counts, n_units, n_bins)
    unit_counts = np.bincount(u, weights=c, minlength=n_units).astype(np.int64)
    bin_sizes = np.bincount(b, weights=c, minlength=n_bins).astype(np.int64)
    nonzero = np.flatnonzero(bin_sizes)
    order = nonzero[np.argsort(-bin_sizes[nonzero], kind="stable")]
    out_u, out_b = _greedy(unit_counts, order.astype(np.int64), bin_sizes[order], _seed(seed))
    return _canonical(out_u, out_b, n_bins)


@jit()
def _slot(table: NDArray[np.int64], key: int, mask: int) -> int:
    h = key * np.int64(-7046029254386353131)
    i = int((h ^ (h >> 29)) & mask)
    while table[i] != -1 and table[i] != key:
        i = (i + 1) & mask
    return i


@jit()
def _okun(  # noqa: PLR0917
    units: NDArray[np.int64], bins: NDArray[np.int64], n_bins: int, swaps: int, attempts: int, seed: int
) -> int:
    """Checkerboard swaps in place; return the number of successful swaps."""
    np.random.seed(seed)
    s = units.size
    size = 4
    while size < 4 * s:
        size *= 2
    mask = size - 1
    table = np.full(size, -1, dtype=np.int64)
    for k in range(s):
        key = units[k] * n_bins + bins[k]
        table[_slot(table, key, mask)] = key
    done = 0
    tries = 0
    while done < swaps and tries < attempts:
        tries += 1
        a = np.random.randint(0, s)
        b = np.random.randint(0, s)
        i0 = units[a]
        j0 = bins[a]
        i1 = units[b]
        j1 = bins[b]
        if i0 == i1 or j0 == j1:
            continue
        new_a = i0 * n_bins + j1
        new_b = i1 * n_bins + j0
        slot_a = _slot(table, new_a, mask)
        if table[slot_a] != -1:
            continue
        slot_b = _slot(table, new_b, mask)
        if table[slot_b] != -1:
            continue
        # delete the two old keys (backward-shift deletion keeps probe chains intact)
        for old in (i0 * n_bins + j0, i1 * n_bins + j1):
            i = _slot(table, old, mask)
            j = i
            while True:
                j = (j + 1) & mask
                if table[j] == -1:
                    break
                h = table[j] * np.int64(-7046029254386353131)
                home = (h ^ (h >> 29)) & mask
                if (i <= j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                    table[i] = table[j]
                    i = j
            table[i] = -1
        table[_slot(table, new_a, mask)] = new_a
        table[_slot(table, new_b, mask)] = new_b
        bins[a] = j1
        bins[b] = j0
        done += 1
    return done


def randomize_entries_okun(
    units: ArrayLike,
    bins: ArrayLike,
    n_units: int,
    n_bins: int,
    *,
    seed: int | np.random.Generator | None = None,
    swap_per_spike: int = 5,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Okun checkerboard-swap surrogate of a binary raster given by its spike positions.

    Parameters
    ----------
    units, bins
        Unit and bin of each spike; every (unit, bin) pair at most once.
    n_units, n_bins
        Raster shape.
    seed
        Seed or ``numpy.random.Generator``.
    swap_per_spike
        Successful swaps to perform per spike.

    Returns
    -------
    units, bins : numpy.ndarray
        Spike positions of the surrogate, sorted by unit then bin.

    Raises
    ------
    ValueError
        If a (unit, bin) pair occurs more than once (the raster is not binary).
    """
    u, b, _ = _check_entries(units, bins, np.ones(np.size(units), dtype=np.int64), n_units, n_bins)
    key = np.sort(u * max(n_bins, 1) + b)
    if key.size > 1 and bool(np.any(key[1:] == key[:-1])):
        raise ValueError("the Okun method needs a binary raster (at most one spike per unit and bin)")
    u = u.copy()
    b = b.copy()
    s = u.size
    target = swap_per_spike * s
    if s >= 2 and target > 0:
        done = _okun(u, b, int(n_bins), target, (swap_per_spike + 1) * s, _seed(seed))
        if done < target:
            done += _okun(u, b, int(n_bins), target - done, (swap_per_spike + 1) * s, _seed(seed) + 1)
        if done < target:
            warnings.warn(
                f"Okun randomization made only {done} of {target} swaps; "
                "the raster may be too dense to mix well",
                RuntimeWarning,
                stacklevel=2,
            )
    cu, cb, _ = _canonical(u, b, n_bins)
    return cu, cb


def _entries_of(raster: Any) -> tuple[Entries, tuple[int, int], bool]:
    if hasattr(raster, "tocoo"):
        coo = raster.tocoo()
        shape = (int(coo.shape[0]), int(coo.shape[1]))
        data = np.asarray(coo.data)
        rows, cols = np.asarray(coo.row), np.asarray(coo.col)
        is_sparse = True
    else:
        dense = np.asarray(raster)
        if dense.ndim != 2:
            raise ValueError(f"raster must be 2-D (units × bins), got shape {dense.shape}")
        shape = (int(dense.shape[0]), int(dense.shape[1]))
        rows, cols = np.nonzero(dense)
        data = dense[rows, cols]
        is_sparse = False
    if data.dtype.kind == "f" and not bool(np.all(data == np.round(data))):
        raise ValueError("raster holds non-integer counts; pass spike counts per bin")
    keep = data != 0
    entries = (
        rows[keep].astype(np.int64),
        cols[keep].astype(np.int64),
        np.asarray(data[keep]).astype(np.int64),
    )
    return entries, shape, is_sparse


def _as_output(entries: Entries, shape: tuple[int, int], is_sparse: bool, like: Any) -> Any:
    units, bins, counts = entries
    if is_sparse:
        import scipy.sparse

        return scipy.sparse.csr_array((counts, (units, bins)), shape=shape)
    dtype = np.asarray(like).dtype
    if dtype.kind not in "iuf":
        dtype = np.dtype(np.int64)
    out = np.zeros(shape, dtype=dtype)
    out[units, bins] = counts
    return out


def randomize_raster_greedy(raster: Any, seed: int | np.random.Generator | None = None) -> Any:
    """Greedy surrogate of a dense array or ``scipy.sparse`` raster (output of the same kind)."""
    (u, b, c), shape, is_sparse = _entries_of(raster)
    return _as_output(
        randomize_entries_greedy(u, b, c, shape[0], shape[1], seed=seed), shape, is_sparse, raster
    )


def randomize_raster_okun(
    raster: Any, seed: int | np.random.Generator | None = None, swap_per_spike: int = 5
) -> Any:
    """Okun swap surrogate of a binary dense or ``scipy.sparse`` raster (output of the same kind)."""
    (u, b, counts), shape, is_sparse = _entries_of(raster)
    if counts.size and int(counts.max()) > 1:
        raise ValueError("the Okun method needs a binary raster (at most one spike per unit and bin)")
    su, sb = randomize_entries_okun(u, b, shape[0], shape[1], seed=seed, swap_per_spike=swap_per_spike)
    return _as_output((su, sb, np.ones(su.size, dtype=np.int64)), shape, is_sparse, raster)


def randomize_raster(
    raster: Any, seed: int | np.random.Generator | None = None, method: Method = "poprate_greedy"
) -> Any:
    """Return a surrogate raster with the same per-unit counts and population rate.

    Parameters
    ----------
    raster
        Dense ``(N, T)`` array or ``scipy.sparse`` array of spike counts.
    seed
        Seed or ``numpy.random.Generator``.
    method
        ``"poprate_greedy"`` (any counts) or ``"poprate_okun"`` (binary rasters).

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_array
        Same kind and shape as the input (dense integer input keeps its dtype).
    """
    if method == "poprate_greedy":
        return randomize_raster_greedy(raster, seed)
    if method == "poprate_okun":
        return randomize_raster_okun(raster, seed)
    raise ValueError(f"unknown method {method!r}; use 'poprate_greedy' or 'poprate_okun'")


def randomized_trains(
    trains: Sequence[ArrayLike],
    bin_size: float = 1.0,
    length: float | None = None,
    seed: int | np.random.Generator | None = None,
    method: Method = "poprate_greedy",
) -> list[NDArray[np.float64]]:
    """Bin trains, randomize the raster and spread the counts back into trains, in O(S) memory.

    Parameters
    ----------
    trains
        One array-like of spike times (ms) per unit.
    bin_size
        Bin width (ms).
    length
        Recording length (ms); defaults to the last spike.
    seed
        Seed or ``numpy.random.Generator``.
    method
        ``"poprate_greedy"`` or ``"poprate_okun"``.

    Returns
    -------
    list of numpy.ndarray
        Surrogate trains; ``k`` spikes in bin ``t`` are placed at ``t·b + j·b/(k+1)``.
    """
    if length is None:
        lasts = [float(np.max(t)) for t in trains if np.size(t)]
        length = max(lasts) if lasts else 0.0
    n_units = len(trains)
    n_bins = bin_count(length, bin_size)
    u, b, c = raster_entries(trains, bin_size, length)
    if method == "poprate_greedy":
        u, b, c = randomize_entries_greedy(u, b, c, n_units, n_bins, seed=seed)
    elif method == "poprate_okun":
        if c.size and int(c.max()) > 1:
            raise ValueError(
                f"the Okun method needs a binary raster but a unit has {int(c.max())} spikes in one "
                f"{bin_size} ms bin; use a smaller bin_size or method='poprate_greedy'"
            )
        u, b = randomize_entries_okun(u, b, n_units, n_bins, seed=seed)
        c = np.ones(u.size, dtype=np.int64)
    else:
        raise ValueError(f"unknown method {method!r}; use 'poprate_greedy' or 'poprate_okun'")
    return trains_from_entries(u, b, c, n_units, bin_size)
