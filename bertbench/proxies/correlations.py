"""How well proxies rank a target, judged against what size alone does.

``correlation_table`` has one row per *size baseline* (``role`` "baseline": params, flops, depth ``num_layers``,
``hidden_size``, and ``size_model``, which orders by depth, then hidden size, then params) and per proxy (``role``
"proxy"). Every correlation is **oriented**: the proxy (or baseline) is read in its own direction ("higher" or
"lower" is predicted better) and the target in its own, so a positive tau always means "ranks the better
architectures higher" (for a loss, a good proxy has a positive tau). Columns:

- ``kendall_tau`` (tau-b) and ``spearman_rho`` with 95 % intervals (``bertbench.stats``: bootstrap over
  architectures, normal approximations above ``BOOT_MAX`` units), ``pearson_r`` (raw values), ``precision_top10``
  (share of the truly best 10 % among the proxy's best 10 %);
- ``within_group_tau`` with its interval: pairs inside each (hidden size, depth) group only, where size cannot help;
- ``partial_rho`` with its interval: Spearman given (params, and the (hidden size, depth) group) -- what a proxy adds
  beyond size;
- ``vs_size`` with its interval: tau minus the best size baseline's tau on the same resamples, and ``beats_size``:
  True only where that paired interval lies above 0.

A column whose values are a monotone function of the target (``derived_from_target``: perplexity of a loss, bits
per word) is not a proxy; callers leave it out and say so.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from bertbench import stats
from bertbench.options import Direction, parse

log = logging.getLogger(__name__)

#: Size baselines, in table order, with the columns they come from.
BASELINES = ("params", "flops", "num_layers", "hidden_size", "size_model")
GROUP_COLUMNS = ("hidden_size", "num_layers")
SMALL_N = 10  # below this many architectures an interval says little: the table warns


def add_size_model(df: pd.DataFrame) -> pd.DataFrame:
    """``size_model``: the rank of each architecture ordered by depth, then hidden size, then params (ties equal)."""
    keys = [c for c in ("num_layers", "hidden_size", "params") if c in df.columns]
    if len(keys) < 2:
        return df
    out = df.copy()
    out["size_model"] = out.groupby(keys, sort=True, dropna=False).ngroup().astype(float)
    out.loc[out[keys].isna().any(axis=1), "size_model"] = np.nan
    return out


def derived_from_target(df: pd.DataFrame, target: str, columns: list[str]) -> list[str]:
    """Columns that are a strictly monotone function of ``target`` (|Spearman| > 0.9999 on at least 10 rows)."""
    out = []
    for c in columns:
        sub = df[[c, target]].apply(pd.to_numeric, errors="coerce").dropna()
        if len(sub) >= 10 and sub[c].nunique() > 1 and abs(sps.spearmanr(sub[c], sub[target]).statistic) > 0.9999:
            out.append(c)
    return out


def _groups(df: pd.DataFrame) -> np.ndarray | None:
    if not set(GROUP_COLUMNS) <= set(df.columns):
        return None
    return df.groupby(list(GROUP_COLUMNS), dropna=False).ngroup().to_numpy()


def _covariates(df: pd.DataFrame) -> np.ndarray | None:
    """params (as a rank covariate) and one indicator per (hidden size, depth) group but the first."""
    cols = []
    if "params" in df.columns:
        cols.append(pd.to_numeric(df["params"], errors="coerce").to_numpy(float))
    g = _groups(df)
    if g is not None:
        cols += [(g == k).astype(float) for k in np.unique(g)[1:]]
    return np.column_stack(cols) if cols else None


def _sign(direction: str) -> float:
    return 1.0 if parse(Direction, direction, "direction") == Direction.HIGHER else -1.0


def _oriented(est: stats.Estimate, s: float) -> tuple[float, float, float]:
    lo, hi = s * est.low, s * est.high
    return s * est.value, min(lo, hi), max(lo, hi)


def correlation_table(df: pd.DataFrame, target: str, proxies: list[str], target_direction: str = "higher",
                      directions: dict[str, str] | None = None, n_boot: int = 1000, seed: int = 0,
                      top: float = 0.1, baselines: list[str] | None = None) -> pd.DataFrame:
    """The table of the module docstring for ``proxies`` (columns of ``df``) against ``target``. ``baselines``:
    the size columns to use (default: those of ``BASELINES`` that ``df`` has; ``size_model`` is derived). Rows
    with a NaN proxy or target are dropped per row of the table."""
    directions = directions or {}
    t_sign = _sign(target_direction)
    df = add_size_model(df)
    if baselines is None:
        baselines = [b for b in BASELINES if b in df.columns and b not in proxies]
    groups_all, cov_all = _groups(df), _covariates(df)
    y_all = pd.to_numeric(df[target], errors="coerce").to_numpy(float) * t_sign
    cols = {name: pd.to_numeric(df[name], errors="coerce").to_numpy(float) * _sign(directions.get(name, "higher"))
            for name in [*baselines, *proxies]}
    base_taus = {b: stats.kendall_tau_any(cols[b], y_all, n_boot=0).value for b in baselines}
    best = max((b for b in baselines if np.isfinite(base_taus[b])), key=lambda b: base_taus[b], default=None)
    rows = []
    for name in [*baselines, *proxies]:
        x = cols[name]
        keep = np.isfinite(x) & np.isfinite(y_all)
        n = int(keep.sum())
        row: dict[str, Any] = {"proxy": name, "role": "baseline" if name in baselines else "proxy",
                               "direction": directions.get(name, "higher"), "n": n}
        if n < 3 or np.nanstd(x[keep]) == 0:
            rows.append(row)
            continue
        xs, ys = x[keep], y_all[keep]
        tau = stats.kendall_tau_any(xs, ys, n_boot=n_boot, seed=seed)
        rho = stats.spearman(xs, ys, n_boot=n_boot, seed=seed)
        row.update(kendall_tau=tau.value, tau_ci_low=tau.low, tau_ci_high=tau.high,
                   spearman_rho=rho.value, rho_ci_low=rho.low, rho_ci_high=rho.high,
                   pearson_r=float(sps.pearsonr(xs, ys).statistic),
                   precision_top10=precision_at_top(xs, ys, top))
        if groups_all is not None:
            w = stats.kendall_tau_any(xs, ys, groups_all[keep], n_boot=n_boot, seed=seed)
            row.update(within_group_tau=w.value, within_ci_low=w.low, within_ci_high=w.high)
        if cov_all is not None and name not in baselines:
            p = stats.spearman(xs, ys, n_boot=n_boot, seed=seed, covariates=cov_all[keep])
            row.update(partial_rho=p.value, partial_ci_low=p.low, partial_ci_high=p.high)
        if best is not None and name != best:
            d = stats.tau_difference(xs, cols[best][keep], ys, n_boot=n_boot, seed=seed)
            row.update(vs_size=d.value, vs_size_ci_low=d.low, vs_size_ci_high=d.high,
                       beats_size=bool(np.isfinite(d.low) and d.low > 0))
        rows.append(row)
    table = pd.DataFrame(rows)
    table.insert(2, "target", target)
    table["best_size_baseline"] = best
    small = table["n"].fillna(0).astype(int).lt(SMALL_N) & table["n"].gt(0)
    if small.any():
        log.warning("only %d architectures: intervals from so few mean little", int(table.loc[small, "n"].min()))
    return table


def precision_at_top(x: np.ndarray, y: np.ndarray, frac: float = 0.1) -> float:
    """Share of the best ``frac`` by ``y`` among the best ``frac`` by ``x`` (both oriented: higher is better)."""
    k = max(1, int(round(frac * len(y))))
    best_true = set(np.argsort(-y, kind="stable")[:k])
    best_proxy = set(np.argsort(-x, kind="stable")[:k])
    return len(best_true & best_proxy) / k


def duplicate_reliability(values: pd.Series, arch_ids: pd.Series) -> float:
    """Reliability of a target measured once per unit, from architectures that appear more than once (the 2023
    data's duplicated ids): 1 - (noise variance between duplicates) / (variance between units); NaN without
    duplicates."""
    df = pd.DataFrame({"v": pd.to_numeric(values, errors="coerce"), "a": arch_ids.astype(str)}).dropna()
    dup = df[df.duplicated("a", keep=False)]
    if dup["a"].nunique() < 2 or len(df) < 3:
        return math.nan
    noise = dup.groupby("a")["v"].var(ddof=1).mean()
    total = df["v"].var(ddof=1)
    return float(max(0.0, 1 - noise / total)) if total > 0 else math.nan


def format_table(corr: pd.DataFrame) -> str:
    """The table as text: one line per row, estimates with their intervals."""

    def ci(row: pd.Series, v: str, lo: str, hi: str) -> str:
        if v not in row or not np.isfinite(row.get(v, math.nan)):
            return "-"
        lo_v, hi_v = row.get(lo, math.nan), row.get(hi, math.nan)
        return f"{row[v]:+.3f} [{lo_v:+.2f}, {hi_v:+.2f}]" if np.isfinite(lo_v) else f"{row[v]:+.3f}"

    cols = {"proxy": lambda r: str(r["proxy"]) + (" (size)" if r.get("role") == "baseline" else ""),
            "n": lambda r: str(int(r["n"])),
            "kendall tau": lambda r: ci(r, "kendall_tau", "tau_ci_low", "tau_ci_high"),
            "spearman": lambda r: ci(r, "spearman_rho", "rho_ci_low", "rho_ci_high"),
            "top10%": lambda r: f"{r['precision_top10']:.2f}" if np.isfinite(r.get("precision_top10", math.nan))
            else "-",
            "within-group tau": lambda r: ci(r, "within_group_tau", "within_ci_low", "within_ci_high"),
            "partial rho | size": lambda r: ci(r, "partial_rho", "partial_ci_low", "partial_ci_high"),
            "tau - best size": lambda r: ci(r, "vs_size", "vs_size_ci_low", "vs_size_ci_high"),
            "beats size": lambda r: ("yes" if r["beats_size"] else "no") if isinstance(r.get("beats_size"), bool)
            else "-"}
    cells = [[name for name in cols]] + [[f(r) for f in cols.values()] for _, r in corr.iterrows()]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    notes = []
    if "best_size_baseline" in corr and corr["best_size_baseline"].notna().any():
        notes.append(f"best size baseline: {corr['best_size_baseline'].dropna().iloc[0]}")
    if "tau_ceiling" in corr and len(corr) and np.isfinite(corr["tau_ceiling"].iloc[0]):
        rel = corr["target_reliability"].iloc[0] if "target_reliability" in corr else math.nan
        notes.append((f"target reliability {rel:.2f}: " if np.isfinite(rel) else "")
                     + f"no ranking of the target can reach tau above about {corr['tau_ceiling'].iloc[0]:.2f}")
    if "pairing" in corr and (corr["pairing"] != "valid").any():
        notes.append(f"PAIRING {corr['pairing'].iloc[0]}")
    return "\n".join(lines + notes)
