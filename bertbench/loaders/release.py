"""Load our own releases (a folder with manifest.json and four Parquet tables)."""

from __future__ import annotations

import os
from pathlib import Path

from bertbench.loaders.base import Benchmark
from bertbench.loaders.metadata import metric_docs
from bertbench.loaders.tables import LazyTables
from bertbench.options import SYNTHETIC, is_synthetic
from bertbench.store.release import read_manifest, validate
from bertbench.store.schema import TABLES, schema_for


def load_release(path: str | os.PathLike[str], verify: bool | None = None) -> Benchmark:
    """Read a release folder, verified first: every table's sha256 against the manifest (each file hashed once per
    file state, then remembered), its rows and its column names and types; a mismatch raises CorruptRelease naming
    the file. ``verify=True`` hashes every file again (`bertbench validate` does the same); ``False`` skips it."""
    path = Path(path)
    manifest = read_manifest(path) if verify is False else validate(path, remembered=verify is None)
    family = manifest.get("family", "bert")
    tables = LazyTables({name: path / manifest["tables"][name]["file"] for name in TABLES},
                        {name: schema_for(name, family) for name in TABLES})
    tasks = manifest.get("tasks", [])
    from bertbench.data.tasks import aggregates_for

    docs = metric_docs()
    metadata = {
        "name": manifest["name"],
        "version": manifest["version"],
        "source": str(path),
        "family": family,
        "schema_version": manifest["schema_version"],
        "seeds": manifest.get("seeds"),
        "license": manifest.get("license"),
        "reduction": "summary: mean over ok seeds; runs: one row per (arch, seed, stage)",
        "tasks": tasks,
        "aggregates": [a.name for a in aggregates_for(tasks)] + ([SYNTHETIC] if any(map(is_synthetic, tasks)) else []),
        "metrics": docs,
        "caveats": manifest.get("caveats", []),
        "manifest": manifest,
        "default_variant": "as_named",
    }
    metadata["cache_key"] = digest({"release": [manifest["name"], manifest["version"]], "aggregates": metadata["aggregates"],
                                    "tables": {k: v.get("sha256") for k, v in manifest["tables"].items()},
                                    "files": _file_states(path, manifest)})
    return Benchmark(manifest["name"], manifest["version"], family, tables, metadata, id_column="arch_id")


def _file_states(path: Path, manifest: dict) -> dict[str, list[int]]:
    """(size, mtime in ns) of each table file: a cached summary is only reused for the very files it was built from
    (an edited or replaced table is noticed without hashing it)."""
    out = {}
    for name, entry in manifest["tables"].items():
        try:
            st = (path / entry["file"]).stat()
            out[name] = [st.st_size, st.st_mtime_ns]
        except OSError:
            out[name] = [-1, -1]
    return out


def digest(obj: object) -> str:
    """A short sha256 of a JSON-able object: a cache key."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


def load_run(run_dir: str | os.PathLike[str]) -> Benchmark:
    """A run folder's completed results as an (unversioned) Benchmark, e.g. to score proxies before committing."""

    from bertbench.data.tasks import aggregates_for
    from bertbench.store.release import collect_tables
    from bertbench.store.run_folder import read_run_info

    run_dir = Path(run_dir)
    tables = collect_tables(run_dir)
    info = read_run_info(run_dir)
    tasks = sorted(set(tables["runs"].column("stage").to_pylist()) - {"pretrain"})
    metadata = {"name": f"run:{run_dir.name}", "version": "0.0.0", "source": str(run_dir), "family": "bert",
                "tasks": tasks, "metrics": metric_docs(), "caveats": info.get("caveats", []),
                "aggregates": [a.name for a in aggregates_for(tasks)] + ([SYNTHETIC] if any(map(is_synthetic, tasks)) else []),
                "default_variant": "as_named"}
    return Benchmark(metadata["name"], "0.0.0", "bert", tables, metadata, id_column="arch_id")
