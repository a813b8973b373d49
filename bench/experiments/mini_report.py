"""Report on a benchmark built by our pipeline (the mini release, or any run folder / release): does the op type
matter, is the seed noise below the spread between architectures, and which proxies beat params?

Prints, per task: the majority-class baseline when the task data is at hand, the mean over architectures with a 95 %
bootstrap CI per op (the op of homogeneous architectures, "mixed" otherwise); the between-seed rank agreement
(Kendall tau of seed 0 vs seed 1 over architectures, bootstrap CI); the mean per-architecture seed std next to the
between-architecture std of the seed means. Then every proxy's Kendall tau (with CI) against ``glue_mini`` beside the
params baseline, from the benchmark's proxies table or scored here (``--score``). Writes report.png and CSVs to --out.

    python bench/experiments/mini_report.py [SOURCE] [--out mini-report] [--score] [--glue GLUE_DIR]

SOURCE: a release name or folder (default bertbench-mini-ptb-glue) or a run folder (run.json, shards/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import bertbench
from bertbench.stats import kendall_tau

N_BOOT = 2000


def load_any(source: str):
    p = Path(source)
    if (p / "run.json").exists() and not (p / "manifest.json").exists():
        from bertbench.loaders.release import load_run

        return load_run(p), json.loads((p / "run.json").read_text())
    bench = bertbench.load(source)
    return bench, bench.metadata.get("manifest", {})


def op_label(layers: list[dict]) -> str:
    names = {f"{ly['op_type']}-{ly['op_param']}" for ly in layers}
    return names.pop() if len(names) == 1 else "mixed"


def boot_ci(values: np.ndarray, fn, rng: np.random.Generator) -> tuple[float, float]:
    if len(values) < 2:
        return (np.nan, np.nan)
    draws = [fn(values[rng.integers(0, len(values), len(values))]) for _ in range(N_BOOT)]
    return tuple(np.nanpercentile(draws, [2.5, 97.5]))


def _versus(base: float | None, ci_low: float, median: float) -> str:
    """How the median architecture compares with the majority baseline: 'beats' only when the CI's lower end is above."""
    if base is None:
        return ""
    if ci_low > base:
        return f" (beats majority {base:.2f})"
    return f" ({'above' if median > base else 'not above'} majority {base:.2f}, not beyond its CI)"


def majority_baselines(glue: str | None, tasks: list[str]) -> dict[str, float]:
    """Dev-set score of predicting the training set's majority class (STS-B: a constant, Pearson 0)."""
    if not glue or not Path(glue).is_dir():
        return {}
    from bertbench.data.glue import load_glue
    from bertbench.data.tasks import get_task

    out = {}
    for t in tasks:
        spec = get_task(t)
        if spec.is_regression:
            out[t] = 0.0
            continue
        dd = load_glue(t, glue)
        major = pd.Series(dd["train"]["label"]).mode()[0]
        split = next(iter(spec.eval_splits.values())) if spec.eval_splits else "validation"
        out[t] = 100.0 * float(np.mean(np.asarray(dd[split]["label"]) == major))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", default="bertbench-mini-ptb-glue")
    ap.add_argument("--out", type=Path, default=Path("mini-report"))
    ap.add_argument("--glue", default=None, help="GLUE folder for the majority baselines (default: the recipe's)")
    ap.add_argument("--score", action="store_true", help="score proxies here when the benchmark has none")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bench, info = load_any(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    archs = bench.tables["architectures"].to_pandas()
    archs["op"] = [op_label(ls) for ls in archs["layers"]]
    runs = bench.to_pandas("runs")
    runs = runs[(runs["stage"] != "pretrain")]
    n_bad = int((runs["status"] != "ok").sum())
    runs = runs[runs["status"] == "ok"].astype({"score": float, "seed": int})
    tasks = [t for t in ("sst2", "mrpc", "stsb", "rte", "wnli") if t in set(runs["stage"])] or sorted(set(runs["stage"]))
    glue = args.glue or (info.get("data") or {}).get("task_source")
    base = majority_baselines(glue, tasks)
    per_seed = runs.pivot_table(index=["arch_id", "seed"], columns="stage", values="score")
    means = per_seed.groupby("arch_id").mean()
    summary = bench.to_pandas()
    if "glue_mini" in summary:
        means["glue_mini"] = summary.set_index("arch_id")["glue_mini"].astype(float).reindex(means.index)
    means = means.join(archs.set_index("arch_id")[["op", "params"]])
    cols = [*tasks, *(["glue_mini"] if "glue_mini" in means else [])]
    n_units = per_seed.reset_index().groupby("arch_id")["seed"].nunique()
    print(f"{bench.name} {bench.version}: {len(means)} architectures, {len(per_seed)} units "
          f"(seeds per architecture: {({int(k): int(v) for k, v in n_units.value_counts().sort_index().items()})}), {n_bad} fine-tuning runs not ok")

    # 1. per-op means with 95 % CIs
    rows = []
    for op, grp in means.groupby("op"):
        for t in cols:
            v = grp[t].dropna().to_numpy(float)
            lo, hi = boot_ci(v, np.mean, rng)
            rows.append({"op": op, "task": t, "n_archs": len(v), "mean": v.mean() if len(v) else np.nan,
                         "ci_low": lo, "ci_high": hi})
    ops = pd.DataFrame(rows)
    ops.to_csv(args.out / "per_op.csv", index=False)
    table = ops.assign(cell=[f"{m:5.1f} [{lo:5.1f},{hi:5.1f}]" for m, lo, hi in zip(ops["mean"], ops["ci_low"], ops["ci_high"])])
    wide = table.pivot(index="op", columns="task", values="cell")[cols]
    print("\nMean over architectures (seed means), 95 % bootstrap CI, by op:")
    if base:
        print("majority baseline: " + ", ".join(f"{t} {base[t]:.1f}" for t in tasks if t in base))
    print("median architecture (95 % bootstrap CI of the median over architectures): " + ", ".join(
        f"{t} {np.nanmedian(means[t]):.2f} [{lo:.2f}, {hi:.2f}]" + _versus(base.get(t), lo, float(np.nanmedian(means[t])))
        for t in tasks for lo, hi in [boot_ci(means[t].dropna().to_numpy(float), np.median, rng)]))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(wide.to_string())
    groups = [grp["glue_mini"].dropna().to_numpy(float) for _, grp in means.groupby("op")] if "glue_mini" in means else []
    if len(groups) > 1 and all(len(g) > 1 for g in groups):
        h = stats.kruskal(*groups)
        print(f"Kruskal-Wallis across ops on glue_mini: H = {h.statistic:.2f}, p = {h.pvalue:.3g}")

    # 2. seed agreement and seed noise vs between-architecture spread
    rows = []
    pivot = per_seed.reset_index()
    for t in cols if "glue_mini" not in cols else tasks:
        s0 = pivot[pivot["seed"] == 0].set_index("arch_id")[t]
        s1 = pivot[pivot["seed"] == 1].set_index("arch_id")[t]
        both = pd.concat([s0, s1], axis=1, keys=["s0", "s1"]).dropna()
        xy = both.to_numpy(float)
        est = kendall_tau(xy[:, 0], xy[:, 1], n_boot=N_BOOT)  # bertbench.stats: the package's one bootstrap
        tau, lo, hi = est.value, est.low, est.high
        seed_std = per_seed[t].groupby("arch_id").std().dropna()
        rows.append({"task": t, "n_archs": len(xy), "tau_seed0_seed1": tau, "ci_low": lo, "ci_high": hi,
                     "mean_seed_std": seed_std.mean(), "between_arch_std": means[t].std()})
    seeds = pd.DataFrame(rows)
    seeds.to_csv(args.out / "seeds.csv", index=False)
    print("\nSeed 0 vs seed 1 (Kendall tau over architectures, 95 % CI); seed std vs between-architecture std:")
    print(seeds.to_string(index=False, float_format="{:.3f}".format))

    # 3. proxies vs glue_mini, params beside them
    corr = None
    proxies = bench.tables["proxies"]
    if proxies.num_rows == 0 and args.score:
        from bertbench.proxies.registry import list_proxies
        from bertbench.proxies.scoring import score_benchmark

        vocab = (info.get("data") or {}).get("tokenizer_vocab_size")
        proxies = score_benchmark(bench, list_proxies("bert"), variant="as_named", vocab_size=vocab)
    if proxies.num_rows and "glue_mini" in means:
        from bertbench.proxies.evaluate import evaluate

        _, corr = evaluate(bench, sorted(set(proxies.column("proxy").to_pylist())), target="glue_mini",
                           scores=proxies, n_boot=N_BOOT, out=args.out / "proxies")
        print("\nProxies vs glue_mini (untrained models; Kendall tau with 95 % CI; params is the baseline):")
        print(corr[["proxy", "n", "kendall_tau", "tau_ci_low", "tau_ci_high", "spearman_rho"]].to_string(
            index=False, float_format="{:.3f}".format))
    elif proxies.num_rows == 0:
        print("\nNo proxies table in this benchmark; pass --score to score them here.")
    plot(ops, seeds, corr, per_seed, cols, base, args.out / "report.png", f"{bench.name} {bench.version}")
    print(f"\nwritten: {args.out}/report.png, per_op.csv, seeds.csv" + (", proxies/" if corr is not None else ""))


def plot(ops, seeds, corr, per_seed, cols, base, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax = axes[0]
    names = sorted(ops["op"].unique())
    width = 0.8 / len(cols)
    for j, t in enumerate(cols):
        part = ops[ops["task"] == t].set_index("op").reindex(names)
        x = np.arange(len(names)) + j * width
        ax.errorbar(x, part["mean"], yerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]], fmt="o",
                    capsize=2, label=t)
        if t in base:
            ax.hlines(base[t], -0.2, len(names), colors=ax.lines[-1].get_color(), linestyles=":", lw=0.8)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30)
    ax.set_title("per-op mean, 95 % CI (dotted: majority)")
    ax.legend(fontsize=7)
    ax = axes[1]
    t = cols[0]
    p = per_seed.reset_index()
    both = pd.concat([p[p["seed"] == s].set_index("arch_id")[t] for s in (0, 1)], axis=1, keys=["s0", "s1"]).dropna()
    ax.scatter(both["s0"], both["s1"], s=14)
    ax.set_xlabel(f"{t}, seed 0")
    ax.set_ylabel(f"{t}, seed 1")
    row = seeds[seeds["task"] == t].iloc[0]
    ax.set_title(f"seed agreement on {t}: tau {row['tau_seed0_seed1']:.2f}")
    ax = axes[2]
    if corr is not None:
        c = corr.sort_values("kendall_tau")
        y = np.arange(len(c))
        ax.errorbar(c["kendall_tau"], y, xerr=[c["kendall_tau"] - c["tau_ci_low"], c["tau_ci_high"] - c["kendall_tau"]],
                    fmt="o", capsize=2)
        ax.set_yticks(y, c["proxy"])
        ax.axvline(float(corr.loc[corr["proxy"] == "params", "kendall_tau"].iloc[0]), ls=":", c="grey")
        ax.set_title("proxies vs glue_mini: Kendall tau (dotted: params)")
    else:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
