"""NAS-Bench-BERT (Serianni & Kalita 2023): `BERT_benchmark.json` (+ optional metrics CSV) as a Benchmark.

The column ``glue_published`` is the paper's stored GLUE (mean of 8 tasks, id 47 averaged with its RTE = 0);
``glue_2023`` is recomputed from the tasks and is NaN for id 47.

Units are the paper's ids 0..499 (``paper_id``); 9 architectures appear twice (the generator has no uniqueness check), so ``arch_id`` is not
unique here. Scores are the paper's dev-set numbers (x100). Id 47's RTE = 0.0 is a failed run: loaded as status
"failed" with NaN. The ops were not applied in training (the 2023 TF code compared op names with ``is``): ``build_model`` defaults to
``variant="as_trained_2023"``; ``variant="as_named"`` builds every op as its label says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa

from bertbench.env import cache_root, is_offline
from bertbench.errors import CorruptRelease, DataSourceError
from bertbench.loaders.base import Benchmark
from bertbench.loaders.metadata import metric_docs
from bertbench.loaders.tables import cached_conversion
from bertbench.space import Architecture
from bertbench.store.schema import architecture_row, proxy_row, run_row, schema_for

log = logging.getLogger(__name__)
CONVERTER_VERSION = "2023-4"  # 2023-3: runs.run_hash (schema 1.2), info.json; 2023-4: finetune_seed (1.3). Bump when _convert changes its tables: cached conversions are then redone

URL = "https://raw.githubusercontent.com/aaronserianni/training-free-nas/main/data/BERT_benchmark.json"
SHA256 = "fa2ff7198dcd71e0b8021ed2ace1c221672c33cc56931b6dff31fda3d044784f"
TASK_MAP = {  # 2023 key -> (task, metric name)
    "cola": ("cola", "matthews"),
    "mnli": ("mnli", "accuracy_matched"),
    "mrpc": ("mrpc", "accuracy"),
    "qnli": ("qnli", "accuracy"),
    "qqp": ("qqp", "accuracy"),
    "rte": ("rte", "accuracy"),
    "sst": ("sst2", "accuracy"),
    "sts": ("stsb", "pearson"),
}
PAPER_METRICS = {m for _, m in TASK_MAP.values()} | {"glue_2023"}  # what the 2023 data score
FAILED = {(47, "rte"): "RTE score stored as 0.0: a failed run or parse in the 2023 pipeline"}
CAVEATS = [
    "The 2023 training code never applied the op choices: all 500 models were trained as SA-SDP in every layer, with "
    "a first FFN layer of 4H (the TF code compared op names with `is`, so only the SA branch ran). Op labels do not describe the trained networks.",
    "Paper id 47's RTE = 0.0 is a failed run; loaded as status 'failed' and NaN.",
    "9 architectures appear twice: (194, 438), (221, 391), (299, 489), (60, 222), (198, 315), (97, 387), (174, 405), "
    "(229, 307), (259, 487); their GLUE differences (0.16-2.02) show run-to-run noise of about 0.6 points.",
    "One fine-tuning seed per task; MRPC and QQP scored by accuracy, STS-B by Pearson; fine-tuning lr 5e-4.",
    "time_to_train is pretraining wall-clock seconds on a TPU v2-8 (fine-tuning excluded).",
]


def cache_dir() -> Path:
    return cache_root()


def fetch_benchmark_json(timeout: float = 30.0) -> Path:
    """Download BERT_benchmark.json once, check the pinned sha256, keep it in the cache folder."""
    dest = cache_dir() / "nas-bench-bert-2023" / f"BERT_benchmark-{SHA256[:12]}.json"
    if dest.exists():
        return dest
    hint = "pass path= to a local copy of BERT_benchmark.json (e.g. load('nas-bench-bert-2023', path='data/BERT_benchmark.json'))"
    if is_offline():
        raise DataSourceError(f"nas-bench-bert-2023 is not cached and offline mode is on; {hint}")
    try:
        with urllib.request.urlopen(URL, timeout=timeout) as resp:  # noqa: S310 - fixed https URL
            data = resp.read()
    except OSError as err:
        raise DataSourceError(f"could not download {URL} ({err}); {hint}") from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise CorruptRelease(f"{URL}: sha256 {digest[:12]}... differs from the pinned {SHA256[:12]}...; {hint}")
    from bertbench.file_io import atomic_write_bytes

    atomic_write_bytes(dest, data)
    return dest


def load_paper2023(path: str | os.PathLike[str] | None = None, metrics_csv: str | os.PathLike[str] | None = None) -> Benchmark:
    """``path``: BERT_benchmark.json or the folder holding it (downloaded and cached when None).
    ``metrics_csv``: BERT_results_activation.csv, loaded as the proxies table (variant ``paper_2023_h256``)."""
    if path is None:
        file = fetch_benchmark_json()
    else:
        file = Path(path)
        if file.is_dir():
            file = file / "BERT_benchmark.json"
        if not file.exists():
            raise DataSourceError(f"path={str(path)!r}: no BERT_benchmark.json there")
    key = _source_key(file, metrics_csv)
    tables, _ = cached_conversion(cache_root("nas-bench-bert-2023") / f"converted-{key}",
                                  lambda: (_convert(file, metrics_csv), {"source": str(file)}))
    metadata = {
        "name": "nas-bench-bert-2023",
        "version": "2023.0.0",
        "source": str(file),
        "family": "bert",
        "vocab_size": 30522,  # the uncased BERT vocabulary the 2023 models were built with
        "cost_unit": "tpu-v2-8 seconds",  # time_to_train: pretraining on a TPU v2-8
        "cost_stages": ["pretrain"],
        "seeds": [0],
        "reduction": "none: one run per paper id (duplicated architectures keep both ids)",
        "tasks": [t for t, _ in TASK_MAP.values()],
        "aggregates": ["glue_2023"],  # the leaderboard's 9-task glue needs WNLI, which the 2023 data lack
        "metrics": {**{k: v for k, v in metric_docs().items() if k in PAPER_METRICS}, **COST_DOCS},
        "caveats": CAVEATS,
        "default_variant": "as_trained_2023",
        "license": "CC-BY-4.0 (aaronserianni/training-free-nas)",
        "cache_key": key,
    }
    return Benchmark("nas-bench-bert-2023", "2023.0.0", "bert", tables, metadata, id_column="paper_id")


def _source_key(file: Path, metrics_csv: str | os.PathLike[str] | None) -> str:
    """Cache key of a conversion: sha256 of the JSON (and the CSV) bytes and the converter version."""
    h = hashlib.sha256(CONVERTER_VERSION.encode())
    for p in (file, metrics_csv):
        if p is not None:
            h.update(hashlib.sha256(Path(p).read_bytes()).digest())
    return h.hexdigest()[:24]


def _convert(file: Path, metrics_csv: str | os.PathLike[str] | None) -> dict[str, pa.Table]:
    """The four tables of BERT_benchmark.json (and the proxies of ``metrics_csv``)."""
    try:
        entries = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise CorruptRelease(f"{file} is not valid JSON: {err}") from err
    if not isinstance(entries, list) or not entries:
        raise CorruptRelease(f"{file}: must be a non-empty JSON list of architecture entries, got "
                             f"{'an empty list' if isinstance(entries, list) else type(entries).__name__}")
    arch_rows: dict[str, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    for e in entries:
        try:
            arch = Architecture.from_dict(e)
            pid, scores = int(e["id"]), e["scores"]
        except (KeyError, TypeError, ValueError) as err:
            raise CorruptRelease(f"{file}: entry {e.get('id', '?') if isinstance(e, dict) else '?'} is malformed: {err}") from err
        if not isinstance(scores, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in scores.values()):
            raise CorruptRelease(f"{file}: entry {pid}, field 'scores' must be an object of numbers "
                                 f"({', '.join(TASK_MAP)}, glue), got {json.dumps(scores)[:80]}")
        arch_rows.setdefault(arch.arch_id, architecture_row(arch))
        unit = (arch.arch_id, str(pid), 0)
        runs.append(run_row(*unit, "pretrain", "ok" if e.get("completed") else "failed", "", {}, steps=100_000,
                            tokens=100_000 * 128 * 128, wall_seconds=float(e.get("time_to_train", math.nan)),
                            device="tpu-v2-8"))
        for key, (task, metric) in TASK_MAP.items():
            value = float(scores.get(key, math.nan))
            failed = FAILED.get((pid, key))
            status = "failed" if failed or math.isnan(value) else "ok"
            runs.append(run_row(*unit, task, status, metric, {metric: value}, device="tpu-v2-8", error=failed))
        glue = float(scores.get("glue", math.nan))
        runs.append(run_row(*unit, "glue_published", "ok" if not math.isnan(glue) else "failed", "glue_2023_published",
                            {"glue_2023_published": glue}, device="tpu-v2-8"))
    proxies = _proxies_from_csv(metrics_csv, entries) if metrics_csv else schema_for("proxies").empty_table()
    tables = {
        "architectures": _with_as_trained_costs(
            pa.Table.from_pylist(list(arch_rows.values()), schema=schema_for("architectures"))),
        "runs": pa.Table.from_pylist(runs, schema=schema_for("runs")),
        "curves": schema_for("curves").empty_table(),
        "proxies": proxies,
    }
    return tables


COST_DOCS = {
    "params": {"meaning": "parameters of the network the labels name (variant as_named: every op as named, FFN "
               "num_ffn x ffn_dim); NOT the network trained in 2023", "direction": "higher"},
    "flops": {"meaning": "forward FLOPs of one 128-token sequence through the as_named network", "direction": "higher"},
    "params_as_trained": {"meaning": "parameters of the network the 2023 code really trained and build_model() "
                          "returns by default (variant as_trained_2023: every layer SA-SDP, first FFN layer 4H)",
                          "direction": "higher"},
    "flops_as_trained": {"meaning": "forward FLOPs of one 128-token sequence through the as_trained_2023 network",
                         "direction": "higher"},
}


def _with_as_trained_costs(table: pa.Table) -> pa.Table:
    """Append the costs of the as_trained_2023 network of every row (``params``/``flops`` are the as_named ones)."""
    import json

    from bertbench.space.cost import count_flops, count_params

    archs = [Architecture.from_dict(json.loads(j)) for j in table.column("arch_json").to_pylist()]
    table = table.append_column("params_as_trained", pa.array(
        [count_params(a, "as_trained_2023") for a in archs], pa.int64()))
    return table.append_column("flops_as_trained", pa.array(
        [count_flops(a, 128, "as_trained_2023") for a in archs], pa.int64()))


def _proxies_from_csv(path: str | os.PathLike[str], entries: list[dict[str, Any]]) -> pa.Table:
    import pandas as pd

    df = pd.read_csv(path)
    if "ID" not in df.columns:
        raise CorruptRelease(f"{path}: column 'ID' is missing")
    ids = {int(e["id"]): Architecture.from_dict(e).arch_id for e in entries}
    rows = []
    for col in df.columns:
        if col in ("ID", "GLUE Score"):
            continue
        for pid, value in zip(df["ID"], df[col]):
            rows.append(proxy_row(ids[int(pid)], col, "paper_2023_h256", 0, batch_size=128, seq_len=512,
                                  source="openwebtext[:128]", loss="paper-2023", value=float(value)))
    return pa.Table.from_pylist(rows, schema=schema_for("proxies"))

