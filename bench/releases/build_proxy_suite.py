"""Build the proxy suite (``bertbench-zero``): every registered proxy on every 2023 NAS-Bench-BERT architecture, as
trained (all SDP, FFN 4H) at its true shape and rebuilt at H = 256 / FFN 1024 (the paper's metric models), and the
RNN proxies on every NAS-Bench-NLP architecture with WikiText-2 logs, each joined to its benchmark's target; written
as a suite folder (bertbench/store/proxy_suite.py) that ``bertbench.load("bertbench-zero")`` reads offline.

Scoring is resumable: each architecture's rows go to WORK/<key>/ as they finish (``score_benchmark``'s
results_dir), and a rerun scores only what is missing. ``--reuse KEY=PROXIES.parquet`` starts KEY from an earlier
proxies table after rescoring ``--verify`` architectures drawn at random and checking that the current code gives
the same values (relative 1e-6) and statuses; it stops if one differs.

    python bench/releases/build_proxy_suite.py --shared ../shared/data --work runs/proxy-suite \
        --out bertbench/suites --version 0.1.0 [--rnn-proxies naswot,params,...] [--reuse KEY=FILE ...]
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

import bertbench
from bertbench.file_io import atomic_write_table
from bertbench.loaders.proxy_suite import ProxySuite
from bertbench.proxies import rnn_batch
from bertbench.proxies.correlations import duplicate_reliability
from bertbench.proxies.inputs import default_batch
from bertbench.proxies.leaderboard import code_digest, leaderboard
from bertbench.proxies.registry import get_proxy, list_proxies
from bertbench.proxies.scoring import read_scored, score_benchmark
from bertbench.store.proxy_suite import scores_schema, write_suite
from bertbench.store.schema import schema_for

log = logging.getLogger("build_proxy_suite")
NAME = "bertbench-zero"
BERT_KEY, BERT_H256_KEY, RNN_KEY = "nas-bench-bert-2023", "nas-bench-bert-2023@H256-F1024", "nas-bench-nlp-wikitext-2"
ATTRIBUTION = ("Targets: the 2023 NAS-Bench-BERT GLUE scores (Serianni & Kalita, 'Training-free Neural Architecture "
               "Search for RNNs and Transformers', ACL 2023; CC BY 4.0) and the NAS-Bench-NLP WikiText-2 training logs "
               "(Klyuchnikov et al. 2020; Apache 2.0). Proxy scores: bertbench (CC BY 4.0).")


def _seed_from(table: pa.Table, work: Path) -> None:
    """Write an earlier proxies table into ``work`` as ``score_benchmark``'s per-architecture files."""
    work.mkdir(parents=True, exist_ok=True)
    for arch_id in sorted(set(table.column("arch_id").to_pylist())):
        sub = table.filter(pc.equal(table.column("arch_id"), arch_id)).cast(schema_for("proxies"))
        atomic_write_table(work / f"{arch_id}.parquet", sub)


def _verify(old: pa.Table, bench, names: list[str], n: int, **kw) -> None:
    """Rescore ``n`` architectures (``score_benchmark``'s seeded sample) with the current code; stop if a value or
    status differs from ``old``'s."""
    new = score_benchmark(bench, names, n=n, **kw).to_pandas().set_index(["arch_id", "proxy"])
    ref = old.to_pandas().set_index(["arch_id", "proxy"])
    bad = []
    for (a, p), row in new.iterrows():
        if (a, p) not in ref.index or p in ("params", "flops") and kw.get("shape"):
            continue
        r = ref.loc[(a, p)]
        same = (row["status"] == r["status"] and (
            (math.isnan(row["value"]) and math.isnan(r["value"]))
            or abs(row["value"] - r["value"]) <= 1e-6 * max(abs(r["value"]), 1e-30)))
        if not same:
            bad.append(f"{a} {p}: now {row['value']!r} ({row['status']}), table {r['value']!r} ({r['status']})")
    if bad:
        raise SystemExit("the earlier table is not what the current code gives:\n  " + "\n  ".join(bad))
    log.info("verified %d architectures x %d proxies against the earlier table", n, len(names))


def _targets(key: str, summary: pd.DataFrame, target: str, sizes: dict[str, str], scores: pa.Table) -> pd.DataFrame:
    """Per arch_id: the target's mean over runs, n_runs, and the trained network's sizes (from ``summary`` columns
    named by ``sizes``, else from the scored ``params``/``flops`` proxies, else NaN)."""
    g = summary.groupby("arch_id")
    out = pd.DataFrame({"target": g[target].mean(), "n_runs": g[target].count()})
    prox = scores.to_pandas().pivot_table(index="arch_id", columns="proxy", values="value", aggfunc="first")
    for col in ("params", "flops", "hidden_size", "num_layers"):
        src = sizes.get(col)
        if src is not None and src in summary:
            out[col] = g[src].first().astype(float)
        elif col in prox:
            out[col] = prox[col].reindex(out.index).astype(float)
        else:
            out[col] = math.nan
    out = out.reset_index()
    out.insert(0, "benchmark", key)
    return out


def _score_group(key: str, bench, names: list[str], kw: dict, args, reuse: dict[str, str], own_dir: bool) -> pa.Table:
    """Score ``names`` on every architecture of ``bench`` (resumable in WORK/<key>[/<names>]), first seeding the
    folder from an earlier table when ``--reuse`` names one for ``key``."""
    work = args.work / key / ("+".join(names) if own_dir else "")
    if args.no_score:
        return read_scored(work)
    if key in reuse and not work.exists():
        old = pq.read_table(reuse[key])
        if kw.get("shape"):  # the earlier H256 tables carry the true network's params: rescored below
            old = old.filter(pc.invert(pc.is_in(old.column("proxy"), pa.array(["params", "flops"]))))
        _verify(old, bench, [n for n in names if n not in ("params", "flops")], args.verify, progress=False, **kw)
        _seed_from(old, work)
        if kw.get("shape"):
            extra = score_benchmark(bench, ["params", "flops"], processes=args.processes, **kw)
            for arch_id in sorted(set(extra.column("arch_id").to_pylist())):
                both = pa.concat_tables([pq.read_table(work / f"{arch_id}.parquet").cast(schema_for("proxies")),
                                         extra.filter(pc.equal(extra.column("arch_id"), arch_id))])
                atomic_write_table(work / f"{arch_id}.parquet", both)
    return score_benchmark(bench, names, processes=args.processes, results_dir=work, **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=Path("runs/proxy-suite"))
    ap.add_argument("--out", type=Path, default=Path("bertbench/suites"))
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--rnn-proxies", action="append", default=None,
                    help="comma-separated RNN proxies scored together (repeatable: each group has its own work "
                         "folder, so a later version adds proxies without rescoring; default: every RNN proxy)")
    ap.add_argument("--reuse", action="append", default=[], help="KEY=PROXIES.parquet (an earlier table)")
    ap.add_argument("--verify", type=int, default=5)
    ap.add_argument("--score-only", action="store_true", help="score (resumably) but write no suite")
    ap.add_argument("--no-score", action="store_true",
                    help="score nothing: write the suite from what WORK holds (a partial run; for a dry run)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(max(1, 2 // args.processes))
    reuse = dict(r.split("=", 1) for r in args.reuse)
    bert = bertbench.load("nas-bench-bert-2023", path=args.shared / "seed-paper")
    rnn = bertbench.load("nas-bench-nlp", path=args.shared / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    ptb = str(args.shared / "ptb" / "ptb.zip")
    bert_names = list_proxies("bert")
    rnn_groups = [g.split(",") for g in (args.rnn_proxies or [",".join(list_proxies("rnn"))])]
    rnn_names = [n for g in rnn_groups for n in g]
    configs = {
        BERT_KEY: (bert, bert_names, {"variant": "as_trained_2023", "batch_size": 16, "seq_len": 128}),
        BERT_H256_KEY: (bert, bert_names, {"variant": "as_trained_2023", "batch_size": 16, "seq_len": 128,
                                           "shape": (256, 1024)}),
        RNN_KEY: (rnn, rnn_names, {"batch": rnn_batch(ptb)}),
    }
    tables = {}
    for key, (bench, names, kw) in configs.items():
        groups = rnn_groups if key == RNN_KEY else [names]
        parts = [_score_group(key, bench, g, kw, args, reuse, key == RNN_KEY) for g in groups]
        tables[key] = pa.concat_tables(parts).sort_by([("arch_id", "ascending"), ("proxy", "ascending")])
    if args.score_only:
        return
    bert_sum, rnn_sum = bert.to_pandas(), rnn.to_pandas()
    bert_sizes = {"params": "params_as_trained", "flops": "flops_as_trained", "hidden_size": "hidden_size",
                  "num_layers": "num_layers"}
    targets = pd.concat([
        _targets(BERT_KEY, bert_sum, "glue_2023", bert_sizes, tables[BERT_KEY]),
        _targets(BERT_H256_KEY, bert_sum, "glue_2023", bert_sizes, tables[BERT_H256_KEY]),
        _targets(RNN_KEY, rnn_sum, "test_loss", {"params": "params"}, tables[RNN_KEY]),
    ], ignore_index=True)
    hp = rnn.metadata.get("hparams", {})
    targets.loc[targets["benchmark"] == RNN_KEY, "hidden_size"] = float(hp.get("nhid", math.nan))
    targets.loc[targets["benchmark"] == RNN_KEY, "num_layers"] = float(hp.get("nlayers", math.nan))
    bert_batch = default_batch("bert", seed=0, batch_size=16, seq_len=128)
    manifest = {"name": NAME, "version": args.version, "license": "cc-by-4.0", "attribution": ATTRIBUTION,
                "bertbench_version": bertbench.__version__, "torch_version": torch.__version__,
                "stability": "each value scored in float32 and checked against a float64 re-score of the same "
                             "network, batch and RNG state (relative 1e-5), or by the proxy's own check where it "
                             "has one; otherwise NaN with status 'unstable'",
                "benchmarks": {}}
    for key, (bench, names, kw) in configs.items():
        summary = bert_sum if bench is bert else rnn_sum
        target, direction = bench.default_target()
        rel = duplicate_reliability(summary[target], summary["arch_id"])
        batch = kw.get("batch") or bert_batch
        t = tables[key].to_pandas()
        not_scored = sorted(set(list_proxies(bench.family)) - set(names))
        manifest["benchmarks"][key] = {
            "source": bench.name, "variant": kw.get("variant", bench.default_variant),
            "shape": list(kw["shape"]) if kw.get("shape") else None, "target": target, "direction": direction,
            "target_reliability": None if not np.isfinite(rel) else rel,
            "reliability_from": f"{int(summary['arch_id'].duplicated(keep=False).sum())} runs of duplicated "
                                "architectures (1 - noise variance / total variance)",
            "n_architectures": int(t["arch_id"].nunique()), "proxies": names,
            "directions": {n: get_proxy(n).direction for n in names},
            "batch": {"description": f"{batch.source} {tuple(batch.tokens.shape)}", "batch_size": batch.batch_size,
                      "seq_len": batch.seq_len, "source": batch.source, "loss": batch.loss_name},
            "seeds": {"init": 0, "batch": 0, "proxy": 0},
            "status_counts": t["status"].value_counts().to_dict(),
            "cpu_seconds": float(t["seconds"].sum()),
            "not_scored": {n: "too slow for this version on 2 CPU cores (tens of seconds per architecture)"
                           for n in not_scored} or None,
        }
    scores = pa.concat_tables([tables[k].add_column(0, "benchmark", pa.array([k] * tables[k].num_rows))
                               .cast(scores_schema()) for k in configs])
    targets = pa.Table.from_pandas(targets, preserve_index=False)
    # the leaderboard at the default settings, stored with the digest of the code that computed it
    board = leaderboard(ProxySuite.from_tables(manifest, scores.cast(scores_schema()), targets), reuse=False)
    manifest["leaderboard_digest"] = code_digest(1000, 0)
    folder = write_suite(args.out / f"{NAME}-{args.version}", manifest, scores, targets,
                         pa.Table.from_pandas(board, preserve_index=False))
    log.info("wrote %s: %d scores, %d targets", folder, scores.num_rows, len(targets))


if __name__ == "__main__":
    main()
