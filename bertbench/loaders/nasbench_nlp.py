"""NAS-Bench-NLP training logs (the official JSON-per-run format, a zip or a folder) as a Benchmark.

Each log: ``recepie_id``, ``recepie`` (the cell graph as a JSON string), hyper-parameters, ``num_params``, per-epoch
``train_losses`` / ``val_losses`` / ``test_losses``, ``wall_times`` and ``status`` ("OK", "loss is nan!", ...).
Conversion reads the logs straight from the zip, once; the tables are cached as Parquet under
``$BERTBENCH_CACHE/nas-bench-nlp/<source hash>/`` (built in a temp folder and renamed: never half-written; a changed
source has a new hash and is converted again).

Units: ``reduction="none"``: one per log (``run_key`` = log name; multi-run copies of a recipe are seeds 0, 1, ...);
``reduction="mean"``: one per recipe (``arch_id``), final losses averaged over its OK runs, curves averaged per epoch.
Losses are natural-log cross-entropy; ``test_perplexity`` = exp(test_loss). Nothing is turned into an accuracy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bertbench.env import cache_root
from bertbench.errors import CorruptRelease, DataSourceError, InvalidRnnRecipe
from bertbench.file_io import atomic_file
from bertbench.loaders.base import Benchmark
from bertbench.loaders.metadata import metric_docs
from bertbench.loaders.tables import cached_conversion
from bertbench.options import Reduction, parse
from bertbench.space.rnn import RnnArchitecture
from bertbench.store.schema import run_row, schema_for

DATASETS = ("ptb", "wikitext-2")
REDUCTIONS = tuple(Reduction)
RNN_METRICS = ("train_loss", "val_loss", "test_loss", "test_perplexity")  # what a NAS-Bench-NLP log scores
CONVERTER_VERSION = "5"  # 4: runs.run_hash (schema 1.2), info.json lists the tables; 5: finetune_seed (1.3)
HPARAMS = ("emsize", "nhid", "nlayers", "dropout", "dropouth", "dropouti", "dropoute", "wdrop", "batch_size", "bptt",
           "lr", "wdecay", "epochs", "eval_batch_size")


def _cache_root() -> Path:
    return cache_root("nas-bench-nlp")


def source_hash(path: Path) -> str:
    """sha256 of the zip's bytes, or of the (name, sha256) of every file in a folder."""
    h = hashlib.sha256(CONVERTER_VERSION.encode())
    if path.is_file():
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    else:
        for p in sorted(path.rglob("*.json")):
            h.update(p.relative_to(path).as_posix().encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:24]


def _iter_logs(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for p in sorted(path.rglob("*.json")):
            yield p.name, p.read_bytes()
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise CorruptRelease(f"{path}: not a readable zip file ({err})") from err
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise CorruptRelease(f"{path}: member {info.filename} is truncated or corrupt ({err})") from err
            yield info.filename.rsplit("/", 1)[-1], data


def _status(raw: Any) -> str:
    if raw == "OK":
        return "ok"
    if isinstance(raw, str) and "nan" in raw.lower():
        return "diverged"
    return "failed"


def _last(xs: list[float]) -> float:
    return float(xs[-1]) if xs else math.nan


def convert(path: Path) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Parse every log; raise CorruptRelease / InvalidRnnRecipe naming the file and field at fault."""
    archs: dict[str, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    curves: dict[str, list[Any]] = {k: [] for k in ("arch_id", "run_key", "seed", "stage", "step", "name", "value")}
    datasets: set[str] = set()
    hparams: dict[str, set[Any]] = {}
    seen_seed: dict[str, int] = {}
    count = 0
    for name, data in _iter_logs(path):
        count += 1
        log, arch = _parse_log(path, name, data)
        dataset = str(log.get("data", "")).rstrip("/").rsplit("/", 1)[-1] or "unknown"
        datasets.add(dataset)
        for k in HPARAMS:
            if k in log:
                hparams.setdefault(k, set()).add(log[k])
        archs.setdefault(arch.arch_id, {"arch_id": arch.arch_id, "recipe_id": int(log["recepie_id"]),
                                        "recipe_json": arch.recipe_json, "num_nodes": arch.num_nodes,
                                        "params": log.get("num_params")})
        run_key = name[:-5] if name.endswith(".json") else name
        seed = seen_seed.get(arch.arch_id, 0)
        seen_seed[arch.arch_id] = seed + 1
        row, losses = _run_of(log, arch.arch_id, run_key, seed, dataset)
        runs.append(row)
        for cname, values in losses.items():
            n = len(values)
            for col, value in (("arch_id", arch.arch_id), ("run_key", run_key), ("seed", seed), ("stage", dataset),
                               ("name", cname)):
                curves[col] += [value] * n
            curves["step"] += list(range(1, n + 1))
            curves["value"] += values
    if count == 0:
        raise CorruptRelease(f"{path}: no .json logs found")
    tables = {
        "architectures": pa.Table.from_pylist(list(archs.values()), schema=schema_for("architectures", "rnn")),
        "runs": pa.Table.from_pylist(runs, schema=schema_for("runs")),
        "curves": pa.Table.from_pydict({**curves, "finetune_seed": [None] * len(curves["step"])},
                                       schema=schema_for("curves")),
        "proxies": schema_for("proxies").empty_table(),
    }
    info = {"datasets": sorted(datasets), "logs": count, "source": str(path),
            "hparams": {k: sorted(v, key=str) if len(v) > 1 else next(iter(v)) for k, v in hparams.items()}}
    return tables, info


def _parse_log(path: Path, name: str, data: bytes) -> tuple[dict[str, Any], RnnArchitecture]:
    """One log as a dict and its cell; an unreadable log raises, naming the file and the field."""
    try:
        log = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptRelease(f"{path}: log {name} is not valid JSON ({err})") from err
    if not isinstance(log, dict):
        raise CorruptRelease(f"{path}: log {name} is not a JSON object")
    for field_name in ("train_losses", "val_losses", "test_losses"):
        values = log.get(field_name, [])
        if not isinstance(values, list) or not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                                                   for v in values):
            raise CorruptRelease(f"{path}: log {name}, field {field_name!r} must be a list of numbers (null for a "
                                 f"missing epoch), got {json.dumps(values)[:60]}")
    for field_name in ("recepie", "recepie_id"):
        if field_name not in log:
            raise CorruptRelease(f"{path}: log {name} has no field {field_name!r}")
    try:
        return log, RnnArchitecture.from_recipe(log["recepie"])
    except InvalidRnnRecipe as err:
        raise InvalidRnnRecipe(f"{path}: log {name}, field 'recepie': {err}") from err


def _run_of(log: dict[str, Any], arch_id: str, run_key: str, seed: int, dataset: str
            ) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """(the ``runs`` row of one log, its per-epoch loss curves). A log whose status is OK but whose final losses
    are not finite is ``diverged``; a run that is not ok has NaN finals."""
    status = _status(log.get("status"))
    losses = {k: [float(x) if x is not None else math.nan for x in log.get(f"{k}es", [])]
              for k in ("train_loss", "val_loss", "test_loss")}
    finals = {k: _last(v) for k, v in losses.items()}
    if status == "ok" and not all(math.isfinite(v) for v in finals.values()):
        status = "diverged"
    if status != "ok":
        finals = {k: math.nan for k in finals}
    metrics = {**finals, "test_perplexity": math.exp(finals["test_loss"]) if math.isfinite(finals["test_loss"]) else math.nan}
    walls = log.get("wall_times") or []
    row = run_row(arch_id, run_key, seed, dataset, status, "test_loss", metrics, steps=len(losses["test_loss"]),
                  wall_seconds=float(np.sum(walls)) if walls else None, device="cuda" if log.get("cuda") else None,
                  error=None if status == "ok" else str(log.get("status")))
    return row, losses


def _known_hash(path: Path) -> str:
    """source_hash(path), remembered per (path, size, mtime) of a zip so a warm load does not re-read its bytes."""
    if not path.is_file():
        return source_hash(path)
    st = path.stat()
    memo = cache_root("source-hashes") / hashlib.sha256(
        f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{CONVERTER_VERSION}".encode()).hexdigest()[:24]
    if memo.exists():
        return memo.read_text().strip()
    h = source_hash(path)
    try:
        with atomic_file(memo) as tmp:
            tmp.write_text(h)
    except OSError:  # only a speed-up
        pass
    return h


def _cached(path: Path) -> tuple[Mapping[str, pa.Table], dict[str, Any], str]:
    key = _known_hash(path)
    tables, info = cached_conversion(_cache_root() / key, lambda: convert(path))
    return tables, info, key


def _reduce_mean(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """One unit per recipe: final metrics averaged over OK runs; curves averaged per (epoch, name)."""
    runs = tables["runs"].to_pylist()
    by_arch: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_arch.setdefault(r["arch_id"], []).append(r)
    out = []
    for arch_id, rs in by_arch.items():
        ok = [r for r in rs if r["status"] == "ok"]
        names = [m["name"] for m in rs[0]["metrics"]]
        metrics = [{"name": n, "value": float(np.mean([next(m["value"] for m in r["metrics"] if m["name"] == n) for r in ok]))
                    if ok else math.nan} for n in names]
        status = "ok" if ok else rs[0]["status"]
        out.append({**rs[0], "run_key": arch_id, "seed": 0, "status": status,
                    "score": next(m["value"] for m in metrics if m["name"] == "test_loss"), "metrics": metrics,
                    "wall_seconds": float(np.nanmean([r["wall_seconds"] or math.nan for r in rs])),
                    "error": None if ok else rs[0]["error"],
                    "steps": max(r["steps"] or 0 for r in rs)})
    curves = tables["curves"].to_pandas()
    ok_keys = {r["run_key"] for r in runs if r["status"] == "ok"}
    curves = curves[curves["run_key"].isin(ok_keys)] if len(curves) else curves
    mean = curves.groupby(["arch_id", "stage", "name", "step"], sort=True)["value"].mean().reset_index()
    mean["run_key"] = mean["arch_id"]
    mean["seed"] = 0
    mean["finetune_seed"] = pd.array([None] * len(mean), dtype="Int32")
    curve_table = pa.Table.from_pandas(mean[["arch_id", "run_key", "seed", "stage", "step", "name", "value",
                                             "finetune_seed"]],
                                       schema=schema_for("curves"), preserve_index=False)
    return {**tables, "runs": pa.Table.from_pylist(out, schema=schema_for("runs")), "curves": curve_table}


def load_nasbench_nlp(path: str | os.PathLike[str] | None = None, dataset: str | None = None,
                      reduction: str = "none") -> Benchmark:
    """``path``: a logs zip (e.g. train_logs_wikitext-2/logs.zip) or a folder of logs; ``dataset``: "ptb" or
    "wikitext-2" (checked against the logs; inferred when None); ``reduction``: "none" or "mean"."""
    if path is None:
        raise DataSourceError(
            "nas-bench-nlp needs path= to a logs zip or folder (download train_logs_single_run/logs.zip, "
            "train_logs_multi_runs/logs.zip or train_logs_wikitext-2/logs.zip from fmsnew/nas-bench-nlp-release)"
        )
    reduction = parse(Reduction, reduction, "reduction").value
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r} is not known; allowed: {list(DATASETS)}")
    p = Path(path)
    if not p.exists():
        raise DataSourceError(f"path={str(path)!r} does not exist")
    tables, info, key = _cached(p)
    run_keys = tables["runs"]["run_key"].to_pylist()
    recipe_ids = {k: int(k.split("_")[3]) for k in run_keys if k.startswith("log_stats_model_") and k.split("_")[3].isdigit()}
    found = info["datasets"]
    if dataset is not None and found != [dataset]:
        raise DataSourceError(f"path={str(path)!r} holds logs of {found}, not dataset={dataset!r}")
    n_runs = None
    if reduction == "mean":
        n_runs, recipe_ids = _per_architecture(run_keys, tables["runs"]["arch_id"].to_pylist(), recipe_ids)
        tables = _reduce_mean(tables)
    n_units = tables["runs"].num_rows
    metadata = {
        "name": "nas-bench-nlp",
        "version": "2020.0.0",
        "source": str(p),
        "family": "rnn",
        "dataset": found[0] if len(found) == 1 else found,
        "reduction": reduction,
        "seeds": sorted(set(pc.unique(tables["runs"]["seed"]).to_pylist())),
        "tasks": found,
        "aggregates": [],
        "metrics": {k: v for k, v in metric_docs().items() if k in RNN_METRICS},
        "hparams": info.get("hparams", {}),
        "logs": info["logs"],
        "caveats": [
            "Losses are natural-log cross-entropy per token (final epoch); perplexity = exp(loss).",
            "Logs with status other than OK (e.g. 'loss is nan!') are kept with status diverged/failed and NaN finals.",
            f"{n_units} units with reduction={reduction!r}.",
            "Identical cell graphs logged under several recepie_ids share one arch_id; recipe_id is per log "
            "(the smallest of the group with reduction='mean').",
        ],
        "license": "Apache-2.0 (fmsnew/nas-bench-nlp-release)",
        "default_variant": "rnn",
        "unit_columns": {"recipe_id": recipe_ids},
        "n_runs": n_runs,
        "cache_key": f"{key}-{reduction}",
    }
    id_column = "run_key" if reduction == "none" else "arch_id"
    return Benchmark("nas-bench-nlp", metadata["version"], "rnn", tables, metadata, id_column=id_column)


def _per_architecture(run_keys: list[str], arch_ids: list[str], recipe_ids: dict[str, int]
                      ) -> tuple[dict[str, int], dict[str, int]]:
    """({arch_id: logs of it}, {arch_id: the smallest recipe_id of its logs}) for reduction='mean'."""
    arch_of = dict(zip(run_keys, arch_ids))
    n_runs: dict[str, int] = {}
    for a in arch_of.values():
        n_runs[a] = n_runs.get(a, 0) + 1
    ids_by_arch: dict[str, int] = {}
    for k, a in arch_of.items():
        if k in recipe_ids:
            ids_by_arch[a] = min(ids_by_arch.get(a, recipe_ids[k]), recipe_ids[k])
    return n_runs, ids_by_arch
