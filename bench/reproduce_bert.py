"""Training-free proxies on the 2023 NAS-Bench-BERT architectures, built both as trained (`as_trained_2023`: all SDP,
FFN 4H first) and as named (every op real), at each architecture's true hidden size, correlated with the published
GLUE (glue_2023), with the params baseline and each proxy's partial Spearman correlation controlling for params (does
it add anything beyond size?). Resumable: every architecture's scores are written as they finish under
OUT/<variant>/scores/, and a rerun scores only what is missing. All 500 with --n 500 (hours on 2 CPU cores).
``--paper-shape`` scores every architecture rebuilt at H = 256, FFN 1024, as the 2023 paper computed its metrics
(folders OUT/<variant>-H256-F1024/); the params baseline is then the true architecture's (the 2023 CSV's).

    python bench/reproduce_bert.py [--n 500] [--processes 2] [--batch-size 16] [--out reproduce-bert] [--paper-shape]
        [--device cuda] [--variants as_named] [--only-scored]

``--device cuda`` scores on a GPU (models built on the CPU from their seed, then moved; several processes may share
one GPU): values agree with the CPU's to rounding, so give a GPU run its own --out. bench/reproduce_bert_gpu.sh is
the prepared call for a lent GPU machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch
from scipy import stats

import bertbench
from bertbench.proxies.evaluate import evaluate, read_scored, score_benchmark
from bertbench.proxies.registry import list_proxies


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Spearman correlation of x and y with z (ranks) regressed out of both."""
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, z))
    design = np.c_[np.ones_like(rz), rz]
    res_x = rx - design @ np.linalg.lstsq(design, rx, rcond=None)[0]
    res_y = ry - design @ np.linalg.lstsq(design, ry, rcond=None)[0]
    return float(np.corrcoef(res_x, res_y)[0, 1])


def partial_ci(x: np.ndarray, y: np.ndarray, z: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of :func:`partial_spearman` (architectures resampled with replacement)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        if np.std(x[i]) > 0 and np.std(y[i]) > 0 and np.std(z[i]) > 0:
            vals.append(partial_spearman(x[i], y[i], z[i]))
    lo, hi = np.nanpercentile(vals, [2.5, 97.5]) if vals else (np.nan, np.nan)
    return float(lo), float(hi)


def within_groups(wide: pd.DataFrame, summary: pd.DataFrame, proxies: list[str]) -> pd.DataFrame:
    """Kendall tau of each proxy with glue_2023 inside each (hidden size, depth) group of the 2023 space (about 120
    architectures each): what a proxy ranks once the two main size factors are fixed."""
    shape = summary.drop_duplicates("arch_id").set_index("arch_id")[["hidden_size", "num_layers"]]
    df = wide.set_index("arch_id").join(shape, how="inner")
    out = {}
    for (h, n_layers), g in df.groupby(["hidden_size", "num_layers"]):
        col = {}
        for proxy in proxies:
            sub = g[[proxy, "glue_2023"]].apply(pd.to_numeric, errors="coerce").dropna()
            col[proxy] = stats.kendalltau(sub[proxy], sub["glue_2023"]).statistic if len(sub) > 7 else np.nan
        out[f"H{h} L{n_layers} (n={len(g)})"] = col
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("reproduce-bert"))
    ap.add_argument("--paper-shape", action="store_true", help="score at H = 256, FFN 1024 (the 2023 metric models)")
    ap.add_argument("--device", default="cpu", help="where models are scored: cpu (default), cuda, cuda:1, ...")
    ap.add_argument("--variants", default="as_trained_2023,as_named", help="builders to score, comma-separated")
    ap.add_argument("--only-scored", action="store_true",
                    help="score nothing: correlate the architectures already in OUT/<variant>/scores (a partial run)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, 2 // args.processes))
    bench = bertbench.load("nas-bench-bert-2023", path=args.shared / "seed-paper")
    names = list_proxies("bert")
    shape = (256, 1024) if args.paper_shape else None
    for variant in args.variants.split(","):
        folder = args.out / (f"{variant}-H256-F1024" if shape else variant)
        if args.only_scored:
            table = read_scored(folder / "scores")
        else:
            table = score_benchmark(bench, names, n=args.n, variant=variant, batch_size=args.batch_size,
                                    seq_len=args.seq_len, processes=args.processes, results_dir=folder / "scores",
                                    shape=shape, device=args.device)
        if shape:  # the baseline stays the true architecture's size, not the rebuilt model's
            true = score_benchmark(bench, ["params"], n=args.n, variant=variant, batch_size=2, seq_len=8,
                                   progress=False)
            true = true.filter(pc.is_in(true["arch_id"], value_set=pa.array(set(table["arch_id"].to_pylist()))))
            table = pa.concat_tables([table.filter(pc.not_equal(table["proxy"], "params")), true])
        wide, corr = evaluate(bench, names, out=folder, scores=table)
        partial, low, high = [], [], []
        for proxy in corr["proxy"]:
            sub = wide[[proxy, "params", "glue_2023"]].apply(pd.to_numeric, errors="coerce").dropna()
            xyz = [sub[c].to_numpy(float) for c in (proxy, "glue_2023", "params")]
            ok = proxy != "params" and len(sub) > 3
            partial.append(partial_spearman(*xyz) if ok else np.nan)
            lo, hi = partial_ci(*xyz) if ok else (np.nan, np.nan)
            low.append(lo)
            high.append(hi)
        corr["partial_rho_given_params"], corr["partial_ci_low"], corr["partial_ci_high"] = partial, low, high
        corr.to_csv(folder / "correlations.csv", index=False)
        groups = within_groups(wide, bench.to_pandas(), list(corr["proxy"]))
        groups.to_csv(folder / "within_groups.csv")
        print(f"\n{folder.name}: {len(wide)} architectures, proxies vs glue_2023 (loss: mlm; unstable scores are NaN)")
        print(corr[["proxy", "n", "kendall_tau", "tau_ci_low", "tau_ci_high", "spearman_rho",
                    "partial_rho_given_params", "partial_ci_low", "partial_ci_high", "precision_top10"]].to_string(index=False, float_format="{:.3f}".format))
        print("\nKendall tau vs glue_2023 within each group of the true architectures' (hidden size, depth):")
        print(groups.to_string(float_format="{:.3f}".format))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # a deadline (SIGINT): what finished is written; a rerun scores only the rest
        raise SystemExit("stopped: the architectures scored so far are kept under --out; rerun to resume") from None
