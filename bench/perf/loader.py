"""Time to a DataFrame, as users wait for it: ``bertbench.load(...).to_pandas()``, against a naive baseline measured
in the same run (json-load every entry / log into dicts, then a pandas DataFrame: what notebooks do).

Each benchmark is measured cold (empty cache: conversion and summary built), warm in this process (the median of
5 calls of load + to_pandas on a fresh object), and warm in a new process (imports excluded, the cache on disk).
Targets: 2023 benchmark, WT2 logs and a release <= 100 ms warm; a 14,000-log NAS-Bench-NLP zip <= 200 ms warm and
<= 30 s cold; query <= 1 ms.

    python bench/perf/loader.py [--shared ../shared/data] [--n 14000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

import bertbench
from bertbench.testing import write_nasbench_nlp_zip

TARGETS: list[tuple[str, float, float]] = []  # (name, ms, target ms)


def naive_logs(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path) as zf:
        rows = [json.loads(zf.read(n)) for n in zf.namelist() if n.endswith(".json")]
    return pd.DataFrame(rows)


def naive_2023(path: Path) -> pd.DataFrame:
    return pd.json_normalize(json.loads(path.read_text()))


def naive_release(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path / "runs.parquet").to_pandas().pivot_table(index="arch_id", columns="stage", values="score")


def t(fn, repeats: int = 1) -> float:
    out = []
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        out.append(time.perf_counter() - s)
    return statistics.median(out)


def new_process(source: str, options: dict) -> float:
    """Seconds of load + to_pandas in a fresh interpreter (imports done first, not counted)."""
    code = ("import time, bertbench, pandas, pyarrow, bertbench.loaders.base, bertbench.loaders.release, "
            "bertbench.loaders.paper2023, bertbench.loaders.nasbench_nlp; "
            f"s = time.perf_counter(); bertbench.load({source!r}, **{options!r}).to_pandas(); "
            "print(time.perf_counter() - s)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def measure(name: str, source: str, options: dict, naive, target_ms: float, cold_target_ms: float | None = None) -> None:
    cold = t(lambda: bertbench.load(source, **options).to_pandas())
    warm = t(lambda: bertbench.load(source, **options).to_pandas(), 5)
    proc = statistics.median(new_process(source, options) for _ in range(3))
    base = t(naive, 3)
    print(f"{name:<34} cold {1000 * cold:8.1f} ms | warm {1000 * warm:7.1f} ms | new process {1000 * proc:7.1f} ms | "
          f"naive {1000 * base:8.1f} ms (x{base / warm:5.1f}) | target <= {target_ms:.0f} ms warm")
    TARGETS.append((f"{name}: warm", 1000 * warm, target_ms))
    TARGETS.append((f"{name}: new process", 1000 * proc, target_ms))
    if cold_target_ms:
        TARGETS.append((f"{name}: cold", 1000 * cold, cold_target_ms))


def query_time(bench, keys: list) -> float:
    bench.query(keys[0])
    return t(lambda: [bench.query(k) for k in keys]) / len(keys)


def synthetic_release(tmp: Path) -> Path:
    """A release shaped like the mini benchmark (30 architectures of grid `mini`, 66 units, 6 stages, curves), with
    random scores: what is timed is the loading, not the numbers."""
    from bertbench.space.grids import load_grid
    from bertbench.store.release import commit
    from bertbench.store.schema import architecture_row, metrics_list
    from bertbench.store.writer import ResultWriter, result_name

    rng = random.Random(0)
    grid = load_grid("mini")
    run = tmp / "run"
    w = ResultWriter(run)
    for i, arch in enumerate(grid.architectures):
        w.write_architecture(arch.arch_id, [architecture_row(arch, 8000)])
        for seed in grid.seeds_for(i, grid.seeds):
            for stage, metric in (("pretrain", "loss"), ("sst2", "accuracy"), ("mrpc", "accuracy"),
                                  ("stsb", "pearson"), ("rte", "accuracy"), ("wnli", "accuracy")):
                v = rng.uniform(40, 90)
                row = {"arch_id": arch.arch_id, "run_key": arch.arch_id, "seed": seed, "stage": stage, "status": "ok",
                       "main_metric": metric, "score": v, "metrics": metrics_list({metric: v, "loss": rng.random()}),
                       "steps": 1000, "tokens": None, "wall_seconds": 1.0, "device": "synthetic", "error": None}
                curves = [{"arch_id": arch.arch_id, "run_key": arch.arch_id, "seed": seed, "stage": stage, "step": s,
                           "name": "train_loss", "value": rng.random()} for s in range(0, 1000, 50)]
                w.write_result(result_name(arch.arch_id, seed, stage), [row], curves)
    return commit(run, "synthetic-mini", "0.0.1", tmp / "releases", license="cc0-1.0")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=14000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bertbench-bench-"))
    os.environ["BERTBENCH_CACHE"] = str(tmp / "cache")
    print(f"cache {tmp / 'cache'}; times are load + to_pandas() (the summary view)")
    paper = args.shared / "seed-paper" / "BERT_benchmark.json"
    if paper.exists():
        measure("2023 benchmark (500 ids)", "nas-bench-bert-2023", {"path": str(paper)}, lambda: naive_2023(paper), 100)
        b = bertbench.load("nas-bench-bert-2023", path=paper)
        q = query_time(b, [str(i) for i in range(100)])
        TARGETS.append(("2023 benchmark: query", 1000 * q, 1))
        print(f"{'2023 benchmark: query by id':<34} {1000 * q:.3f} ms")
    wt2 = args.shared / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip"
    if wt2.exists():
        measure("WT2 logs (345)", "nas-bench-nlp", {"path": str(wt2)}, lambda: naive_logs(wt2), 100)
    big = write_nasbench_nlp_zip(tmp / "logs14k.zip", n_recipes=args.n // 2, runs_per_recipe=2, seed=1, nan_every=40)
    print(f"generated {args.n} logs in the official format: {big.stat().st_size / 1e6:.1f} MB")
    measure(f"{args.n} logs", "nas-bench-nlp", {"path": str(big)}, lambda: naive_logs(big), 200, 30_000)
    b = bertbench.load("nas-bench-nlp", path=big)
    q = query_time(b, b.to_pandas()["run_key"].astype(str).tolist()[:200])
    TARGETS.append((f"{args.n} logs: query", 1000 * q, 1))
    print(f"{f'{args.n} logs: query by run_key':<34} {1000 * q:.3f} ms")
    rel = synthetic_release(tmp)
    measure("release (mini-shaped, 66 units)", str(rel), {}, lambda: naive_release(rel), 100)
    from bertbench.loaders.registry import shipped_releases

    for name, versions in shipped_releases().items():  # the releases in the package, loaded by name, offline
        folder = versions[max(versions, key=lambda v: tuple(int(x) for x in v.split(".")))]
        measure(f"shipped {name}", name, {}, lambda folder=folder: naive_release(folder), 100)
    b = bertbench.load(str(rel))
    q = query_time(b, b.to_pandas()["arch_id"].astype(str).tolist())
    TARGETS.append(("release: query", 1000 * q, 1))
    print(f"{'release: query by arch_id':<34} {1000 * q:.3f} ms")
    print("\ntarget check:")
    for name, ms, target in TARGETS:
        print(f"  {'met   ' if ms <= target else 'MISSED'} {name:<40} {ms:9.1f} ms  (target <= {target:.0f} ms)")


if __name__ == "__main__":
    main()
