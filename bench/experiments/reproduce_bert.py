"""Training-free proxies on the 2023 NAS-Bench-BERT architectures, built both as trained (`as_trained_2023`: all SDP,
FFN 4H first) and as named (every op real), at each architecture's true hidden size, correlated with the published
GLUE (glue_2023), beside the size baselines (params, flops, depth, hidden size, the size model), with each proxy's
partial Spearman given size, its tau within (hidden size, depth) groups and its paired difference from the best size
baseline (bertbench/proxies/correlations.py), and the target's reliability from the duplicated architectures. The
as_named scores are kept but not correlated: the 2023 GLUE scores belong to networks trained as_trained_2023. Resumable: every architecture's scores are written as they finish under
OUT/<variant>/scores/, and a rerun scores only what is missing. All 500 with --n 500 (hours on 2 CPU cores).
``--paper-shape`` scores every architecture rebuilt at H = 256, FFN 1024, as the 2023 paper computed its metrics
(folders OUT/<variant>-H256-F1024/); the params baseline is then the true architecture's (the 2023 CSV's).

    python bench/experiments/reproduce_bert.py [--n 500] [--processes 2] [--batch-size 16] [--out reproduce-bert] [--paper-shape]
        [--device cuda] [--variants as_named] [--only-scored] [--from-suite]

``--device cuda`` scores on a GPU (models built on the CPU from their seed, then moved; several processes may share
one GPU): values agree with the CPU's to rounding, so give a GPU run its own --out. bench/gpu/reproduce_bert_gpu.sh is
the prepared call for a lent GPU machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

import bertbench
from bertbench.proxies.correlations import format_table
from bertbench.proxies.evaluate import evaluate
from bertbench.proxies.registry import list_proxies
from bertbench.proxies.scoring import read_scored, score_benchmark


def within_groups(wide: pd.DataFrame, summary: pd.DataFrame, proxies: list[str], noise_var: float) -> pd.DataFrame:
    """Per (hidden size, depth) group of the 2023 space (about 120 architectures each): the target's sd, its
    reliability there (1 - noise variance / the group's variance; the noise variance pooled from the duplicated
    architectures), the tau that reliability allows, and each proxy's oriented Kendall tau with glue_2023 with CI."""
    from bertbench.proxies.registry import get_proxy
    from bertbench.stats import kendall_tau, tau_from_reliability

    shape = summary.drop_duplicates("arch_id").set_index("arch_id")[["hidden_size", "num_layers"]]
    df = wide.drop(columns=["hidden_size", "num_layers"], errors="ignore").set_index("arch_id").join(shape, how="inner")
    rows = []
    for (h, n_layers), g in df.groupby(["hidden_size", "num_layers"]):
        y = pd.to_numeric(g["glue_2023"], errors="coerce")
        rel = max(0.0, 1 - noise_var / y.var(ddof=1)) if y.var(ddof=1) > 0 else np.nan
        row = {"group": f"H{h} L{n_layers}", "n": int(y.notna().sum()), "glue_sd": float(y.std(ddof=1)),
               "reliability": rel, "tau_ceiling": tau_from_reliability(np.sqrt(rel))}
        for proxy in proxies:
            sign = 1.0 if proxy == "params" or get_proxy(proxy).direction == "higher" else -1.0
            est = kendall_tau(sign * pd.to_numeric(g[proxy], errors="coerce").to_numpy(float), y.to_numpy(float),
                              n_boot=1000)
            row[proxy] = f"{est.value:+.3f} [{est.low:+.2f}, {est.high:+.2f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
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
    ap.add_argument("--from-suite", action="store_true",
                    help="score nothing: correlate the scores of the shipped proxy suite (bertbench-zero) again")
    args = ap.parse_args()
    torch.set_num_threads(max(1, 2 // args.processes))
    bench = bertbench.load("nas-bench-bert-2023", path=args.shared / "seed-paper")
    names = list_proxies("bert")
    shape = (256, 1024) if args.paper_shape else None
    for variant in args.variants.split(","):
        folder = args.out / (f"{variant}-H256-F1024" if shape else variant)
        if args.from_suite and variant != bench.default_variant:
            print(f"{variant}: not in the proxy suite (it holds the networks as trained); score it without --from-suite")
            continue
        if args.from_suite:
            key = "nas-bench-bert-2023" + ("@H256-F1024" if shape else "")
            scores = bertbench.load("bertbench-zero").scores(key).drop(columns="benchmark")
            table = pa.Table.from_pandas(scores, preserve_index=False)
        elif args.only_scored:
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
        if variant != bench.default_variant:  # no valid pair: the 2023 scores belong to networks trained otherwise
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / "proxies.parquet")
            print(f"\n{folder.name}: {table.num_rows} scores kept in {folder}/proxies.parquet, NOT correlated: the 2023 "
                  f"GLUE scores belong to networks trained {bench.default_variant}, not to these {variant} networks")
            continue
        wide, corr = evaluate(bench, names, out=folder, scores=table)
        summary = bench.to_pandas()
        dups = summary[summary.duplicated("arch_id", keep=False)]
        noise_var = float(dups.groupby("arch_id")["glue_2023"].var(ddof=1).mean())
        groups = within_groups(wide, summary, [p for p in ["params", *names] if p in wide], noise_var)
        groups.to_csv(folder / "within_groups.csv", index=False)
        print(f"\n{folder.name}: {len(wide)} architectures, proxies vs glue_2023 (loss: mlm; unstable scores are NaN)")
        print(format_table(corr))
        print(f"\nWithin each (hidden size, depth) group (noise sd {np.sqrt(noise_var):.2f} GLUE points from the "
              f"{dups['arch_id'].nunique()} duplicated architectures):")
        print(groups.to_string(index=False, float_format="{:.3f}".format))

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # a deadline (SIGINT): what finished is written; a rerun scores only the rest
        raise SystemExit("stopped: the architectures scored so far are kept under --out; rerun to resume") from None
