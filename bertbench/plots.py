"""Plots (PNG): a benchmark's per-architecture task scores and aggregate, pretraining curves, and proxies against
the target (rank scatter, Kendall tau with CIs)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bertbench.options import SYNTHETIC

log = logging.getLogger(__name__)


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


def arch_labels(bench: Any) -> dict[str, str]:
    """arch_id -> a short label with the ops in layer order (runs of one op folded: ``SA-SDP x2``), H and L."""
    import json

    archs = bench.tables["architectures"].to_pandas()
    out = {}
    if "arch_json" not in archs:
        return out
    for aid, text in zip(archs["arch_id"], archs["arch_json"]):
        spec = json.loads(text)
        ops = [f"{ly['op_type']}-{ly['op_param']}" for ly in spec["layers"]]
        runs, last = [], None
        for op in ops:
            if op == last:
                runs[-1][1] += 1
            else:
                runs.append([op, 1])
            last = op
        folded = " ".join(op if n == 1 else f"{op} x{n}" for op, n in runs)
        out[str(aid)] = f"H{spec['hidden_size']} L{len(ops)} {folded}"
    return out


def constant_baselines(bench: Any, tasks: list[str]) -> dict[str, float]:
    """Per task, the main metric of predicting the training split's majority class for every example (x100; a
    regression task's constant predictor has no correlation and is left out). Only where the task data can be read
    (synthetic tasks always; GLUE from the release's recorded source); {} otherwise."""
    from bertbench.data.tasks import get_task

    data = (bench.metadata.get("manifest") or {}).get("data") or {}
    source = data.get("task_source") if isinstance(data, dict) else None
    out = {}
    for name in tasks:
        try:
            task = get_task(name)
            if task.is_regression:
                continue
            if task.suite == SYNTHETIC:
                from bertbench.data.synthetic import load_synthetic

                ds = load_synthetic(name)
            elif source and source != "hub":
                from bertbench.data.glue import load_glue

                ds = load_glue(name, source)
            else:
                continue
            train = np.asarray(ds["train"]["label"])
            split = next(iter(task.eval_splits.items()))
            ref = np.asarray(ds[split[1]]["label"])
            majority = np.bincount(train).argmax()
            out[name] = task.compute(np.full_like(ref, majority), ref, split[0])[task.main_metric + split[0]]
        except (KeyError, OSError, ValueError) as err:  # no data here: the plot says so instead of guessing
            log.debug("no constant baseline for %s: %s", name, err)
    return out


def results_plot(bench: Any, path: str | Path) -> Path:
    """Per architecture (one row each, sorted by the aggregate, labelled with its ops): a heatmap of each task's main
    metric (colour scaled per task, from that task's lowest to highest architecture; the numbers are the scores x100)
    and, on the same rows, the aggregate's mean over pretraining seeds with the sd between seeds as an error bar.
    A task's constant (majority-class) predictor is marked under its column where its data can be read."""
    from bertbench.reliability import run_values

    plt = pyplot()
    s = bench.to_pandas()
    tasks = [t for t in bench.metadata.get("tasks", []) if t in s.columns]
    agg = next((a for a in (SYNTHETIC, "glue_2023", "glue_mini", "glue") if a in s.columns and s[a].notna().any()),
               None)
    if agg is None and "pretrain" in s.columns:
        agg = "pretrain"
    s = s.sort_values(agg, ascending=bench.direction(agg) == "lower", na_position="last") if agg else s
    s = s.reset_index(drop=True)
    names = arch_labels(bench)
    labels = [f"{names.get(str(a), '')}  {str(a)[:8]}" for a in s["arch_id"]]
    data = np.array([[float(v) if v is not None and v == v else np.nan for v in s[t]] for t in tasks]).T \
        if tasks else np.empty((len(s), 0))
    lo, hi = np.nanmin(data, axis=0) if data.size else [], np.nanmax(data, axis=0) if data.size else []
    scaled = (data - lo) / np.where(np.asarray(hi) > np.asarray(lo), np.asarray(hi) - np.asarray(lo), 1.0) \
        if data.size else data
    fig, (ax1, ax2) = plt.subplots(1, 2, sharey=True, figsize=(5 + 0.9 * max(1, len(tasks)), 1.6 + 0.3 * len(s)),
                                   gridspec_kw={"width_ratios": [max(1, len(tasks)), 2.5]})
    if tasks:
        im = ax1.imshow(scaled, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        base = constant_baselines(bench, tasks)
        ticks = [t.removeprefix("synthetic-") + (f"\n(const {base[t]:.0f})" if t in base else "") for t in tasks]
        ax1.set_xticks(range(len(tasks)), ticks, rotation=0, fontsize=7)
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                txt = "NaN" if np.isnan(data[i, j]) else f"{data[i, j]:.1f}"
                below = tasks[j] in base and not np.isnan(data[i, j]) and data[i, j] <= base[tasks[j]]
                ax1.text(j, i, txt + ("*" if below else ""), ha="center", va="center", fontsize=6,
                         color="k" if scaled[i, j] > 0.6 else "w")
        cb = fig.colorbar(im, ax=ax1, fraction=0.03, ticks=[0, 1])
        cb.ax.set_yticklabels(["task min", "task max"], fontsize=7)
        ax1.set_title("main metric per task (x100); * at or below the constant predictor", fontsize=8)
    else:
        ax1.set_xticks([])
    ax1.set_yticks(range(len(s)), labels, fontsize=6)
    if agg:
        vals = np.array([float(v) if v is not None and v == v else np.nan for v in s[agg]])
        rv = run_values(bench, curves=False)
        per_seed = rv[rv["target"] == agg].groupby("unit")["value"].std(ddof=1)
        sd = np.array([per_seed.get(str(a), np.nan) for a in s["arch_id"]])
        ax2.errorbar(vals, range(len(s)), xerr=np.nan_to_num(sd), fmt="o", ms=3, color="tab:green", ecolor="0.4",
                     capsize=2, lw=0.8)
        for i, v in enumerate(vals):
            if np.isnan(v):
                ax2.text(0.02, i, "NaN (failed)", va="center", fontsize=6, transform=ax2.get_yaxis_transform())
        ax2.set_xlabel(f"{agg} ({bench.direction(agg)} is better)\nbars: sd between pretraining seeds", fontsize=7)
        ax2.grid(axis="x", lw=0.3)
        ax2.tick_params(labelsize=7)
    else:
        ax2.axis("off")
    ax1.set_ylim(len(s) - 0.5, -0.5)
    fig.suptitle(f"{bench.name} {bench.version}: {len(s)} architectures, best first", fontsize=10)
    return save_figure(fig, path)


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
    """Kendall tau (oriented: positive = ranks the better architectures higher) of every proxy and size baseline with
    its 95 % interval, baselines in grey, proxies that beat the best size baseline (paired interval above 0) in green,
    and the tau the target's own reliability allows as a dotted line."""
    plt = pyplot()
    n = int(corr["kendall_tau"].notna().sum())
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * n + 1.6))
    _draw_ranks(ax, corr, title)
    return save_figure(fig, path)


def plot_leaderboard(table: pd.DataFrame, path: Path, title: str = "") -> Path:
    """``plot_ranks`` of each benchmark of a leaderboard (column ``benchmark``), side by side."""
    plt = pyplot()
    keys = list(dict.fromkeys(table["benchmark"]))
    n = max(int(table.loc[table["benchmark"] == k, "kendall_tau"].notna().sum()) for k in keys)
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 0.32 * n + 2.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        sub = table[table["benchmark"] == key]
        _draw_ranks(ax, sub, f"{key}\nvs {sub['target'].iloc[0]} (n = {int(sub['n'].max())})")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def _draw_ranks(ax: Any, corr: pd.DataFrame, title: str) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    c = corr.dropna(subset=["kendall_tau"]).sort_values("kendall_tau", ascending=True)
    y = np.arange(len(c))
    err = np.vstack([c["kendall_tau"] - c["tau_ci_low"], c["tau_ci_high"] - c["kendall_tau"]])
    role = c["role"] if "role" in c else pd.Series(["proxy"] * len(c), index=c.index)
    beats = c["beats_size"].fillna(False).astype(bool) if "beats_size" in c else pd.Series(False, index=c.index)
    colors = ["0.55" if r == "baseline" else ("tab:green" if b else "tab:blue") for r, b in zip(role, beats)]
    ax.barh(y, c["kendall_tau"], xerr=np.clip(np.nan_to_num(err), 0.0, None), color=colors, alpha=0.85)  # a bound
    # can sit 1 ulp on the wrong side of the estimate
    ax.set_yticks(y, [f"{p} (size)" if r == "baseline" else p for p, r in zip(c["proxy"], role)], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    handles = [Patch(color="0.55", label="size baseline"), Patch(color="tab:blue", label="proxy"),
               Patch(color="tab:green", label="proxy beating the best size baseline")]
    ceiling = float(c["tau_ceiling"].iloc[0]) if "tau_ceiling" in c and len(c) else math.nan
    if np.isfinite(ceiling):
        ax.axvline(ceiling, color="tab:red", ls=":", lw=1.2)
        handles.append(Line2D([], [], color="tab:red", ls=":", label=f"target's reliability allows {ceiling:.2f}"))
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    ax.set_xlabel("Kendall tau, oriented (positive: ranks the better architectures higher)", fontsize=8)
    ax.set_title(title, fontsize=9)


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
