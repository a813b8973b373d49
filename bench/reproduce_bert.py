"""Training-free proxies on the 2023 NAS-Bench-BERT architectures, built both as trained (`as_trained_2023`: all SDP,
FFN 4H first) and as named (every op real), at each architecture's true hidden size, correlated with the published
GLUE (glue_2023). A seeded sample of N architectures (all 500 with --n 500).

    python bench/reproduce_bert.py [--n 100] [--out reproduce-bert]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import bertbench
from bertbench.proxies.evaluate import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("reproduce-bert"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    bench = bertbench.load("nas-bench-bert-2023", path=args.shared / "seed-paper")
    for variant in ("as_trained_2023", "as_named"):
        _, corr = evaluate(bench, None, n=args.n, variant=variant, out=args.out / variant, batch_size=args.batch_size,
                           processes=args.processes)
        print(f"\n{variant}: {args.n} architectures, proxies vs glue_2023")
        print(corr[["proxy", "n", "kendall_tau", "spearman_rho", "pearson_r", "precision_top10", "tau_ci_low",
                    "tau_ci_high"]].to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
