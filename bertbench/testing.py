"""Test support, not a runtime part: generators of data in official third-party formats (NAS-Bench-NLP logs, a
synthetic benchmark), for tests and benchmark scripts; never shipped as results."""

from __future__ import annotations

import json
import math
import random
import zipfile
from pathlib import Path

_CELLS = [
    {"f": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}},
    {"f": {"op": "linear", "input": ["x", "h_prev_0"]}, "g": {"op": "activation_sigm", "input": ["f"]},
     "h": {"op": "linear", "input": ["x"]}, "h_act": {"op": "activation_leaky_relu", "input": ["h"]},
     "h_new_0": {"op": "blend", "input": ["g", "h_act", "h_prev_0"]}},
    {"a": {"op": "linear", "input": ["x", "h_prev_0", "h_prev_1"]}, "b": {"op": "activation_tanh", "input": ["a"]},
     "c": {"op": "linear", "input": ["x"]}, "d": {"op": "activation_sigm", "input": ["c"]},
     "h_new_1": {"op": "elementwise_sum", "input": ["b", "h_prev_1"]},
     "h_new_0": {"op": "elementwise_prod", "input": ["h_new_1", "d"]}},
]


def random_recipe(rng: random.Random) -> dict:
    """A valid random cell: a few linear nodes over x / h_prev_0 with activations, combined into h_new_0."""
    recipe: dict[str, dict] = {}
    acts = ["activation_tanh", "activation_sigm", "activation_leaky_relu"]
    names = []
    for i in range(rng.randint(1, 4)):
        inputs = ["x", "h_prev_0"] if rng.random() < 0.7 else ["x"]
        recipe[f"l{i}"] = {"op": "linear", "input": inputs}
        recipe[f"a{i}"] = {"op": rng.choice(acts), "input": [f"l{i}"]}
        names.append(f"a{i}")
    if len(names) == 1:
        recipe["h_new_0"] = {"op": "activation_tanh", "input": names}
    else:
        recipe["h_new_0"] = {"op": rng.choice(["elementwise_sum", "elementwise_prod"]), "input": names}
    return recipe


def write_nasbench_nlp_zip(path: Path, n_recipes: int, runs_per_recipe: int = 1, seed: int = 0, epochs: int = 50,
                           dataset: str = "ptb", nan_every: int = 0) -> Path:
    """Write a logs zip in the official NAS-Bench-NLP format (one JSON per run, fields as the real logs)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        k = 0
        for rid in range(n_recipes):
            recipe = _CELLS[rid] if rid < len(_CELLS) else random_recipe(rng)
            base = rng.uniform(4.3, 6.0)
            for _run in range(runs_per_recipe):
                k += 1
                diverged = nan_every and k % nan_every == 0
                noise = rng.uniform(-0.05, 0.05)
                curve = [base + noise + 2.0 * math.exp(-e / 8) for e in range(epochs)]
                log = {
                    "data": f"data/{dataset}", "recepie_id": rid, "recepies_list_path": "data/models_recepies.json",
                    "cuda": True, "batch_size": 20, "model": "CustomRNN", "emsize": 400, "nhid": 600, "nlayers": 3,
                    "dropout": 0.1, "dropouth": 0.25, "dropouti": 0.4, "dropoute": 0.0, "wdrop": 0.1, "tied": True,
                    "bptt": 70, "lr": 0.001, "wdecay": 1.2e-06, "epochs": epochs, "alpha": 2, "beta": 1,
                    "log_interval": 200, "clip": 0.25, "eval_batch_size": 50, "recepie": json.dumps(recipe),
                    "experiment_id": 999_000_000 + k, "init_time": "2020-04-28_17-16-54", "num_params": 1_000_000 + rid,
                    "wall_times": [500.0 + rng.random() for _ in range(epochs)],
                    "train_losses": [c - 0.3 for c in curve],
                    "val_losses": [c + 0.05 for c in curve],
                    "test_losses": ([float("nan")] * epochs) if diverged else curve,
                    "status": "loss is nan!" if diverged else "OK",
                }
                name = f"log_stats_model_{rid}_2020-04-28_17-16-54_{999_000_000 + k}.json"
                zf.writestr(name, json.dumps(log))
    return path


def synthetic_benchmark(n: int = 600, seed: int = 0, noise: float = 0.0) -> object:
    """A BERT-space Benchmark whose metric ``sst2`` is a known smooth function of the one-hot encoding (a fixed
    random linear score plus ``noise``), with random training costs in [1, 3]: a test bed for search algorithms,
    where a method that exploits locality must beat random search (and can fail to)."""
    import numpy as np
    import pyarrow as pa

    from bertbench.loaders.base import Benchmark
    from bertbench.loaders.metadata import metric_docs
    from bertbench.space import Architecture, SearchSpace
    from bertbench.store.schema import architecture_row, run_row, schema_for

    space = SearchSpace.named("nas-bench-bert-2023")
    layers = space.layer_choices()
    pick = random.Random(seed)
    seen: dict[str, Architecture] = {}
    while len(seen) < n:  # depth 2 only: a dense sample, so that nearest held architectures are near
        a = Architecture(pick.choice(space.hidden_sizes), (pick.choice(layers), pick.choice(layers)))
        seen.setdefault(a.arch_id, a)
    archs = list(seen.values())
    bench = Benchmark("synthetic-search", "0.0.0", "bert", {}, {"metrics": metric_docs()})
    rng = np.random.default_rng(seed)
    weights = None
    arch_rows, runs = [], []
    for a in archs:
        enc = bench.__class__._encode_static(a, space)
        if weights is None:
            weights = rng.normal(size=len(enc))
        value = 50.0 + 5.0 * float(enc @ weights) + noise * float(rng.normal())
        arch_rows.append(architecture_row(a))
        runs.append(run_row(a.arch_id, a.arch_id, 0, "sst2", "ok", "accuracy", {"accuracy": value},
                            wall_seconds=float(rng.uniform(1, 3))))
    tables = {"architectures": pa.Table.from_pylist(arch_rows, schema=schema_for("architectures")),
              "runs": pa.Table.from_pylist(runs, schema=schema_for("runs")),
              "curves": schema_for("curves").empty_table(), "proxies": schema_for("proxies").empty_table()}
    return Benchmark("synthetic-search", "0.0.0", "bert", tables,
                     {"metrics": metric_docs(), "tasks": ["sst2"], "aggregates": []})
