"""Export to a Hub dataset folder, publish through a local HTTP double of the Hub, and read hf:// back."""

import json
import time

import pytest
from datasets import load_dataset

import bertbench
from bertbench.errors import HubError
from bertbench.hub import export, publish
from bertbench.store.schema import SCHEMA_VERSION
from tests.fake_hub import FakeHub
from tests.test_store import fill


@pytest.fixture
def release(tmp_path):
    from bertbench.store.release import commit

    fill(tmp_path / "run")
    return commit(tmp_path / "run", "unit", "1.2.3", tmp_path / "releases", license="cc-by-4.0")


@pytest.fixture
def online(monkeypatch, tmp_path):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_never_printed")


def test_export_loads_with_datasets_offline(release, tmp_path):
    from huggingface_hub import DatasetCard

    out = export(release, tmp_path / "export")
    card = (out / "README.md").read_text()
    assert card.startswith("---") and "config_name: summary" in card and f"schema_version: '{SCHEMA_VERSION}'" in card
    assert "Citation" in card and "## Dataset structure" in card
    assert "`glue_2023`" not in card  # an aggregate of tasks the release lacks (NaN for every architecture) is not offered
    meta = DatasetCard.load(out / "README.md").data.to_dict()
    assert meta["license"] == "cc-by-4.0" and "bertbench" not in meta["pretty_name"].lower()
    assert meta["task_categories"] == ["text-classification"] and meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"] and "original" in meta["source_datasets"]
    assert "nas-benchmark" in meta["tags"]
    assert [c["config_name"] for c in meta["configs"]] == ["summary", "architectures", "runs", "curves", "proxies"]
    assert "`wall_seconds` | wall-clock seconds" in card  # column docs come from store/schema.py
    sections = {part.split("`", 1)[0]: part for part in card.split("### `")[1:]}  # each config's own column docs
    assert "| `sst2_std` | sd of sst2 between pretraining seeds |" in sections["summary"]
    assert "| `sst2` | accuracy of sst2 (x100), mean over ok fine-tuning seeds" in sections["summary"]
    assert "| `status` | ok if every run of the unit is ok" in sections["summary"]
    assert "as in runs" not in sections["runs"] and "| `status` | ok | failed | diverged |" in sections["runs"]
    assert "objective of gradient proxies" in sections["proxies"] and "objective of" not in sections["runs"]
    assert "## Reliability" in card and "| sst2 | 2 | 1.5 |" in card  # the reliability table (one run diverged)
    assert "reliability unknown: fewer than 3 architectures on two seeds" in card
    manifest = json.loads((out / "manifest.json").read_text())
    compute = manifest["compute"]  # what the results cost, from the runs table
    runs = bertbench.load(str(out)).to_pandas("runs")
    assert compute["units"] == runs.groupby(["arch_id", "seed"]).ngroups
    assert compute["seconds_total"] == pytest.approx(runs["wall_seconds"].fillna(0).sum(), abs=0.1)
    assert f"{compute['units']} units (architecture x seed)" in card
    assert manifest["tables"]["runs"]["file"] == "tables/runs.parquet"
    bench = bertbench.load(str(out))  # the export is itself a loadable release
    assert bench.to_pandas().shape[0] == 2
    for config, rows in [("summary", 2), ("architectures", 2), ("runs", 4), ("curves", 12)]:
        ds = load_dataset(str(out), name=config, split="train")
        assert ds.num_rows == rows, config
        if config in ("summary", "runs"):  # flat: the same columns as the loader's views
            assert ds.column_names == list(bench.to_pandas(config).columns), config
    # this release has no proxy scores: the config is still declared (the same five configs for every release),
    # but `datasets` cannot read a Parquet file without rows ("BatchSize must be greater than 0")
    from datasets.exceptions import DatasetGenerationError

    with pytest.raises(DatasetGenerationError):
        load_dataset(str(out), name="proxies", split="train")
    with pytest.raises(FileExistsError):
        export(release, out)


def test_publish_commit_tag_and_load_back(release, tmp_path, online, capsys):
    with FakeHub() as hub:
        hub.cards["org/bench"] = "---\nconfigs:\n- config_name: legacy\n  data_files: old/*.parquet\n---\nold card\n"
        res = publish(release, "org/bench", "v1.2.3", endpoint=hub.url, timeout=5, record=tmp_path / "index.json")
        repo = hub.repos["org/bench"]
        assert len(repo["commits"]) == 2 and repo["tags"] == {"v1.2.3": res["commit"]}  # the repo's initial + ours
        files = repo["files"]
        assert {"README.md", "manifest.json", "data/summary.parquet", "data/runs.parquet"} <= set(files)
        card = files["README.md"].decode()
        assert "config_name: legacy" in card and "config_name: summary" in card  # existing configs kept
        assert json.loads(files["manifest.json"])["version"] == "1.2.3"
        index = json.loads((tmp_path / "index.json").read_text())
        assert index["releases"][0]["tag"] == "v1.2.3"
        bench = bertbench.hub.load_hub("hf://org/bench@v1.2.3", endpoint=hub.url)
        assert len(bench.to_pandas()) == 2 and bench.metadata["source"] == "hf://org/bench@v1.2.3"
    assert "hf_test_token_never_printed" not in capsys.readouterr().out


def test_publish_fails_clearly_without_token(release, online, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with FakeHub() as hub:
        with pytest.raises(HubError, match="no Hugging Face token"):
            publish(release, "org/bench", "v1", endpoint=hub.url)
        assert hub.requests == []


def test_publish_offline_fails_at_once(release, monkeypatch):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    t = time.perf_counter()
    with pytest.raises(HubError, match="offline mode is on"):
        publish(release, "org/bench", "v1", token="x")
    assert time.perf_counter() - t < 2


def test_publish_stalled_endpoint_times_out_and_leaves_nothing(release, online):
    with FakeHub(stall=True) as hub:
        t = time.perf_counter()
        with pytest.raises(HubError, match="publishing org/bench failed"):
            publish(release, "org/bench", "v1", endpoint=hub.url, timeout=1.0)
        assert time.perf_counter() - t < 15
        assert hub.repos == {} and all(path == "/api/repos/create" for _, path in hub.requests)


@pytest.mark.parametrize("fault", ["tag_500", "commit_lost"])
def test_publish_recovers_from_a_fault_with_one_commit(release, online, fault):
    """The tag POST answers 500, or the commit lands but its response is lost: the next try reads the remote, sees
    its own manifest at the head and only tags. One release = one commit; a rerun sends nothing."""
    with FakeHub(faults={fault: 1}) as hub:
        res = publish(release, "org/bench", "v1", endpoint=hub.url, timeout=20)
        repo = hub.repos["org/bench"]
        assert len(repo["commits"]) == 2 and repo["tags"] == {"v1": res["commit"]} and res["action"] == "tagged"
        again = publish(release, "org/bench", "v1", endpoint=hub.url, timeout=20)
        assert again["action"] == "already published" and len(repo["commits"]) == 2  # the initial + one


def test_publish_stalled_commit_stays_within_the_deadline_and_a_rerun_finishes(release, online, tmp_path):
    with FakeHub(faults={"commit_stall": 1}) as hub:
        t = time.perf_counter()
        with pytest.raises(HubError, match="failed after 1 tries within 3 s.*run it again"):
            publish(release, "org/bench", "v1", endpoint=hub.url, timeout=3)
        assert time.perf_counter() - t < 3 + 2.5  # the whole call, not 3 s per try
        assert len(hub.repos["org/bench"]["commits"]) == 1  # the initial commit only
        res = publish(release, "org/bench", "v1", endpoint=hub.url, timeout=20)
        assert res["action"] == "committed" and len(hub.repos["org/bench"]["commits"]) == 2


def test_publish_refuses_a_tag_that_holds_another_release(release, online, tmp_path):
    from bertbench.store.release import commit

    fill(tmp_path / "run2", seed=1) if "seed" in fill.__code__.co_varnames else fill(tmp_path / "run2")
    other = commit(tmp_path / "run2", "unit", "1.2.4", tmp_path / "releases2", license="cc-by-4.0")
    with FakeHub() as hub:
        publish(release, "org/bench", "v1", endpoint=hub.url, timeout=20)
        with pytest.raises(HubError, match="tag 'v1' already exists on org/bench and holds another release"):
            publish(other, "org/bench", "v1", endpoint=hub.url, timeout=20)
        assert len(hub.repos["org/bench"]["commits"]) == 2


def test_the_card_names_each_source_its_terms_and_local_file_quirks():
    """Real tasks get one line each with their source and terms; local files that are not GLUE's own (reordered,
    reconstructed, the raw MSR test set as dev) are named with their sha256 and what they are."""
    from bertbench.hub.card import _sources

    manifest = {"tasks": ["sst2", "mrpc", "wnli"], "data": {
        "corpus": "data/ptb.zip::ptb/ptb.train.txt",
        "files_sha256": {"tasks/SST-2/train.reordered.tsv": "8621df47b79e" + "0" * 52,
                         "tasks/SST-2/dev.tsv": "54a9c12c77e4" + "0" * 52,
                         "tasks/MRPC/msr_paraphrase_test.txt": "0360d0d3427a" + "0" * 52}}}
    datasets_, lines, bib = _sources(manifest)
    text = "\n".join(lines)
    assert "nyu-mll/glue" in datasets_ and len(bib) == 3
    assert "Stanford Sentiment Treebank" in text and "Microsoft Research Paraphrase" in text and "CC BY 4.0" in text
    assert "train.reordered.tsv` (sha256 8621df47b79e" in text and "another order" in text
    assert "1,725 pairs" in text and "dev.tsv`" not in text  # GLUE's own files need no note
    assert "LDC99T42" in text


def test_cards_claim_only_what_the_release_is(tmp_path):
    """A synthetic release's card claims no natural language, no text-classification task and no membership of the
    2023 space its sizes are outside; the shipped mini card counts seeds in words, names no placeholder repository
    or build path, documents its own aggregate and says MRPC is scored on the MSR test file; a published card names
    its repository."""
    from huggingface_hub import DatasetCard

    from bertbench.space import Architecture, LayerSpec
    from bertbench.store.release import commit
    from bertbench.store.writer import ResultWriter, result_name
    from tests.test_store import arch_row, run_row

    w = ResultWriter(tmp_path / "run")
    for i, a in enumerate([Architecture(64, (LayerSpec("SA", "SDP", 2, 128, 1),) * 2),  # the tiny grid's sizes
                           Architecture(32, (LayerSpec("LT", "DCT", 2, 64, 1),))]):
        w.write_architecture(a.arch_id, [arch_row(a)])
        for seed in (0, 1):
            w.write_result(result_name(a.arch_id, seed, "sst2"), [run_row(a, seed, "sst2", 50.0 + i + seed, "ok")], [])
    release = commit(tmp_path / "run", "unit", "1.2.3", tmp_path / "releases", license="cc-by-4.0")
    manifest = json.loads((release / "manifest.json").read_text())
    manifest.update(tasks=["synthetic_sentiment"], data={"corpus": "synthetic", "tasks": ["synthetic_sentiment"]})
    (release / "manifest.json").write_text(json.dumps(manifest))
    card = DatasetCard.load(export(release, tmp_path / "synthetic") / "README.md")
    assert card.data.language is None and card.data.task_categories is None
    assert "NAS-Bench-BERT space" not in card.data.pretty_name and "built from the NAS-Bench-BERT ops" in card.text
    mini = export("bertbench/releases/bertbench-mini-ptb-glue-0.1.0", tmp_path / "mini", repo_id="org/mini")
    text = (mini / "README.md").read_text()
    assert "30 trained architectures of the NAS-Bench-BERT space x 3 seeds," in text and "seed(s)" not in text
    assert "REPO" not in text and "/work/" not in text and "hf://org/mini@v0.1.0" in text
    assert "- `glue_mini`: The mini benchmark's GLUE" in text and "`glue_2023`" not in text  # it has 5 of its 8 tasks
    assert "MRPC is scored on `msr_paraphrase_test.txt`" in text
    assert DatasetCard.load(mini / "README.md").data.language == ["en"]


def test_publish_timeout_bounds_the_hubs_own_retries_and_record_folders_are_created(release, online, tmp_path):
    """huggingface_hub retries a 503 five times with sleeps of 1+2+4+8+8 s; --timeout 3 still ends the whole call
    within its deadline, with one line and nothing committed. A --record path whose folders are missing is created."""
    with FakeHub(faults={"status_503": 10_000}) as hub:
        t = time.perf_counter()
        with pytest.raises(HubError, match="failed after .* within 3 s"):
            publish(release, "org/bench", "v1", endpoint=hub.url, timeout=3)
        assert time.perf_counter() - t < 3 + 2.5
        assert hub.repos == {}
    with FakeHub() as hub:
        publish(release, "org/bench", "v1", endpoint=hub.url, timeout=20, record=tmp_path / "new" / "dir" / "i.json")
    assert json.loads((tmp_path / "new" / "dir" / "i.json").read_text())["releases"][0]["tag"] == "v1"
