"""Simulated NAS on the 2023 NAS-Bench-BERT data and the NAS-Bench-NLP WikiText-2 logs: every algorithm with 20+
seeds at a budget of 10 % of the benchmark's total training cost; final regret mean +- std, with params-guided
search as the baseline any proxy must beat. PNGs of best-so-far vs simulated time are written to --out.

    python bench/experiments/search_report.py [--shared ../shared/data] [--seeds 20] [--out search-report]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import bertbench
from bertbench import search

PAPER_PROXIES = ("Jacobian Score", "Synaptic Diversity", "Activation Distance", "Head Importance")


def report(bench, proxies: list[str], seeds: int, out: Path, note: str) -> None:
    budget = 0.1 * float(bench.train_costs().sum())
    plan = [("random", None), ("evolution", None), ("local", None)]
    plan += [(a, p) for p in ["params", *proxies] for a in search.NEEDS_PROXY]
    frame = pd.concat([search.run(bench, a, budget, range(seeds), proxy=p) for a, p in plan], ignore_index=True)
    attrs = search.run(bench, "random", budget, [0]).attrs
    frame.attrs.update(attrs)
    search.plot(frame, out / f"{bench.name}.png", title=f"{bench.name}: best {attrs['metric']} vs time (10 % budget)")
    table = search.final_regret(frame)
    table["final regret"] = [f"{m:.3f} +- {s:.3f}" for m, s in zip(table["mean"], table["std"])]
    print(f"\n{bench.name}: {attrs['metric']} ({attrs['direction']} is better; best {attrs['optimum']:.3f}), budget "
          f"{budget:,.0f} {attrs['cost_unit']} = 10 % of the total, {seeds} seeds. {note}")
    print(table[["algorithm", "proxy", "final regret"]].to_string(index=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("search-report"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paper = bertbench.load("nas-bench-bert-2023", path=args.shared / "seed-paper",
                           metrics_csv=args.shared / "seed-paper" / "BERT_results_activation.csv")
    report(paper, list(PAPER_PROXIES), args.seeds, args.out,
           "One training seed per architecture (the 2023 data): a search's seed varies only the search, not the "
           "training noise (about 0.6 GLUE points between duplicated architectures). Proxies: the paper's H=256 "
           "scores (no recorded time: scoring costs 0 here); all 500 models were trained as SDP.")
    wt2 = bertbench.load("nas-bench-nlp", path=args.shared / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    report(wt2, [], args.seeds, args.out, "Proxy: params only (the logs carry no proxy scores).")
    print(f"\nplots in {args.out}/")


if __name__ == "__main__":
    main()
