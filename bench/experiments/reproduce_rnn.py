"""Reproduce the 2023 paper's RNN finding with our code: hidden covariance (layers 1-3) of every NAS-Bench-NLP
wikitext-2 recipe, computed on the PTB test batch (50 x 70, seed 0, eval mode); Kendall tau against the WT2 final
test losses; and, for the recipe ids that also appear in RNN_results.csv, the agreement with the paper's values.

    python bench/experiments/reproduce_rnn.py [--shared ../shared/data] [--out reproduce-rnn]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm import tqdm

import bertbench
from bertbench.models.rnn import build_rnn_lm
from bertbench.plots import plot_scatter
from bertbench.proxies import rnn_batch
from bertbench.proxies.correlations import correlation_table
from bertbench.proxies.covariance import rnn_hidden_covariance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("reproduce-rnn"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    bench = bertbench.load("nas-bench-nlp", path=args.shared / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    batch = rnn_batch(str(args.shared / "ptb" / "ptb.zip"))
    summary = bench.to_pandas()
    rows = []
    for run_key, rid, loss in tqdm(list(zip(summary["run_key"], summary["recipe_id"], summary["test_loss"])),
                                   desc="hidden covariance"):
        model = build_rnn_lm(bench.query(run_key)["architecture"], seed=0, ntoken=batch.vocab_size)
        hc = rnn_hidden_covariance(model, batch, 3)
        rows.append({"run_key": run_key, "recipe_id": int(rid), "wt2_test_loss": loss,
                     "hc_l1": hc[0], "hc_l2": hc[1], "hc_l3": hc[2]})
    df = pd.DataFrame(rows)
    df.to_csv(args.out / "hidden_covariance_wt2.csv", index=False)
    corr = correlation_table(df, "wt2_test_loss", ["hc_l1", "hc_l2", "hc_l3"], "lower", n_boot=1000)
    print(f"our hidden covariance (PTB test batch) vs WT2 final test loss, {len(df)} logs:")
    print(corr[["proxy", "n", "kendall_tau", "spearman_rho", "pearson_r", "tau_ci_low", "tau_ci_high"]].to_string(index=False))
    plot_scatter(df, "wt2_test_loss", ["hc_l1", "hc_l2", "hc_l3"], args.out / "scatter.png",
                 title="hidden covariance (PTB batch) vs WT2 test loss")
    paper = pd.read_csv(args.shared / "seed-paper" / "RNN_results.csv", encoding="utf-8-sig")
    paper["recipe_id"] = paper["log name"].str.split("_").str[3].astype(int)
    m = df.drop_duplicates("recipe_id").merge(paper, on="recipe_id")
    print(f"\nagreement with the paper's values on {len(m)} overlapping recipe ids:")
    for layer in (1, 2, 3):
        ours, theirs = m[f"hc_l{layer}"], m[f"Layer {layer} Hidden Covariance"]
        ok = np.isfinite(ours) & np.isfinite(theirs)
        rel = (abs(ours[ok] - theirs[ok]) / abs(theirs[ok]))
        print(f"  layer {layer}: Spearman {stats.spearmanr(ours[ok], theirs[ok]).statistic:.4f}, Kendall "
              f"{stats.kendalltau(ours[ok], theirs[ok]).statistic:.4f}, median rel. diff {rel.median():.1e}, "
              f"max {rel.max():.1e} (n={ok.sum()})")
    tau_paper = stats.kendalltau(m["Layer 1 Hidden Covariance"], m["loss"]).statistic
    print(f"  paper's L1 HC vs PTB test loss on these ids: tau {tau_paper:+.3f}")


if __name__ == "__main__":
    main()
