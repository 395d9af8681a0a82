# ruff: noqa: RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Deviation from criticality (DCC, Ma et al. 2019) of neuronal avalanches.

Avalanche sizes ``S`` and durations ``D`` (see :func:`braingeneers.analysis.bursts.avalanches`)
are each fitted by a continuous power law ``p(x) ∝ x^-α`` above ``x_min`` (maximum likelihood,
``x_min`` by KS minimisation, using the optional ``powerlaw`` package), switching to a
truncated power law ``p(x) ∝ x^-α e^{-λx}`` when the log-likelihood ratio favours it
(``R < 0`` with ``p < pval_truncated``). The scaling exponents give
``τ_pred = (α_D − 1) / (α_S − 1)``; ``τ_fit`` is the least-squares slope of ``log S`` on
``log D`` across avalanches; ``DCC = |τ_pred − τ_fit|``.

Each fit's p-value is the fraction of ``N`` surrogate samples drawn from the fitted
distribution whose one-sample KS distance to the fit exceeds the data's (over the tail
``x ≥ x_min``; surrogates have the tail's size). Because ``F(X)`` is uniform for ``X`` drawn
from a continuous ``F``, a surrogate's KS distance is that of a sorted uniform sample, so the
surrogates need neither sampling from the fit nor evaluating its CDF; all of them are drawn
and sorted as one array. Only the data's distance uses the CDF, in closed form for the
truncated power law, ``F(x) = 1 − Γ(1−α, λx) / Γ(1−α, λ x_min)``, with the upper incomplete
gamma function of negative order from ``Γ(s, x) = (Γ(s+1, x) − x^s e^{−x}) / s``.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bursts import avalanche_duration_size

__all__ = [
    "DCCResult",
    "PowerLawFit",
    "dcc_from_avalanches",
    "deviation_from_criticality",
    "find_xmin",
    "fit_power_law",
    "ks_pvalue",
    "power_law_cdf",
    "uniform_ks_distances",
]

DCCResult = namedtuple("DCCResult", "dcc p_size p_duration")
DCCResult.__doc__ = (
    """Deviation from criticality and the goodness-of-fit p-values of the two power-law fits."""
)


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted (possibly truncated) continuous power law above ``xmin``.

    Attributes
    ----------
    alpha
        Exponent α of ``x^-α``.
    xmin
        Lower cut-off; the fit describes the data ≥ ``xmin``.
    truncation
        Exponential cut-off rate λ of ``e^{-λx}`` (0 for a plain power law).
    """

    alpha: float
    xmin: float
    truncation: float = 0.0


def _upper_gamma(s: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Upper incomplete gamma ``Γ(s, x)`` for any real ``s`` and ``x > 0``."""
    from scipy import special

    if s > 0:
        return np.asarray(special.gammaincc(s, x) * special.gamma(s), dtype=np.float64)
    if abs(s) < 1e-12:
        return np.asarray(special.exp1(x), dtype=np.float64)
    upper = _upper_gamma(s + 1.0, x)
    return np.asarray((upper - np.power(x, s) * np.exp(-x)) / s, dtype=np.float64)


def power_law_cdf(x: ArrayLike, fit: PowerLawFit) -> NDArray[np.float64]:
    """Evaluate the CDF of a fitted (truncated) power law at ``x`` (values < ``xmin`` give 0)."""
    values = np.asarray(x, dtype=np.float64)
    out = np.zeros(values.shape, dtype=np.float64)
    tail = values >= fit.xmin
    xt = values[tail]
    if fit.truncation > 0:
        s = 1.0 - fit.alpha
        lam = fit.truncation
        norm = _upper_gamma(s, np.array([lam * fit.xmin]))[0]
        out[tail] = 1.0 - _upper_gamma(s, lam * xt) / norm
    else:
        out[tail] = 1.0 - np.power(xt / fit.xmin, 1.0 - fit.alpha)
    return np.clip(out, 0.0, 1.0)


def _ks_distance(sorted_values: NDArray[np.float64], fit: PowerLawFit) -> float:
    """KS distance of sorted values to the fitted CDF."""
    n = sorted_values.size
    cdf = power_law_cdf(sorted_values, fit)
    above = np.arange(1, n + 1, dtype=np.float64) / n - cdf
    below = cdf - np.arange(0, n, dtype=np.float64) / n
    return float(max(above.max(), below.max()))


def uniform_ks_distances(
    n: int, n_surrogates: int, rng: np.random.Generator, chunk: int = 64
) -> NDArray[np.float64]:
    """Return the KS distances of ``n_surrogates`` sorted uniform samples of size ``n`` to U(0, 1).

    For a continuous fitted CDF ``F``, a sample ``x`` drawn from the fit has ``F(x)`` uniform,
    so these are exactly the KS distances of surrogate samples drawn from the fit.
    """
    out = np.empty(n_surrogates, dtype=np.float64)
    upper = np.arange(1, n + 1, dtype=np.float64) / n
    lower = np.arange(0, n, dtype=np.float64) / n
    for first in range(0, n_surrogates, chunk):
        rows = min(chunk, n_surrogates - first)
        u = np.sort(rng.random((rows, n)), axis=1)
        out[first : first + rows] = np.maximum((upper - u).max(axis=1), (u - lower).max(axis=1))
    return out


def ks_pvalue(
    data: ArrayLike,
    fit: PowerLawFit,
    n_surrogates: int = 1000,
    rng: np.random.Generator | None = None,
) -> float:
    """Return the fraction of surrogate samples whose KS distance to ``fit`` exceeds the data's.

    The data's distance is taken over its tail (values ≥ ``xmin``) and every surrogate has as
    many values as that tail. Surrogates are drawn in the probability domain
    (:func:`uniform_ks_distances`), which gives the same distances as drawing from the fit and
    evaluating its CDF, without either step.
    """
    rng = np.random.default_rng() if rng is None else rng
    values = np.asarray(data, dtype=np.float64).reshape(-1)
    tail = np.sort(values[values >= fit.xmin])
    if tail.size == 0 or n_surrogates <= 0:
        return 1.0
    observed = _ks_distance(tail, fit)
    return (
        float(np.count_nonzero(uniform_ks_distances(tail.size, n_surrogates, rng) > observed)) / n_surrogates
    )


def find_xmin(data: ArrayLike) -> float:
    """Choose ``x_min`` for a continuous power-law fit by KS minimisation, as ``powerlaw.Fit`` does.

    Candidates are the distinct data values except the largest. For each, the tail
    ``x ≥ x_min`` gets the maximum-likelihood exponent ``α = 1 + n / Σ log(x / x_min)`` and the
    distance ``D = max |F_fit − F_emp|`` over the distinct tail values, with ``F_emp`` the
    fraction of the tail strictly below each value (``powerlaw``'s empirical CDF). Fits with
    ``α ≥ 3`` (outside ``powerlaw``'s default range, or at its edge when ``α ≤ 1.5``) are
    skipped unless none is valid. All candidates are scored with cumulative sums instead of
    one fit object each, so this takes milliseconds where ``powerlaw`` takes seconds.

    Returns
    -------
    float
        The chosen ``x_min``, or NaN with fewer than two candidates.
    """
    x = np.sort(np.asarray(data, dtype=np.float64).reshape(-1))
    if x.size == 0:
        return float("nan")
    candidates = np.unique(x[x < x[-1]])[:-1]
    if candidates.size < 2:
        return float("nan")
    n_total = x.size
    bins = np.unique(x)
    emp = np.searchsorted(x, bins, side="left") / n_total
    logs = np.log(x)
    suffix = np.r_[np.cumsum(logs[::-1])[::-1], 0.0]
    start = np.searchsorted(x, candidates, side="left")
    n_tail = n_total - start
    alpha = 1.0 + n_tail / (suffix[start] - n_tail * np.log(candidates))
    alpha = np.maximum(alpha, 1.0)
    # powerlaw fits alpha outside (1.5, 3] numerically within its range [0, 3]: alpha > 3 ends at 3
    fitted = np.minimum(alpha, 3.0)
    distances = np.empty(candidates.size, dtype=np.float64)
    for k, xmin in enumerate(candidates):
        b = int(np.searchsorted(bins, xmin, side="left"))
        dropped = emp[b]
        actual = (emp[b:] - dropped) / (1.0 - dropped)
        theory = 1.0 - np.power(bins[b:] / xmin, 1.0 - fitted[k])
        distances[k] = np.max(np.abs(theory - actual))
    numeric = (alpha <= 1.5) | (alpha > 3)  # fitted numerically; flagged when near the range's edges
    valid = (fitted > 0) & (fitted < 3) & ~(numeric & ((fitted < 0.01) | (fitted > 2.99)))
    if valid.any():
        distances = np.where(valid, distances, np.inf)
    return float(candidates[int(np.argmin(distances))])


def fit_power_law(data: ArrayLike, pval_truncated: float = 0.05) -> PowerLawFit:
    """Fit a continuous power law above ``x_min``, truncated if that fits significantly better.

    ``x_min`` comes from :func:`find_xmin`; the exponents, the truncation and the likelihood-ratio
    test (``R < 0`` with ``p < pval_truncated`` selects the truncated power law) come from the
    optional ``powerlaw`` package (``pip install 'braingeneers-analysis[criticality]'``) at that ``x_min``.
    """
    try:
        import powerlaw
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "deviation_from_criticality needs the optional 'powerlaw' package; "
            "install it with: pip install 'braingeneers-analysis[criticality]'"
        ) from exc
    import contextlib
    import io
    import warnings

    values = np.asarray(data, dtype=np.float64).reshape(-1)
    xmin = find_xmin(values)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(values) if np.isnan(xmin) else powerlaw.Fit(values, xmin=xmin)
        ratio, p = fit.distribution_compare("power_law", "truncated_power_law")
        if ratio < 0 and p < pval_truncated:
            tpl = fit.truncated_power_law
            return PowerLawFit(float(tpl.alpha), float(fit.xmin), float(tpl.Lambda))
        return PowerLawFit(float(fit.power_law.alpha), float(fit.xmin), 0.0)


def deviation_from_criticality(
    counts: ArrayLike,
    quantile: float = 0.35,
    N: int = 1000,  # noqa: N803 (spikedata’s argument name)
    pval_truncated: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> DCCResult:
    """Compute the deviation from criticality of binned population counts.

    Parameters
    ----------
    counts
        Population spike counts per bin (e.g. ``SpikeData.binned(40)``).
    quantile
        Avalanche threshold as a quantile of the counts (bins with count > threshold are active).
    N
        Number of surrogate samples per KS goodness-of-fit test.
    pval_truncated
        Use the truncated power law when the likelihood ratio favours it with this p-value.
    seed
        Seed or ``numpy.random.Generator`` for the surrogates.

    Returns
    -------
    DCCResult
        ``(dcc, p_size, p_duration)``; ``(inf, 1.0, 1.0)`` when there is no avalanche.
    """
    c = np.asarray(counts).reshape(-1)
    thresh = float(np.quantile(c, quantile)) if c.size else 0.0
    durations, sizes = avalanche_duration_size(c, thresh)
    if durations.size == 0:
        return DCCResult(dcc=np.inf, p_size=1.0, p_duration=1.0)
    return dcc_from_avalanches(durations, sizes, N=N, pval_truncated=pval_truncated, seed=seed)


def dcc_from_avalanches(
    durations: ArrayLike,
    sizes: ArrayLike,
    N: int = 1000,  # noqa: N803 (spikedata’s argument name)
    pval_truncated: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> DCCResult:
    """Compute the DCC from avalanche durations (bins) and sizes (spikes); see the module docs."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    d = np.asarray(durations, dtype=np.float64).reshape(-1)
    s = np.asarray(sizes, dtype=np.float64).reshape(-1)
    if d.size == 0:
        return DCCResult(dcc=np.inf, p_size=1.0, p_duration=1.0)
    size_fit = fit_power_law(s, pval_truncated)
    duration_fit = fit_power_law(d, pval_truncated)
    p_size = ks_pvalue(s, size_fit, N, rng)
    p_duration = ks_pvalue(d, duration_fit, N, rng)
    tau_pred = (duration_fit.alpha - 1.0) / (size_fit.alpha - 1.0)
    log_d = np.log10(d)
    log_s = np.log10(s)
    tau_fit = float(np.polyfit(log_d, log_s, 1)[0])
    return DCCResult(dcc=abs(tau_pred - tau_fit), p_size=p_size, p_duration=p_duration)
