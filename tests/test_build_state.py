"""A release's build state committed between sessions (bench/releases/<name>/run/): it must resume under the packaged
manifests, hold only results of its own run, and carry nothing machine-local (encoders, checkpoints, claims, logs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bertbench.space.grids import load_grid
from bertbench.store.run_folder import planned_units, read_run_info, unit_name
from bertbench.store.writer import ResultWriter
from bertbench.training.recipe import load_recipe
from bertbench.training.run_info import grid_definition_sha256, identity_sha256

REPO = Path(__file__).resolve().parent.parent
GIT = ["git", "-c", "safe.directory=*"]  # the checkout may belong to another user (CI)
STATES = sorted(p.parent for p in (REPO / "bench" / "releases").glob("*/run/run.json"))


@pytest.mark.parametrize("run_dir", STATES, ids=[p.parent.name for p in STATES])
def test_committed_build_state_resumes_under_the_packaged_manifests(run_dir: Path) -> None:
    info = read_run_info(run_dir)
    identity = info["identity"]
    assert info["identity_sha256"] == identity_sha256(identity)
    grid = load_grid(identity["grid"]["name"])
    assert identity["grid"]["definition_sha256"] == grid_definition_sha256(grid), "the grid manifest changed"
    recipe = json.loads(json.dumps(load_recipe(identity["recipe"]["name"]).to_dict(), default=str))
    assert identity["recipe"]["pretrain"] == recipe["pretrain"], "the recipe's pretraining changed"
    assert identity["recipe"]["mixed_precision"] == recipe["mixed_precision"]

    hashes = {info["identity_sha256"][:16]} | {s["identity_sha256"][:16] for s in info.get("superseded", [])}
    units = {unit_name(a.arch_id, s) for a, s in planned_units(run_dir)}
    writer = ResultWriter(run_dir)
    for key in writer.keys("runs"):
        row = pq.read_table(writer.path("runs", key)).to_pylist()[0]
        assert "__".join(key.split("__")[:2]) in units, f"{key}: not a unit of the run"
        assert row["run_hash"] in hashes, f"{key} belongs to another run"


@pytest.mark.parametrize("run_dir", STATES, ids=[p.parent.name for p in STATES])
def test_committed_build_state_carries_its_results_and_nothing_machine_local(run_dir: Path) -> None:
    def ignored(rel: str) -> bool:
        return subprocess.run([*GIT, "check-ignore", "-q", str(run_dir.relative_to(REPO) / rel)], cwd=REPO,
                              check=False).returncode == 0

    kept = ["run.json", "tokenizer/vocab.txt", "invocations/h-1-1.json"] + [
        f"shards/{table}/x__s0__pretrain.parquet" for table in ("runs", "curves", "proxies", "architectures")]
    assert [p for p in kept if ignored(p)] == []
    assert all(ignored(p) for p in ("models/x__s0/model.safetensors", "checkpoints/x__s0/step-250/optimizer.bin",
                                    "claims/x__s0", "logs/worker0.log", "shards/runs/.x__s0__pretrain.parquet.ab.tmp"))
    tracked = subprocess.run([*GIT, "ls-files", str(run_dir.relative_to(REPO))], cwd=REPO, capture_output=True,
                             text=True, check=False).stdout.split()
    local = [p for p in tracked if p.split("/run/", 1)[1].split("/")[0] in ("models", "checkpoints", "claims", "logs")
             or Path(p).name.startswith(".")]
    assert not local
