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


# -------------------------------------------------------------------------------- large samples, Spearman, partial
#: Above this many units the intervals are normal approximations instead of a bootstrap (the pair matrices of the
#: bootstrap grow as n^2): Kendall's tau from the U-statistic's Hajek projection, Spearman's rho by Fisher's z with
#: the Fieller-Hartley-Pearson variance 1.06 / (n - 3). Both agree with the bootstrap to about 0.01 at this size.
BOOT_MAX = 1500
_Z = 1.959963984540054


def _normal(value: float, se: float) -> Estimate:
    return Estimate(value, value - _Z * se, value + _Z * se) if np.isfinite(se) else Estimate(value)


def _tau_projection(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> tuple[float, np.ndarray]:
    """tau-b and each unit's contribution to it (its row of the pair kernel, scaled), in chunks of rows (O(n) memory)."""
    n = len(x)
    h, ax, ay = np.zeros(n), 0.0, 0.0
    for lo in range(0, n, 1024):  # boolean comparisons: several times faster than sign products of floats
        sl = slice(lo, min(n, lo + 1024))
        gx, lx = x[sl, None] > x[None, :], x[sl, None] < x[None, :]
        gy, ly = y[sl, None] > y[None, :], y[sl, None] < y[None, :]
        if groups is not None:
            same = groups[sl, None] == groups[None, :]
            gx, lx = gx & same, lx & same
        h[sl] = ((gx & gy) | (lx & ly)).sum(1) - ((gx & ly) | (lx & gy)).sum(1)
        ax += (gx | lx).sum()
        ay += ((gy | ly) & (same if groups is not None else True)).sum()
    if ax == 0 or ay == 0:
        return math.nan, np.full(n, math.nan)
    scale = 1.0 / math.sqrt(ax * ay)
    return float(h.sum() * scale), h * scale * n  # tau = mean of the second; its se = 2 sd / sqrt(n)


def _clean(*arrays: np.ndarray, groups: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray | None]:
    arrays = [np.asarray(a, float) for a in arrays]
    keep = np.logical_and.reduce([np.isfinite(a) if a.ndim == 1 else np.isfinite(a).all(1) for a in arrays])
    return [a[keep] for a in arrays], None if groups is None else np.asarray(groups)[keep]


def kendall_tau_any(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, n_boot: int = 1000,
                    seed: int = 0) -> Estimate:
    """``kendall_tau`` for any number of units: its bootstrap up to ``BOOT_MAX`` units, the U-statistic normal
    interval above (O(n) memory, no resampling)."""
    (x, y), g = _clean(x, y, groups=groups)
    if len(x) <= BOOT_MAX:
        return kendall_tau(x, y, g, n_boot, seed)
    tau, contrib = _tau_projection(x, y, g)
    return _normal(tau, 2 * float(np.std(contrib, ddof=1)) / math.sqrt(len(x)) if n_boot else math.nan)


def tau_difference(x1: np.ndarray, x2: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
                   n_boot: int = 1000, seed: int = 0) -> Estimate:
    """tau-b(x1, y) - tau-b(x2, y) on the same units with a paired interval: both taus on the same bootstrap
    resamples (U-statistic projection of the difference above ``BOOT_MAX`` units). Units where any is NaN are
    dropped."""
    (x1, x2, y), g = _clean(x1, x2, y, groups=groups)
    n = len(y)
    if n < 3:
        return Estimate(math.nan)
    if n > BOOT_MAX:
        t1, c1 = _tau_projection(x1, y, g)
        t2, c2 = _tau_projection(x2, y, g)
        return _normal(t1 - t2, 2 * float(np.std(c1 - c2, ddof=1)) / math.sqrt(n) if n_boot else math.nan)
    m1, m2 = _pair_matrices(x1, y, g), _pair_matrices(x2, y, g)
    ones = np.ones((1, n))
    point = float(_tau_b(ones, *m1)[0] - _tau_b(ones, *m2)[0])
    if not n_boot:
        return Estimate(point)
    w = resample_weights(n, n_boot, seed)
    d = _tau_b(w, *m1) - _tau_b(w, *m2)
    d = d[np.isfinite(d)]
    if not len(d):
        return Estimate(point)
    a = (1 - CI_LEVEL) / 2
    return Estimate(point, float(np.quantile(d, a)), float(np.quantile(d, 1 - a)))


def _rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def _residuals(r: np.ndarray, design: np.ndarray) -> np.ndarray:
    """r minus its least-squares fit on ``design`` (batched over leading axes; a singular design is handled)."""
    xtx = np.swapaxes(design, -1, -2) @ design
    beta = np.linalg.pinv(xtx) @ (np.swapaxes(design, -1, -2) @ r[..., None])
    return r - (design @ beta)[..., 0]


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)


def spearman(x: np.ndarray, y: np.ndarray, n_boot: int = 1000, seed: int = 0,
             covariates: np.ndarray | None = None) -> Estimate:
    """Spearman's rho of ``x`` and ``y`` with its 95 % interval (percentile bootstrap over units up to
    ``BOOT_MAX``, Fisher's z above). With ``covariates`` (an (n, k) array) the partial rho: the ranks of every
    column regressed out of the ranks of x and y (an intercept included), then the correlation of the residuals;
    pass group indicators (0/1 columns) for categorical covariates."""
    cov = None if covariates is None else np.asarray(covariates, float).reshape(len(np.asarray(x)), -1)
    if cov is None:
        (x, y), _ = _clean(x, y)
    else:
        (x, y, cov), _ = _clean(x, y, cov)
    n, k = len(x), 0 if cov is None else cov.shape[1]
    if n < k + 4:
        return Estimate(math.nan)

    def rho(xs: np.ndarray, ys: np.ndarray, cs: np.ndarray | None) -> np.ndarray:
        rx, ry = _ranks(xs), _ranks(ys)
        if cs is not None:
            design = np.concatenate([np.ones(rx.shape + (1,)), _ranks(np.swapaxes(cs, -1, -2)).swapaxes(-1, -2)], -1)
            rx, ry = _residuals(rx, design), _residuals(ry, design)
        return _rowwise_corr(rx, ry)

    point = float(rho(x, y, cov))
    if not n_boot or not np.isfinite(point):
        return Estimate(point)
    if n > BOOT_MAX:
        z = math.atanh(min(max(point, -0.999999), 0.999999))
        se = math.sqrt(1.06 / (n - 3 - k))
        return Estimate(point, math.tanh(z - _Z * se), math.tanh(z + _Z * se))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    boots = rho(x[idx], y[idx], None if cov is None else cov[idx])
    boots = boots[np.isfinite(boots)]
    if not len(boots):
        return Estimate(point)
    a = (1 - CI_LEVEL) / 2
    return Estimate(point, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)))
