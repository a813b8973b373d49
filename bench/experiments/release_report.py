"""What a release's reproducible target says: do op types matter once size is controlled, and does any proxy beat
the size baselines? Prints and plots, for one target of a release (or a run folder):

1. the target's reliability (seed tau, ICC, verdict: ``bertbench.reliability``), the ceiling of every correlation;
2. op-type effects controlling for hidden size and depth: least squares of the target on hidden-size and depth
   indicators (additive) and each op type's share of the layers (SA-SDP the reference), with bootstrap 95 % CIs over
   architectures (resamples that cannot estimate an effect are left out); an op "differs" only where its CI
   excludes 0;
3. the size baselines (params, depth, hidden size, and a size model ordering by depth, then hidden size, then
   params) and every proxy of the release's proxies table against the target: Kendall tau oriented so that positive
   means "ranks better architectures higher", with bootstrap CIs, and the ceiling beside them.

    python bench/experiments/release_report.py RELEASE_OR_RUN [--target pretrain] [--out report/]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

OPS = ("SA-SDP", "SA-WMA", "LT-DFT", "LT-DCT", "DSC-5", "DSC-9")


def load(source: str):
    import bertbench
    from bertbench.loaders.release import load_run

    p = Path(source)
    return load_run(p) if (p / "run.json").exists() and not (p / "manifest.json").exists() else bertbench.load(source)


def op_shares(arch_json: str) -> list[float]:
    layers = json.loads(arch_json)["layers"]
    names = [f"{ly['op_type']}-{ly['op_param']}" for ly in layers]
    return [names.count(op) / len(names) for op in OPS]


def op_effects(s: pd.DataFrame, target: str, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Each op's effect on the target relative to SA-SDP, hidden size and depth held fixed, with bootstrap CIs."""
    sizes = [np.ones(len(s))]  # intercept, then one indicator per hidden size and depth beyond the first (additive)
    for col in ("hidden_size", "num_layers"):
        levels = sorted(s[col].astype(int).unique())
        sizes += [(s[col].astype(int) == v).to_numpy(float) for v in levels[1:]]
    cells = sizes  # the size columns come first
    shares = np.array([op_shares(j) for j in s["arch_json"]])
    x = np.hstack([np.column_stack(sizes), shares[:, 1:]])
    y = s[target].astype(float).to_numpy()

    present = shares[:, 1:].sum(axis=0) > 0
    x = x[:, np.concatenate([np.ones(len(cells), bool), present])]  # ops no architecture has are not estimated
    full_rank = np.linalg.matrix_rank(x)

    def fit(rows: np.ndarray) -> np.ndarray | None:
        if np.linalg.matrix_rank(x[rows]) < full_rank:
            return None  # a resample without some op or cell cannot estimate it: left out, not read as 0
        coef, *_ = np.linalg.lstsq(x[rows], y[rows], rcond=None)
        out = np.full(len(OPS) - 1, np.nan)
        out[present] = coef[len(cells):]
        return out

    if full_rank < x.shape[1]:
        raise SystemExit("op effects are not identifiable on this grid (an op type's share is a combination of others)")
    point = fit(np.arange(len(y)))
    rng = np.random.default_rng(seed)
    boots = [b for b in (fit(rng.integers(0, len(y), len(y))) for _ in range(n_boot)) if b is not None]
    lo, hi = (np.nanquantile(boots, [0.025, 0.975], axis=0) if len(boots) >= 50
              else (np.full(len(OPS) - 1, np.nan),) * 2)  # too few identifiable resamples for an interval
    return pd.DataFrame({"op": OPS[1:], "effect_vs_SA-SDP": point, "ci_low": lo, "ci_high": hi,
                         "architectures_with_it": (shares[:, 1:] > 0).sum(axis=0), "resamples": len(boots),
                         "differs": present & ((lo > 0) | (hi < 0))})


def correlations(bench, s: pd.DataFrame, target: str, n_boot: int, ceiling: float) -> pd.DataFrame:
    """The package's proxy table (``bertbench.proxies.correlations``): the size baselines (params, flops, depth,
    hidden size, size model) and every proxy of the release against ``target``, oriented, with CIs, within-group
    taus, partial Spearman given size and the paired difference from the best size baseline."""
    from bertbench.proxies.correlations import correlation_table
    from bertbench.proxies.registry import get_proxy

    df = s[[c for c in ("arch_id", "hidden_size", "num_layers", "params", "flops", target) if c in s]].copy()
    proxies = bench.tables["proxies"].to_pandas()
    names: list[str] = []
    if len(proxies):
        wide = proxies[proxies["status"] == "ok"].pivot_table(index="arch_id", columns="proxy", values="value",
                                                                aggfunc="mean")
        names = [n for n in wide.columns if n not in df.columns]
        df = df.join(wide[names], on="arch_id")
    corr = correlation_table(df, target, names, bench.direction(target),
                             {n: get_proxy(n).direction for n in names}, n_boot=n_boot)
    corr["tau_ceiling"] = ceiling
    return corr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--target", default="pretrain")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    from bertbench.proxies.correlations import format_table
    from bertbench.reliability import target_reliability
    from bertbench.stats import tau_from_reliability

    bench = load(args.source)
    s = bench.to_pandas()
    s = s[s[args.target].notna()].reset_index(drop=True)
    rel = target_reliability(bench, args.target, n_boot=args.boot)
    ceiling = tau_from_reliability(float(np.sqrt(rel.reliability))) if np.isfinite(rel.reliability) else float("nan")
    lower = bench.direction(args.target) == "lower"
    ops = op_effects(s, args.target, args.boot)
    corr = correlations(bench, s, args.target, args.boot, ceiling)
    corr["target_reliability"] = rel.reliability
    pd.set_option("display.width", 200)
    print(f"{bench.name} {bench.version}: target {args.target!r} ({'lower' if lower else 'higher'} is better), "  # noqa: T201
          f"{len(s)} architectures; seed tau {rel.seed_tau:.3f} [{rel.tau_low:.3f}, {rel.tau_high:.3f}], "
          f"within (H, L) groups {rel.group_tau:.3f} [{rel.group_tau_low:.3f}, {rel.group_tau_high:.3f}], "
          f"ICC {rel.icc:.3f} [{rel.icc_low:.3f}, {rel.icc_high:.3f}]: {rel.verdict}; ceiling tau {ceiling:.3f}")
    print("\nop effects vs SA-SDP, (hidden size, depth) held fixed (bootstrap 95 % CIs over architectures):")  # noqa: T201
    print(ops.round(4).to_string(index=False))  # noqa: T201
    print("\nsize baselines and proxies vs the target (tau > 0: ranks better architectures higher):")  # noqa: T201
    print(format_table(corr))  # noqa: T201
    if args.out is not None:
        from bertbench.plots import pyplot, save_figure

        args.out.mkdir(parents=True, exist_ok=True)
        ops.to_csv(args.out / "op_effects.csv", index=False)
        corr.to_csv(args.out / "correlations.csv", index=False)
        plt = pyplot()
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.3 * max(len(corr), 6) + 1.5))
        y = np.arange(len(ops))
        a.errorbar(ops["effect_vs_SA-SDP"], y, xerr=np.clip(np.vstack([ops["effect_vs_SA-SDP"] - ops["ci_low"],
                   ops["ci_high"] - ops["effect_vs_SA-SDP"]]), 0, None), fmt="o", capsize=3)
        a.set_yticks(y, ops["op"])
        a.axvline(0, color="k", lw=0.8)
        a.set_xlabel(f"effect on {args.target} vs SA-SDP (H, L fixed)")
        y = np.arange(len(corr))
        b.barh(y, corr["kendall_tau"].fillna(0), xerr=np.clip(np.nan_to_num(np.vstack([
            corr["kendall_tau"] - corr["tau_ci_low"], corr["tau_ci_high"] - corr["kendall_tau"]])), 0, None),
            color=["tab:red" if k == "baseline" else "tab:blue" for k in corr["role"]])
        b.set_yticks(y, corr["proxy"], fontsize=7)
        b.axvline(0, color="k", lw=0.8)
        if np.isfinite(ceiling):
            b.axvline(ceiling, color="tab:green", ls="--", lw=1, label="ceiling (target's reliability)")
            b.legend(fontsize=7)
        b.set_xlabel("Kendall tau with the target (95 % CI); red: size baselines")
        fig.suptitle(f"{bench.name} {bench.version}: {args.target}", fontsize=10)
        save_figure(fig, args.out / "report.png")
        print(f"\nwritten: {args.out}/op_effects.csv, correlations.csv, report.png")  # noqa: T201


if __name__ == "__main__":
    main()
