"""Plots (PNG): a benchmark's per-architecture task scores and aggregate, pretraining curves, and proxies against
the target (rank scatter, Kendall tau with CIs)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Lay out, write as PNG (110 dpi) and close ``fig``."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def results_plot(bench: Any, path: str | Path) -> Path:
    """Heatmap of per-task main metrics (rows: architectures sorted by the aggregate) beside the aggregate bars."""
    plt = pyplot()
    s = bench.to_pandas()
    tasks = [t for t in bench.metadata.get("tasks", []) if t in s.columns]
    agg = next((a for a in ("synthetic", "glue_2023", "glue", "glue_mini") if a in s.columns and s[a].notna().any()), None)
    s = s.sort_values(agg, ascending=False, na_position="last") if agg else s
    labels = [f"{a} H{h} L{n}" for a, h, n in zip(s["arch_id"], s["hidden_size"], s["num_layers"])]
    data = np.array([[float(v) if v is not None and v == v else np.nan for v in s[t]] for t in tasks]).T
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(4 + 0.9 * len(tasks), 1.2 + 0.38 * len(s)),
                                   gridspec_kw={"width_ratios": [max(1, len(tasks)), 2]})
    im = ax1.imshow(data, aspect="auto", cmap="viridis")
    ax1.set_xticks(range(len(tasks)), [t.removeprefix("synthetic-") for t in tasks], rotation=45, ha="right", fontsize=8)
    ax1.set_yticks(range(len(s)), labels, fontsize=7)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            txt = "NaN" if np.isnan(data[i, j]) else f"{data[i, j]:.0f}"
            ax1.text(j, i, txt, ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax1, fraction=0.03)
    ax1.set_title("main metric per task (x100)", fontsize=9)
    if agg:
        vals = np.array([float(v) if v is not None and v == v else np.nan for v in s[agg]])
        ax2.barh(range(len(s)), np.nan_to_num(vals), color="tab:green")
        ax2.set_yticks(range(len(s)), [])
        ax2.invert_yaxis()
        ax2.set_title(agg, fontsize=9)
        for i, v in enumerate(vals):
            ax2.text(0, i, "NaN" if np.isnan(v) else f"{v:.1f}", va="center", fontsize=7)
    else:
        ax2.axis("off")
    fig.suptitle(f"{bench.name} {bench.version}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves_plot(bench: Any, path: str | Path, name: str | None = None) -> Path:
    """One line per (architecture, seed) of the curve ``name`` against steps: one colour per architecture, seed 0
    solid and other seeds dashed, labelled with the architecture's ops. Default: the held-out pretraining target
    when the benchmark has one, else the training-batch loss."""
    import json

    plt = pyplot()
    c = bench.to_pandas("curves")
    c = c[c["stage"] == "pretrain"]
    if name is None:
        held = [n for n in ("heldout_mlm_loss", "heldout_disc_loss") if n in set(c["name"])]
        name = held[0] if held else "pretrain_loss"
    c = c[c["name"] == name]
    archs = bench.tables["architectures"].to_pandas()
    ops = {}
    if "arch_json" in archs:
        for aid, j in zip(archs["arch_id"], archs["arch_json"]):
            layers = json.loads(j)["layers"]
            ops[str(aid)] = f"H{json.loads(j)['hidden_size']} " + " ".join(
                sorted({f"{ly['op_type']}-{ly['op_param']}" for ly in layers})) + f" x{len(layers)}"
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (arch_id, g) in enumerate(c.groupby("arch_id")):
        for seed, gs in g.groupby("seed"):
            gs = gs.sort_values("step")
            ax.plot(gs["step"], gs["value"], color=colors[i % len(colors)], lw=1.2, ls="-" if seed == 0 else "--",
                    label=ops.get(str(arch_id), str(arch_id)) if seed == g["seed"].min() else None)
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.set_title(f"{bench.name}: {name} (one line per architecture and seed; seed > 0 dashed)", fontsize=9)
    if c["arch_id"].nunique() <= 12:
        ax.legend(fontsize=6)
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------------------- proxy plots
def plot_scatter(df: pd.DataFrame, target: str, proxies: list[str], path: Path, title: str = "") -> Path:
    """One panel per proxy: proxy rank (x) against target (y)."""
    plt = pyplot()
    k = len(proxies)
    cols = min(4, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, proxies):
        sub = df[[name, target]].apply(pd.to_numeric, errors="coerce").dropna()
        ax.scatter(sub[name].rank(), sub[target], s=8, alpha=0.6)
        tau = stats.kendalltau(sub[name], sub[target]).statistic if len(sub) > 2 else math.nan
        ax.set_title(f"{name}\ntau={tau:+.3f} (n={len(sub)})", fontsize=8)
        ax.set_xlabel("proxy rank", fontsize=7)
        ax.set_ylabel(target, fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_ranks(corr: pd.DataFrame, path: Path, title: str = "") -> Path:
    """Kendall tau of every proxy with its bootstrap 95 % interval (params highlighted)."""
    plt = pyplot()
    c = corr.sort_values("kendall_tau", key=lambda s: s.abs(), ascending=True)
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(c) + 1.2))
    y = np.arange(len(c))
    err = np.vstack([c["kendall_tau"] - c["tau_ci_low"], c["tau_ci_high"] - c["kendall_tau"]])
    colors = ["tab:red" if p == "params" else "tab:blue" for p in c["proxy"]]
    ax.barh(y, c["kendall_tau"], xerr=np.clip(np.nan_to_num(err), 0.0, None), color=colors, alpha=0.8)  # a bound
    # can sit 1 ulp on the wrong side of the estimate
    ax.set_yticks(y, c["proxy"], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("Kendall tau (signed)")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def reliability_plot(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Left: each final target's seed-to-seed Kendall tau with its 95 % CI (green: passes the reproducibility gate;
    grey: ties at a baseline or unknown). Right: the seed tau of the held-out (or training) loss at every logged
    step, with its CI: how reproducible the pretraining target is as training goes on."""
    from bertbench.reliability import GATE_TAU, REPRODUCIBLE

    plt = pyplot()
    final = table[~table["target"].str.contains("@", regex=False)].iloc[::-1]
    steps = table[table["target"].str.contains("@", regex=False)]
    fig, axes = plt.subplots(1, 2 if len(steps) else 1, figsize=(11 if len(steps) else 6, 0.3 * len(final) + 2.4),
                             squeeze=False)
    ax = axes[0][0]
    y = np.arange(len(final))
    err = np.clip(np.nan_to_num(np.vstack([final["seed_tau"] - final["tau_low"],
                                           final["tau_high"] - final["seed_tau"]])), 0.0, None)
    kinds = {"reproducible (passes the gate)": "tab:green", "above seed noise": "tab:blue",
             "not above seed noise": "salmon", "ties at a baseline / unknown": "lightgrey"}

    def kind(v: str) -> str:
        if v == REPRODUCIBLE:
            return "reproducible (passes the gate)"
        if "ties" in v or "unknown" in v:
            return "ties at a baseline / unknown"
        return "not above seed noise" if v.startswith("does not") else "above seed noise"

    colors = [kinds[kind(v)] for v in final["verdict"]]
    ax.barh(y, np.nan_to_num(final["seed_tau"]), xerr=err, color=colors)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=c, label=k) for k, c in kinds.items()], fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.5 / max(len(final), 4) - 0.08), ncol=2)
    ax.set_yticks(y, final["target"], fontsize=7)
    ax.axvline(0, color="k", lw=0.8)
    ax.axvline(GATE_TAU, color="tab:green", lw=0.8, ls="--")
    ax.set_xlabel("seed-to-seed Kendall tau (95 % CI); dashed: the gate")
    ax.set_title(title or "reliability of each target", fontsize=9)
    if len(steps):
        ax = axes[0][1]
        for name, g in steps.assign(step=steps["target"].str.extract(r"@(\d+)")[0].astype(int),
                                    curve=steps["target"].str.split(".", n=1).str[1]).groupby("curve"):
            g = g.sort_values("step")
            line, = ax.plot(g["step"], g["seed_tau"], marker="o", ms=3, label=name)
            ax.fill_between(g["step"], g["tau_low"], g["tau_high"], alpha=0.15, color=line.get_color())
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("pretraining step")
        ax.set_ylabel("seed tau (95 % CI band)")
        ax.set_title("the pretraining target as training goes on", fontsize=9)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
