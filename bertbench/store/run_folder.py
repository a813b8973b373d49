"""The run folder's layout: the unit name ``<arch_id>__s<seed>``, ``run.json`` (the run's identity),
``models/<unit>/`` (a ``save_pretrained`` folder per pretrained unit), ``checkpoints/<unit>/`` (until its pretraining
ends), ``tokenizer/`` (the run's own vocabulary), ``invocations/`` (each process's span of work), ``logs/`` (the worker
processes' output) and ``claims/<unit>``
(how claims work: ``bertbench.store.claims``). Result files (``shards/``) are ``bertbench.store.writer``'s. Grid,
commit, export and loaders read the paths from here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MODELS = "models"
TOKENIZER = "tokenizer"
CHECKPOINTS = "checkpoints"
RUN_INFO = "run.json"
INVOCATIONS = "invocations"
CLAIMS = "claims"
LOGS = "logs"


def unit_name(arch_id: str, seed: int) -> str:
    """The name of a unit (architecture x pretraining seed) in a run folder: ``<arch_id>__s<seed>``."""
    return f"{arch_id}__s{seed}"


def parse_unit_name(name: str) -> tuple[str, int] | None:
    """(arch_id, seed) of a unit name, None when ``name`` is not one."""
    arch_id, sep, seed = name.rpartition("__s")
    return (arch_id, int(seed)) if sep and arch_id and seed.isdigit() else None


def unit_dir(root: str | os.PathLike[str], arch_id: str, seed: int) -> Path:
    """Where a run or release keeps the encoder of (arch_id, seed)."""
    return Path(root) / MODELS / unit_name(arch_id, seed)


def checkpoint_dir(root: str | os.PathLike[str], arch_id: str, seed: int) -> Path:
    """Where a unit's pretraining checkpoints live until its pretraining result is written."""
    return Path(root) / CHECKPOINTS / unit_name(arch_id, seed)


def claim_path(root: str | os.PathLike[str], arch_id: str, seed: int) -> Path:
    """The claim a grid worker holds while it trains (arch_id, seed)."""
    return Path(root) / CLAIMS / unit_name(arch_id, seed)


def worker_log(root: str | os.PathLike[str], index: int) -> Path:
    """The log of grid worker ``index`` started by ``regenerate --workers`` (``training/workers.py``)."""
    return Path(root) / LOGS / f"worker{index}.log"


def available_units(root: str | os.PathLike[str]) -> list[str]:
    """``<arch_id>__s<seed>`` of every saved encoder under ``root/models`` (hidden temp folders excluded)."""
    folder = Path(root) / MODELS
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def tokenizer_dir(root: str | os.PathLike[str]) -> Path:
    """The run's own tokenizer (``tokenizer: wordpiece:N`` recipes), kept beside its encoders in a release."""
    return Path(root) / TOKENIZER


def run_info_path(root: str | os.PathLike[str]) -> Path:
    """The run's identity file (written by ``training/run_info.py``)."""
    return Path(root) / RUN_INFO


def read_run_info(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The run folder's ``run.json`` as a dict ({} when the folder has none yet)."""
    from bertbench.errors import CorruptRelease

    path = run_info_path(root)
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CorruptRelease(f"{path} is not valid JSON: {err}") from err
    if not isinstance(info, dict):
        raise CorruptRelease(f"{path}: must be a JSON object (the run's identity)")
    return info


def planned_units(root: str | os.PathLike[str]) -> list[tuple[Any, int]]:
    """(architecture, pretraining seed) of every unit ``run.json`` plans, in its order, trained or not."""
    from bertbench.space.grids import grid_from_dict

    info = read_run_info(root)
    if not info.get("grid") or not info.get("units"):
        raise FileNotFoundError(f"run_dir={root}: no {RUN_INFO} with a grid and units; run "
                                "`bertbench regenerate --prepare-only` (or train) first")
    definition = {k: v for k, v in info["grid"]["definition"].items() if k != "limit"}
    archs = {a.arch_id: a for a in grid_from_dict(definition, str(run_info_path(root))).architectures}
    return [(archs[a], int(s)) for a, s in info["units"]]


def record_invocation(run_dir: Path, started: float, ended: float, written: int, environment: dict[str, Any]) -> None:
    """Record (or update) this process's span of work on the folder in ``invocations/``: one file per process,
    rewritten atomically after each unit, so a release knows the wall time its results took even when workers are
    killed at a deadline or run on several machines."""
    import socket

    path = Path(run_dir) / INVOCATIONS / f"{socket.gethostname()}-{os.getpid()}-{int(started)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"started": started, "ended": ended, "results_written": written, "environment": environment}
    from bertbench.file_io import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(record, sort_keys=True, default=str).encode())


def read_invocations(run_dir: Path) -> list[dict[str, Any]]:
    """Every span recorded by ``record_invocation`` in ``run_dir``, by start time."""
    folder = Path(run_dir) / INVOCATIONS
    spans = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []
    return sorted(spans, key=lambda r: r["started"])


def trained_environments(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct environments of the spans that wrote results: what trained the folder's results (a process that
    only prepared inputs, or found every unit done, is not among them)."""
    out: list[dict[str, Any]] = []
    for r in spans:
        if r.get("results_written") and r.get("environment") not in out:
            out.append(r["environment"])
    return out


def busy_seconds(spans: list[dict[str, Any]]) -> float:
    """Wall time during which at least one process worked on the folder: the length of the union of the spans."""
    total, end = 0.0, float("-inf")
    for r in sorted(spans, key=lambda r: r["started"]):
        start = max(r["started"], end)
        if r["ended"] > start:
            total += r["ended"] - start
        end = max(end, r["ended"])
    return total
