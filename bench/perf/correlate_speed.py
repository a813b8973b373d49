"""Speed of the proxy correlation table against the per-resample loop it replaced, on the 2023 RNN CSV (8,794
trained NAS-Bench-NLP recipes, 12 proxy columns, 1000 resamples), measured in the same run.

The reference is the old method: for each column, 1000 bootstrap resamples, each calling scipy's kendalltau and
spearmanr. The new table (``bertbench.proxies.correlations``) uses the U-statistic and Fisher-z intervals above
1,500 units (bootstrap pair matrices below) and adds within-group, partial and paired columns where the data have
them. Prints both times and the ratio, and the largest difference between the two methods' tau intervals.

    python bench/perf/correlate_speed.py --csv ../shared/data/seed-paper/RNN_results.csv [--columns 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bertbench.proxies.correlations import correlation_table, derived_from_target


def loop_reference(df: pd.DataFrame, target: str, cols: list[str], n_boot: int, seed: int = 0) -> dict[str, tuple]:
    """The per-resample scipy loop (what `proxies correlate` did before): tau and its percentile interval."""
    rng = np.random.default_rng(seed)
    out = {}
    for c in cols:
        sub = df[[c, target]].dropna()
        x, y = sub[c].to_numpy(float), sub[target].to_numpy(float)
        taus, rhos = [], []
        for _ in range(n_boot):
            i = rng.integers(0, len(x), len(x))
            taus.append(stats.kendalltau(x[i], y[i]).statistic)
            rhos.append(stats.spearmanr(x[i], y[i]).statistic)
        out[c] = (stats.kendalltau(x, y).statistic, *np.nanpercentile(taus, [2.5, 97.5]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "seed-paper"
                    / "RNN_results.csv")
    ap.add_argument("--target", default="loss")
    ap.add_argument("--columns", type=int, default=None, help="only the first N proxy columns (default: all)")
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    df = pd.read_csv(args.csv, encoding="utf-8-sig")
    cols = [c for c in df.select_dtypes("number").columns if c != args.target]
    cols = [c for c in cols if c not in derived_from_target(df, args.target, cols)][: args.columns]
    t0 = time.perf_counter()
    ref = loop_reference(df, args.target, cols, args.n_boot)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = correlation_table(df, args.target, cols, n_boot=args.n_boot).set_index("proxy")
    t_new = time.perf_counter() - t0
    gap = max(max(abs(table.loc[c, "tau_ci_low"] - ref[c][1]), abs(table.loc[c, "tau_ci_high"] - ref[c][2]))
              for c in cols)
    print(f"{len(df)} rows, {len(cols)} columns, {args.n_boot} resamples")
    print(f"per-resample scipy loop: {t_ref:.1f} s; bertbench.proxies.correlations: {t_new:.1f} s; "
          f"ratio {t_ref / t_new:.1f}x; largest tau-interval difference {gap:.4f}")


if __name__ == "__main__":
    main()
