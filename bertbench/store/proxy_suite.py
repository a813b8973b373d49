"""The proxy suite's file format: precomputed training-free proxy scores on published benchmarks, with the targets
they are judged against (what NAS-Bench-Suite-Zero gives vision NAS, for language models).

A suite folder holds:
- ``suite.json``: name, version, license and attribution, and per benchmark key (e.g. ``nas-bench-bert-2023``,
  ``nas-bench-bert-2023@H256-F1024``, ``nas-bench-nlp-wikitext-2``): the source benchmark and the sha256 of its
  data, the network variant and shape the proxies were scored on, the batch and seeds, the target and its direction,
  the target's reliability (from duplicated architectures), the proxies scored and why any are missing; plus the
  sha256 of each table;
- ``scores.parquet``: one row per (benchmark, arch_id, proxy): the ``proxies`` schema of ``bertbench.store.schema``
  (value, status "ok" / "unstable" / "failed", error, seconds, batch, seeds) and the ``benchmark`` key;
- ``leaderboard.parquet`` (optional): the leaderboard computed when the suite was built, with the digest of the code
  and settings that computed it in ``suite.json`` (``bertbench.proxies.leaderboard`` reuses it while they match);
- ``targets.parquet``: one row per (benchmark, arch_id): the target (mean over the benchmark's runs of that
  architecture), ``n_runs``, and the size columns of the *trained* network (params, flops, hidden_size,
  num_layers) that the size baselines read (the ``params``/``flops`` proxies are those of the network scored, which
  differ where the suite scores a reshaped network).

This module is the one that spells those names; ``bertbench.loaders.proxy_suite`` reads a suite through it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bertbench.errors import CorruptRelease
from bertbench.file_io import remembered_sha256, sha256_file
from bertbench.store.schema import schema_for

MANIFEST = "suite.json"
TABLES = ("scores", "targets")
SUITE_FORMAT = "1"

TARGETS_SCHEMA = pa.schema([
    ("benchmark", pa.string()), ("arch_id", pa.string()), ("target", pa.float64()), ("n_runs", pa.int64()),
    ("params", pa.float64()), ("flops", pa.float64()), ("hidden_size", pa.float64()), ("num_layers", pa.float64())
])


def scores_schema() -> pa.Schema:
    """The ``proxies`` table's schema with the ``benchmark`` key first."""
    return pa.schema([pa.field("benchmark", pa.string()), *schema_for("proxies")])


def is_suite(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def write_suite(folder: str | os.PathLike[str], manifest: dict[str, Any], scores: pa.Table, targets: pa.Table,
                leaderboard: pa.Table | None = None) -> Path:
    """Write a suite folder atomically (nothing is left half-written): the tables, then ``suite.json`` with their
    checksums. ``manifest`` needs ``name``, ``version`` and ``benchmarks``."""
    from bertbench.file_io import atomic_dir

    for key in ("name", "version", "benchmarks"):
        if key not in manifest:
            raise ValueError(f"manifest has no {key!r}; a suite manifest needs name, version and benchmarks")
    scores = scores.select(scores_schema().names).cast(scores_schema())
    targets = targets.select(TARGETS_SCHEMA.names).cast(TARGETS_SCHEMA)
    unknown = set(scores.column("benchmark").to_pylist()) - set(manifest["benchmarks"])
    if unknown:
        raise ValueError(f"scores name benchmarks {sorted(unknown)} that the manifest does not describe; "
                         f"allowed: {sorted(manifest['benchmarks'])}")
    dest = Path(folder)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists: a suite version is never rewritten; give a new version")
    with atomic_dir(dest, exist_ok=False) as tmp:
        pq.write_table(scores, tmp / "scores.parquet", compression="zstd")
        pq.write_table(targets, tmp / "targets.parquet", compression="zstd")
        names = [*TABLES]
        if leaderboard is not None:
            pq.write_table(leaderboard, tmp / "leaderboard.parquet", compression="zstd")
            names.append("leaderboard")
        files = {f"{t}.parquet": sha256_file(tmp / f"{t}.parquet") for t in names}
        (tmp / MANIFEST).write_text(json.dumps({**manifest, "format": SUITE_FORMAT, "files": files}, indent=1,
                                               sort_keys=True, default=str) + "\n")
    return dest


def read_leaderboard(folder: str | os.PathLike[str], manifest: dict[str, Any], verify: bool = True) -> pa.Table | None:
    """The suite's stored leaderboard (None when it has none), checked against its sha256 like the other tables."""
    path = Path(folder) / "leaderboard.parquet"
    if path.name not in manifest.get("files", {}) or not path.exists():
        return None
    return _read_checked(path, manifest, verify)


def read_suite(folder: str | os.PathLike[str], verify: bool = True) -> tuple[dict[str, Any], pa.Table, pa.Table]:
    """(manifest, scores, targets) of a suite folder; ``verify`` checks each table's sha256 (remembered by file
    state, so a second load is free) and raises ``CorruptRelease`` naming the file that differs."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    scores, targets = (_read_checked(folder / f"{t}.parquet", manifest, verify) for t in TABLES)
    return manifest, scores, targets


def _read_checked(path: Path, manifest: dict[str, Any], verify: bool) -> pa.Table:
    """The table at ``path``, its sha256 checked against the manifest's (when ``verify`` and the manifest has one)."""
    expected = manifest.get("files", {}).get(path.name)
    if verify and expected is not None and remembered_sha256(path) != expected:
        raise CorruptRelease(f"{path}: sha256 differs from {MANIFEST}'s; the suite is corrupt or was edited")
    return pq.read_table(path)
