"""Shards -> commit -> load round trip, validation, and bad-input errors of the store."""

import json
import math
import multiprocessing as mp

import pyarrow.parquet as pq
import pytest

import bertbench
from bertbench.errors import CorruptRelease, ReleaseExists
from bertbench.space import Architecture, LayerSpec
from bertbench.store.release import commit, validate
from bertbench.store.schema import SCHEMA_VERSION, architecture_row, column_docs, schema_for
from bertbench.store.writer import ResultWriter, result_name

ARCHS = [
    Architecture(128, (LayerSpec("SA", "SDP", 2, 512, 1), LayerSpec("LT", "DCT", 4, 512, 3))),
    Architecture(256, (LayerSpec("DSC", 9, 4, 1024, 1), LayerSpec("SA", "WMA", 2, 512, 1))),
]


def arch_row(a):
    return architecture_row(a)


def run_row(a, seed, stage, score, status="ok", metrics=None):
    metrics = metrics or {"accuracy": score}
    return {"arch_id": a.arch_id, "run_key": a.arch_id, "seed": seed, "stage": stage, "status": status,
            "main_metric": "accuracy", "score": score, "metrics": [{"name": k, "value": v} for k, v in metrics.items()],
            "steps": 10, "tokens": 1280, "wall_seconds": 1.5, "device": "cpu", "error": None if status == "ok" else "boom"}


def fill(run_dir):
    w = ResultWriter(run_dir)
    expected = {}
    for i, a in enumerate(ARCHS):
        w.write_architecture(a.arch_id, [arch_row(a)])
        for seed in (0, 1):
            score = 50.0 + 10 * i + seed
            status = "diverged" if (i, seed) == (1, 1) else "ok"
            value = score if status == "ok" else math.nan
            curves = [{"arch_id": a.arch_id, "run_key": a.arch_id, "seed": seed, "stage": "sst2", "step": s,
                       "name": "train_loss", "value": 1.0 / s} for s in (1, 2, 3)]
            w.write_result(result_name(a.arch_id, seed, "sst2"), [run_row(a, seed, "sst2", value, status)], curves)
            expected[(a.arch_id, seed)] = value
    return expected


def test_schemas_document_every_column():
    for table in ("architectures", "runs", "curves", "proxies"):
        for fam in ("bert", "rnn"):
            docs = column_docs(schema_for(table, fam))
            assert docs and all(docs.values()), (table, fam)


def test_round_trip(tmp_path):
    expected = fill(tmp_path / "run")
    dest = commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "releases", license="cc-by-4.0")
    manifest = validate(dest)
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["tables"]["runs"]["rows"] == 4 and manifest["tables"]["curves"]["rows"] == 12
    bench = bertbench.load(str(dest))
    runs = bench.to_pandas("runs")
    for row in runs.itertuples():
        exp = expected[(row.arch_id, row.seed)]
        assert (math.isnan(exp) and math.isnan(row.score)) or row.score == exp
        assert (math.isnan(exp) and math.isnan(row.accuracy)) or row.accuracy == exp
    summary = bench.to_pandas()
    assert len(summary) == 2
    by_id = summary.set_index("arch_id")
    assert by_id.loc[ARCHS[0].arch_id, "sst2"] == pytest.approx(50.5)
    assert by_id.loc[ARCHS[0].arch_id, "status"] == "ok"
    assert by_id.loc[ARCHS[1].arch_id, "sst2"] == pytest.approx(60.0)  # the diverged seed is excluded, not 0
    assert by_id.loc[ARCHS[1].arch_id, "status"] == "diverged"
    rec = bench.query(ARCHS[1])
    assert rec["architecture"] == ARCHS[1] and len(rec["runs"]) == 2 and rec["curves"].num_rows == 6
    assert len(bench.filter(hidden_size=256)) == 1 and len(bench.filter(status="ok")) == 1
    assert bench.architectures[0] in ARCHS
    assert str(summary["sst2"].dtype).endswith("[pyarrow]")


def test_refuses_existing_version_and_leaves_nothing(tmp_path):
    fill(tmp_path / "run")
    commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "rel", license="cc-by-4.0")
    with pytest.raises(ReleaseExists, match="version 1.0.0 already exists"):
        commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "rel", license="cc-by-4.0")
    with pytest.raises(ValueError, match="version='1.0' must be semantic"):
        commit(tmp_path / "run", "unit", "1.0", tmp_path / "rel", license="cc-by-4.0")
    assert sorted(p.name for p in (tmp_path / "rel").iterdir()) == ["unit-1.0.0"]


def test_corrupt_release_detected(tmp_path):
    fill(tmp_path / "run")
    dest = commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "rel", license="cc-by-4.0")
    table = pq.read_table(dest / "runs.parquet")
    pq.write_table(table.slice(0, 3), dest / "runs.parquet")
    with pytest.raises(CorruptRelease, match=r"runs.parquet: sha256 .* differs from manifest 'tables.runs.sha256'"):
        validate(dest)


def test_newer_schema_version_refused(tmp_path):
    fill(tmp_path / "run")
    dest = commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "rel", license="cc-by-4.0")
    m = json.loads((dest / "manifest.json").read_text())
    m["schema_version"] = "9.0"
    (dest / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(CorruptRelease, match="field 'schema_version'=9.0 is newer"):
        bertbench.load(str(dest))


def _writer_proc(run_dir, seed):
    a = ARCHS[0]
    w = ResultWriter(run_dir)
    for _ in range(20):
        w.write_result(result_name(a.arch_id, 0, "sst2"), [run_row(a, 0, "sst2", 42.0)])


def test_concurrent_writers_never_leave_partial_or_duplicate_files(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer_proc, args=(tmp_path, s)) for s in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    w = ResultWriter(tmp_path)
    assert w.keys() == [result_name(ARCHS[0].arch_id, 0, "sst2")]
    assert w.read("runs").num_rows == 1
    assert not list((tmp_path / "shards" / "runs").glob(".*"))  # no temp files left


def test_unknown_benchmark():
    with pytest.raises(bertbench.errors.UnknownBenchmark, match="unknown benchmark 'nope'"):
        bertbench.load("nope")


def test_shipped_releases_load_by_name_newest_version_first(tmp_path):
    """Releases under a package folder register as named benchmarks: by name (newest version) or name + version."""
    from bertbench.errors import UnknownBenchmark
    from bertbench.loaders.registry import BENCHMARKS, _shipped_loader, shipped_releases

    fill(tmp_path / "run")
    for v in ("0.9.0", "0.10.0"):
        commit(tmp_path / "run", "unit", v, tmp_path / "shipped", license="cc-by-4.0")
    found = shipped_releases(tmp_path / "shipped")
    assert {k: sorted(v) for k, v in found.items()} == {"unit": ["0.10.0", "0.9.0"]}
    loader = _shipped_loader("unit", found["unit"])
    assert loader().version == "0.10.0"  # by number, not by string order
    assert loader(version="0.9.0").version == "0.9.0"
    with pytest.raises(UnknownBenchmark, match=r"unit version='2.0.0' is not shipped; allowed: \['0.10.0', '0.9.0'\]"):
        loader(version="2.0.0")
    assert {"nas-bench-bert-2023", "nas-bench-nlp"} <= {str(k) for k in BENCHMARKS}


def test_commit_needs_a_known_license(tmp_path):
    fill(tmp_path / "run")
    with pytest.raises(ValueError, match=r"license is required .*allowed: \['cc-by-4.0'"):
        commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "rel")
    with pytest.raises(ValueError, match="license='wtfpl' is not known; allowed"):
        commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "rel", license="wtfpl")
    assert not (tmp_path / "rel").exists() or not any((tmp_path / "rel").iterdir())  # nothing half-written


def test_row_builders_keep_failures_nan_and_name_bad_statuses():
    """Every loader and the grid runner build rows through store/schema.py: a failed run's metrics are NaN (never
    0 or a stale value), an unknown status is refused naming the allowed ones."""
    import math

    from bertbench.store.schema import curve_rows, proxy_row, run_row

    ok = run_row("a", "a", 0, "sst2", "ok", "accuracy", {"accuracy": 81.5, "f1": 80.0}, steps=10)
    assert ok["score"] == 81.5 and [m["value"] for m in ok["metrics"]] == [81.5, 80.0]
    bad = run_row("a", "a", 0, "sst2", "diverged", "accuracy", {"accuracy": 0.0}, error="loss is nan")
    assert math.isnan(bad["score"]) and math.isnan(bad["metrics"][0]["value"])
    assert math.isnan(run_row("a", "a", 0, "pretrain", "ok", "", {})["score"])
    with pytest.raises(ValueError, match="status='done' is not valid; allowed: \\['ok', 'failed', 'diverged'\\]"):
        run_row("a", "a", 0, "sst2", "done", "accuracy", {})
    assert math.isnan(proxy_row("a", "snip", "as_named", 0, batch_size=8, seq_len=16, source="s", loss="mlm",
                                value=3.0, status="unstable")["value"])
    assert curve_rows("a", "a", 1, "pretrain", [{"step": 5, "name": "loss", "value": 2.5}]) == [
        {"arch_id": "a", "run_key": "a", "seed": 1, "stage": "pretrain", "step": 5, "name": "loss", "value": 2.5,
         "finetune_seed": None}]


def test_validate_names_a_truncated_table_even_with_a_resealed_manifest(tmp_path):
    import json

    from bertbench.errors import CorruptRelease
    from bertbench.file_io import sha256_file

    fill(tmp_path / "run")
    dest = commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "releases", license="cc-by-4.0")
    (dest / "runs.parquet").write_bytes((dest / "runs.parquet").read_bytes()[:200])
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["tables"]["runs"]["sha256"] = sha256_file(dest / "runs.parquet")  # the checksum no longer tells
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptRelease, match=r"runs.parquet: not a readable Parquet file .* 'tables.runs' is truncated"):
        validate(dest)


def test_load_and_query_refuse_a_corrupt_release(tmp_path):
    """load verifies checksums (each file state hashed once, then remembered): a zeroed manifest checksum, a
    truncated table with a warm summary cache, a flipped byte and a column stored with another type are each refused
    by load and by `bertbench query` with CorruptRelease: exit 2, one line naming the file."""
    import shutil
    import subprocess
    import sys

    fill(tmp_path / "run")
    good = commit(tmp_path / "run", "unit", "1.0.0", tmp_path / "releases", license="cc-by-4.0")
    bertbench.load(str(good)).to_pandas()  # warm every cache

    def broken(name, change):
        dest = tmp_path / name
        shutil.copytree(good, dest)
        change(dest)
        return dest

    def zero_sum(d):
        m = json.loads((d / "manifest.json").read_text())
        m["tables"]["runs"]["sha256"] = "0" * 64
        (d / "manifest.json").write_text(json.dumps(m))

    def truncate(d):
        bertbench.load(str(d)).to_pandas()  # the copy's own summary cache is warm before the damage
        f = d / "runs.parquet"
        f.write_bytes(f.read_bytes()[:200])

    def flip(d):
        f = d / "architectures.parquet"
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        f.write_bytes(bytes(data))

    def retype(d):  # seed stored as strings, the manifest re-sealed with the new file's checksum and rows
        t = pq.read_table(d / "runs.parquet")
        i = t.schema.get_field_index("seed")
        t = t.set_column(i, "seed", t.column("seed").cast("string"))
        pq.write_table(t, d / "runs.parquet")
        m = json.loads((d / "manifest.json").read_text())
        from bertbench.file_io import sha256_file

        m["tables"]["runs"]["sha256"] = sha256_file(d / "runs.parquet")
        (d / "manifest.json").write_text(json.dumps(m))

    for name, change, file in [("zeroed", zero_sum, "runs.parquet"), ("truncated", truncate, "runs.parquet"),
                               ("flipped", flip, "architectures.parquet"), ("retyped", retype, "runs.parquet")]:
        dest = broken(name, change)
        with pytest.raises(CorruptRelease, match=file):
            bertbench.load(str(dest)).to_pandas()
        res = subprocess.run([sys.executable, "-m", "bertbench.cli", "query", str(dest)], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 2, (name, res.stderr[-500:])
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and file in lines[0], (name, lines)
