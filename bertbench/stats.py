"""Rank statistics with vectorised bootstrap intervals, and the reliability of a measurement repeated over seeds.

Kendall's tau is tau-b (ties as scipy counts them). A bootstrap resamples units (architectures) with replacement;
for a resample with counts ``w`` the tau-b of the resampled pairs is ``w'Cw / sqrt(w'Ax w * w'Ay w)`` with
``C = sign(dx) * sign(dy)`` and ``Ax = |sign(dx)|`` over unit pairs, so all resamples are a few matrix products
(no Python loop). The same form restricted to pairs inside groups gives the pooled within-group tau.

Reliability (one-way random effects over units, seeds as repeats): ``icc`` is ICC(1), the share of one run's
variance that is due to the unit, with its F-distribution interval (Shrout & Fleiss 1979, unbalanced designs with
the usual k0); ``spearman_brown(icc, m)`` is the reliability of a mean over m seeds; ``seeds_needed`` inverts it for
a Kendall tau between two such means (Greiner: r = sin(pi tau / 2) for normal scores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CI_LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval (NaN when undefined)."""

    value: float
    low: float = math.nan
    high: float = math.nan


def _pair_matrices(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, ...]:
    sx, sy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    mask = np.ones_like(sx) if groups is None else (groups[:, None] == groups[None, :]).astype(float)
    return sx * sy * mask, np.abs(sx) * mask, np.abs(sy) * mask


def _tau_b(weights: np.ndarray, c: np.ndarray, ax: np.ndarray, ay: np.ndarray) -> np.ndarray:
    """tau-b for each row of ``weights`` (counts of each unit in a resample)."""
    num = ((weights @ c) * weights).sum(1)
    den = np.sqrt(((weights @ ax) * weights).sum(1) * ((weights @ ay) * weights).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def resample_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) counts of each of ``n`` units in ``n_boot`` bootstrap resamples."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    w = np.zeros((n_boot, n))
    np.add.at(w, (np.arange(n_boot)[:, None], idx), 1.0)
    return w


def kendall_tau(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0
                ) -> Estimate:
    """Kendall tau-b of ``x`` and ``y`` (pairs inside each group only when ``groups`` is given) with a percentile
    bootstrap interval over units; NaN values are dropped pairwise; fewer than 3 units give NaN."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    g = None if groups is None else np.asarray(groups)[keep]
    if len(x) < 3:
        return Estimate(math.nan)
    c, ax, ay = _pair_matrices(x, y, g)
    point = float(_tau_b(np.ones((1, len(x))), c, ax, ay)[0])
    if not n_boot:
        return Estimate(point)
    boots = _tau_b(resample_weights(len(x), n_boot, seed), c, ax, ay)
    boots = boots[np.isfinite(boots)]
    if not len(boots):
        return Estimate(point)
    a = (1 - CI_LEVEL) / 2
    return Estimate(point, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)))


@dataclass(frozen=True)
class Icc:
    """One-way random-effects reliability of one run: ``icc`` with its interval, the between-unit and within-unit
    (seed) standard deviations, the units and runs used and k0 (runs per unit)."""

    icc: Estimate
    unit_sd: float
    seed_sd: float
    n_units: int
    n_runs: int
    k0: float


def icc_oneway(values: list[np.ndarray]) -> Icc:
    """ICC(1) of repeated measurements: ``values[i]`` holds unit i's runs (units with fewer than 2 finite runs are
    left out). Interval from the F distribution; NaN when fewer than 3 units repeat."""
    from scipy.stats import f as f_dist

    groups = [np.asarray(v, float)[np.isfinite(v)] for v in values]
    groups = [v for v in groups if len(v) >= 2]
    n, big_n = len(groups), sum(len(v) for v in groups)
    if n < 3:
        return Icc(Estimate(math.nan), math.nan, math.nan, n, big_n, math.nan)
    grand = np.concatenate(groups).mean()
    ssb = sum(len(v) * (v.mean() - grand) ** 2 for v in groups)
    ssw = sum(((v - v.mean()) ** 2).sum() for v in groups)
    df_b, df_w = n - 1, big_n - n
    msb, msw = ssb / df_b, ssw / df_w
    k0 = (big_n - sum(len(v) ** 2 for v in groups) / big_n) / df_b
    unit_var = max(0.0, (msb - msw) / k0)
    if msw == 0:
        est = Estimate(1.0 if msb > 0 else math.nan, 1.0 if msb > 0 else math.nan, 1.0 if msb > 0 else math.nan)
        return Icc(est, math.sqrt(unit_var), 0.0, n, big_n, k0)
    f0 = msb / msw
    icc = (msb - msw) / (msb + (k0 - 1) * msw)
    a = (1 - CI_LEVEL) / 2
    fl = f0 / f_dist.ppf(1 - a, df_b, df_w)
    fu = f0 * f_dist.ppf(1 - a, df_w, df_b)
    est = Estimate(float(icc), float((fl - 1) / (fl + k0 - 1)), float((fu - 1) / (fu + k0 - 1)))
    return Icc(est, math.sqrt(unit_var), math.sqrt(msw), n, big_n, k0)


def spearman_brown(reliability: float, m: float) -> float:
    """The reliability of a mean over ``m`` repeats of a measurement whose single-run reliability is given."""
    if not np.isfinite(reliability):
        return math.nan
    r = max(reliability, 0.0)
    return m * r / (1 + (m - 1) * r) if r > 0 else 0.0


def tau_from_reliability(reliability: float) -> float:
    """The Kendall tau expected between two independent measurements of that reliability (normal scores)."""
    if not np.isfinite(reliability):
        return math.nan
    return 2 / math.pi * math.asin(min(max(reliability, 0.0), 1.0))


def seeds_needed(icc: float, tau: float = 0.6, limit: int = 1000) -> float:
    """Seeds to average for two such means to agree with Kendall tau >= ``tau`` (Spearman-Brown); inf if the
    measurement carries no unit signal or needs more than ``limit``."""
    if not np.isfinite(icc):
        return math.nan
    r = math.sin(math.pi * tau / 2)
    if icc >= r:
        return 1.0
    if icc <= 0:
        return math.inf
    m = math.ceil(r * (1 - icc) / (icc * (1 - r)) - 1e-9)
    return float(m) if m <= limit else math.inf
