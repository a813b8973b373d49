"""What `make demo` runs: the main job end to end on the embedded default data, offline.

1. regenerate the tiny grid (8 architectures covering every op, each on seeds 0 and 1: the reliability table needs
   both) with the `tiny` recipe on the synthetic corpus and tasks, with 2 processes when 2 cores exist (torchrun,
   `--parallel grid`; a worker that finishes its share takes over units of the other's);
2. score every BERT proxy on the untrained architectures and store them with the results;
3. commit the run as a versioned release and validate it;
4. print the summary table, the release's reliability table (which targets rank the architectures above seed noise,
   with CIs) and the proxy correlation table, write PNG plots and the Hub dataset folder;
5. print where everything is. Rerunning resumes: finished work is not redone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bertbench.options import SYNTHETIC

TOUR_OPS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]
NAME, VERSION = "bertbench-tiny", "0.1.0"
SEEDS = (0, 1)  # every architecture: the seed-to-seed reliability of each target is part of the report


def model_tour(batch: int = 8, seq_len: int = 128, hidden: int = 256, repeats: int = 3) -> str:
    """One 2-layer model per op at ``hidden``: parameter count and median forward time (eval, no grad)."""
    import torch

    from bertbench.models import build_model
    from bertbench.space import Architecture, LayerSpec, paper_2023_grid

    grid = paper_2023_grid()
    lines = [f"NAS-Bench-BERT 2023 grid: {len(grid)} architectures, {len({a.arch_id for a in grid})} unique",
             f"{'op':<8} {'params':>10} {'forward ms':>11}  (H{hidden}, 2 layers, heads 4, ffn 1024x1, "
             f"batch {batch} x {seq_len})"]
    ids = torch.randint(5, 30000, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    for op_type, op_param in TOUR_OPS:
        arch = Architecture(hidden, (LayerSpec(op_type, op_param, 4, 1024, 1),) * 2)
        model = build_model(arch, seed=0).eval()
        n = sum(p.numel() for p in model.parameters())
        times = []
        with torch.inference_mode():
            model(ids)
            for _ in range(repeats):
                t = time.perf_counter()
                model(ids)
                times.append(time.perf_counter() - t)
        times.sort()
        name = f"{op_type}-{op_param}"
        lines.append(f"{name:<8} {n:>10,} {1000 * times[len(times) // 2]:>11.1f}")
    return "\n".join(lines)


def seeded_grid(grid: str, out: Path) -> Path:
    """The demo's grid file (``out/grid.yaml``): ``grid``'s architectures, each on ``SEEDS`` (the seed noise every
    ranking is read against). One run trains all units, so the workers share them all."""
    import yaml

    from bertbench.space.grids import load_grid

    g = load_grid(grid)
    entries = g.definition.get("architectures")
    if not isinstance(entries, list):
        raise ValueError(f"grid {grid!r}: the demo needs an explicit 'architectures' list (it trains each on seeds "
                         f"{list(SEEDS)}); a generated grid has none")
    definition = {**g.definition, "name": f"{g.name}-demo", "architectures": [{**e, "seeds": list(SEEDS)} for e in entries]}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "grid.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 - the demo's report is its output


def run_demo(out: Path, processes: int | None = None, grid: str = "tiny", recipe: str = "tiny",
             progress: bool = True) -> Path:
    """Run the whole main job into ``out``; returns the release folder."""
    from bertbench.loaders.release import load_release
    from bertbench.store.release import validate

    t0 = time.perf_counter()
    out = Path(out)
    run_dir, plots = out / "run", out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    _train(out, run_dir, grid, recipe, processes, progress)
    t_train = time.perf_counter() - t0
    dest = _release(run_dir, out / "releases")
    manifest = validate(dest)
    bench = load_release(dest)
    _say(f"release {manifest['name']} {manifest['version']}: " +
         ", ".join(f"{k} {v['rows']} rows" for k, v in manifest["tables"].items()))
    _say("\n== 4/5 results")
    _results(bench, manifest, out, plots)
    _say("\n== 5/5 Hub dataset folder")
    hub_dir = out / "hub" / f"{NAME}-{VERSION}"
    if not hub_dir.exists():
        from bertbench.hub import export

        export(dest, hub_dir)
    wall = time.perf_counter() - t0
    _say(f"\ndone in {wall:.0f} s (training {t_train:.0f} s). Everything is under {out}/:")
    _say(f"  release        {dest}  (bertbench validate {dest})")
    _say(f"  summary table  {out / 'summary.csv'}")
    _say(f"  proxies        {out / 'proxies'}/correlations.csv, scores.csv, scatter.png, ranks.png")
    _say(f"  plots          {plots / 'results.png'}, {plots / 'pretrain_heldout.png'}, {plots / 'reliability.png'}")
    _say(f"  Hub folder     {hub_dir}  (bertbench publish {dest} --repo-id ORG/NAME --tag v{VERSION})")
    _say(f"  run folder     {run_dir}  (rerun `make demo` to resume; nothing is redone)")
    return dest


def _train(out: Path, run_dir: Path, grid: str, recipe: str, processes: int | None, progress: bool) -> None:
    """Stage 1: ``bertbench regenerate`` of the seeded grid, on torchrun when there are several processes."""
    cores = os.cpu_count() or 1
    nproc = processes or (2 if cores >= 2 else 1)
    threads = max(1, cores // nproc)
    _say(f"== 1/5 regenerate grid '{grid}' (every architecture on seeds {list(SEEDS)}, for the seed noise) "
         f"with recipe '{recipe}' on {nproc} process(es) x {threads} thread(s)")
    base = ["regenerate", "--grid", str(seeded_grid(grid, out)), "--recipe", recipe, "--out", str(run_dir),
            "--threads", str(threads), *([] if progress else ["--no-progress"])]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port",
               str(_free_port()), "-m", "bertbench.cli", *base]
    else:
        cmd = [sys.executable, "-m", "bertbench.cli", *base]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})


def _release(run_dir: Path, releases: Path) -> Path:
    """Stages 2-3: score the proxies into the run and commit it (a rerun reuses the release)."""
    from bertbench.loaders.release import load_run
    from bertbench.proxies.score_run import score_run
    from bertbench.reliability import manifest_extra
    from bertbench.store.release import commit

    dest = releases / f"{NAME}-{VERSION}"
    if dest.exists():
        _say(f"\n== 2-3/5 release {dest} exists (a rerun): reusing it")
        return dest
    _say("\n== 2/5 score the training-free proxies on the untrained architectures")
    score_run(run_dir, seed=0, batch_size=16, seq_len=64, key="demo-proxies-seed0")
    _say("\n== 3/5 commit and validate the release")
    return commit(run_dir, NAME, VERSION, releases, license="cc-by-4.0",  # synthetic data: our choice
                  extra=manifest_extra(load_run(run_dir)))


def _results(bench: Any, manifest: dict[str, Any], out: Path, plots: Path) -> None:
    """Stage 4: the summary table, each target's reliability, proxies beside the size baselines, plots."""
    import pandas as pd

    from bertbench.plots import curves_plot, reliability_plot, results_plot
    from bertbench.proxies.correlations import format_table as format_correlations
    from bertbench.proxies.evaluate import evaluate
    from bertbench.proxies.registry import list_proxies
    from bertbench.reliability import format_table, reliability_table, table_from_manifest

    s = bench.to_pandas()
    tasks = [t for t in bench.metadata["tasks"] if t in s.columns]
    cols = ["arch_id", "hidden_size", "num_layers", "params", "status", "pretrain", *tasks, SYNTHETIC]
    table = s[[c for c in cols if c in s.columns]].rename(columns={t: t.removeprefix("synthetic-") for t in tasks})
    table.insert(1, "ops", [" ".join(sorted({ly["op_type"] + "-" + str(ly["op_param"]) for ly in
                                             json.loads(j)["layers"]})) for j in s["arch_json"]])
    table = table.sort_values(SYNTHETIC, ascending=False)
    table.to_csv(out / "summary.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.1f}".format):
        _say(table.rename(columns={"pretrain": "heldout_loss", "hidden_size": "H", "num_layers": "L"}).to_string(
            index=False, formatters={"heldout_loss": "{:.3f}".format}))
    rel = (table_from_manifest(manifest["reliability"]) if manifest.get("reliability")
           else reliability_table(bench, curves=False))  # a release committed before commit recorded it
    rel.to_csv(out / "reliability.csv", index=False)
    _say(f"\ndoes the ranking mean anything? seed-to-seed reliability of each target ({len(SEEDS)} seeds x "
         f"{rel['n_archs'].max()} architectures; CIs by bootstrap over architectures):")
    _say(format_table(rel, curves=False))
    _say(_verdicts(rel))
    _say("\nproxies vs the synthetic aggregate beside the size baselines (oriented Kendall tau, 95 % CI):")
    _, corr = evaluate(bench, list_proxies("bert"), seed=0, out=out / "proxies", n_boot=500,
                       scores=bench.tables["proxies"])
    _say(format_correlations(corr))
    results_plot(bench, plots / "results.png")
    reliability_plot(rel, plots / "reliability.png", title=f"{NAME} {VERSION}: seed-to-seed Kendall tau")
    curves_plot(bench, plots / "pretrain_heldout.png")


def _verdicts(rel: Any) -> str:
    """One sentence: how many main targets rank above seed noise and how many pass the reproducibility gate."""
    from bertbench.reliability import REPRODUCIBLE, WEAK

    main = rel[~rel["target"].str.contains("[.@]", regex=True)]
    above = main[main["verdict"].isin([REPRODUCIBLE, WEAK])]
    gate = main[main["verdict"] == REPRODUCIBLE]
    return (f"{len(above)} of {len(main)} targets rank the architectures above seed noise (seed tau CI above 0)"
            + (f": {', '.join(above['target'])}" if len(above) else "") + f"; {len(gate)} pass the reproducibility "
            "gate (seed tau >= 0.7, ICC CI >= 0.5)" + (f": {', '.join(gate['target'])}" if len(gate) else "") +
            f"; with {rel['n_archs'].max()} architectures and {len(SEEDS)} seeds the CIs are wide, so nothing else "
            "is claimed")
