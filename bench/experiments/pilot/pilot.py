"""The budget pilot: at which pretraining budget does the held-out MLM loss rank architectures reproducibly?

Trains the 12 architectures of ``grid.yaml`` (every op type, both hidden sizes and depths) on seeds 0 and 1 with
``recipe.yaml`` (MLM on PTB) at each budget, one resumable run folder per budget (``RUNS/b<steps>``), smallest
budget first, with N independent grid workers; then reports per budget: the held-out loss's seed tau (CI), its
within-(hidden size, depth) tau, ICC (CI), whether every op type left the unigram plateau, the cost of a unit on one
core and the predicted cost of a 48-architecture x 2-seed grid on 2 cores. Rerun to resume; ``--report-only`` to
report what exists. Writes ``results.csv`` and ``tau_vs_budget.png`` to ``results/`` beside this file (or ``--results``).

    python bench/experiments/pilot/pilot.py --ptb ../shared/data/ptb/ptb.zip --runs runs/pilot --workers 2
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
log = logging.getLogger("pilot")


def budget_settings(steps: int) -> list[str]:
    """The recipe overrides of one budget: 10 % warm-up, 20 curve points, 5 held-out evaluations, 4 checkpoints."""
    return [f"pretrain.steps={steps}", f"pretrain.warmup_steps={max(1, steps // 10)}",
            f"pretrain.log_every={max(1, steps // 20)}", f"pretrain.heldout_every={max(1, steps // 5)}",
            f"pretrain.checkpoint_every={max(1, steps // 4)}"]


def shared_tokenizer(corpus: str, runs: Path) -> Path:
    """One WordPiece vocabulary for every budget, trained once."""
    from bertbench.data.tokenizer import run_tokenizer

    folder = runs / "tokenizer"
    run_tokenizer("wordpiece:8000", corpus, folder)
    return folder


def train_budget(steps: int, corpus: str, tokenizer: Path, out: Path, workers: int) -> None:
    base = [sys.executable, "-m", "bertbench.cli", "regenerate", "--grid", str(HERE / "grid.yaml"), "--recipe",
            str(HERE / "recipe.yaml"), "--out", str(out), "--no-progress",
            "--set", f"data.corpus={corpus}", "--set", f"data.tokenizer={tokenizer}"]
    for s in budget_settings(steps):
        base += ["--set", s]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    subprocess.run([*base, "--prepare-only"], check=True, env=env)
    procs = [subprocess.Popen([*base, "--threads", "1", "--worker-index", str(i), "--num-workers", str(workers)],
                              env=env) for i in range(workers)]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"budget {steps}: a worker exited with {codes}")


def unigram_plateau(bench) -> float:
    """The held-out loss of predicting every masked token by its training-corpus frequency (nats): the plateau a
    model sits on until it uses context."""
    import json

    from bertbench.data.corpus import pack
    from bertbench.data.tokenizer import run_tokenizer
    from bertbench.training.heldout import prepare_heldout
    from bertbench.training.recipe import load_recipe

    info = json.loads((Path(bench.metadata["source"]) / "run.json").read_text())
    rec = load_recipe(HERE / "recipe.yaml").replace(pretrain=info["recipe"]["pretrain"])
    tok = run_tokenizer(info["recipe"]["data"]["tokenizer"], info["recipe"]["data"]["corpus"], None)
    packed = pack(info["recipe"]["data"]["corpus"], tok, rec.pretrain.seq_len)
    train, held = prepare_heldout(info["recipe"]["data"]["corpus"], packed, tok, rec.pretrain)
    counts = np.bincount(np.asarray(train.blocks(np.arange(len(train)))).ravel(), minlength=len(tok)) + 0.5
    logp = np.log(counts / counts.sum())
    labels = held.labels.numpy()
    return float(-logp[labels[labels != -100]].mean())


def report_budget(steps: int, out: Path) -> dict | None:
    """One row of the pilot's table (None when the budget has no finished unit)."""
    from bertbench.loaders.release import load_run
    from bertbench.reliability import target_reliability

    if not (out / "run.json").exists():
        return None
    bench = load_run(out)
    runs = bench.to_pandas("runs")
    pre = runs[(runs["stage"] == "pretrain")]
    if pre.empty:
        return None
    r = target_reliability(bench, "pretrain", n_boot=1000)
    s = bench.to_pandas()
    ops = s["arch_json"].map(_op_of)
    plateau = unigram_plateau(bench)
    per_op = s.assign(op=ops).groupby("op")["pretrain"].max()
    cost = pre.merge(s[["arch_id", "hidden_size", "num_layers"]], on="arch_id")
    cell = cost.groupby(["hidden_size", "num_layers"])["wall_seconds"].median()
    grid_hours = float(cell.mean() * 48 * 2 / 2 / 3600) if len(cell) == 4 else math.nan
    return {"steps": steps, "units_done": int((pre["status"] == "ok").sum()), "units_failed": int((pre["status"] != "ok").sum()),
            "seed_tau": r.seed_tau, "tau_low": r.tau_low, "tau_high": r.tau_high, "group_tau": r.group_tau,
            "group_tau_low": r.group_tau_low, "group_tau_high": r.group_tau_high, "icc": r.icc, "icc_low": r.icc_low,
            "icc_high": r.icc_high, "plateau": plateau, "worst_op": per_op.idxmax(), "worst_op_loss": per_op.max(),
            "every_op_left_plateau": bool((per_op < plateau - 0.1).all()),
            "unit_seconds_median": float(pre["wall_seconds"].median()), "grid_48x2_hours_on_2_cores": grid_hours,
            "verdict": r.verdict}


def _op_of(arch_json: str) -> str:
    import json

    ly = json.loads(arch_json)["layers"][0]
    return f"{ly['op_type']}-{ly['op_param']}"


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    from bertbench.plots import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    for col, lo, hi, label in (("seed_tau", "tau_low", "tau_high", "seed tau, all architectures"),
                               ("group_tau", "group_tau_low", "group_tau_high", "seed tau within (H, L) groups")):
        ax.errorbar(table["steps"], table[col], yerr=[table[col] - table[lo], table[hi] - table[col]], marker="o",
                    capsize=3, label=label)
    ax.axhline(0.7, color="grey", ls="--", lw=1, label="target 0.7")
    ax.set_xscale("log")
    ax.set_xlabel("pretraining steps (batch 32 x 64 tokens)")
    ax.set_ylabel("Kendall tau, seed 0 vs seed 1 (95 % CI)")
    ax.set_title("held-out MLM loss: reproducibility vs budget")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptb", type=Path, default=Path("../shared/data/ptb/ptb.zip"))
    ap.add_argument("--runs", type=Path, default=Path("runs/pilot"))
    ap.add_argument("--budgets", default="500,1500,5000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    budgets = [int(b) for b in args.budgets.split(",")]
    corpus = f"{args.ptb.resolve()}::ptb/ptb.train.txt"
    if not args.report_only:
        args.runs.mkdir(parents=True, exist_ok=True)
        tok = shared_tokenizer(corpus, args.runs)
        for steps in budgets:
            log.info("budget %d steps", steps)
            train_budget(steps, corpus, tok, args.runs / f"b{steps}", args.workers)
    rows = [r for r in (report_budget(b, args.runs / f"b{b}") for b in budgets) if r is not None]
    if not rows:
        raise SystemExit("no budget has results yet")
    table = pd.DataFrame(rows)
    args.results.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.results / "results.csv", index=False)
    plot(table, args.results / "tau_vs_budget.png")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))  # noqa: T201 - the report is the output


if __name__ == "__main__":
    main()
