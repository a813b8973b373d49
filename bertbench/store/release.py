"""Releases: a finished run folder committed as a versioned, checksummed folder of Parquet tables.

``RELEASES/NAME-VERSION/`` holds ``manifest.json`` and ``architectures|runs|curves|proxies.parquet``. It is built in
a temporary folder beside its destination and renamed into place, so it appears whole or not at all, and an existing
version is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bertbench.env import package_version
from bertbench.errors import CorruptRelease, IncompleteRun, ReleaseExists, RunMismatch
from bertbench.file_io import atomic_dir, remembered_sha256, sha256_file
from bertbench.licenses import LICENSES, SEED_PAPER_BIBTEX
from bertbench.store.run_folder import read_run_info, unit_name
from bertbench.store.schema import SCHEMA_VERSION, TABLES, schema_for, version_tuple
from bertbench.store.writer import SHARDS, ResultWriter

SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")



def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    keys = [k for k in keys if k in table.column_names]
    if table.num_rows == 0 or not keys:
        return table
    return table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]))


def collect_tables(run_dir: Path) -> dict[str, pa.Table]:
    """The four tables of a run folder, sorted for stable files."""
    w = ResultWriter(run_dir)
    return {
        "architectures": _sorted(w.read("architectures"), ["arch_id"]),
        "runs": _sorted(w.read("runs"), ["arch_id", "seed", "stage", "finetune_seed"]),
        "curves": _sorted(w.read("curves"), ["arch_id", "seed", "stage", "finetune_seed", "name", "step"]),
        "proxies": _sorted(w.read("proxies"), ["arch_id", "proxy", "variant", "seed"]),
    }


def planned_results(run_info: dict[str, Any]) -> dict[str, tuple[str, int, str]]:
    """{result key: (arch_id, pretraining seed, stage)} of every result run.json plans: each unit's pretraining, then
    each task x fine-tuning seed."""
    from bertbench.store.writer import result_name

    identity = run_info.get("identity") or {}
    ft_seeds = ((identity.get("recipe") or {}).get("finetune") or {}).get("seeds") or [0]
    stages = [("pretrain", None), *((t, f) for t in identity.get("tasks", []) for f in ft_seeds)]
    return {result_name(a, s, st, f): (a, s, st) for a, s in run_info.get("units", []) for st, f in stages}


def missing_results(run_info: dict[str, Any], runs: pa.Table) -> list[str]:
    """Result keys (arch_id__s<seed>__<stage>) that run.json plans and the run has not written."""
    from bertbench.store.writer import result_name

    ft = runs.column("finetune_seed").to_pylist() if "finetune_seed" in runs.column_names else [None] * runs.num_rows
    done = {result_name(a, s, st, f) for a, s, st, f in zip(runs.column("arch_id").to_pylist(),
                                                             runs.column("seed").to_pylist(),
                                                             runs.column("stage").to_pylist(), ft)}
    return [k for k in planned_results(run_info) if k not in done]


def _copy_models(run_dir: Path, dest: Path) -> dict[str, dict[str, str]]:
    """Copy every saved encoder of the run into ``dest/models``; {unit: {file, sha256}} for the manifest."""
    from bertbench.store.run_folder import MODELS, available_units, tokenizer_dir

    units = available_units(run_dir)
    if not units:
        raise FileNotFoundError(f"models=True but {run_dir}/models holds no trained encoder")
    out = {}
    for unit in units:
        shutil.copytree(run_dir / MODELS / unit, dest / MODELS / unit)
        out[unit] = {"file": f"{MODELS}/{unit}/model.safetensors",
                     "sha256": sha256_file(dest / MODELS / unit / "model.safetensors")}
    if (tokenizer_dir(run_dir) / "tokenizer.json").exists():  # the run's own vocabulary: exported encoders need it
        shutil.copytree(tokenizer_dir(run_dir), tokenizer_dir(dest))
    return out


def commit(
    run_dir: str | os.PathLike[str],
    name: str,
    version: str,
    out: str | os.PathLike[str],
    license: str | None = None,
    extra: dict[str, Any] | None = None,
    models: bool = False,
    allow_partial: bool = False,
    caveats: list[str] | None = None,
) -> Path:
    """Build ``out/NAME-VERSION`` from the shards of ``run_dir``; refuse to overwrite an existing version.

    ``license`` (a Hub license id, ``bertbench.licenses.LICENSES``) is required: none of a run's sources implies one for
    the derived scores (the synthetic suite is the user's to license; GLUE tasks and corpora keep their own
    licenses, which the card lists). ``models=True`` also copies the run's trained encoders (``models/``, transformers
    folders) into the release. A run is committed only when every unit its run.json plans has its pretraining and
    every task; ``allow_partial=True`` commits it anyway and records ``complete: false`` and the missing results.
    ``caveats``: sentences added to the run's own caveats (the card lists them), e.g. what the scores cannot tell."""
    run_dir, out = Path(run_dir), Path(out)
    _check_release_fields(name, version, license)
    dest = out / f"{name}-{version}"
    if dest.exists():
        raise ReleaseExists(f"release {name} version {version} already exists at {dest}; choose a new version")
    tables, run_info, missing = _checked_tables(run_dir, allow_partial)
    out.mkdir(parents=True, exist_ok=True)
    from bertbench.store.claims import is_stale, write_owner
    from bertbench.store.run_folder import read_invocations, trained_environments

    for left in out.glob(f".{name}-{version}.*"):  # temp folders of killed commits of this release
        if is_stale(left / ".owner"):
            shutil.rmtree(left, ignore_errors=True)
    try:
        with atomic_dir(dest, exist_ok=False) as tmp:  # renamed into place at the end: complete or absent
            write_owner(tmp / ".owner")  # a killed commit's folder is recognised as stale by the next one
            entries = {}
            for table_name in TABLES:
                path = tmp / f"{table_name}.parquet"
                pq.write_table(tables[table_name], path, compression="zstd")
                entries[table_name] = {"file": path.name, "sha256": sha256_file(path), "rows": tables[table_name].num_rows}
            spans = read_invocations(run_dir)
            manifest = _manifest(name, version, license, run_info, tables["runs"], entries, missing,
                                 trained_environments(spans) or None, spans)
            if models:
                manifest["models"] = _copy_models(run_dir, tmp)
            manifest["caveats"] = [*manifest["caveats"], *(c.strip() for c in caveats or [] if c.strip())]
            if extra:
                manifest.update(extra)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    except FileExistsError as err:
        raise ReleaseExists(f"release {name} version {version} already exists at {dest}") from err
    # the owner marker stays until the rename is done: a commit killed at its final rename leaves a temp folder the
    # next commit recognises as stale and removes
    (dest / ".owner").unlink(missing_ok=True)
    return dest


def _checked_tables(run_dir: Path, allow_partial: bool) -> tuple[dict[str, pa.Table], dict[str, Any], list[str]]:
    """(the run's tables, its run.json, the planned results it lacks), its rows checked to be of this run; an
    incomplete run is refused unless ``allow_partial``."""
    if not (run_dir / SHARDS).is_dir():
        raise FileNotFoundError(f"run_dir={run_dir} has no {SHARDS}/ folder: not a bertbench run folder")
    tables = collect_tables(run_dir)
    if tables["runs"].num_rows == 0:
        raise CorruptRelease(f"run_dir={run_dir} holds no completed results (shards/runs is empty)")
    run_info = read_run_info(run_dir)
    tables["runs"] = _one_run(run_dir, run_info, tables["runs"])
    missing = missing_results(run_info, tables["runs"])
    if missing and not allow_partial:
        raise IncompleteRun(f"run_dir={run_dir} is incomplete: {len(missing)} planned result(s) missing (e.g. "
                            f"{', '.join(missing[:3])}); finish it with `bertbench regenerate`, or pass "
                            "--allow-partial to commit it marked incomplete")
    return tables, run_info, missing


def _check_release_fields(name: str, version: str, license: str | None) -> None:
    if license is None:
        raise ValueError(f"license is required (the run's data sources do not imply one); allowed: {list(LICENSES)}")
    if str(license).lower() not in LICENSES:
        raise ValueError(f"license={license!r} is not known; allowed: {list(LICENSES)}")
    if not NAME.match(name):
        raise ValueError(f"name={name!r} must match {NAME.pattern}")
    if not SEMVER.match(version):
        raise ValueError(f"version={version!r} must be semantic, X.Y.Z")


def _one_run(run_dir: Path, run_info: dict[str, Any], runs: pa.Table) -> pa.Table:
    """``runs`` with every row's ``run_hash`` checked against run.json's identity: rows of another run (another
    recipe, grid, task list or data) are refused, and so are rows of units that run.json does not plan. Rows written
    before schema 1.2 have no hash; in a run folder from before then (run.json without ``row_hashes``) those of planned
    units were written under the same run.json identity check, so they get the run's hash. Pretraining rows may carry
    the hash of an identity the run superseded (``run_info.record_run``: only fine-tuning settings changed)."""
    expected = (run_info.get("identity_sha256") or "")[:16] or None
    if run_info.get("units"):  # a row without a hash is adopted only for a unit this run plans
        planned = {(a, int(s)) for a, s in run_info["units"]}
        stray = sorted({unit_name(a, s) for a, s in zip(runs.column("arch_id").to_pylist(), runs.column("seed").to_pylist())
                        if (a, s) not in planned})
        if stray:
            raise RunMismatch(f"run_dir={run_dir}: results of {len(stray)} unit(s) that run.json does not plan (e.g. "
                              f"{', '.join(stray[:3])}): they come from another run; move them to their own run folder")
    row_hashes, stages = runs.column("run_hash").to_pylist(), runs.column("stage").to_pylist()
    earlier = {s["identity_sha256"][:16] for s in run_info.get("superseded", [])}  # pretraining rows stay valid
    hashes = {h for h, st in zip(row_hashes, stages) if h is not None and not (st == "pretrain" and h in earlier)}
    foreign = hashes - {expected} if expected else (hashes if len(hashes) > 1 else set())
    if foreign:
        n = sum(h in foreign for h in row_hashes)
        raise RunMismatch(f"run_dir={run_dir}: {n} result row(s) carry run_hash {sorted(foreign)}, not this run's "
                          f"{expected}: they were trained under other settings; move them to their own run folder")
    if expected is None:
        return runs
    missing = runs.column("run_hash").null_count
    if missing and run_info.get("row_hashes"):  # this run wrote a hash on every row: a row without one is foreign
        raise RunMismatch(f"run_dir={run_dir}: {missing} result row(s) carry no run_hash, but every row this run "
                          "writes has one: they come from another run; move them to their own run folder")
    filled = pc.fill_null(runs.column("run_hash"), pa.scalar(expected, pa.string()))
    return runs.set_column(runs.schema.get_field_index("run_hash"), runs.schema.field("run_hash"), filled)


def compute_summary(runs: pa.Table, spans: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the results cost, from the runs table: per device the results and the seconds they took (pretraining and
    fine-tuning as measured by each stage), the total, and the median cost of a unit (an architecture x seed); with
    the processes' ``spans``, also the wall time (the union of the spans: time during which any process worked) and
    the number of processes."""
    import pandas as pd

    from bertbench.store.run_folder import busy_seconds

    df = runs.select(["arch_id", "seed", "device", "wall_seconds"]).to_pandas()
    df["wall_seconds"] = pd.to_numeric(df["wall_seconds"], errors="coerce").fillna(0.0)
    by_device = {str(k): {"results": int(len(g)), "seconds": round(float(g["wall_seconds"].sum()), 1)}
                 for k, g in df.groupby(df["device"].fillna("unknown"))}
    units = df.groupby(["arch_id", "seed"])["wall_seconds"].sum()
    return {"by_device": by_device, "seconds_total": round(float(df["wall_seconds"].sum()), 1),
            "units": int(len(units)), "unit_seconds_median": round(float(units.median()), 1) if len(units) else None,
            "wall_seconds": round(busy_seconds(spans), 1) if spans else None, "processes": len(spans or [])}


def _manifest(name: str, version: str, license: str, run_info: dict[str, Any], runs: pa.Table,
              entries: dict[str, Any], missing: list[str], environments: list[dict[str, Any]] | None,
              spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest of a release committed from a run (see ``commit``); ``environments``: every environment that
    trained results into the run folder (None for folders from before they were recorded); ``spans``: the processes' spans of
    work (``run_folder.record_invocation``)."""
    manifest = {
        "name": name,
        "version": version,
        "schema_version": SCHEMA_VERSION,
        "family": "bert",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "bertbench_version": package_version(),
        "run_hash": (run_info.get("identity_sha256") or "")[:16] or None,
        # identities whose pretraining part this run shares; its pretraining rows may carry their hashes
        "superseded_run_hashes": [s["identity_sha256"][:16] for s in run_info.get("superseded", [])],
        "space": run_info.get("space"),
        "grid": run_info.get("grid"),
        "recipe": run_info.get("recipe"),
        "data": run_info.get("data"),
        "tasks": sorted(set(runs.column("stage").to_pylist()) - {"pretrain"}),
        "seeds": sorted(set(runs.column("seed").to_pylist())),
        # the folder's creator is not always what trained it (a run resumed on another machine): both are named
        "hardware": {"run_folder_created_on": run_info.get("hardware"), "environments": environments},
        "compute": compute_summary(runs, spans),
        "tables": entries,
        "license": str(license).lower(),
        "citation": SEED_PAPER_BIBTEX,
        "caveats": run_info.get("caveats", []),
        "complete": None if "units" not in run_info else not missing,  # None: no run.json plan
    }
    if missing:
        manifest["missing"] = missing
        manifest["caveats"] = [*manifest["caveats"], f"Incomplete run: {len(missing)} planned results missing."]
    return manifest


def read_manifest(release: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(release) / "manifest.json"
    if not path.exists():
        raise CorruptRelease(f"{path} is missing: {release} is not a bertbench release folder")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CorruptRelease(f"{path} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict):
        raise CorruptRelease(f"{path}: must be a JSON object with fields name, version, schema_version, tables, ...; "
                             f"got a JSON {type(manifest).__name__}")
    sv = manifest.get("schema_version")
    if sv is None:
        raise CorruptRelease(f"{path}: field 'schema_version' is missing")
    if version_tuple(sv)[0] > version_tuple(SCHEMA_VERSION)[0] or version_tuple(sv) > version_tuple(SCHEMA_VERSION):
        raise CorruptRelease(
            f"{path}: field 'schema_version'={sv} is newer than this bertbench reads ({SCHEMA_VERSION}); upgrade bertbench"
        )
    return manifest


def validate(release: str | os.PathLike[str], check_checksums: bool = True, remembered: bool = False
             ) -> dict[str, Any]:
    """Re-check schema version, checksums, row counts and column names and types; return the manifest.
    ``remembered``: checksums of unchanged files come from ``remembered_sha256`` (what ``load`` does)."""
    release = Path(release)
    manifest = read_manifest(release)
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or set(tables) != set(TABLES):
        raise CorruptRelease(f"{release}/manifest.json: field 'tables' must list {list(TABLES)}")
    for table_name, entry in tables.items():
        path = release / entry["file"]
        if not path.exists():
            raise CorruptRelease(f"{path}: file listed in manifest 'tables.{table_name}' is missing")
        if check_checksums:
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            if not isinstance(sha, str) or len(sha) != 64:
                raise CorruptRelease(f"{release}/manifest.json: field 'tables.{table_name}.sha256' must be a sha256 "
                                     f"hex digest (64 characters), got {sha!r}")
            digest = remembered_sha256(path) if remembered else sha256_file(path)
            if digest != entry["sha256"]:
                raise CorruptRelease(
                    f"{path}: sha256 {digest[:12]}... differs from manifest 'tables.{table_name}.sha256' "
                    f"{entry['sha256'][:12]}...; the file is corrupt or was changed"
                )
        try:
            meta = pq.read_metadata(path)
        except (pa.ArrowInvalid, OSError) as err:
            if isinstance(err, OSError) and not isinstance(err, pa.ArrowException) and err.errno is not None:
                raise  # the machine's (permissions, disk): not a corrupt release
            raise CorruptRelease(f"{path}: not a readable Parquet file ({' '.join(str(err).split())[:160]}); the "
                                 f"file listed in manifest 'tables.{table_name}' is truncated or corrupt") from err
        if meta.num_rows != entry["rows"]:
            raise CorruptRelease(f"{path}: {meta.num_rows} rows, manifest 'tables.{table_name}.rows' says {entry['rows']}")
        expected = schema_for(table_name, manifest.get("family", "bert"), version=manifest["schema_version"])
        got = pq.read_schema(path)
        if [f.name for f in got] != [f.name for f in expected]:
            raise CorruptRelease(f"{path}: columns {got.names} differ from schema {expected.names}")
        for f in expected:
            if not got.field(f.name).type.equals(f.type):
                raise CorruptRelease(f"{path}: column {f.name!r} is {got.field(f.name).type}, schema says {f.type}")
    return manifest
