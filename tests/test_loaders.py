"""Loaders of the 2023 benchmark and NAS-Bench-NLP logs."""

import math
import zipfile

import pandas as pd
import pytest

import bertbench
from bertbench.errors import CorruptRelease, DataSourceError, InvalidRnnRecipe
from bertbench.testing import write_nasbench_nlp_zip


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def paper(shared_data):
    return bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper",
                          metrics_csv=shared_data / "seed-paper" / "BERT_results_activation.csv")


def test_paper2023_reproduces_published_numbers(paper):
    s = paper.to_pandas()
    assert len(s) == 500
    assert round(float(s["glue_published"].mean()), 2) == 68.89
    groups = s.groupby(["hidden_size", "num_layers"])["glue_published"].agg(["count", "mean"])
    assert groups["count"].tolist() == [123, 128, 116, 133]
    assert [round(float(x), 2) for x in groups["mean"]] == [64.43, 70.25, 67.27, 73.11]
    assert s["paper_id"].tolist() == list(range(500))  # integers, in numeric order (not "0", "1", "10", ...)
    ok = s[s["paper_id"] != 47]
    assert (ok["glue_2023"] - ok["glue_published"]).abs().max() < 1e-9  # our glue_2023 = the paper's glue
    rec = paper.query(47)
    assert rec["metrics"]["rte"] is None and rec["metrics"]["status"] == "failed"
    assert math.isnan(rec["metrics"]["glue_2023"] if rec["metrics"]["glue_2023"] is not None else math.nan)
    assert any("47" in c for c in paper.metadata["caveats"])
    assert any("never applied" in c for c in paper.metadata["caveats"])
    assert paper.query(194)["duplicates"] == ["194", "438"]
    assert paper.metadata["metrics"]["glue_2023"]["direction"] == "higher"
    assert "test_loss" not in paper.metadata["metrics"] and "glue" not in paper.metadata["metrics"]


def test_paper2023_proxies_and_models(paper):
    prox = paper.to_pandas("proxies")
    assert set(prox["proxy"]) >= {"Head Confidence", "Number of Parameters"}
    assert len(prox) == 500 * 15
    trained = paper.build_model(0)
    named = paper.build_model(0, variant="as_named")
    assert [ly.op_name for ly in trained.encoder.layer] == ["SA-SDP"] * 4
    assert [ly.op_name for ly in named.encoder.layer] == ["SA-WMA", "LT-DCT", "SA-SDP", "SA-SDP"]
    assert sum(p.numel() for p in named.parameters()) == paper.query(0)["metrics"]["params"]


def test_paper2023_offline_without_path_names_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataSourceError, match="path="):
        bertbench.load("nas-bench-bert-2023")


def test_nasbench_nlp_wt2(shared_data):
    b = bertbench.load("nas-bench-nlp", path=shared_data / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    s = b.to_pandas()
    assert len(s) == 345
    assert (s["status"] == "ok").sum() == 341
    bad = s[s["status"] != "ok"]
    assert len(bad) == 4 and bad["test_loss"].isna().all()
    ok = s[s["status"] == "ok"]
    assert ((ok["test_loss"] > 3) & (ok["test_loss"] < 10)).all()
    assert (abs(ok["test_perplexity"] - ok["test_loss"].map(math.exp)) < 1e-6 * ok["test_perplexity"]).all()
    assert b.metadata["dataset"] == "wikitext-2"
    assert b.metadata["metrics"]["test_loss"]["direction"] == "lower"
    rec = b.query(s["run_key"][1])
    assert rec["curves"].num_rows == 150  # 50 epochs x train/val/test
    assert rec["architecture"].num_hidden >= 1
    assert set(s["recipe_id"].dropna().astype(int)) >= {1000000, 1000001}


def test_nasbench_nlp_reduction_and_cache(tmp_path):
    z = write_nasbench_nlp_zip(tmp_path / "logs.zip", n_recipes=6, runs_per_recipe=3, nan_every=5, dataset="ptb")
    none = bertbench.load("nas-bench-nlp", path=z, dataset="ptb", reduction="none").to_pandas()
    mean = bertbench.load("nas-bench-nlp", path=z, reduction="mean").to_pandas()
    assert len(none) == 18 and len(mean) == 6
    for row in mean.itertuples():
        runs = none[(none["arch_id"] == row.arch_id) & (none["status"] == "ok")]
        assert row.test_loss == pytest.approx(float(runs["test_loss"].mean()))
        assert row.n_runs == 3
    assert (none["status"] == "diverged").sum() == 3
    cache = list((tmp_path / "cache" / "nas-bench-nlp").iterdir())
    assert len(cache) == 1
    write_nasbench_nlp_zip(z, n_recipes=7, runs_per_recipe=1)  # a changed source is converted again
    assert len(bertbench.load("nas-bench-nlp", path=z).to_pandas()) == 7
    assert len(list((tmp_path / "cache" / "nas-bench-nlp").iterdir())) == 2
    with pytest.raises(ValueError, match="reduction='max' is not known"):
        bertbench.load("nas-bench-nlp", path=z, reduction="max")



def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch, caplog, shared_data):
    """Both converters of published data load when the cache folder cannot be created (here: a file is in the way),
    with one warning each, and give the same tables as with a cache."""
    z = write_nasbench_nlp_zip(tmp_path / "logs.zip", n_recipes=4, runs_per_recipe=2, dataset="ptb")
    cached = bertbench.load("nas-bench-nlp", path=z).to_pandas()
    paper = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper").to_pandas()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("BERTBENCH_CACHE", str(blocker))
    with caplog.at_level("WARNING"):
        pd.testing.assert_frame_equal(bertbench.load("nas-bench-nlp", path=z).to_pandas(), cached)
        pd.testing.assert_frame_equal(
            bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper").to_pandas(), paper)
    assert sum("conversion cache not written" in r.message for r in caplog.records) == 2


def _assert_nothing_cached(tmp_path):
    root = tmp_path / "cache" / "nas-bench-nlp"
    assert not root.exists() or not list(root.iterdir())


def test_nasbench_nlp_bad_inputs(tmp_path):
    z = write_nasbench_nlp_zip(tmp_path / "good.zip", n_recipes=3)
    data = z.read_bytes()
    (tmp_path / "trunc.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptRelease, match="trunc.zip"):
        bertbench.load("nas-bench-nlp", path=tmp_path / "trunc.zip")
    corrupt = bytearray(data)
    corrupt[40:60] = b"\x00" * 20  # inside the first member's compressed bytes
    (tmp_path / "corrupt.zip").write_bytes(bytes(corrupt))
    with pytest.raises(CorruptRelease, match="corrupt.zip"):
        bertbench.load("nas-bench-nlp", path=tmp_path / "corrupt.zip")
    with zipfile.ZipFile(tmp_path / "notjson.zip", "w") as zf:
        zf.writestr("log_stats_model_1_x.json", "{not json")
    with pytest.raises(CorruptRelease, match="log log_stats_model_1_x.json is not valid JSON"):
        bertbench.load("nas-bench-nlp", path=tmp_path / "notjson.zip")
    with zipfile.ZipFile(tmp_path / "missing.zip", "w") as zf:
        zf.writestr("log_stats_model_2_x.json",
                    '{"recepie_id": 2, "data": "data/ptb", "status": "OK", "recepie": '
                    '"{\\"h_new_0\\": {\\"op\\": \\"activation_tanh\\", \\"input\\": [\\"ghost\\"]}}"}')
    with pytest.raises(InvalidRnnRecipe, match=r"log_stats_model_2_x.json, field 'recepie': node 'h_new_0': input 'ghost' references a missing node"):
        bertbench.load("nas-bench-nlp", path=tmp_path / "missing.zip")
    _assert_nothing_cached(tmp_path)
    with pytest.raises(DataSourceError, match="does not exist"):
        bertbench.load("nas-bench-nlp", path=tmp_path / "nope.zip")


def test_rnn_recipe_validation():
    from bertbench.space.rnn import RnnArchitecture

    with pytest.raises(InvalidRnnRecipe, match="op='conv' is not known"):
        RnnArchitecture.from_recipe({"h_new_0": {"op": "conv", "input": ["x"]}})
    with pytest.raises(InvalidRnnRecipe, match="cycle"):
        RnnArchitecture.from_recipe({"a": {"op": "linear", "input": ["b"]}, "b": {"op": "linear", "input": ["a"]},
                                     "h_new_0": {"op": "activation_tanh", "input": ["a"]}})
    with pytest.raises(InvalidRnnRecipe, match="no output node 'h_new_0'"):
        RnnArchitecture.from_recipe({"a": {"op": "linear", "input": ["x"]}})
    a = RnnArchitecture.from_recipe('{"h_new_0": {"op": "linear", "input": ["x", "h_prev_0"]}}')
    b = RnnArchitecture.from_recipe({"h_new_0": {"input": ["x", "h_prev_0"], "op": "linear"}})
    assert a == b and a.arch_id == b.arch_id and len(a.arch_id) == 16


def test_2023_cost_columns_name_their_network(shared_data):
    """params/flops describe the labels (as_named); params_as_trained/flops_as_trained the network trained in 2023,
    which build_model returns by default."""
    bench = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper")
    row = bench.to_pandas().set_index("paper_id").loc[0]
    assert (int(row["params"]), int(row["params_as_trained"])) == (9_657_600, 10_576_896)
    trained = bench.build_model(0)
    named = bench.build_model(0, variant="as_named")
    assert sum(p.numel() for p in trained.parameters()) == row["params_as_trained"]
    assert sum(p.numel() for p in named.parameters()) == row["params"]
    assert row["flops_as_trained"] > row["flops"]
    assert "as_trained_2023" in bench.metadata["metrics"]["params_as_trained"]["meaning"]


def test_summary_is_cached_on_disk_and_equals_a_fresh_build(shared_data, tmp_path):
    """The summary view is built once per source and kept as Parquet; what a new load reads back equals what
    build_summary computes; a subset never reads the whole's cache; the conversion of the JSON is cached too."""
    import pandas as pd

    from bertbench.loaders.summary import build_summary

    first = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper")
    built = first.to_pandas()
    cached = list((tmp_path / "cache" / "summaries").glob("*.parquet"))
    assert len(cached) == 1 and list((tmp_path / "cache" / "nas-bench-bert-2023").glob("converted-*/runs.parquet"))
    again = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper")
    pd.testing.assert_frame_equal(again.to_pandas(), built)
    pd.testing.assert_frame_equal(build_summary(again), built)
    sub = again.filter(hidden_size=128)
    assert len(sub) == int((built["hidden_size"] == 128).sum()) and "cache_key" not in sub.metadata
    assert float(sub.to_pandas()["glue_2023"].mean()) == pytest.approx(
        float(built.loc[built["hidden_size"] == 128, "glue_2023"].mean()))


def test_filter_coerces_ids_and_repr_is_one_line(shared_data):
    b = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper")
    assert len(b.filter(paper_id=47)) == 1 and len(b.filter(paper_id=[47, "48"])) == 2
    assert len(b.filter(hidden_size="256")) == int((b.to_pandas()["hidden_size"] == 256).sum())
    with pytest.raises(ValueError, match="filter field 'paper_id' holds integers"):
        b.filter(paper_id=4.5)
    with pytest.raises(ValueError, match="filter field 'paper_id' holds numbers"):
        b.filter(paper_id="x")
    with pytest.raises(ValueError, match="filter field 'hidden_size' holds numbers"):
        b.filter(hidden_size="big")
    text = repr(b)
    assert "\n" not in text and len(text) < 200 and "500 units (len) of 491 architectures" in text  # len and repr agree


def _mini_copy(tmp_path):
    import shutil

    from bertbench.loaders.registry import shipped_releases

    folder = next(iter(shipped_releases()["bertbench-mini-ptb-glue"].values()))
    dest = tmp_path / "mini"
    shutil.copytree(folder, dest)
    return dest


def test_metric_at_names_the_allowed_stages_and_curves_and_a_release_keeps_its_license():
    mini = bertbench.load("bertbench-mini-ptb-glue")
    aid = mini.architectures[0].arch_id
    assert math.isfinite(mini.metric_at(aid, "pretrain", "pretrain_loss", step=50))
    assert math.isnan(mini.metric_at(aid, "pretrain", "pretrain_loss", step=5))  # nothing logged yet: NaN
    with pytest.raises(KeyError, match=r"curve name='loss' is not logged for stage 'pretrain'.*'pretrain_loss'"):
        mini.metric_at(aid, "pretrain", "loss", step=50)
    with pytest.raises(KeyError, match=r"stage='pretrian' has no curves.*allowed: .*'pretrain'"):
        mini.metric_at(aid, "pretrian", "pretrain_loss", step=50)
    assert mini.metadata.license == mini.metadata["license"] == "cc-by-sa-4.0"


def test_repr_counts_the_units_len_counts(shared_data):
    paper = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper")
    assert len(paper) == 500 and "500 units (len) of 491 architectures" in repr(paper)


def test_a_changed_table_is_noticed_and_a_truncated_one_is_refused_by_name(tmp_path):
    import pyarrow.parquet as pq

    from bertbench.errors import CorruptRelease

    dest = _mini_copy(tmp_path)
    before = bertbench.load(str(dest)).to_pandas()  # fills the summary cache
    runs = pq.read_table(dest / "runs.parquet")
    keep = [i for i, s in enumerate(runs.column("stage").to_pylist()) if s != "wnli"]
    pq.write_table(runs.take(keep), dest / "runs.parquet")  # a user edits the table of a release copy
    with pytest.raises(CorruptRelease, match=r"runs.parquet: sha256 .* the file is corrupt or was changed"):
        bertbench.load(str(dest))  # verified on load: the edit does not match the manifest
    after = bertbench.load(str(dest), verify=False).to_pandas()  # asked not to verify: the new file, not the cache
    assert "wnli" in before.columns and "wnli" not in after.columns
    (dest / "curves.parquet").write_bytes((dest / "curves.parquet").read_bytes()[:1000])
    with pytest.raises(CorruptRelease, match=r"curves.parquet: table 'curves' cannot be read"):
        bertbench.load(str(dest), verify=False).to_pandas("curves")


def test_the_nas_query_layer_indexes_iterates_and_looks_up_by_architecture_json():
    from bertbench.errors import InvalidArchitecture
    from bertbench.space import Architecture

    mini = bertbench.load("bertbench-mini-ptb-glue")
    units = list(mini)
    assert len(units) == len(mini) == 30 and units[0] == mini.to_pandas()["arch_id"].iloc[0]
    first, last = mini[0], mini[-1]
    assert first["arch_id"] == units[0] and last["arch_id"] == units[-1]
    assert mini.query(first["architecture"].to_json())["arch_id"] == units[0]  # lookup by an architecture string
    with pytest.raises(IndexError, match="index=30 is out of range for 30 units"):
        mini[30]
    with pytest.raises(InvalidArchitecture, match="arch_json='SA-SDP' is not JSON"):
        Architecture.from_json("SA-SDP")


def test_each_benchmark_lists_only_the_metrics_and_aggregates_it_has(shared_data):
    paper = bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper")
    assert "glue" not in paper.to_pandas().columns and paper.to_pandas()["glue_2023"].notna().sum() > 400
    nlp = bertbench.load("nas-bench-nlp", path=shared_data / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    assert set(nlp.metadata["metrics"]) == {"train_loss", "val_loss", "test_loss", "test_perplexity"}
    assert nlp.direction("test_loss") == "lower"
