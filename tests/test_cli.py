"""The command line: every command has --help with an example; errors are one clear line."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bertbench

COMMANDS = [["space", "show"], ["space", "size"], ["space", "sample"], ["regenerate"], ["commit"], ["validate"],
            ["query"], ["proxies", "list"], ["proxies", "score"], ["proxies", "evaluate"], ["proxies", "correlate"],
            ["proxies", "leaderboard"], ["proxies", "score-run"],
            ["export"], ["export-model"], ["publish"], ["plot"], ["demo"], ["models"], ["search"]]


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "bertbench.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c))
def test_help_has_an_example(cmd):
    res = run(*cmd, "--help")
    assert res.returncode == 0, res.stderr
    assert "Example: bertbench" in res.stdout


def test_space_size_and_fast_start():
    t = time.perf_counter()
    res = run("space", "size")
    assert res.stdout.strip() == "10621440"
    assert time.perf_counter() - t < 10


def test_errors_are_one_line(tmp_path):
    res = run("query", "no-such-benchmark")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error: unknown benchmark")
    res = run("validate", str(tmp_path))
    assert res.returncode == 2 and "manifest.json is missing" in res.stderr and "Traceback" not in res.stderr
    res = run("--debug", "validate", str(tmp_path))
    assert "Traceback" in res.stderr
    res = run("regenerate", "--out", str(tmp_path / "r"), "--set", "pretrain.stepz=3")
    assert res.returncode == 2 and "unknown key(s) ['stepz']" in res.stderr
    for args, words in [(("regenerate", "--out", str(tmp_path / "r"), "--threads", "0"), "'--threads'"),
                        (("search", "x", "--seeds", "0"), "'--seeds'"), (("regenerate", "--bogus"), "--bogus")]:
        res = run(*args)  # option range and usage errors: one line naming the option, no usage box
        assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and words in res.stderr, res.stderr
        assert res.stderr.startswith("error: bertbench ") and "╭" not in res.stderr
    assert not (tmp_path / "r").exists()
    res = run("query", "bertbench-mini-ptb-glue", "--where", "hidden_size=big")  # a value of the wrong type
    assert res.returncode == 2 and res.stderr.strip() == ("error: filter field 'hidden_size' holds numbers; got the "
                                                          "string 'big'"), res.stderr


def test_reliability_command_prints_each_target_and_its_verdict(tmp_path):
    res = run("reliability", "bertbench-mini-ptb-glue", "--no-curves", "--boot", "200", "--out", str(tmp_path / "r.csv"),
              "--plot", str(tmp_path / "r.png"))
    assert res.returncode == 0, res.stderr
    lines = {ln.split()[0]: ln for ln in res.stdout.splitlines()[2:]}
    assert "0.06 [" in lines["sst2"] and "does not rank architectures above seed noise" in lines["sst2"]
    assert "ties at a baseline" in lines["rte"] and (tmp_path / "r.csv").exists()
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_import_is_light():
    code = "import time, sys; t=time.perf_counter(); import bertbench; print(time.perf_counter()-t, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert float(out[0]) < 1.0 and out[1] == "False"


def test_query_export_and_plot_on_a_release(tmp_path):
    import pandas as pd

    from bertbench.store.release import commit
    from tests.test_store import fill

    fill(tmp_path / "run")
    rel = commit(tmp_path / "run", "cli", "0.0.1", tmp_path / "rel", license="cc-by-4.0")
    res = run("query", str(rel), "--where", "hidden_size=256", "--out", str(tmp_path / "q.parquet"))
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(tmp_path / "q.parquet")
    assert len(df) == 1 and (df["hidden_size"] == 256).all()
    res = run("query", str(rel), "--view", "runs", "--out", str(tmp_path / "runs.csv"))
    assert res.returncode == 0 and len(pd.read_csv(tmp_path / "runs.csv")) == 4
    res = run("plot", str(rel), "--out", str(tmp_path / "plots"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "plots" / "results.png").stat().st_size > 5000
    assert (tmp_path / "plots" / "pretrain_curves.png").exists()
    res = run("export", str(rel), str(tmp_path / "hub"))
    assert res.returncode == 0 and (tmp_path / "hub" / "README.md").exists()
    res = run("validate", str(rel))
    assert res.returncode == 0 and res.stdout.startswith("ok: cli 0.0.1")


@pytest.mark.parametrize("args,files,words", [
    (["--seeds", "abc"], {}, "--seeds 'abc': allowed: comma-separated integers"),
    (["--threads", "0"], {}, "--threads"),
    (["--recipe", "{d}/r.yaml"], {"r.yaml": "pretrain:\n  steps: [1\n"}, "r.yaml: line 3, column 1: YAML syntax error"),
    (["--recipe", "{d}/r.yaml"], {"r.yaml": "name: r\nfinetune:\n  epochs: three\n"}, "finetune.epochs='three' has the wrong type"),
    (["--recipe", "{d}/r.yaml"], {"r.yaml": "name: r\npretrain:\n  betas: ab\n"}, "pretrain.betas='ab' has the wrong type"),
    (["--recipe", "{d}/r.yaml"], {"r.yaml": "name: r\nfinetune:\n  epochs_by_task: [1, 2]\n"}, "epochs_by_task=(1, 2) has the wrong type"),
    (["--grid", "{d}/g.yaml"], {"g.yaml": "- 1\n- 2\n"}, "a grid must be a mapping"),
    (["--grid", "{d}/g.yaml"], {"g.yaml": ""}, "a grid must be a mapping"),
    (["--grid", "{d}/g.yaml"], {"g.yaml": "architectures:\n  - {hidden_size: 64, colour: red, layers: []}\n"},
     "unknown field(s) ['colour']"),
])
def test_bad_regenerate_input_is_one_line_and_writes_nothing(tmp_path, args, files, words):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = tmp_path / "run"
    res = run("regenerate", "--out", str(out), *[a.format(d=tmp_path) for a in args])
    assert res.returncode == 2, res.stderr
    assert words in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not out.exists()


def test_yaml_numbers_without_a_dot_are_numbers():
    from bertbench.training.recipe import recipe_from_dict
    from bertbench.yaml_io import loads

    assert loads("lr: 5e-4") == {"lr": 5e-4}
    assert recipe_from_dict({"name": "x", "pretrain": loads("lr: 5e-4\nsteps: 10\nwarmup_steps: 1")}).pretrain.lr == 5e-4


def test_search_writes_a_trace_and_a_plot(shared_data, tmp_path):
    import pandas as pd

    res = run("search", "nas-bench-bert-2023", "--path", str(shared_data / "seed-paper"), "--algorithms", "random",
              "--proxy", "params", "--seeds", "3", "--out", str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    assert "final regret over 3 seeds" in res.stdout and "tpu-v2-8 seconds" in res.stdout
    trace = pd.read_parquet(tmp_path / "s" / "search.parquet")
    assert set(trace["algorithm"]) == {"random", "proxy", "proxy-evolution"} and trace["seed"].nunique() == 3
    assert (tmp_path / "s" / "search.png").stat().st_size > 10_000
    res = run("search", "nas-bench-bert-2023", "--path", str(shared_data / "seed-paper"), "--algorithms", "annealing")
    assert res.returncode == 2 and "algorithm='annealing' is not known" in res.stderr


def test_validate_and_export_take_a_shipped_releases_name(tmp_path):
    res = run("validate", "bertbench-mini-ptb-glue")
    assert res.returncode == 0 and res.stdout.startswith("ok: bertbench-mini-ptb-glue 0.1.0"), res.stderr
    res = run("validate", "bertbench-mini-ptb-glue-0.1.0")
    assert res.returncode == 0, res.stderr
    res = run("export", "bertbench-mini-ptb-glue", str(tmp_path / "hub"))
    assert res.returncode == 0 and (tmp_path / "hub" / "README.md").exists(), res.stderr
    res = run("validate", "no-such-release")
    assert res.returncode == 2 and "neither a release folder nor a shipped release" in res.stderr


def test_release_folders_follow_the_users_umask(tmp_path):
    import os
    import stat

    from bertbench.store.release import commit
    from tests.test_store import fill

    fill(tmp_path / "run")
    old = os.umask(0o022)
    try:
        dest = commit(tmp_path / "run", "perm", "0.0.1", tmp_path / "rel", license="cc-by-4.0")
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755  # not mkdtemp's 0700: the group can read a shared release


def test_remaining_bad_inputs_get_one_line_naming_the_file_and_field(tmp_path, shared_data):
    """Each: exit 2, one line that names the file (or option) and the field, nothing written."""
    import json
    import shutil
    import subprocess
    import sys
    import zipfile

    paper = json.loads((shared_data / "seed-paper" / "BERT_benchmark.json").read_text())[:4]
    paper[1]["scores"] = [1, 2]
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / "BERT_benchmark.json").write_text(json.dumps(paper))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "BERT_benchmark.json").write_text("[]")
    rel = tmp_path / "rel"
    shutil.copytree(Path(bertbench.__file__).parent / "releases" / "bertbench-mini-ptb-glue-0.1.0", rel)
    (rel / "manifest.json").write_text("[1, 2]")
    logs = zipfile.ZipFile(shared_data / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    names = [n for n in logs.namelist() if n.endswith(".json")][:2]
    with zipfile.ZipFile(tmp_path / "nlp.zip", "w") as out:
        for i, n in enumerate(names):
            log = json.loads(logs.read(n))
            if i == 0:
                log["train_losses"] = 3.5
            out.writestr(n, json.dumps(log))
    (tmp_path / "grid.yaml").write_text("name: g\narchitecture: []\n")
    cases = [
        (["query", "nas-bench-bert-2023", "--path", str(tmp_path / "scores")], "field 'scores' must be an object"),
        (["query", "nas-bench-bert-2023", "--path", str(tmp_path / "empty")], "non-empty JSON list"),
        (["validate", str(rel)], "manifest.json: must be a JSON object"),
        (["query", str(rel)], "manifest.json: must be a JSON object"),
        (["query", "nas-bench-nlp", "--path", str(tmp_path / "nlp.zip")], "field 'train_losses' must be a list"),
        (["models", "--batch", "0"], "--batch"),
        (["regenerate", "--grid", str(tmp_path / "grid.yaml"), "--out", str(tmp_path / "r")],
         "unknown top-level field(s) ['architecture']"),
        (["regenerate", "--out", str(tmp_path / "r"), "--set", "finetune.max_train_examples=-1"],
         "finetune.max_train_examples=-1 is not valid"),
        (["regenerate", "--out", str(tmp_path / "r"), "--set", "finetune.eval_batch_size=0"],
         "finetune.eval_batch_size=0 is not valid"),
        (["regenerate", "--out", str(tmp_path / "r"), "--set", "pretrain.max_predictions=-3"],
         "pretrain.max_predictions=-3 is not valid"),
    ]
    for args, expected in cases:
        res = subprocess.run([sys.executable, "-m", "bertbench.cli", *args], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
        assert res.returncode == 2, (args, res.stderr[-800:])
        assert expected in res.stderr and (len(lines) == 1 or "Usage" in res.stderr), (args, res.stderr[-800:])
    assert not (tmp_path / "r").exists()


def test_proxies_list_is_kept_once_computed(tmp_path):
    """`proxies list` computes its float32/float64 gaps once; a later call prints the same listing from the cache
    without importing torch (what made it slow), and a changed cache key lists afresh."""
    env = {**os.environ, "BERTBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([sys.executable, "-m", "bertbench.cli", "proxies", "list", "--family", "rnn"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-1000:]
    code = ("import sys; from typer.testing import CliRunner; from bertbench.cli import app; "
            "r = CliRunner().invoke(app, ['proxies', 'list', '--family', 'rnn']); "
            "print(r.output, end=''); assert 'torch' not in sys.modules, 'torch imported'")
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-1000:]
    assert again.stdout == first.stdout and "hidden_covariance" in again.stdout
    assert len(list((tmp_path / "cache" / "proxy-gaps").glob("listing-*.txt"))) == 1


def test_score_run_scores_the_planned_architectures_into_the_run(tmp_path):
    """A prepared run folder (nothing trained yet) is scored: one proxies result file with a row per planned
    architecture and proxy; params is the parameter count of the model as built; commit would ship the file."""
    import pyarrow.parquet as pq

    from bertbench.data.tokenizer import load_tokenizer
    from bertbench.models import build_model
    from bertbench.space.grids import load_grid

    env = {**os.environ, "BERTBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "regenerate", "--grid", "tiny", "--recipe", "tiny",
                          "--out", str(tmp_path / "run"), "--limit", "2", "--prepare-only", "--no-progress"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "proxies", "score-run", str(tmp_path / "run"),
                          "--proxies", "params,synflow", "--batch-size", "4", "--seq-len", "32"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    assert "2 architectures x 2 proxies: {'ok': 4}" in res.stdout
    table = pq.read_table(tmp_path / "run" / "shards" / "proxies" / "proxies-seed0.parquet").to_pandas()
    archs = load_grid("tiny").architectures[:2]
    assert set(table["arch_id"]) == {a.arch_id for a in archs} and len(table) == 4
    params = table[table["proxy"] == "params"].set_index("arch_id")["value"]
    vocab = len(load_tokenizer("synthetic"))  # the tiny recipe's tokenizer
    for a in archs:
        assert params[a.arch_id] == sum(p.numel() for p in build_model(a, vocab_size=vocab).parameters())
    res = run("proxies", "score-run", str(tmp_path / "nothing"))
    assert res.returncode == 2 and "no run.json with a grid and units" in res.stderr
