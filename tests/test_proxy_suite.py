"""The proxy suite: its file format, loading by folder and by name, and the leaderboard against size."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import bertbench
from bertbench.errors import CorruptRelease
from bertbench.loaders.proxy_suite import ProxySuite
from bertbench.loaders.registry import shipped_suites
from bertbench.proxies.leaderboard import format_leaderboard, leaderboard
from bertbench.store.proxy_suite import write_suite
from bertbench.store.schema import proxy_row


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTBENCH_CACHE", str(tmp_path / "cache"))


def _synthetic_suite(folder, n=240):
    """One benchmark whose loss is size plus an architecture effect plus noise; ``size_noise`` is size plus noise,
    ``sees_effect`` sees the effect; a few architectures are measured twice (the reliability)."""
    rng = np.random.default_rng(0)
    ids = [f"a{i:03d}" for i in range(n)]
    hidden, depth = rng.choice([128, 256], n), rng.choice([2, 4], n)
    params = hidden * hidden * depth * 12 + rng.integers(0, 50_000, n)
    effect = rng.normal(size=n)
    loss = 6.0 - 0.4 * (hidden == 256) - 0.5 * (depth == 4) - 0.3 * effect + 0.05 * rng.normal(size=n)
    proxies = {"size_noise": np.log(params) + 0.3 * rng.normal(size=n), "sees_effect": -loss + 0.2 * rng.normal(size=n),
               "params": params.astype(float)}
    rows = [{"benchmark": "toy", **proxy_row(a, p, "as_named", 0, batch_size=4, seq_len=8, source="synthetic",
                                             loss="mlm", value=float(v[i]), seconds=0.01, status="ok", error=None)}
            for p, v in proxies.items() for i, a in enumerate(ids)]
    targets = pd.DataFrame({"benchmark": "toy", "arch_id": ids, "target": loss, "n_runs": 1, "params": params,
                            "flops": params * 2.0, "hidden_size": hidden, "num_layers": depth})
    manifest = {"name": "toy-suite", "version": "0.1.0", "benchmarks": {"toy": {
        "source": "synthetic", "variant": "as_named", "shape": None, "target": "loss", "direction": "lower",
        "target_reliability": 0.9, "proxies": list(proxies),
        "directions": {"size_noise": "higher", "sees_effect": "higher", "params": "higher"},
        "batch": {"description": "synthetic (4, 8)"}}}}
    return write_suite(folder, manifest, pa.Table.from_pylist(rows), pa.Table.from_pandas(targets))


def test_a_suite_round_trips_and_its_leaderboard_judges_proxies_against_size(tmp_path):
    folder = _synthetic_suite(tmp_path / "toy-suite-0.1.0")
    suite = bertbench.load(str(folder))
    assert isinstance(suite, ProxySuite) and suite.benchmarks == ["toy"]
    wide = suite.to_pandas("toy")
    assert len(wide) == 240 and {"loss", "size_noise", "sees_effect", "params", "hidden_size"} <= set(wide.columns)
    t = leaderboard(suite, n_boot=300).set_index("proxy")
    assert list(t[t["role"] == "baseline"].index) == ["params", "flops", "num_layers", "hidden_size", "size_model"]
    assert not t.loc["size_noise", "beats_size"] and t.loc["sees_effect", "beats_size"]
    assert t.loc["sees_effect", "tau_ceiling"] == pytest.approx(2 / np.pi * np.arcsin(np.sqrt(0.9)))
    text = format_leaderboard(leaderboard(suite, n_boot=100), suite)
    assert "== toy" in text and "beats size" in text
    with pytest.raises(KeyError, match="allowed: \\['toy'\\]"):
        suite.to_pandas("nope")


def test_a_suite_version_is_never_rewritten_and_a_changed_table_is_named(tmp_path):
    folder = _synthetic_suite(tmp_path / "toy-suite-0.1.0")
    with pytest.raises(FileExistsError, match="never rewritten"):
        _synthetic_suite(folder)
    manifest = json.loads((folder / "suite.json").read_text())
    assert set(manifest["files"]) == {"scores.parquet", "targets.parquet"}
    data = bytearray((folder / "targets.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "targets.parquet").write_bytes(bytes(data))
    with pytest.raises(CorruptRelease, match="targets.parquet"):
        ProxySuite(folder)


def test_the_shipped_suite_loads_by_name_with_every_benchmark_and_target():
    if "bertbench-zero" not in shipped_suites():
        pytest.fail("bertbench-zero is not shipped in bertbench/suites/")
    suite = bertbench.load("bertbench-zero")
    assert set(suite.benchmarks) == {"nas-bench-bert-2023", "nas-bench-bert-2023@H256-F1024",
                                     "nas-bench-nlp-wikitext-2"}
    bert = suite.to_pandas("nas-bench-bert-2023")
    assert len(bert) == 491 and bert["glue_2023"].notna().sum() == 490  # one 2023 architecture has no GLUE score
    assert {"fisher", "synflow", "hidden_covariance"} <= set(bert.columns)
    rnn = suite.to_pandas("nas-bench-nlp-wikitext-2")
    assert len(rnn) == 291 and rnn["test_loss"].notna().sum() == 289 and "hidden_covariance" in rnn  # 2 have no final test loss
    assert 0.3 < suite.benchmark("nas-bench-bert-2023").reliability < 1
    scores = suite.scores()
    assert set(scores["status"]) <= {"ok", "unstable", "failed"} and (scores["seconds"] >= 0).all()
    assert scores.loc[scores["status"] != "ok", "value"].isna().all()
