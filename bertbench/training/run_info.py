"""A run folder's identity and its ``run.json``: what every result row of the folder means, checked on every
invocation (a rerun with other settings is refused, naming the fields), and what one stage of a unit produced."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bertbench.errors import RunMismatch
from bertbench.file_io import atomic_write_bytes, json_sha256
from bertbench.options import SYNTHETIC
from bertbench.store.run_folder import read_run_info

log = logging.getLogger(__name__)

# The identity fields a pretraining result depends on. Any other field (the fine-tuning recipe, the tasks, their
# data, the recipe's name and description) may change while the folder holds no fine-tuning result: its pretraining
# results stay valid, and run.json keeps the identity they were trained under in ``superseded``.
PRETRAINING_FIELDS = ("grid.", "recipe.pretrain.", "recipe.mixed_precision", "recipe.data.corpus",
                      "recipe.data.tokenizer", "data.corpus", "data.tokenizer")


def identity_sha256(identity: dict[str, Any]) -> str:
    """The sha256 of a run identity (its canonical JSON)."""
    return json_sha256(identity)


def record_run(path: Path, identity: dict[str, Any], units: list[list[Any]], grid_info: dict[str, Any],
               details: Callable[[], dict[str, Any]], finetuning_results: Callable[[], list[str]] = lambda: ["?"]
               ) -> None:
    """Create ``run.json`` (identity, its hash, units, grid, seeds and ``details()``), or check an existing one's
    identity and add the units it does not plan yet. A different identity raises RunMismatch naming the fields, unless
    only fields outside ``PRETRAINING_FIELDS`` differ and ``finetuning_results()`` is empty: then the new identity
    replaces the old one, which is kept under ``superseded`` (its pretraining rows stay this run's)."""
    if path.exists():
        info = read_run_info(path.parent)
        old = info.get("identity")
        if old != identity:
            _supersede(path.parent, info, identity, details, finetuning_results)
        planned = info.get("units", [])
        new = [u for u in units if u not in planned]
        if not new and old == identity:
            return
        info["units"] = planned + new
        info["seeds"] = sorted({s for _, s in info["units"]})
        if grid_info["n"] > info["grid"]["n"]:  # a larger --limit of the same grid
            info["grid"] = grid_info
    else:
        info = {"identity": identity, "identity_sha256": identity_sha256(identity), "units": units, "grid": grid_info,
                **details(), "seeds": sorted({s for _, s in units})}
    atomic_write_bytes(path, json.dumps(info, indent=2, default=str).encode())


def _supersede(run_dir: Path, info: dict[str, Any], identity: dict[str, Any], details: Callable[[], dict[str, Any]],
               finetuning_results: Callable[[], list[str]]) -> None:
    """Replace ``info``'s identity by ``identity`` when only fine-tuning fields differ and nothing was fine-tuned;
    else raise RunMismatch naming the fields."""
    old = info.get("identity") or {}
    diff = _differences(old, identity)
    fixed = [d for d in diff if d.split(":")[0].startswith(PRETRAINING_FIELDS) or
             d.split(":")[0] + "." in PRETRAINING_FIELDS]
    done = [] if fixed else finetuning_results()
    if fixed or done:
        why = (f"; {len(done)} fine-tuning result(s) (e.g. {done[0]}) were trained under the old settings"
               if done and not fixed else "")
        raise RunMismatch(f"{run_dir} was started with other settings ({'; '.join((fixed or diff)[:6])}){why}; use a "
                          "new --out folder for a different recipe, grid, tasks or data")
    log.warning("%s: fine-tuning settings changed before any fine-tuning result (%s); its pretraining results are "
                "kept", run_dir, "; ".join(diff[:6]))
    info.setdefault("superseded", []).append({"identity_sha256": info["identity_sha256"], "identity": old,
                                              "changed": diff})
    info["identity"], info["identity_sha256"] = identity, identity_sha256(identity)
    info.update({k: v for k, v in details().items() if k != "hardware"})  # the folder's creator stays named


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """'field: old -> new' for every leaf that differs."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, name + ".")
        elif a != b:
            out.append(f"{name}: {a!r} -> {b!r}")
    return out


def run_identity(grid: Any, recipe: dict[str, Any], tasks: tuple[str, ...], data_by_content: dict[str, str],
                 task_revision: str | None) -> dict[str, Any]:
    """What a result row of a run means: the resolved recipe (local data named by content), the tasks and the data
    sources. Two invocations on one folder must agree on it (the grid's units and seeds may grow). JSON-normalised,
    as stored."""
    recipe = {**recipe, "data": {**recipe["data"], **data_by_content}}
    return json.loads(json.dumps({
        "grid": {"name": grid.name, "definition_sha256": grid_definition_sha256(grid)},
        "recipe": recipe, "tasks": list(tasks), "data": {**data_by_content, "task_revision": task_revision},
    }, default=str))


def grid_definition_sha256(grid: Any) -> str:
    """The sha256 of a grid's definition as a run identity holds it: the grid, whatever --limit took of it."""
    definition = {k: v for k, v in grid.definition.items() if k != "limit"}
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


def grid_info(grid: Any) -> dict[str, Any]:
    """What run.json records of the grid."""
    return {"name": grid.name, "n": len(grid.architectures), "sha256": grid.digest, "definition": grid.definition}


def run_details(grid: Any, recipe: Any, tasks: tuple[str, ...], files_sha256: dict[str, str], vocab_size: int,
                heldout: Any, parallel: str, hardware: dict[str, Any]) -> dict[str, Any]:
    """What run.json records beyond the identity, when the run folder is created."""
    d = recipe.data
    return {
        "space": grid.definition.get("space"),
        "recipe": recipe.to_dict(),
        "data": {"corpus": d.corpus, "tokenizer": d.tokenizer, "task_source": d.task_source,
                 "task_revision": d.task_revision, "tasks": list(tasks),
                 "files_sha256": files_sha256, "tokenizer_vocab_size": vocab_size,
                 "heldout": heldout.describe() if heldout is not None else None},
        "parallel": parallel,
        "row_hashes": True,  # every result row of this run carries run_hash (commit refuses hash-less rows)
        "hardware": hardware,
        "caveats": (["Trained on the embedded synthetic corpus and tasks: scores are not GLUE."]
                    if d.task_source == SYNTHETIC else []),
    }
