"""Load and query times of bertbench's loaders against a naive baseline measured in the same run.

Baseline: json-load every log / entry into a list of dicts, then build a pandas DataFrame (what notebooks do).
Targets: warm load <= 100 ms, query <= 1 ms, the 14k NAS-Bench-NLP zip converted cold in <= 30 s, warm <= 200 ms.

    python bench/loader.py [--shared ../shared/data] [--n 14000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

import bertbench
from bertbench.testing import write_nasbench_nlp_zip


def naive_logs(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path) as zf:
        rows = [json.loads(zf.read(n)) for n in zf.namelist() if n.endswith(".json")]
    return pd.DataFrame(rows)


def naive_2023(path: Path) -> pd.DataFrame:
    entries = json.loads(path.read_text())
    return pd.json_normalize(entries)


def t(fn, repeats: int = 1) -> float:
    out = []
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        out.append(time.perf_counter() - s)
    return statistics.median(out)


def row(name: str, ours: float, base: float, target: str) -> None:
    print(f"{name:<44} ours {1000 * ours:9.1f} ms   naive {1000 * base:9.1f} ms   x{base / ours:6.1f}   {target}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=14000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bertbench-bench-"))
    os.environ["BERTBENCH_CACHE"] = str(tmp / "cache")
    print(f"cache {tmp / 'cache'}")
    paper = args.shared / "seed-paper" / "BERT_benchmark.json"
    if paper.exists():
        cold = t(lambda: bertbench.load("nas-bench-bert-2023", path=paper).to_pandas())
        warm = t(lambda: bertbench.load("nas-bench-bert-2023", path=paper), 5)
        base = t(lambda: naive_2023(paper), 3)
        row("2023 benchmark: load + summary (cold)", cold, base, "")
        row("2023 benchmark: load (warm)", warm, base, "target <= 100 ms")
        b = bertbench.load("nas-bench-bert-2023", path=paper)
        b.query(0)
        q = t(lambda: [b.query(i) for i in range(100)]) / 100
        df = naive_2023(paper)
        qb = t(lambda: [df[df["id"] == i].iloc[0].to_dict() for i in range(100)]) / 100
        row("2023 benchmark: query by id", q, qb, "target <= 1 ms")
    wt2 = args.shared / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip"
    if wt2.exists():
        cold = t(lambda: bertbench.load("nas-bench-nlp", path=wt2))
        warm = t(lambda: bertbench.load("nas-bench-nlp", path=wt2), 5)
        base = t(lambda: naive_logs(wt2), 3)
        row("WT2 logs (345): convert (cold)", cold, base, "")
        row("WT2 logs (345): load (warm)", warm, base, "target <= 100 ms")
    big = write_nasbench_nlp_zip(tmp / "logs14k.zip", n_recipes=args.n // 2, runs_per_recipe=2, seed=1, nan_every=40)
    print(f"generated {args.n} logs in the official format: {big.stat().st_size / 1e6:.1f} MB")
    cold = t(lambda: bertbench.load("nas-bench-nlp", path=big))
    warm = t(lambda: bertbench.load("nas-bench-nlp", path=big), 3)
    base = t(lambda: naive_logs(big), 1)
    row(f"{args.n} logs: convert (cold)", cold, base, "target <= 30 s")
    row(f"{args.n} logs: load (warm)", warm, base, "target <= 200 ms")
    b = bertbench.load("nas-bench-nlp", path=big)
    keys = b.to_pandas()["run_key"].tolist()[:200]
    b.query(keys[0])
    q = t(lambda: [b.query(k) for k in keys]) / len(keys)
    df = naive_logs(big)
    names = [f"{k}" for k in keys]
    df["run_key"] = [f"log_stats_model_{r}_2020-04-28_17-16-54_{e}" for r, e in zip(df["recepie_id"], df["experiment_id"])]
    qb = t(lambda: [df[df["run_key"] == k].iloc[0].to_dict() for k in names]) / len(names)
    row(f"{args.n} logs: query by run_key", q, qb, "target <= 1 ms")


if __name__ == "__main__":
    main()
