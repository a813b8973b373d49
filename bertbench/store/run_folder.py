"""The run folder's layout: the unit name ``<arch_id>__s<seed>``, ``run.json`` (the run's identity),
``models/<unit>/`` (a ``save_pretrained`` folder per pretrained unit), ``checkpoints/<unit>/`` (until its pretraining
ends) and ``tokenizer/`` (the run's own vocabulary). Grid, commit, export and loaders read the paths from here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MODELS = "models"
TOKENIZER = "tokenizer"
CHECKPOINTS = "checkpoints"
RUN_INFO = "run.json"


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
