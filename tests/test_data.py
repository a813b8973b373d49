"""Tokenizer, corpus packing, GLUE sources and metrics, and the synthetic suite."""

import math
import zipfile

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from bertbench.data import synthetic
from bertbench.data.corpus import pack
from bertbench.data.glue import AGGREGATES, GLUE_TASKS, get_task, load_glue
from bertbench.data.sources import parse_source
from bertbench.data.tokenizer import fingerprint, load_tokenizer, train_wordpiece
from bertbench.errors import DataSourceError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTBENCH_CACHE", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------------------------------- tokenizer
def test_shipped_tokenizer_is_fixed():
    tok = load_tokenizer()
    assert len(tok) == 759 and tok.pad_token_id == 0 and tok.mask_token_id == 4
    assert fingerprint(tok) == "69111ed5e26890d4"  # the shipped vocabulary never changes silently
    ids = tok("the dog chases a cat .")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id and tok.unk_token_id not in ids


def test_train_wordpiece_round_trip(tmp_path):
    texts = list(synthetic.iter_corpus(1, 500))
    tok = train_wordpiece(texts, 300, tmp_path / "tok")
    again = load_tokenizer(tmp_path / "tok")
    assert again.get_vocab() == tok.get_vocab()
    assert again("the dog")["input_ids"][0] == again.cls_token_id
    with pytest.raises(DataSourceError, match="could not be loaded"):
        load_tokenizer(tmp_path / "missing")


# -------------------------------------------------------------------------------------------------------- corpus
def test_pack_ptb_from_zip(shared_data):
    tok = load_tokenizer()
    src = f"{shared_data / 'ptb' / 'ptb.zip'}::ptb/ptb.valid.txt"
    corpus = pack(src, tok, length=64)
    assert corpus.meta["docs"] == 3370  # PTB valid has 3,370 sentences (one per line)
    block = corpus[0]
    assert block.shape == (64,) and block[0] == tok.cls_token_id and block[-1] == tok.sep_token_id
    again = pack(src, tok, length=64)
    assert again.folder == corpus.folder  # cached
    assert len(corpus.order(3)) == len(corpus) and (corpus.order(3) == corpus.order(3)).all()
    assert not (corpus.order(3) == corpus.order(4)).all()
    # the blocks are exactly the documents' tokens joined by [SEP], in order
    with zipfile.ZipFile(shared_data / "ptb" / "ptb.zip") as zf:
        lines = [ln.strip() for ln in zf.read("ptb/ptb.valid.txt").decode().splitlines() if ln.strip()]
    expected = []
    for ids in tok(lines[:400], add_special_tokens=False)["input_ids"]:
        expected += ids + [tok.sep_token_id]
    stream = np.concatenate([corpus[i][1:-1] for i in range(40)])
    assert stream.tolist() == expected[: len(stream)]
    assert "consumers may want to move their telephones" in tok.decode(expected[:40])


def test_pack_is_deterministic_and_bounded(tmp_path, monkeypatch):
    import bertbench.data.corpus as corpus_mod

    monkeypatch.setattr(corpus_mod, "SHARD_BLOCKS", 100)
    a = pack("synthetic:seed=2,docs=1500", length=32)
    assert len(a.meta["shards"]) > 1  # written in bounded shards
    b_blocks = np.stack([a[i] for i in range(len(a))])
    monkeypatch.setenv("BERTBENCH_CACHE", str(tmp_path / "other"))
    b = pack("synthetic:seed=2,docs=1500", length=32)
    assert (np.stack([b[i] for i in range(len(b))]) == b_blocks).all()


def test_corpus_bad_inputs(tmp_path, monkeypatch):
    with pytest.raises(DataSourceError, match="does not exist"):
        parse_source(str(tmp_path / "nope.txt"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataSourceError, match="offline mode is on; pass a local text file"):
        pack("hf:Skylion007/openwebtext:train")
    (tmp_path / "tiny.txt").write_text("one two\n")
    with pytest.raises(DataSourceError, match="gave no complete block"):
        pack(str(tmp_path / "tiny.txt"), length=64)
    assert not [p for p in (tmp_path / "cache" / "corpus").iterdir()]  # nothing half-cached


# ---------------------------------------------------------------------------------------------------------- GLUE
def _manifest_rows(shared_data):
    rows = {}
    for line in (shared_data / "glue" / "MANIFEST_counts.txt").read_text().splitlines():
        name, *fields = line.split("\t")
        rows[name] = int(next(f for f in fields if f.startswith("rows=")).split("=")[1].split()[0])
    return rows


def test_glue_tsv_counts_labels_and_schema(shared_data):
    counts = _manifest_rows(shared_data)
    root = shared_data / "glue"
    rte = load_glue("rte", root)
    assert rte["train"].num_rows == counts["RTE/train.tsv"] and rte["validation"].num_rows == counts["RTE/dev.tsv"]
    assert rte["train"].column_names == ["sentence1", "sentence2", "label", "idx"]
    assert rte["train"].features["label"].names == ["entailment", "not_entailment"]
    assert np.bincount(rte["validation"]["label"]).tolist() == [146, 131]
    stsb = load_glue("stsb", root)
    assert stsb["validation"].num_rows == counts["STS-B/dev.tsv"] == 1500
    assert stsb["validation"].features["label"].dtype == "float32"
    assert 0.0 <= min(stsb["validation"]["label"]) and max(stsb["validation"]["label"]) <= 5.0
    sst = load_glue("sst2", root)
    assert sst["train"].num_rows == counts["SST-2/train.reordered.tsv"] and sst["validation"].num_rows == 872
    assert np.bincount(sst["train"]["label"]).tolist() == [29780, 37569]
    wnli = load_glue("wnli", root)
    assert wnli["validation"].num_rows == counts["WNLI/dev.tsv"] == 71
    mrpc = load_glue("mrpc", root)
    assert mrpc["train"].num_rows == counts["MRPC/msr_paraphrase_train.txt"] == 4076
    assert mrpc["validation"].num_rows == counts["MRPC/msr_paraphrase_test.txt"] == 1725
    assert "msr_paraphrase_test" in mrpc["validation"].info.description
    assert set(mrpc["train"].column_names) == {"sentence1", "sentence2", "label", "idx"}


def test_glue_bad_inputs(tmp_path, shared_data):
    (tmp_path / "RTE").mkdir()
    (tmp_path / "RTE" / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    with pytest.raises(DataSourceError, match=r"split 'validation' is missing \(expected dev.tsv\)"):
        load_glue("rte", tmp_path)
    (tmp_path / "RTE" / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\n")
    with pytest.raises(DataSourceError, match="dev.tsv: line 2 has 3 fields, expected 4"):
        load_glue("rte", tmp_path)
    (tmp_path / "RTE" / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n")
    with pytest.raises(DataSourceError, match="label 'maybe' is not valid for rte"):
        load_glue("rte", tmp_path)
    with pytest.raises(KeyError, match="task='nope' is not known"):
        load_glue("nope", tmp_path)
    with pytest.raises(DataSourceError, match="offline mode is on; pass a local copy"):
        load_glue("rte", "hub")


def test_glue_parquet_layout(tmp_path, shared_data):
    rte = load_glue("rte", shared_data / "glue")
    (tmp_path / "rte").mkdir()
    for split, ds in rte.items():
        ds.to_parquet(tmp_path / "rte" / f"{split}-00000-of-00001.parquet")
    again = load_glue("rte", tmp_path)
    assert again["validation"]["label"] == rte["validation"]["label"]
    assert again["train"].features == rte["train"].features


def test_metrics_equal_direct_computation():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 2, 200)
    pred = np.where(rng.random(200) < 0.8, ref, 1 - ref)
    mrpc = get_task("mrpc").compute(pred, ref)
    assert mrpc["accuracy"] == pytest.approx(100 * (pred == ref).mean())
    assert mrpc["f1"] == pytest.approx(100 * f1_score(ref, pred))
    assert get_task("cola").compute(pred, ref)["matthews"] == pytest.approx(100 * matthews_corrcoef(ref, pred))
    x, y = rng.normal(size=100), rng.normal(size=100)
    sts = get_task("stsb").compute(x, y)
    assert sts["pearson"] == pytest.approx(100 * pearsonr(x, y)[0])
    assert sts["spearman"] == pytest.approx(100 * spearmanr(x, y)[0])
    mnli = get_task("mnli").compute(pred, ref, "_matched")
    assert list(mnli) == ["accuracy_matched"]
    assert len(GLUE_TASKS) == 9


def test_aggregates_nan_never_zero():
    scores = {"cola": {"matthews": 40.0}, "sst2": {"accuracy": 90.0}, "mrpc": {"accuracy": 80.0, "f1": 86.0},
              "stsb": {"pearson": 85.0, "spearman": 84.0}, "qqp": {"accuracy": 88.0, "f1": 84.0},
              "mnli": {"accuracy_matched": 80.0, "accuracy_mismatched": 81.0}, "qnli": {"accuracy": 87.0},
              "rte": {"accuracy": 60.0}, "wnli": {"accuracy": 56.0}}
    assert AGGREGATES["glue_2023"].compute(scores) == pytest.approx((40 + 90 + 80 + 85 + 88 + 80 + 87 + 60) / 8)
    leaderboard = (40 + 90 + 83 + 84.5 + 86 + 80.5 + 87 + 60 + 56) / 9
    assert AGGREGATES["glue"].compute(scores) == pytest.approx(leaderboard)
    broken = {**scores, "rte": {"accuracy": math.nan}}
    assert math.isnan(AGGREGATES["glue_2023"].compute(broken))
    missing = {k: v for k, v in scores.items() if k != "qqp"}
    assert math.isnan(AGGREGATES["glue_2023"].compute(missing))


# ----------------------------------------------------------------------------------------------------- synthetic
def test_synthetic_is_deterministic():
    a = synthetic.load_synthetic("synthetic-mnli", seed=3, n_train=50, n_dev=20)
    b = synthetic.load_synthetic("synthetic-mnli", seed=3, n_train=50, n_dev=20)
    assert a["train"].to_dict() == b["train"].to_dict()
    assert a["train"].to_dict() != synthetic.load_synthetic("synthetic-mnli", seed=4, n_train=50)["train"].to_dict()
    assert list(synthetic.iter_corpus(5, 10)) == list(synthetic.iter_corpus(5, 10))
    assert get_task("synthetic-rte").suite == "synthetic" and "synthetic" in AGGREGATES


def test_synthetic_tasks_are_learnable_but_not_trivial():
    results = {name: synthetic.bow_baseline(name) for name in synthetic.SYNTHETIC_TASKS}
    for name, (score, chance) in results.items():
        assert score > chance + 0.03, (name, score, chance)
    assert sum(score < 0.97 for score, _ in results.values()) >= 6, results
