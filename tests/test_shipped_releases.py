"""The releases shipped inside the package (``bertbench/releases``): they load by name offline, validate against
their manifests, and hold what their manifests and cards say they hold."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bertbench
from bertbench.loaders.registry import shipped_releases
from bertbench.store.release import validate

MINI = "bertbench-mini-ptb-glue"
STAGES = {"pretrain", "sst2", "mrpc", "stsb", "rte", "wnli"}


@pytest.fixture(scope="module")
def mini():
    assert MINI in shipped_releases(), f"{MINI} is not shipped in bertbench/releases"
    return bertbench.load(MINI)


def test_every_shipped_release_validates():
    releases = shipped_releases()
    assert releases
    for name, versions in releases.items():
        for version, folder in versions.items():
            manifest = validate(folder)  # every table's sha256 and row count, the schema version
            assert (manifest["name"], manifest["version"]) == (name, version)
            assert manifest["complete"] is True and not manifest.get("missing")


def test_mini_has_the_planned_grid_every_unit_and_an_explained_status(mini):
    summary = mini.to_pandas()
    assert len(summary) == 30 and summary["arch_id"].is_unique
    archs = [json.loads(a) for a in summary["arch_json"]]
    assert {a["hidden_size"] for a in archs} == {128} and {len(a["layers"]) for a in archs} == {2}
    ops = [{f"{lay['op_type']}-{lay['op_param']}" for lay in a["layers"]} for a in archs]
    homogeneous = [next(iter(o)) for o in ops if len(o) == 1]
    assert {op: homogeneous.count(op) for op in set(homogeneous)} == {op: 4 for op in
                                                                     ("SA-SDP", "SA-WMA", "LT-DFT", "LT-DCT",
                                                                      "DSC-5", "DSC-9")}
    assert sum(len(o) > 1 for o in ops) == 6  # mixed architectures
    runs = mini.to_pandas("runs")
    seeds = runs.groupby("arch_id")["seed"].nunique()
    assert set(seeds) == {2, 3} and (seeds == 3).sum() == 6
    stages = runs.groupby(["arch_id", "seed"])["stage"].apply(set)
    assert len(stages) == 66 and all(s == STAGES for s in stages)
    assert len(runs) == 66 * 6 and not runs.duplicated(["arch_id", "seed", "stage"]).any()
    bad = runs[runs["status"] != "ok"]
    assert bad["error"].notna().all() and bad["score"].isna().all()  # a status other than ok says why, with NaN
    ok = runs[runs["status"] == "ok"]
    assert ok["score"].notna().all() and set(runs["run_hash"]) == {mini.metadata["manifest"]["run_hash"]}
    proxies = mini.to_pandas("proxies")
    assert proxies.groupby("proxy")["arch_id"].nunique().eq(30).all()
    unexplained = proxies[(proxies["status"] != "ok") & proxies["error"].isna()]
    assert unexplained.empty


def test_mini_scores_are_what_the_card_says(mini):
    """SST-2 and STS-B separate the architectures from a constant predictor (majority 50.9 % on SST-2 dev, Pearson 0
    on STS-B); MRPC stays within a point of its majority class (66.49 % of the 1,725 MSR test pairs); the seed noise
    is as large as the spread between architectures, as the caveats say."""
    summary = mini.to_pandas()
    assert summary["sst2"].median() > 70 and summary["stsb"].median() > 10
    assert abs(summary["mrpc"].median() - 66.49) < 1.0
    caveats = " ".join(mini.metadata["manifest"]["caveats"])
    assert "seed noise" in caveats and "MRPC" in caveats and "H200" in caveats
    runs = mini.to_pandas("runs")
    sst2 = runs[runs["stage"] == "sst2"].pivot_table(index="arch_id", columns="seed", values="score")
    assert np.nanmean(sst2.std(axis=1)) > 0.3 * summary["sst2"].std()


def test_mini_manifest_records_its_provenance(mini):
    manifest = mini.metadata["manifest"]
    assert manifest["recipe"]["name"] == "mini" and manifest["grid"]["name"] == "mini"
    assert manifest["license"] == "cc-by-sa-4.0" and manifest["seeds"] == [0, 1, 2]
    data = manifest["data"]
    assert data["tokenizer"].startswith("wordpiece") and data["tokenizer_vocab_size"] > 1000
    files = data["files_sha256"]
    assert "corpus/ptb.zip" in files and all(len(h) == 64 for h in files.values())
    assert {f.split("/")[1] for f in files if f.startswith("tasks/")} >= {"SST-2", "MRPC", "STS-B", "RTE", "WNLI"}
    compute = manifest["compute"]
    assert compute["units"] == 66 and compute["wall_seconds"] > 0 and compute["seconds_total"] > compute["wall_seconds"]
    environments = manifest["hardware"]["environments"]
    assert {e["device"] for e in environments} == set(compute["by_device"]) == set(mini.to_pandas("runs")["device"])


PTB = "bertbench-ptb"
OPS = {"SA-SDP", "SA-WMA", "LT-DFT", "LT-DCT", "DSC-5", "DSC-9"}


@pytest.fixture(scope="module")
def ptb():
    assert PTB in shipped_releases(), f"{PTB} is not shipped in bertbench/releases (bench/releases/ptb/ship.sh)"
    return bertbench.load(PTB)


def test_ptb_has_the_planned_grid_on_two_seeds(ptb):
    """40 architectures: every op type, hidden sizes 128 and 256, depths 2 and 4, mixed-op architectures; each
    pretrained on seeds 0 and 1, every row ok under this run's identity (or the one it superseded: only fine-tuning
    fields changed), and nothing but pretraining."""
    summary = ptb.to_pandas()
    assert len(summary) == 40 and summary["arch_id"].is_unique
    archs = [json.loads(a) for a in summary["arch_json"]]
    assert {a["hidden_size"] for a in archs} == {128, 256} and {len(a["layers"]) for a in archs} == {2, 4}
    ops = [{f"{lay['op_type']}-{lay['op_param']}" for lay in a["layers"]} for a in archs]
    assert set().union(*ops) == OPS and {next(iter(o)) for o in ops if len(o) == 1} == OPS
    assert sum(len(o) > 1 for o in ops) >= 8  # mixed-op architectures
    runs = ptb.to_pandas("runs")
    assert set(runs["stage"]) == {"pretrain"} and (runs["status"] == "ok").all() and runs["score"].notna().all()
    assert runs.groupby("arch_id")["seed"].apply(set).eq({0, 1}).all() and len(runs) == 80
    manifest = ptb.metadata["manifest"]
    assert set(runs["run_hash"]) <= {manifest["run_hash"], *manifest.get("superseded_run_hashes", [])}
    assert manifest["recipe"]["name"] == "ptb" and manifest["grid"]["name"] == "ptb" and manifest["tasks"] == []
    assert manifest["complete"] is True


def test_ptb_headline_target_passes_its_reliability_gate(ptb):
    """The held-out MLM loss ranks the architectures reproducibly between pretraining seeds (seed tau >= 0.7, ICC CI
    low end >= 0.5), recomputed from the tables; within (hidden size, depth) groups it is reported too, and the
    manifest records what the tables give."""
    from bertbench.reliability import target_reliability

    r = target_reliability(ptb, "pretrain", n_boot=1000)
    assert r.n_archs == 40 and r.seed_tau >= 0.7 and r.icc_low >= 0.5, r
    assert not np.isnan(r.group_tau)
    recorded = {rec["target"]: rec for rec in ptb.metadata["manifest"]["reliability"]}
    assert recorded["pretrain"]["seed_tau"] == pytest.approx(r.seed_tau)
    assert recorded["pretrain"]["verdict"] == "ranks architectures reproducibly"


def test_ptb_card_holds_the_reliability_table(ptb, tmp_path):
    from bertbench.hub.publish import export

    card = (export(shipped_releases()[PTB][ptb.version], tmp_path / "export") / "README.md").read_text()
    assert "## Reliability" in card and "| pretrain | 40 |" in card
    assert "Pretraining only" in card  # the caveat
