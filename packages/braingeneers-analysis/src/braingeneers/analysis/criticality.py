# ruff: noqa: RUF002, RUF003  (math notation: −, ×, α, Δ, λ)
"""Deviation from criticality (DCC, Ma et al. 2019) of neuronal avalanches.

Avalanche sizes ``S`` and durations ``D`` (see :func:`braingeneers.analysis.bursts.avalanches`)
are each fitted by a continuous power law ``p(x) ∝ x^-α`` above ``x_min`` (maximum likelihood,
``x_min`` by KS minimisation, using the optional ``powerlaw`` package), switching to a
truncated power law ``p(x) ∝ x^-α e^{-λx}`` when the log-likelihood ratio favours it
(``R < 0`` with ``p < pval_truncated``). The scaling exponents give
``τ_pred = (α_D − 1) / (α_S − 1)``; ``τ_fit`` is the least-squares slope of ``log S`` on
``log D`` across avalanches; ``DCC = |τ_pred − τ_fit|``.

Each fit's p-value is the fraction of ``n_surrogates`` samples drawn from the fitted
distribution whose one-sample KS distance to the fit exceeds the data's. The KS tests are
vectorised: the truncated power-law CDF is evaluated in closed form,
``F(x) = 1 − Γ(1−α, λx) / Γ(1−α, λ x_min)``, with the upper incomplete gamma function for
negative orders by the recurrence ``Γ(s, x) = (Γ(s+1, x) − x^s e^{−x}) / s``, and all
surrogates are sorted and compared at once in chunks.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bursts import avalanche_duration_size

__all__ = [
    "DCCResult",
    "PowerLawFit",
    "dcc_from_avalanches",
    "deviation_from_criticality",
    "fit_power_law",
    "ks_pvalue",
    "power_law_cdf",
    "sample_power_law",
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


def sample_power_law(fit: PowerLawFit, size: int | tuple[int, ...], rng: np.random.Generator) -> NDArray[Any]:
    """Draw samples from a fitted (truncated) power law by inversion or rejection sampling."""
    shape = (size,) if isinstance(size, int) else size
    total = int(np.prod(shape))
    if fit.truncation <= 0:
        u = rng.random(total)
        return (fit.xmin * np.power(1.0 - u, -1.0 / (fit.alpha - 1.0))).reshape(shape)
    lam = fit.truncation
    out = np.empty(total, dtype=np.float64)
    filled = 0
    while filled < total:
        need = total - filled
        batch = max(1024, int(need * 1.5))
        if fit.alpha > 1:
            # power-law proposal, accept with e^{-λ(x - xmin)}
            x = fit.xmin * np.power(1.0 - rng.random(batch), -1.0 / (fit.alpha - 1.0))
            accept = rng.random(batch) < np.exp(-lam * (x - fit.xmin))
        else:
            # exponential proposal, accept with (x / xmin)^-α ≤ 1
            x = fit.xmin + rng.exponential(1.0 / lam, batch)
            accept = rng.random(batch) < np.power(x / fit.xmin, -fit.alpha)
        got = x[accept][:need]
        out[filled : filled + got.size] = got
        filled += got.size
    return out.reshape(shape)


def _ks_distance(sorted_values: NDArray[np.float64], fit: PowerLawFit) -> NDArray[np.float64]:
    """KS distance of each row (sorted ascending) to the fitted CDF."""
    n = sorted_values.shape[-1]
    cdf = power_law_cdf(sorted_values, fit)
    above = np.arange(1, n + 1, dtype=np.float64) / n - cdf
    below = cdf - np.arange(0, n, dtype=np.float64) / n
    return np.asarray(np.maximum(above.max(axis=-1), below.max(axis=-1)), dtype=np.float64)


def ks_pvalue(
    data: ArrayLike,
    fit: PowerLawFit,
    n_surrogates: int = 1000,
    rng: np.random.Generator | None = None,
    chunk: int = 100,
) -> float:
    """Return the fraction of surrogate samples whose KS distance to ``fit`` exceeds the data's.

    The data's distance is taken over its tail (values ≥ ``xmin``), and every surrogate draws
    as many values as that tail holds.
    """
    rng = np.random.default_rng() if rng is None else rng
    values = np.asarray(data, dtype=np.float64).reshape(-1)
    tail = np.sort(values[values >= fit.xmin])
    if tail.size == 0 or n_surrogates <= 0:
        return 1.0
    observed = float(_ks_distance(tail[None, :], fit)[0])
    exceed = 0
    done = 0
    while done < n_surrogates:
        rows = min(chunk, n_surrogates - done)
        draws = np.sort(sample_power_law(fit, (rows, tail.size), rng), axis=1)
        exceed += int(np.count_nonzero(_ks_distance(draws, fit) > observed))
        done += rows
    return exceed / n_surrogates


def fit_power_law(data: ArrayLike, pval_truncated: float = 0.05) -> PowerLawFit:
    """Fit a continuous power law with the ``powerlaw`` package, truncated if that fits better.

    Requires the optional ``powerlaw`` package (``pip install braingeneers-analysis[criticality]``).
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
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(values)
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
