"""The trainer: loops learn, resume is exact, the grid runner shards, survives SIGKILL and records divergence."""

import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from bertbench.data.synthetic import load_synthetic
from bertbench.data.tasks import get_task
from bertbench.data.tokenizer import load_tokenizer
from bertbench.errors import InvalidRecipe
from bertbench.space import Architecture, LayerSpec
from bertbench.store.writer import ResultWriter
from bertbench.training.common import make_accelerator
from bertbench.training.recipe import FinetuneRecipe, PretrainRecipe, load_recipe, recipe_from_dict

REPO = Path(__file__).resolve().parent.parent


def free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])
GRID = {"name": "test3", "architectures": [
    {"hidden_size": 32, "layers": [{"op_type": "SA", "op_param": "SDP", "heads": 2, "ffn_dim": 64, "num_ffn": 1}]},
    {"hidden_size": 32, "layers": [{"op_type": "DSC", "op_param": 5, "heads": 2, "ffn_dim": 64, "num_ffn": 1},
                                   {"op_type": "LT", "op_param": "DFT", "heads": 2, "ffn_dim": 64, "num_ffn": 1}]},
    {"hidden_size": 64, "layers": [{"op_type": "SA", "op_param": "WMA", "heads": 4, "ffn_dim": 64, "num_ffn": 3}]},
]}
MICRO = {
    "name": "micro", "mixed_precision": "no",
    "pretrain": {"steps": 24, "batch_size": 8, "seq_len": 32, "lr": 0.002, "warmup_steps": 4, "checkpoint_every": 8,
                 "log_every": 4, "max_predictions": 5, "heldout_tokens": 2048, "heldout_every": 12},
    "finetune": {"batch_size": 16, "epochs": 1, "epochs_by_task": {}, "lr": 0.001, "layer_decay_depth": "real",
                 "max_seq_len": 48, "double_unordered": [], "max_train_examples": 160, "eval_batch_size": 64},
    "data": {"corpus": "synthetic:seed=0,docs=1500", "tokenizer": "synthetic", "task_source": "synthetic",
             "tasks": ["synthetic-rte", "synthetic-sst2"], "synthetic_train_size": 200},
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    (root / "grid.yaml").write_text(yaml.safe_dump(GRID))
    (root / "micro.yaml").write_text(yaml.safe_dump(MICRO))
    env = {**os.environ, "BERTBENCH_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return root, env


def regenerate(root, env, out, *extra, launcher=(sys.executable, "-m", "bertbench.cli"), check=True, **kw):
    cmd = [*launcher, "regenerate", "--grid", str(root / "grid.yaml"), "--recipe", str(root / "micro.yaml"),
           "--out", str(out), "--threads", "1", "--no-progress", *extra]
    if not check:
        return subprocess.Popen(cmd, env=env, cwd=REPO, **{"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
                                                           **kw})
    res = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def runs_of(out):
    t = ResultWriter(out).read("runs").to_pylist()
    return {(r["arch_id"], r["seed"], r["stage"]): r for r in t}


@pytest.fixture(scope="module")
def reference(env):
    root, e = env
    out = root / "single"
    regenerate(root, e, out)
    return out


def test_auto_precision_follows_the_hardware_and_the_rows_name_it(monkeypatch):
    """``auto`` trains in bf16 on a CPU with AMX-BF16 tiles (where bf16 autocast is the faster) and in fp32 on one
    without; an explicit precision is kept. A bf16 accelerator autocasts (a Linear returns bfloat16) and the device
    its rows record says bf16 (in a fresh process: accelerate fixes the precision once per process)."""
    from bertbench.training import common

    monkeypatch.setattr(common, "cpu_flags", lambda: frozenset({"avx2", "amx_tile", "amx_bf16"}))
    assert common.resolve_precision("auto", cpu=True) == "bf16" and common.resolve_precision("no", cpu=True) == "no"
    monkeypatch.setattr(common, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert common.resolve_precision("auto", cpu=True) == "no" and common.resolve_precision("bf16", cpu=True) == "bf16"
    code = ("import torch\nfrom bertbench.training.common import make_accelerator, device_summary\n"
            "acc = make_accelerator('bf16', cpu=True)\nwith acc.autocast():\n"
            "    out = torch.nn.Linear(4, 4)(torch.ones(2, 4))\nprint(out.dtype, '|', device_summary(acc))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split("|")[0].strip() == "torch.bfloat16" and res.stdout.strip().endswith("x1 bf16"), res.stdout
    assert "bf16" not in common.device_summary(make_accelerator("no"))


def test_recipes_validate():
    for name in ("paper-2023", "mlm", "tiny"):
        load_recipe(name)
    paper = load_recipe("paper-2023")
    assert paper.pretrain.disc_weight == 50 and paper.pretrain.warmup_steps == 10_000
    assert paper.finetune.learning_rate == 5e-4 and paper.finetune.epochs_for("rte") == 10
    with pytest.raises(InvalidRecipe, match=r"unknown key\(s\) \['stepz'\] in recipe section 'pretrain'; allowed:"):
        recipe_from_dict({"name": "x", "pretrain": {"stepz": 3}})
    with pytest.raises(InvalidRecipe, match="pretrain.objective='gpt' is not valid; allowed: 'electra', 'mlm'"):
        recipe_from_dict({"name": "x", "pretrain": {"objective": "gpt"}})
    with pytest.raises(InvalidRecipe, match="finetune.lr='fast' is not valid"):
        recipe_from_dict({"name": "x", "finetune": {"lr": "fast"}})
    with pytest.raises(KeyError, match="task='glue-x' is not known"):
        recipe_from_dict({"name": "x", "data": {"tasks": ["glue-x"]}})


def test_finetune_learns_synthetic_task():
    from bertbench.training.finetune import finetune

    torch.set_num_threads(2)
    arch = Architecture(64, (LayerSpec("SA", "SDP", 2, 128, 1),) * 2)
    rec = FinetuneRecipe(batch_size=32, epochs=4, lr=1e-3, layer_decay=1.0, layer_decay_depth="real", max_seq_len=64,
                         double_unordered=())
    out = finetune(arch, get_task("synthetic-mnli"), load_synthetic("synthetic-mnli"), load_tokenizer(), rec, 0,
                   make_accelerator("no"), None, progress=False)
    assert out.status == "ok"
    assert out.metrics["accuracy"] >= 90.0, out.metrics


def test_pretraining_loss_falls_and_resume_is_exact(tmp_path, monkeypatch):
    from bertbench.data.corpus import pack
    from bertbench.training.pretrain import pretrain

    monkeypatch.setenv("BERTBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    tok = load_tokenizer()
    corpus = pack("synthetic:seed=0,docs=3000", tok, length=32)
    arch = Architecture(64, (LayerSpec("SA", "SDP", 2, 128, 1), LayerSpec("DSC", 9, 2, 128, 1)))
    rec = PretrainRecipe(steps=50, batch_size=16, seq_len=32, lr=2e-3, warmup_steps=5, checkpoint_every=20,
                         log_every=5, max_predictions=5)
    full = pretrain(arch, rec, corpus, tok, 0, make_accelerator("no"), progress=False)
    losses = [c["value"] for c in full.curves if c["name"] == "pretrain_loss"]
    assert full.status == "ok" and len(losses) == 10
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:2]) / 2, losses
    ckpt = tmp_path / "ckpt"
    part = pretrain(arch, rec, corpus, tok, 0, make_accelerator("no"), ckpt_dir=ckpt, stop_after=30, progress=False)
    assert part.steps == 30 and (ckpt / "step-20").exists()
    resumed = pretrain(arch, rec, corpus, tok, 0, make_accelerator("no"), ckpt_dir=ckpt, progress=False)
    assert resumed.steps == 50
    for k, v in full.encoder_state.items():
        assert torch.equal(v, resumed.encoder_state[k]), k
    assert resumed.curves == full.curves  # the points logged before the checkpoint come back with it
    assert len([c for c in resumed.curves if c["name"] == "pretrain_loss"]) == 10


def test_grid_two_processes_equal_one(env, reference):
    root, e = env
    out = root / "two"
    launcher = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                "-m", "bertbench.cli")
    regenerate(root, e, out, launcher=launcher)
    one, two = runs_of(reference), runs_of(out)
    assert set(one) == set(two) and len(one) == 3 * 3
    for key, r in one.items():
        assert r["status"] == "ok", (key, r["error"])
        a = {m["name"]: m["value"] for m in r["metrics"]}
        b = {m["name"]: m["value"] for m in two[key]["metrics"]}
        assert a.keys() == b.keys()
        for name in a:
            assert a[name] == pytest.approx(b[name], abs=1e-6), (key, name)


def test_sigkill_then_rerun_loses_nothing(env, reference):
    root, e = env
    out = root / "killed"
    proc = regenerate(root, e, out, check=False, start_new_session=True)
    runs_dir = out / "shards" / "runs"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(runs_dir.glob("*.parquet"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(list(runs_dir.glob("*.parquet")))
    assert 2 <= partial < 9, partial
    regenerate(root, e, out)
    files = sorted(p.name for p in runs_dir.glob("*.parquet"))
    assert len(files) == len(set(files)) == 9
    assert not list(runs_dir.glob(".*"))  # no temp files survive
    ref, got = runs_of(reference), runs_of(out)
    assert set(ref) == set(got)
    for key, r in ref.items():
        assert r["score"] == pytest.approx(got[key]["score"], abs=1e-6), key


def test_divergence_is_recorded_and_grid_continues(env, tmp_path):
    root, e = env
    out = tmp_path / "diverged"
    regenerate(root, e, out, "--set", "pretrain.lr=10000", "--limit", "2")
    runs = runs_of(out)
    assert len(runs) == 2 * 3
    for (_arch_id, _seed, stage), r in runs.items():
        if stage == "pretrain":
            assert r["status"] == "diverged" and "loss is" in r["error"]
        else:
            assert r["status"] == "failed" and "pretraining diverged" in r["error"]
        assert math.isnan(r["score"]) and all(math.isnan(m["value"]) for m in r["metrics"])
    table = pq.read_table(next((out / "shards" / "runs").glob("*pretrain.parquet")))
    assert table.num_rows == 1


def _compare(reference, out):
    ref, got = runs_of(reference), runs_of(out)
    assert set(ref) == set(got)
    for key, r in ref.items():
        assert r["status"] == got[key]["status"] == "ok"
        assert r["score"] == pytest.approx(got[key]["score"], abs=1e-6), key


def test_regenerate_workers_stop_at_the_deadline_and_the_same_command_resumes(env, reference, tmp_path):
    """`regenerate --workers 2` prepares the folder once and runs two worker processes (logs in the run folder);
    stopped by --deadline mid-grid, the same command without it finishes, with one process's results."""
    root, e = env
    out = tmp_path / "workers"
    res = regenerate(root, e, out, "--workers", "2", "--deadline", "4")
    assert "stopped at the deadline: rerun the same command to resume" in res.stdout, res.stdout
    assert (out / "logs" / "worker0.log").exists() and (out / "logs" / "worker1.log").exists()
    res = regenerate(root, e, out, "--workers", "2")
    assert "0 planned result(s) missing" in res.stdout and "stopped" not in res.stdout, res.stdout
    _compare(reference, out)
    logs = "".join((out / "logs" / f"worker{i}.log").read_text() for i in (0, 1))  # a line per result written
    logged = re.findall(r"unit_trainer: result (\S+): ok, ", logs)
    assert logged and set(logged) <= runs_keys(out), logs[-2000:]
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "progress", str(out)], capture_output=True, text=True,
                         env=e, cwd=REPO, timeout=120)
    assert res.returncode == 0 and "every planned result is written" in res.stdout, res.stdout + res.stderr
    bad = subprocess.run([sys.executable, "-m", "bertbench.cli", "regenerate", "--out", str(out), "--deadline", "5"],
                         capture_output=True, text=True, env=e, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "--deadline and --nice start nothing without --workers N" in bad.stderr


def runs_keys(out):
    return set(ResultWriter(out).keys("runs"))


def test_progress_counts_the_plan_and_predicts_the_work_left_from_the_folders_own_seconds(reference, tmp_path):
    """A run folder with one pretraining and one fine-tuning result removed: each stage's planned, written and
    failed counts, and the work left as documented: a missing pretraining costs its (hidden size, depth) group's
    median (here, no other unit in its group: the median of all), a task result its unit's pretraining cost times
    the task's ratio of seconds; a unit under a live claim is in flight."""
    import shutil
    import statistics

    from bertbench.store.claims import claim
    from bertbench.store.run_folder import claim_path
    from bertbench.store.run_progress import format_progress, run_progress
    from bertbench.store.writer import result_name

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    rows = {(r["arch_id"], r["stage"]): r for r in ResultWriter(run).read("runs").to_pylist()}
    a, b, c = (Architecture.from_dict(x).arch_id for x in GRID["architectures"])  # groups (32,1), (32,2), (64,1)
    secs = {(arch, stage): r["wall_seconds"] for (arch, stage), r in rows.items()}
    ResultWriter(run).remove_result(result_name(a, 0, "pretrain"))
    ResultWriter(run).remove_result(result_name(b, 0, "synthetic-rte"))
    with claim(claim_path(run, b, 0)):
        p = run_progress(run)
    stages = {s.stage: s for s in p.stages}
    assert [(s.planned, s.written, s.failed) for s in stages.values()] == [(3, 2, 0), (3, 2, 0), (3, 3, 0)]
    cost_a = statistics.median([secs[b, "pretrain"], secs[c, "pretrain"]])
    assert stages["pretrain"].seconds_left == pytest.approx(cost_a)
    ratio = (secs[a, "synthetic-rte"] + secs[c, "synthetic-rte"]) / (cost_a + secs[c, "pretrain"])
    assert stages["synthetic-rte"].seconds_left == pytest.approx(ratio * secs[b, "pretrain"])
    assert stages["synthetic-sst2"].seconds_left == 0
    assert [f.unit for f in p.in_flight] == [f"{b}__s0"] and run_progress(run).in_flight == ()
    text = format_progress(p)
    assert f"in flight: {b}__s0" in text and "of wall time at the 1 worker(s) in flight" in text, text


def test_reliability_reads_a_run_folder_before_it_is_committed(env, reference):
    """`bertbench reliability RUN` measures a run folder's finished results (what a build checks before commit)."""
    root, e = env
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "reliability", str(reference), "--no-curves",
                          "--boot", "100"], capture_output=True, text=True, env=e, cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith(f"run:{reference.name} 0.0.0: reliability of each target over pretraining seeds")
    pretrain = next(line for line in res.stdout.splitlines() if line.startswith("pretrain "))
    assert pretrain.split()[1] == str(len(GRID["architectures"]))  # every architecture of the run, on its seeds


def test_a_worker_that_finishes_its_share_takes_over_the_rest(env, reference, tmp_path):
    """Worker 1 of 2 alone (worker 0 never started, or is slow): after its own share it trains worker 0's units
    too, with the same results, so the slowest share does not set the wall time and nothing waits for a dead worker."""
    root, e = env
    out = tmp_path / "alone"
    res = regenerate(root, e, out, "--worker-index", "1", "--num-workers", "2", "--limit", "2", "--tasks",
                     "synthetic-rte")
    assert "4 results written, 0 already present" in res.stdout, res.stdout
    ref, got = runs_of(reference), runs_of(out)
    assert len(got) == 4 and len({arch for arch, _, _ in got}) == 2
    for key, r in got.items():
        assert r["status"] == "ok" and r["score"] == pytest.approx(ref[key]["score"], abs=1e-6), key


def test_slurm_array_template_as_two_local_tasks(env, reference):
    root, e = env
    out = root / "slurm"
    common = {**e, "GRID": str(root / "grid.yaml"), "RECIPE": str(root / "micro.yaml"), "RUN_DIR": str(out),
              "BERTBENCH": f"{sys.executable} -m bertbench.cli", "EXTRA_ARGS": "--threads 1 --no-progress",
              "SLURM_ARRAY_TASK_COUNT": "2"}
    script = REPO / "bertbench" / "training" / "launch" / "slurm_array.sh"
    procs = [subprocess.Popen(["bash", str(script)], env={**common, "SLURM_ARRAY_TASK_ID": str(i)}, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    assert all("worker done" in log for log in logs)
    _compare(reference, out)


def test_multinode_command_as_two_local_nodes(env, reference):
    root, e = env
    out = root / "multinode"
    common = {**e, "NNODES": "2", "GPUS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": free_port(),
              "GRID": str(root / "grid.yaml"), "RECIPE": str(root / "micro.yaml"), "RUN_DIR": str(out),
              "PYTHON": sys.executable, "EXTRA_ARGS": "--threads 1 --no-progress"}
    script = REPO / "bertbench" / "training" / "launch" / "multinode.sh"
    procs = [subprocess.Popen(["bash", str(script)], env={**common, "NODE_RANK": str(i)}, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    _compare(reference, out)


def test_ddp_mode_trains_each_architecture_once(env):
    root, e = env
    out = root / "ddp"
    launcher = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                "-m", "bertbench.cli")
    regenerate(root, e, out, "--parallel", "ddp", "--limit", "1", launcher=launcher)
    runs = runs_of(out)
    assert len(runs) == 3 and all(r["status"] == "ok" for r in runs.values())
    assert all("x2" in r["device"] for r in runs.values())


def test_trained_encoders_round_trip_through_transformers(env, reference, tmp_path):
    """Every pretrained unit is a save_pretrained folder; `export-model` writes one that AutoModel loads (after
    importing bertbench.models, and with trust_remote_code in a fresh process) with the unit's exact outputs."""
    from transformers import AutoModel

    from bertbench.models import BertBenchModel  # noqa: F401 - registers the Auto classes
    from bertbench.models.export import load_encoder_state
    from bertbench.space import Architecture

    root, e = env
    arch = Architecture.from_dict(GRID["architectures"][1])  # DSC-5 + LT-DFT
    unit = reference / "models" / f"{arch.arch_id}__s0"
    assert (unit / "model.safetensors").exists() and (unit / "config.json").exists()
    out = tmp_path / "exported"
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "export-model", str(reference), arch.arch_id,
                          "--out", str(out)], env=e, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    ids = torch.randint(5, 700, (2, 16), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    from bertbench.models import build_model

    direct = build_model(arch, vocab_size=load_encoder_state(unit)["embeddings.word_embeddings.weight"].shape[0])
    direct.load_state_dict(load_encoder_state(unit))
    loaded = AutoModel.from_pretrained(out)
    assert type(loaded).__name__ == "BertBenchModel" and loaded.config.architecture == arch
    with torch.no_grad():
        want = direct.eval()(ids, mask).last_hidden_state
        assert torch.equal(loaded.eval()(ids, mask).last_hidden_state, want)
    assert {"tokenizer.json", "README.md", "modeling.py", "standalone.py"} <= {p.name for p in out.iterdir()}
    card = (out / "README.md").read_text()
    assert arch.arch_id in card and "| 0 | DSC-5 |" in card and "| synthetic-sst2 | 0 | accuracy |" in card
    want_ids = load_tokenizer("synthetic")("the cat sat")["input_ids"]
    # a fresh process where bertbench cannot be imported at all: transformers + torch + the folder's own files
    code = ("import sys; sys.modules['bertbench'] = None; import torch; "
            "from transformers import AutoModel, AutoTokenizer; "
            f"m = AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True).eval(); "
            f"tok = AutoTokenizer.from_pretrained({str(out)!r}, trust_remote_code=True); print(tok('the cat sat')['input_ids']); "
            "assert not [k for k in sys.modules if k.startswith('bertbench.')]; "
            "ids = torch.tensor(%s); mask = torch.tensor(%s); "
            "print(' '.join(map(str, m(ids, mask).last_hidden_state[:, :4, :4].flatten().tolist())))"
            % (ids.tolist(), mask.tolist()))
    res = subprocess.run([sys.executable, "-c", code], env={**e, "HF_MODULES_CACHE": str(tmp_path / "modules")},
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    first, second = res.stdout.splitlines()[-2:]
    assert first == str(want_ids)
    got = [float(x) for x in second.split()]
    assert got == pytest.approx(want[:, :4, :4].flatten().tolist(), abs=1e-5)
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "export-model", str(reference), "0" * 16,
                          "--out", str(tmp_path / "none")], env=e, cwd=REPO, capture_output=True, text=True)
    assert res.returncode != 0 and "no trained encoder for arch_id='0000000000000000'" in res.stderr


def test_pretraining_first_then_the_tasks_gives_the_same_results(env, reference, tmp_path):
    """--pretrain-only trains only the pretraining stage of every unit (the headline target first), --only-tasks
    one task next (a name the run lacks is refused, naming its tasks); a later run on the same folder fine-tunes the
    rest from the saved encoders, and every result equals a run that did all at once."""
    root, e = env
    out = tmp_path / "staged"
    regenerate(root, e, out, "--limit", "2", "--pretrain-only")
    first = runs_of(out)
    assert first and {k[2] for k in first} == {"pretrain"}
    bad = subprocess.run([sys.executable, "-m", "bertbench.cli", "regenerate", "--grid", str(root / "grid.yaml"),
                          "--recipe", str(root / "micro.yaml"), "--out", str(out), "--limit", "2", "--only-tasks",
                          "synthetic-sst2,mrpc"], capture_output=True, text=True, env=e, cwd=REPO, timeout=300)
    assert bad.returncode == 2 and "['mrpc'] are not tasks of this run; allowed: ['synthetic-rte', 'synthetic-sst2']" \
        in bad.stderr, bad.stderr[-2000:]
    regenerate(root, e, out, "--limit", "2", "--only-tasks", "synthetic-sst2")
    assert {k[2] for k in runs_of(out)} == {"pretrain", "synthetic-sst2"}
    res = regenerate(root, e, out, "--limit", "2")
    assert "4 already present" in res.stdout, res.stdout
    both, ref = runs_of(out), runs_of(reference)
    assert {k[2] for k in both} == {"pretrain", "synthetic-rte", "synthetic-sst2"}
    for key, row in both.items():
        assert row["score"] == ref[key]["score"] or (math.isnan(row["score"]) and math.isnan(ref[key]["score"])), key


def test_two_fresh_run_folders_of_one_identity_train_the_same_vocabulary_and_scores(env, tmp_path):
    """A recipe that trains its WordPiece vocabulary: two fresh run folders (two processes, so two hash seeds)
    write byte-identical tokenizer files and identical scores."""
    root, e = env
    recipe = {**MICRO, "name": "micro-wp", "data": {**MICRO["data"], "tokenizer": "wordpiece:400"}}
    (tmp_path / "micro-wp.yaml").write_text(yaml.safe_dump(recipe))
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = subprocess.run([sys.executable, "-m", "bertbench.cli", "regenerate", "--grid", str(root / "grid.yaml"),
                              "--recipe", str(tmp_path / "micro-wp.yaml"), "--out", str(out), "--threads", "1",
                              "--no-progress", "--limit", "1", "--tasks", "synthetic-sst2"],
                             env={**e, "BERTBENCH_CACHE": str(tmp_path / f"cache-{name}")}, cwd=REPO,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        outs.append(out)
    a, b = outs
    assert (a / "tokenizer" / "tokenizer.json").read_bytes() == (b / "tokenizer" / "tokenizer.json").read_bytes()
    ra, rb = runs_of(a), runs_of(b)
    assert ra.keys() == rb.keys() and all(ra[k]["score"] == rb[k]["score"] for k in ra)


def test_a_survivor_takes_over_dead_and_expired_claims(env, reference, tmp_path, monkeypatch):
    """Worker 0 of 2 finds one unit claimed by a dead process of this host and another claimed by a process of
    another host whose lease (here 4 s) is still fresh but never renewed: it trains its share, waits, takes both
    over when their claims go stale, and the folder ends with every unit trained, equal to the reference."""
    import json as json_module
    import socket

    from bertbench.space.grids import load_grid
    from bertbench.training.grid import GridRunner
    from bertbench.training.recipe import load_recipe

    root, e = env
    monkeypatch.setenv("BERTBENCH_CACHE", e["BERTBENCH_CACHE"])
    monkeypatch.setenv("BERTBENCH_LEASE_SECONDS", "4")
    grid, recipe = load_grid(str(root / "grid.yaml")), load_recipe(str(root / "micro.yaml"))
    out = tmp_path / "survivor"
    runner = GridRunner(grid, recipe, out, threads=1, progress=False, worker_index=0, num_workers=2)
    units = runner.units()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claims = out / "claims"
    claims.mkdir(parents=True)
    a, b = units[0], units[-1]
    (claims / f"{a.arch.arch_id}__s{a.seed}").write_text(
        json_module.dumps({"host": socket.gethostname(), "pid": dead.pid, "since": time.time()}))
    (claims / f"{b.arch.arch_id}__s{b.seed}").write_text(
        json_module.dumps({"host": "another-host", "pid": 1, "since": time.time()}))
    t0 = time.time()
    counts = runner.run()
    assert counts["claimed_elsewhere"] == 0 and time.time() - t0 >= 1.0
    got, ref = runs_of(out), runs_of(reference)
    assert got.keys() == ref.keys()
    assert all(r["score"] == ref[k]["score"] or (r["score"] != r["score"] and ref[k]["score"] != ref[k]["score"])
               for k, r in got.items())
    assert not [p for p in claims.iterdir()]


def _killed_at_rename(code: str, env: dict, match: str) -> None:
    """Run ``code`` in a fresh process whose os.rename SIGKILLs it when the source's name contains ``match``."""
    prelude = ("import os, signal\n_rename = os.rename\n"
               "def rename(a, b, *k, **kw):\n"
               f"    if {match!r} in os.path.basename(str(a)):\n"
               "        os.kill(os.getpid(), signal.SIGKILL)\n"
               "    return _rename(a, b, *k, **kw)\n"
               "os.rename = rename\n")
    res = subprocess.run([sys.executable, "-c", prelude + code], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]


def test_sigkill_at_the_encoder_save_and_at_commits_rename_leaves_nothing_behind(env, reference, tmp_path):
    """A real SIGKILL at the rename that puts an encoder in place leaves models/.<unit>.XXXX/; the next run of the
    folder removes it and ends with the reference's results. A SIGKILL at commit's final rename leaves a hidden
    full copy of the release; the next commit removes it."""
    import shutil

    root, e = env
    out = tmp_path / "killed-save"
    code = (f"import sys; sys.argv = ['bertbench', 'regenerate', '--grid', {str(root / 'grid.yaml')!r}, '--recipe', "
            f"{str(root / 'micro.yaml')!r}, '--out', {str(out)!r}, '--threads', '1', '--no-progress', '--limit', '1']\n"
            "from bertbench.cli import main; main()\n")
    _killed_at_rename(code, e, "__s0.")  # the temp folder of the first encoder save: .<arch_id>__s0.XXXX
    assert [p.name for p in (out / "models").iterdir() if p.name.startswith(".")]
    regenerate(root, e, out, "--limit", "1")
    assert not [p.name for p in (out / "models").iterdir() if p.name.startswith(".")]
    ref = runs_of(reference)
    assert all(r["score"] == ref[k]["score"] for k, r in runs_of(out).items())

    rel = tmp_path / "rel"
    code = ("from bertbench.store.release import commit\n"
            f"commit({str(reference)!r}, 'killed', '0.0.1', {str(rel)!r}, license='cc0-1.0')\n")
    _killed_at_rename(code, e, ".killed-0.0.1.")
    left = [p for p in rel.iterdir() if p.name.startswith(".killed-0.0.1.")]
    assert len(left) == 1 and (left[0] / "manifest.json").exists()  # a hidden full copy
    from bertbench.store.release import commit

    shutil.rmtree(rel / "killed-0.0.1", ignore_errors=True)
    dest = commit(reference, "killed", "0.0.1", rel, license="cc0-1.0")
    assert sorted(p.name for p in rel.iterdir()) == ["killed-0.0.1"] and not (dest / ".owner").exists()


def test_a_release_with_models_says_where_the_weights_are(reference, tmp_path):
    import bertbench
    from bertbench.loaders.model_export import export_model
    from bertbench.space import Architecture
    from bertbench.store.release import commit, validate

    arch_id = Architecture.from_dict(GRID["architectures"][0]).arch_id
    bare = bertbench.load(commit(reference, "bare", "0.0.1", tmp_path / "rel", license="cc0-1.0"))
    assert bare.query(arch_id)["weights"] == {}
    dest = commit(reference, "withmodels", "0.0.1", tmp_path / "rel", license="cc0-1.0", models=True)
    manifest = validate(dest)
    assert len(manifest["models"]) == 3 and all(len(m["sha256"]) == 64 for m in manifest["models"].values())
    weights = bertbench.load(dest).query(arch_id)["weights"]
    assert list(weights) == [0] and (Path(weights[0]) / "model.safetensors").exists()
    out = export_model(dest, arch_id, tmp_path / "from-release")
    assert (out / "config.json").exists() and (out / "modeling.py").exists() and (out / "tokenizer.json").exists()


def test_a_run_folder_keeps_one_identity_and_checks_inputs_first(env, reference, tmp_path):
    """A rerun with another recipe is refused naming the field; a bad task or a broken cache stops before anything
    is written (exit non-zero, one line); commit refuses an unfinished run unless --allow-partial."""
    from bertbench.errors import IncompleteRun
    from bertbench.store.release import commit

    root, e = env
    before = sorted(p.name for p in (reference / "shards" / "runs").iterdir())
    res = regenerate(root, e, reference, "--set", "pretrain.steps=30", check=False, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    _, err = res.communicate(timeout=300)
    assert res.returncode == 2 and "pretrain.steps: 24 -> 30" in err and "new --out" in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (reference / "shards" / "runs").iterdir()) == before
    for extra, env_extra, code, words in [
        (("--tasks", "not-a-task"), {}, 2, "not-a-task"),
        ((), {"BERTBENCH_CACHE": "/dev/null/cache"}, 1, "cannot prepare the run's data"),
    ]:
        out = tmp_path / f"bad{code}"
        proc = regenerate(root, {**e, **env_extra}, out, *extra, check=False, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == code and words in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert not (out / "run.json").exists() and not (out / "shards" / "runs").exists()
    partial = tmp_path / "partial"
    regenerate(root, e, partial, "--limit", "1")
    info = json.loads((partial / "run.json").read_text())
    info["units"].append([info["units"][0][0], 7])  # a planned seed that never ran
    (partial / "run.json").write_text(json.dumps(info))
    with pytest.raises(IncompleteRun, match="3 planned result"):
        commit(partial, "p", "0.0.1", tmp_path / "rel", license="cc0-1.0")
    dest = commit(partial, "p", "0.0.1", tmp_path / "rel", license="cc0-1.0", allow_partial=True)
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["complete"] is False and len(manifest["missing"]) == 3
    assert any("Incomplete run" in c for c in manifest["caveats"])


def test_every_row_carries_its_run_hash_and_commit_refuses_a_mix(reference, tmp_path):
    """Rows name the run identity they were trained under; a result file of another run copied into a folder is
    refused by commit, and so is a hashless row of a unit run.json does not plan; rows from before schema 1.2 (no hash)
    of planned units take the run's; a 1.1 release still validates and
    loads, with null hashes."""
    import shutil

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import bertbench
    from bertbench.errors import RunMismatch
    from bertbench.file_io import sha256_file
    from bertbench.store.release import commit, validate

    run_hash = json.loads((reference / "run.json").read_text())["identity_sha256"][:16]
    assert {r["run_hash"] for r in runs_of(reference).values()} == {run_hash}
    mixed = tmp_path / "mixed"
    shutil.copytree(reference, mixed, ignore=shutil.ignore_patterns("models", "checkpoints", "claims"))
    files = sorted((mixed / "shards" / "runs").glob("*.parquet"))
    t = pq.read_table(files[0])
    pq.write_table(t.set_column(t.schema.get_field_index("run_hash"), "run_hash",
                                pa.array(["deadbeefdeadbeef"] * t.num_rows, pa.string())), files[0])
    with pytest.raises(RunMismatch, match=r"1 result row\(s\) carry run_hash \['deadbeefdeadbeef'\], not this run's"):
        commit(mixed, "mixed", "0.0.1", tmp_path / "rel", license="cc0-1.0")
    # a hashless row of a unit this run does not plan (a stale file of an older run left in the folder)
    stray = t.drop_columns(["run_hash"]).set_column(t.schema.get_field_index("arch_id"), "arch_id",
                                                     pa.array(["0123456789abcdef"] * t.num_rows, pa.string()))
    pq.write_table(stray, files[0].with_name("0123456789abcdef__s0__pretrain.parquet"))
    with pytest.raises(RunMismatch, match=r"results of 1 unit\(s\) that run.json does not plan \(e.g. "
                                          r"0123456789abcdef__s0\)"):
        commit(mixed, "mixed", "0.0.1", tmp_path / "rel", license="cc0-1.0")
    files[0].with_name("0123456789abcdef__s0__pretrain.parquet").unlink()
    pq.write_table(t.drop_columns(["run_hash"]), files[0])  # a hash-less row inside a planned unit
    with pytest.raises(RunMismatch, match=r"1 result row\(s\) carry no run_hash, but every row this run writes"):
        commit(mixed, "mixed", "0.0.1", tmp_path / "rel", license="cc0-1.0")  # this run writes hashes: foreign
    info = json.loads((mixed / "run.json").read_text())
    del info["row_hashes"]  # a run folder from before schema 1.2: its rows had no hash
    (mixed / "run.json").write_text(json.dumps(info))
    dest = commit(mixed, "legacy", "0.0.1", tmp_path / "rel", license="cc0-1.0")
    manifest = validate(dest)
    assert manifest["run_hash"] == run_hash
    runs = pq.read_table(dest / "runs.parquet")
    assert set(runs.column("run_hash").to_pylist()) == {run_hash}
    # the manifest names every environment that trained into the folder, not only the one that created it
    hardware = manifest["hardware"]
    assert {e["device"] for e in hardware["environments"]} == set(runs.column("device").to_pylist())
    assert hardware["run_folder_created_on"]["device"] in set(runs.column("device").to_pylist())
    compute = manifest["compute"]  # the processes' spans of work give the wall time
    assert 0 < compute["wall_seconds"] <= compute["seconds_total"] + 60 and compute["processes"] >= 1
    from bertbench.hub import export

    card = (export(dest, tmp_path / "export") / "README.md").read_text()
    assert f"trained on {hardware['environments'][0]['device']}" in card and "Wall time:" in card
    from bertbench.store.run_folder import record_invocation

    elsewhere = {"device": "cuda:Some GPU x1", "python": "3.12.3", "torch": "2.11.0", "machine": "x86_64", "workers": 4}
    for start in (1.0, 2.0):  # two processes of one environment that trained results: it is named once
        record_invocation(mixed, start, start + 1.0, 6, elsewhere)
    record_invocation(mixed, 3.0, 4.0, 0, {**elsewhere, "device": "cpu (login node)"})  # trained nothing: not named
    resumed = json.loads((commit(mixed, "resumed", "0.0.1", tmp_path / "rel", license="cc0-1.0",
                                 caveats=["  Seed noise is as large as the spread.  ", " "]) / "manifest.json").read_text())
    moved = resumed["hardware"]
    assert len(moved["environments"]) == len(hardware["environments"]) + 1 and elsewhere in moved["environments"]
    assert resumed["caveats"] == [*manifest["caveats"], "Seed noise is as large as the spread."]  # the author's own
    # the same release as schema 1.1 wrote it: no run_hash column, no finetune_seed columns
    pq.write_table(runs.drop_columns(["run_hash", "finetune_seed"]), dest / "runs.parquet")
    curves = pq.read_table(dest / "curves.parquet")
    pq.write_table(curves.drop_columns(["finetune_seed"]), dest / "curves.parquet")
    manifest.update(schema_version="1.1")
    for table in ("runs", "curves"):
        manifest["tables"][table]["sha256"] = sha256_file(dest / f"{table}.parquet")
    (dest / "manifest.json").write_text(json.dumps(manifest))
    validate(dest)
    old = bertbench.load(str(dest)).to_pandas("runs")
    assert len(old) == runs.num_rows and old["run_hash"].isna().all() and old["finetune_seed"].isna().all()
    assert bertbench.load(str(dest)).to_pandas("curves")["finetune_seed"].isna().all()
    assert pc.all(pc.is_valid(runs.column("score"))).as_py()


def test_a_loss_that_blows_up_without_nan_is_diverged(tmp_path, monkeypatch):
    from bertbench.data.corpus import pack
    from bertbench.training.pretrain import pretrain

    monkeypatch.setenv("BERTBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    tok = load_tokenizer()
    corpus = pack("synthetic:seed=0,docs=1500", tok, length=32)
    arch = Architecture(32, (LayerSpec("SA", "SDP", 2, 64, 1),))
    rec = PretrainRecipe(steps=30, batch_size=8, seq_len=32, lr=10.0, warmup_steps=2, checkpoint_every=100,
                         log_every=5, max_predictions=5)
    out = pretrain(arch, rec, corpus, tok, 0, make_accelerator("no"), progress=False)
    assert out.status == "diverged", out.metrics
    assert "above diverge_factor 2" in out.error  # a finite loss of thousands: no NaN ever shows up
    assert all(math.isnan(v) for v in out.metrics.values())
    calm = pretrain(arch, dataclasses.replace(rec, lr=2e-3), corpus, tok, 0, make_accelerator("no"), progress=False)
    assert calm.status == "ok"


def test_two_independent_workers_on_one_folder_train_each_unit_once(env, reference, tmp_path):
    """Two `regenerate` commands started together on one --out (no launcher, no shard options): between them every
    unit is trained once (claims), the rows equal one process's, nothing fails. Two trials."""
    import re

    root, e = env
    ref = runs_of(reference)
    for trial in range(2):
        out = tmp_path / f"shared{trial}"
        procs = [regenerate(root, e, out, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outputs = [p.communicate(timeout=600) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outputs]
        written = sum(int(re.search(r"(\d+) results written", o[0]).group(1)) for o in outputs)
        assert written == 9, [o[0] for o in outputs]  # 3 units x (pretrain + 2 tasks), each once
        got = runs_of(out)
        assert set(got) == set(ref) and all(r["status"] == "ok" for r in got.values())
        for key, r in ref.items():
            assert r["score"] == pytest.approx(got[key]["score"], abs=1e-6), key
        assert not list((out / "claims").iterdir())  # claims are released


def test_retry_failed_and_clean_up_of_killed_runs(env, reference, tmp_path):
    """--retry-failed trains recorded failures again; a run clears its units' orphan temp files and the checkpoints
    of finished units; a commit clears the temp folder of a killed commit of the same release."""
    import shutil

    import pyarrow as pa

    from bertbench.file_io import atomic_write_table
    from bertbench.store.release import commit

    root, e = env
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    victim = sorted((run / "shards" / "runs").glob("*synthetic-rte.parquet"))[0]
    table = pq.read_table(victim).to_pylist()
    table[0]["status"], table[0]["score"] = "failed", float("nan")
    atomic_write_table(victim, pa.Table.from_pylist(table, schema=pq.read_schema(victim)))
    key = victim.name.removesuffix(".parquet")
    orphan = run / "shards" / "runs" / f".{key}.parquet.abc123.tmp"
    orphan.write_bytes(b"half")
    unit = key.rsplit("__", 1)[0]
    (run / "checkpoints" / unit / "step-8").mkdir(parents=True)
    res = regenerate(root, e, run)
    assert "0 results written, 9 already present" in res.stdout  # a recorded failure stays; reused pretraining counts
    assert not orphan.exists() and not (run / "checkpoints" / unit).exists()
    res = regenerate(root, e, run, "--retry-failed")
    assert "1 results written" in res.stdout, res.stdout
    got, ref = runs_of(run), runs_of(reference)
    assert all(r["status"] == "ok" for r in got.values())
    assert all(got[k]["score"] == pytest.approx(ref[k]["score"], abs=1e-6) for k in ref)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / "rel" / ".x-0.0.1.killed"
    left.mkdir(parents=True)
    (left / ".owner").write_text(json.dumps({"host": __import__("socket").gethostname(), "pid": int(dead.stdout)}))
    commit(run, "x", "0.0.1", tmp_path / "rel", license="cc0-1.0")
    assert not left.exists() and not list((tmp_path / "rel").glob(".x-*"))


def test_a_unit_whose_encoder_is_gone_is_trained_again_whole(env, reference, tmp_path):
    """A run folder copied without models/ (e.g. brought back from a GPU machine): a finished unit stays, an
    unfinished one is retrained from pretraining, so each unit's results come from one encoder."""
    import shutil

    root, e = env
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    shutil.rmtree(run / "models")
    victim = sorted((run / "shards" / "runs").glob("*synthetic-rte.parquet"))[0]
    unit = victim.name.removesuffix(".parquet").rsplit("__", 1)[0]
    victim.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (run / "shards" / "runs").glob(f"{unit}__*.parquet")}
    assert len(before) == 2  # pretrain and the other task remain
    res = regenerate(root, e, run)
    assert "3 results written" in res.stdout, res.stdout  # the whole unit, not only the missing task
    after = {p.name: p.stat().st_mtime_ns for p in (run / "shards" / "runs").glob(f"{unit}__*.parquet")}
    assert len(after) == 3 and all(after[k] != before[k] for k in before)
    got, ref = runs_of(run), runs_of(reference)
    assert all(got[k]["score"] == pytest.approx(ref[k]["score"], abs=1e-6) for k in ref)


def test_a_run_identity_names_local_data_by_content_not_by_path(tmp_path):
    """The same local corpus and GLUE files at another path are the same run (a folder moved to a cluster with
    other mount points resumes); one changed byte is another run, refused naming the field."""
    import shutil

    from bertbench.errors import RunMismatch
    from bertbench.space.grids import load_grid
    from bertbench.training.grid import GridRunner
    from bertbench.training.run_info import grid_info, record_run

    a = tmp_path / "a"
    (a / "glue" / "RTE").mkdir(parents=True)
    (a / "corpus.txt").write_text("the cat sat on the mat .\nthe dog sat on the log .\n")
    (a / "glue" / "RTE" / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta b\tc d\tentailment\n")
    shutil.copytree(a, tmp_path / "b")

    def runner(root, run_dir):
        recipe = load_recipe("mini").replace(data={"corpus": str(root / "corpus.txt"),
                                                   "task_source": str(root / "glue"), "tasks": ["rte"]})
        return GridRunner(load_grid("mini").head(1), recipe, run_dir)

    first, moved = runner(a, tmp_path / "run"), runner(tmp_path / "b", tmp_path / "run")
    assert first.identity() == moved.identity() and first.run_hash == moved.run_hash
    shutil.copytree(a / "glue", a / "GLUE-renamed")
    renamed = GridRunner(load_grid("mini").head(1), load_recipe("mini").replace(data={
        "corpus": str(a / "corpus.txt"), "task_source": str(a / "GLUE-renamed"), "tasks": ["rte"]}), tmp_path / "run")
    assert renamed.run_hash == first.run_hash  # a renamed GLUE folder with the same files is the same data
    assert first.identity()["data"]["corpus"].startswith("corpus.txt@sha256:")
    units = [[u.arch.arch_id, u.seed] for u in first.units()]
    record_run(tmp_path / "run.json", first.identity(), units, grid_info(first.grid), dict)
    record_run(tmp_path / "run.json", moved.identity(), units, grid_info(moved.grid), dict)  # accepted: same content
    with open(tmp_path / "b" / "glue" / "RTE" / "train.tsv", "a") as fh:
        fh.write("1\te f\tg h\tnot_entailment\n")
    edited = runner(tmp_path / "b", tmp_path / "run")
    assert edited.run_hash != first.run_hash
    with pytest.raises(RunMismatch, match=r"recipe\.data\.task_source: 'glue@sha256:\w+' -> 'glue@sha256:\w+'"):
        record_run(tmp_path / "run.json", edited.identity(), units, grid_info(edited.grid), dict)


def test_the_fine_tuning_recipe_may_change_until_something_is_fine_tuned(env, tmp_path):
    """A folder pretrained with --pretrain-only is fine-tuned under an edited fine-tuning recipe: its pretraining
    rows keep the superseded identity's hash and commit takes them; once fine-tuning results exist, or when a
    pretraining field changes, another recipe is refused naming the field."""
    import pyarrow.parquet as pq

    from bertbench.store.release import commit, validate

    root, e = env
    out = tmp_path / "run"
    regenerate(root, e, out, "--limit", "1", "--pretrain-only")
    first = json.loads((out / "run.json").read_text())["identity_sha256"][:16]
    regenerate(root, e, out, "--limit", "1", "--set", "finetune.epochs=2", "--tasks", "synthetic-rte")
    info = json.loads((out / "run.json").read_text())
    assert [s["identity_sha256"][:16] for s in info["superseded"]] == [first]
    assert "finetune.epochs: 1 -> 2" in " ".join(info["superseded"][0]["changed"]).replace("recipe.", "")
    assert info["recipe"]["finetune"]["epochs"] == 2 and info["data"]["tasks"] == ["synthetic-rte"]
    rows = runs_of(out)
    assert {k[2]: r["run_hash"] for k, r in rows.items()} == {"pretrain": first,
                                                              "synthetic-rte": info["identity_sha256"][:16]}
    manifest = validate(commit(out, "restaged", "0.0.1", tmp_path / "rel", license="cc0-1.0"))
    assert manifest["superseded_run_hashes"] == [first] and manifest["tasks"] == ["synthetic-rte"]
    assert len(pq.read_table(tmp_path / "rel" / "restaged-0.0.1" / "runs.parquet")) == 2
    res = regenerate(root, e, out, "--limit", "1", "--tasks", "synthetic-rte", "--set", "finetune.epochs=3",
                     check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert res.wait(timeout=600) != 0
    err = res.stderr.read()
    assert "recipe.finetune.epochs: 2 -> 3" in err and "1 fine-tuning result(s)" in err
    res = regenerate(root, e, out, "--limit", "1", "--set", "pretrain.steps=30", check=False,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert res.wait(timeout=600) != 0 and "recipe.pretrain.steps: 24 -> 30" in res.stderr.read()


def test_a_runs_local_files_are_hashed_once_for_its_identity_and_its_run_json(tmp_path, monkeypatch):
    """The identity (content names) and run.json's files_sha256 read each local file once; an edited file is read
    again."""
    import bertbench.file_io as file_io
    from bertbench.space.grids import load_grid
    from bertbench.training.grid import GridRunner

    (tmp_path / "glue" / "RTE").mkdir(parents=True)
    (tmp_path / "corpus.txt").write_text("the cat sat on the mat .\n")
    (tmp_path / "glue" / "RTE" / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    read, real = [], file_io.sha256_file
    monkeypatch.setattr(file_io, "sha256_file", lambda f: read.append(Path(f).name) or real(f))
    recipe = load_recipe("mini").replace(data={"corpus": str(tmp_path / "corpus.txt"),
                                               "task_source": str(tmp_path / "glue"), "tasks": ["rte"]})
    runner = GridRunner(load_grid("mini").head(1), recipe, tmp_path / "run")
    first = runner.run_hash
    from bertbench.training.data_identity import run_data_files

    files = run_data_files(recipe.data, ("rte",), tmp_path / "run")
    assert sorted(read) == ["corpus.txt", "train.tsv"]
    assert files["corpus/corpus.txt"] == real(tmp_path / "corpus.txt")
    with open(tmp_path / "corpus.txt", "a") as fh:
        fh.write("the dog sat on the log .\n")
    again = GridRunner(load_grid("mini").head(1), recipe, tmp_path / "run")
    assert again.run_hash != first and read.count("corpus.txt") == 2 and read.count("train.tsv") == 1


def test_grid_entries_may_name_their_own_seeds(tmp_path):
    """A grid's seeds (top level) and an entry's own seeds decide the units unless --seeds is given; bad seeds name
    the field."""
    from bertbench.errors import InvalidArchitecture
    from bertbench.space.grids import load_grid
    from bertbench.training.grid import GridRunner
    from bertbench.training.recipe import load_recipe

    g = load_grid("mini")
    assert len(g.architectures) == 30 and g.seeds == (0, 1)
    units = GridRunner(g, load_recipe("mini"), tmp_path / "a").units()
    assert len(units) == 66 and sorted({u.seed for u in units}) == [0, 1, 2]
    assert len(GridRunner(g, load_recipe("mini"), tmp_path / "b", seeds=(0,)).units()) == 30
    assert len(GridRunner(g.head(1), load_recipe("mini"), tmp_path / "c").units()) == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "architectures": [{**GRID["architectures"][0], "seeds": [-1]}]}))
    with pytest.raises(InvalidArchitecture, match=r"architectures\[0\]\.seeds"):
        load_grid(bad)


def test_a_run_trains_its_wordpiece_vocabulary_once(tmp_path):
    """tokenizer "wordpiece:N" is trained on the run's corpus into RUN/tokenizer once; later calls (other workers,
    resumes) load that one; a bad size is a recipe error naming the field."""
    from bertbench.data.tokenizer import run_tokenizer
    from bertbench.errors import InvalidRecipe
    from bertbench.training.recipe import load_recipe

    text = tmp_path / "corpus.txt"
    words = [f"w{i}" for i in range(400)]
    text.write_text("\n".join(" ".join(words[(i * 7 + j) % 400] for j in range(12)) for i in range(400)))
    tok = run_tokenizer("wordpiece:300", str(text), tmp_path / "run" / "tokenizer")
    assert (tmp_path / "run" / "tokenizer" / "tokenizer.json").exists()
    (tmp_path / "corpus.txt").write_text("entirely different text\n")  # not read again
    again = run_tokenizer("wordpiece:300", str(text), tmp_path / "run" / "tokenizer")
    assert again.get_vocab() == tok.get_vocab() and len(tok) <= 300
    assert tok("w1 w2")["input_ids"][0] == tok.cls_token_id
    with pytest.raises(InvalidRecipe, match="data.tokenizer='wordpiece:x'.*allowed"):
        load_recipe("mini").replace(data={"tokenizer": "wordpiece:x"})


def test_query_one_seed_and_a_curve_at_a_step(reference):
    """query(seed=, stage=, step=) returns that seed's runs and scores and each curve at the last step <= step."""
    from bertbench.loaders.release import load_run

    bench = load_run(reference)
    unit = bench.to_pandas()["arch_id"].iloc[0]
    q = bench.query(unit, seed=0, stage="pretrain", step=10)
    assert q["seed"] == 0 and {r["seed"] for r in q["runs"]} == {0}
    curves = bench.to_pandas("curves")
    c = curves[(curves["arch_id"] == unit) & (curves["stage"] == "pretrain") & (curves["step"] <= 10)]
    for name, value in q["at_step"].items():
        part = c[c["name"] == name]
        if part.empty:  # the held-out set is first scored at step 12
            assert name.startswith("heldout_") and math.isnan(value)
            continue
        assert value == pytest.approx(float(part.loc[part["step"].idxmax(), "value"]))
    assert q["seed_metrics"]["synthetic-rte"] == pytest.approx(
        next(r["score"] for r in q["runs"] if r["stage"] == "synthetic-rte"))
    with pytest.raises(ValueError, match="step= needs stage="):
        bench.query(unit, step=10)


def _fsize_limit(limit: int):
    """preexec_fn: files may not grow past ``limit`` bytes (the kernel then fails the write with EFBIG; SIGXFSZ is
    ignored so the process sees the error instead of being killed)."""
    import resource

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_or_a_file_size_limit_stops_the_run_and_records_nothing(env, reference, tmp_path, monkeypatch):
    """EFBIG (ulimit -f) in a real process, and ENOSPC from the checkpoint writer: exit 1 with one line, no row of
    any status for the interrupted unit; the rerun without the fault completes and equals the reference."""
    import errno

    root, e = env
    # run.json and result files fit every limit; the checkpoint (its optimizer state) or the encoder does not. At
    # the larger sizes the limit is hit inside torch.save, whose zip writer reports no errno ("unexpected pos"):
    # what decides is where the error happens (machine_io), not its text.
    messages = {}
    for limit in (48_000, 400_000, 1_000_000):  # the last two hit inside safetensors and torch.save
        out = tmp_path / f"efbig-{limit}"
        proc = regenerate(root, e, out, check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=_fsize_limit(limit))
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, (limit, err[-2000:])
        assert len(err.strip().splitlines()) == 1, (limit, err)
        messages[limit] = err.strip()
        assert not [r for r in runs_of(out).values() if r["status"] != "ok"], limit
    assert any("File too large" in m for m in messages.values())
    assert any("saving the checkpoint" in m and "File too large" not in m for m in messages.values()), messages
    regenerate(root, e, out)
    _compare(reference, out)

    # ENOSPC inside a stage, in-process: the grid stops with EnvironmentFault, nothing is recorded for the unit
    from bertbench.errors import EnvironmentFault
    from bertbench.space.grids import load_grid
    from bertbench.training import pretrain as pretrain_module
    from bertbench.training.grid import GridRunner
    from bertbench.training.recipe import load_recipe

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "checkpoints")

    monkeypatch.setenv("BERTBENCH_CACHE", e["BERTBENCH_CACHE"])
    assert pretrain_module  # the checkpoint writer's own library call fails: torch.save inside accelerate's save_state
    monkeypatch.setattr(torch, "save", no_space)
    grid = load_grid(str(root / "grid.yaml")).head(1)
    runner = GridRunner(grid, load_recipe(str(root / "micro.yaml")), tmp_path / "enospc", threads=1, progress=False)
    with pytest.raises(EnvironmentFault, match="saving the checkpoint .*No space left on device"):
        runner.run()
    assert runs_of(tmp_path / "enospc") == {}
    monkeypatch.undo()  # space again: the rerun completes
    monkeypatch.setenv("BERTBENCH_CACHE", e["BERTBENCH_CACHE"])
    GridRunner(grid, load_recipe(str(root / "micro.yaml")), tmp_path / "enospc", threads=1, progress=False).run()
    got, ref = runs_of(tmp_path / "enospc"), runs_of(reference)
    assert len(got) == 3 and all(r["status"] == "ok" and r["score"] == pytest.approx(ref[k]["score"], abs=1e-6)
                                 for k, r in got.items())


def test_environment_failures_are_told_from_model_failures():
    """Writers that do not raise OSError still name the disk: those stop the run; a model's own error does not."""
    from bertbench.errors import environment_failure

    class SafetensorError(Exception):
        pass

    disk = [OSError(28, "No space left on device"), MemoryError(),
            SafetensorError("Error while serializing: I/O error: File too large (os error 27)"),
            RuntimeError("[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file "
                         "data/3: file write failed")]
    try:
        try:
            raise OSError(122, "Disk quota exceeded")
        except OSError as inner:
            raise ValueError("could not save the encoder") from inner
    except ValueError as chained:
        disk.append(chained)
    model = [RuntimeError("Error(s) in loading state_dict: size mismatch for layer.0.weight"),
             ValueError("loss is nan"), IndexError("index 40 is out of bounds for dimension 1 with size 32")]
    assert all(environment_failure(e) for e in disk)
    assert not any(environment_failure(e) for e in model)


def test_a_failing_unit_leaves_nothing_to_the_next(env, reference, tmp_path, monkeypatch):
    """A model error in the middle of one unit's pretraining (after its model and optimizer were prepared) is that
    unit's failed rows; the next unit gets fresh training state and equals the run without the failure."""
    from bertbench.space.grids import load_grid
    from bertbench.training import pretrain as pretrain_module
    from bertbench.training.grid import GridRunner
    from bertbench.training.recipe import load_recipe

    root, e = env
    monkeypatch.setenv("BERTBENCH_CACHE", e["BERTBENCH_CACHE"])
    grid = load_grid(str(root / "grid.yaml")).head(2)
    first = grid.architectures[0].arch_id
    real_step = pretrain_module._train_step

    def flaky(model, opt, sched, accelerator, batches, *args, **kwargs):
        if batches.arch_id == first and args[1] == 3:  # args: recipe, step, head, world
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x32 and 64x32)")
        return real_step(model, opt, sched, accelerator, batches, *args, **kwargs)

    monkeypatch.setattr(pretrain_module, "_train_step", flaky)
    out = tmp_path / "isolated"
    GridRunner(grid, load_recipe(str(root / "micro.yaml")), out, threads=1, progress=False).run()
    got, ref = runs_of(out), runs_of(reference)
    assert {k for k, r in got.items() if r["status"] == "failed"} == {k for k in got if k[0] == first}
    assert "shapes cannot be multiplied" in got[(first, 0, "pretrain")]["error"]
    healthy = {k: r for k, r in got.items() if k[0] != first}
    assert len(healthy) == 3 and all(r["status"] == "ok" for r in healthy.values())
    for k, r in healthy.items():
        assert r["score"] == pytest.approx(ref[k]["score"], abs=1e-6), k


def test_sigkill_during_pretraining_after_a_checkpoint_resumes_the_same_curves(env, tmp_path):
    """A real SIGKILL once a pretraining checkpoint exists: the rerun resumes from it and ends with the curves and
    scores of an uninterrupted run; no temp file and no checkpoint is left."""
    root, e = env
    extra = ("--limit", "1", "--set", "pretrain.steps=240", "--set", "pretrain.checkpoint_every=8")
    whole = tmp_path / "whole"
    regenerate(root, e, whole, *extra)
    out = tmp_path / "killed"
    proc = regenerate(root, e, out, *extra, check=False, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((out / "checkpoints").glob("*/step-*")):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list((out / "checkpoints").glob("*/step-*"))
    assert not list((out / "shards" / "runs").glob("*__pretrain.parquet"))  # killed inside pretraining
    regenerate(root, e, out, *extra)

    def curves(run):
        t = ResultWriter(run).read("curves").to_pandas()
        return t.sort_values(["stage", "name", "step"]).reset_index(drop=True)

    a, b = curves(whole), curves(out)
    assert len(a) == len(b) and (a[["stage", "name", "step"]] == b[["stage", "name", "step"]]).all().all()
    assert np.allclose(a["value"], b["value"], rtol=0, atol=1e-6)
    ref, got = runs_of(whole), runs_of(out)
    assert all(got[k]["score"] == pytest.approx(r["score"], abs=1e-6) for k, r in ref.items())
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".tmp-step-*"))
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").rglob("step-*"))


HELDOUT_SCRIPT = """
import json, sys
from bertbench.data.corpus import pack
from bertbench.data.tokenizer import load_tokenizer
from bertbench.models import build_model
from bertbench.space import Architecture, LayerSpec
from bertbench.training.common import RankSlice, make_accelerator
from bertbench.training.heldout import heldout_scores, prepare_heldout
from bertbench.training.recipe import PretrainRecipe

acc = make_accelerator("no")
tok = load_tokenizer()
objective = sys.argv[1]
rec = PretrainRecipe(objective=objective, seq_len=32, heldout_tokens=4096, max_predictions=5)
corpus = "synthetic:seed=0,docs=1500"
_, held = prepare_heldout(corpus, pack(corpus, tok, 32), tok, rec)
arch = Architecture(32, (LayerSpec("SA", "SDP", 2, 64, 1), LayerSpec("DSC", 5, 2, 64, 1)))
model = build_model(arch, head=objective, seed=0, vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                    generator_size=0.25).to(acc.device)
scores = heldout_scores(model, held, objective, acc.device, RankSlice(acc.process_index, acc.num_processes), acc.reduce)
if acc.is_main_process:
    print("RESULT " + json.dumps({"sha256": held.sha256, **scores}))
acc.end_training()
"""


def test_the_heldout_set_is_one_for_every_architecture_seed_and_process_count(env, reference, tmp_path):
    """One fixed set of masked blocks (its sha256 in run.json) scores every unit; a fixed model's held-out scores are
    the same whether one process or two score it."""
    root, e = env
    info = json.loads((reference / "run.json").read_text())["data"]["heldout"]
    assert info["source"] == "synthetic:seed=1,docs=500" and info["tokens"] == 2048 and len(info["sha256"]) == 64
    other = tmp_path / "prepared"  # another folder, another invocation: the same set
    res = subprocess.run([sys.executable, "-m", "bertbench.cli", "regenerate", "--grid", str(root / "grid.yaml"),
                          "--recipe", str(root / "micro.yaml"), "--out", str(other), "--prepare-only", "--no-progress"],
                         env=e, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((other / "run.json").read_text())["data"]["heldout"] == info
    curves = ResultWriter(reference).read("curves").to_pandas()
    held = curves[curves["name"] == "heldout_disc_loss"]
    assert held.groupby(["arch_id", "seed"])["step"].apply(list).map(lambda s: s == [12, 24]).all()
    assert held["arch_id"].nunique() == 3
    runs = ResultWriter(reference).read("runs").to_pandas()
    pre = runs[runs["stage"] == "pretrain"]
    assert (pre["main_metric"] == "heldout_disc_loss").all() and pre["score"].between(0.01, 2).all()
    final = held[held["step"] == 24].set_index("arch_id")["value"]
    assert pre.set_index("arch_id")["score"].to_dict() == pytest.approx(final.to_dict())

    script = tmp_path / "heldout.py"
    script.write_text(HELDOUT_SCRIPT)
    for objective in ("electra", "mlm"):
        outs = []
        for launcher in ([sys.executable], [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                                            "--master_port", free_port()]):
            r = subprocess.run([*launcher, str(script), objective], env=e, cwd=REPO, capture_output=True, text=True,
                               timeout=300)
            assert r.returncode == 0, r.stderr[-2000:]
            outs.append(json.loads(next(ln for ln in r.stdout.splitlines() if ln.startswith("RESULT "))[7:]))
        one, two = outs
        assert one["sha256"] == two["sha256"]
        for k in one:
            if k != "sha256":
                assert one[k] == pytest.approx(two[k], rel=1e-12), (objective, k)
        assert 0 < one.get("heldout_mlm_loss", one.get("heldout_gen_mlm_loss")) < 12


def test_finetune_seeds_reuse_one_pretraining_and_separate_the_variances(env, reference, tmp_path):
    """finetune.seeds [0, 1]: one pretraining per (architecture, seed), two fine-tunings of each; fine-tuning seed 0
    is what fine-tuning drew before seeds existed; the summary and the reliability report keep both variances."""
    from bertbench.loaders.release import load_run
    from bertbench.reliability import target_reliability

    root, e = env
    out = tmp_path / "ft"
    res = regenerate(root, e, out, "--limit", "2", "--seeds", "0,1", "--set", "finetune.seeds=[0,1]",
                     "--tasks", "synthetic-rte", launcher=(sys.executable, "-m", "bertbench.cli", "-v"))
    assert res.stderr.count("pretrained ") == 4, res.stderr[-3000:]  # one pretraining per unit
    runs = ResultWriter(out).read("runs").to_pandas()
    pre, ft = runs[runs["stage"] == "pretrain"], runs[runs["stage"] == "synthetic-rte"]
    assert len(pre) == 4 and pre["finetune_seed"].isna().all()
    assert len(ft) == 8 and sorted(ft.groupby(["arch_id", "seed"])["finetune_seed"].apply(sorted).sum()) == [0] * 4 + [1] * 4
    curves = ResultWriter(out).read("curves").to_pandas()
    ref_curves = ResultWriter(reference).read("curves").to_pandas()
    for arch_id in ft["arch_id"].unique():
        def loss(c, f):
            sel = (c["arch_id"] == arch_id) & (c["seed"] == 0) & (c["stage"] == "synthetic-rte") & (c["name"] == "train_loss")
            if f is not None:
                sel &= c["finetune_seed"] == f
            return c[sel].sort_values("step")["value"].tolist()
        assert loss(curves, 0) == loss(ref_curves, None)  # seed 0: the draws of a run without fine-tuning seeds
        assert loss(curves, 1) != loss(curves, 0)
    bench = load_run(out)
    assert "synthetic-rte_ft_std" in bench.to_pandas().columns and "synthetic-rte_std" in bench.to_pandas().columns
    r = target_reliability(bench, "synthetic-rte", n_boot=100)
    assert np.isfinite(r.finetune_seed_sd) and np.isfinite(r.pretrain_seed_sd)


def test_a_wrong_task_path_is_named_before_any_work_and_leaves_no_folder(env, tmp_path):
    root, e = env
    out = tmp_path / "bad-glue"
    cache = tmp_path / "fresh-cache"
    proc = regenerate(root, {**e, "BERTBENCH_CACHE": str(cache)}, out, "--prepare-only", "--tasks", "rte", "--set",
                      f"data.task_source={tmp_path / 'no-glue'}", check=False, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "no-glue" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()  # no run folder, no tokenizer left behind
    assert not (cache / "corpus").exists()  # the corpus was never packed: the task data are checked first
