"""Measuring one benchmark's reliability (see ``bertbench.reliability``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from bertbench.stats import (
    Estimate,
    _pair_matrices,
    _tau_b,
    icc_oneway,
    kendall_tau,
    resample_weights,
    seeds_needed,
    spearman_brown,
)

REPRODUCIBLE = "ranks architectures reproducibly"
WEAK = "ranks architectures above seed noise, not reproducibly (seed tau < 0.7 or ICC CI below 0.5)"
#: The gate a target must pass to be called reproducible: seed tau and the lower end of the ICC's CI.
GATE_TAU, GATE_ICC_LOW = 0.7, 0.5
GROUPS_ONLY = "ranks groups only"
NOISE = "does not rank architectures above seed noise"
ONE_SEED = "reliability unknown: one seed"
FEW = "reliability unknown: fewer than 3 architectures on two seeds"
VERDICTS = (REPRODUCIBLE, WEAK, GROUPS_ONLY, NOISE, ONE_SEED, FEW)  # a tie verdict starts with NOISE
#: Below this reliability of the summary value, numbers built on a target get a warning.
WARN_BELOW = 0.5
TIE_SHARE = 0.5


@dataclass(frozen=True)
class TargetReliability:
    """The reliability of one target (see the module docstring)."""

    target: str
    n_archs: int
    seeds: float
    seed_tau: float
    tau_low: float
    tau_high: float
    group_tau: float
    group_tau_low: float
    group_tau_high: float
    icc: float
    icc_low: float
    icc_high: float
    arch_sd: float
    seed_sd: float
    pretrain_seed_sd: float
    finetune_seed_sd: float
    reliability: float
    seeds_for_tau_06: float
    verdict: str


def run_values(bench: Any, curves: bool = True) -> pd.DataFrame:
    """Long table (target, unit, seed, value) of every target (module docstring), fine-tuning seeds averaged."""
    metrics = _metric_values(bench)
    named = np.where(metrics["metric"] == metrics["main"], metrics["stage"], metrics["stage"] + "." + metrics["metric"])
    long = metrics.assign(target=named)[["target", "unit", "seed", "value"]]
    out = [long, _aggregates(bench, metrics)]
    if curves:
        out.append(_curve_targets(bench))
    return pd.concat([o for o in out if len(o)], ignore_index=True)[["target", "unit", "seed", "value"]]


def _metric_values(bench: Any) -> pd.DataFrame:
    """(unit, seed, stage, metric, main, value): each metric of each run (NaN unless ok), fine-tuning seeds averaged."""
    runs = bench.to_pandas("runs")
    unit_col = "arch_id" if bench.id_column == "arch_id" else "run_key"
    meta_cols = {"arch_id", "run_key", "seed", "stage", "status", "main_metric", "score", "steps", "tokens",
                 "wall_seconds", "device", "error", "run_hash", "finetune_seed"}
    base = pd.DataFrame({"unit": runs[unit_col].astype(str).to_numpy(), "seed": runs["seed"].astype(int).to_numpy(),
                         "stage": runs["stage"].astype(str).to_numpy(),
                         "main": runs["main_metric"].astype(str).to_numpy()})
    ok = (runs["status"] == "ok").to_numpy(dtype=bool)
    parts = []
    for m in (c for c in runs.columns if c not in meta_cols):
        v = runs[m].to_numpy(dtype=float, na_value=np.nan)
        has = ~np.isnan(v) | ~ok  # a metric the stage does not have is not a target of it
        parts.append(base[has].assign(metric=m, value=np.where(ok, v, np.nan)[has]))
    if not parts:
        return base.assign(metric=pd.Series(dtype=str), value=pd.Series(dtype=float)).iloc[:0]
    long = pd.concat(parts, ignore_index=True)
    return long.groupby(["unit", "seed", "stage", "metric", "main"], sort=False)["value"].mean().reset_index()


def _aggregates(bench: Any, metrics: pd.DataFrame) -> pd.DataFrame:
    """Each aggregate of the benchmark per (unit, seed): the mean over its tasks of the mean of their metrics."""
    from bertbench.data.tasks import get_aggregate

    wide = metrics.pivot_table(index=["unit", "seed"], columns=["stage", "metric"], values="value", aggfunc="mean",
                               dropna=False)
    frames = []
    for name in bench.metadata.get("aggregates", []) or []:
        try:
            agg = get_aggregate(name)
        except KeyError:
            continue
        cols = [wide[[(task, m) for m in ms if (task, m) in wide.columns]].mean(axis=1, skipna=False)
                if any((task, m) in wide.columns for m in ms) else pd.Series(np.nan, index=wide.index)
                for task, ms in agg.parts]
        v = pd.concat(cols, axis=1).mean(axis=1, skipna=False) if cols else pd.Series(dtype=float)
        frames.append(pd.DataFrame({"target": name, "unit": v.index.get_level_values(0),
                                    "seed": v.index.get_level_values(1), "value": v.to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _curve_targets(bench: Any) -> pd.DataFrame:
    if "curves" not in bench.tables:
        return pd.DataFrame()
    curves = bench.tables["curves"]
    if curves.num_rows == 0:
        return pd.DataFrame()
    idc = "arch_id" if bench.id_column == "arch_id" else "run_key"
    c = curves.select([idc, "seed", "stage", "step", "name", "value"]).to_pandas()
    c = c[c["stage"] == "pretrain"]
    names = [n for n in c["name"].unique() if str(n).startswith("heldout_")] or \
        [n for n in ("pretrain_loss",) if n in set(c["name"])]
    c = c[c["name"].isin(names)]
    if not len(c):
        return pd.DataFrame()
    return pd.DataFrame({"target": "pretrain@" + c["step"].astype(str) + "." + c["name"].astype(str),
                         "unit": c[idc].astype(str).to_numpy(), "seed": c["seed"].astype(int).to_numpy(),
                         "value": c["value"].astype(float).to_numpy()})


def _finetune_sds(bench: Any, target: str) -> tuple[float, float]:
    """(pretraining-seed sd, fine-tuning-seed sd) of a task's main score when fine-tuning seeds vary, else NaN."""
    runs = bench.tables["runs"]
    if "finetune_seed" not in runs.column_names:
        return math.nan, math.nan
    r = runs.select(["arch_id", "seed", "stage", "status", "score", "finetune_seed"]).to_pandas()
    r = r[(r["stage"] == target) & (r["status"] == "ok") & r["finetune_seed"].notna()]
    if r.empty or r.groupby(["arch_id", "seed"])["finetune_seed"].nunique().max() < 2:
        return math.nan, math.nan
    g = r.groupby(["arch_id", "seed"])["score"]
    ft_var = float(g.var().mean())
    m = float(g.count().mean())
    means = g.mean().groupby(level=0)
    between_seed_var = float(means.var().mean()) if means.ngroups else math.nan
    pre_var = max(0.0, between_seed_var - ft_var / m) if np.isfinite(between_seed_var) else math.nan
    return math.sqrt(pre_var) if np.isfinite(pre_var) else math.nan, math.sqrt(ft_var)


def _seed_pairs(wide: pd.DataFrame) -> list[tuple[Any, Any]]:
    """The pairs of seeds (columns) with the most architectures in common."""
    counts = {(a, b): int((wide[a].notna() & wide[b].notna()).sum()) for a, b in combinations(wide.columns, 2)}
    if not counts:
        return []
    best = max(counts.values())
    return [p for p, n in counts.items() if n == best and n >= 3]


def _pair_tau(wide: pd.DataFrame, pairs: list[tuple[Any, Any]], groups: pd.Series | None, n_boot: int, seed: int
              ) -> Estimate:
    """Mean tau over ``pairs`` (same resamples of architectures for every pair when they share one unit set)."""
    if not pairs:
        return Estimate(math.nan)
    sets = [wide.index[wide[a].notna() & wide[b].notna()] for a, b in pairs]
    if any(not s.equals(sets[0]) for s in sets):
        pairs, sets = pairs[:1], sets[:1]
    units = sets[0]
    g = None if groups is None else groups.reindex(units).to_numpy()
    if len(pairs) == 1:
        a, b = pairs[0]
        return kendall_tau(wide.loc[units, a].to_numpy(), wide.loc[units, b].to_numpy(), g, n_boot, seed)
    w = np.vstack([np.ones(len(units)), resample_weights(len(units), n_boot, seed)])
    taus = np.mean([_tau_b(w, *_pair_matrices(wide.loc[units, a].to_numpy(), wide.loc[units, b].to_numpy(), g))
                    for a, b in pairs], axis=0)
    boots = taus[1:][np.isfinite(taus[1:])]
    if not len(boots):
        return Estimate(float(taus[0]))
    return Estimate(float(taus[0]), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)))


def _tie(values: np.ndarray) -> str | None:
    """The verdict for a target most of whose runs sit at one value (e.g. the majority class), else None."""
    v = values[np.isfinite(values)]
    if not len(v):
        return None
    uniq, counts = np.unique(np.round(v, 9), return_counts=True)
    share = counts.max() / len(v)
    if share >= TIE_SHARE:
        return (f"{NOISE}: ties at a baseline ({counts.max()} of {len(v)} runs at {uniq[counts.argmax()]:.6g}; "
                "its tau counts ties, not a ranking)")
    return None


def _verdict(tau: Estimate, group_tau: Estimate, has_groups: bool, icc_low: float) -> str:
    if not np.isfinite(tau.low) or tau.low <= 0:
        return NOISE
    if has_groups and (not np.isfinite(group_tau.low) or group_tau.low <= 0):
        return GROUPS_ONLY
    return REPRODUCIBLE if tau.value >= GATE_TAU and icc_low >= GATE_ICC_LOW else WEAK


def target_reliability(bench: Any, target: str, values: pd.DataFrame | None = None, n_boot: int = 1000,
                       seed: int = 0, groups: pd.Series | None = None) -> TargetReliability:
    """The reliability of one target of ``bench`` (a column of its summary, or a name from ``run_values``)."""
    values = run_values(bench, curves="@" in target) if values is None else values
    v = values[values["target"] == target]
    if v.empty:
        known = sorted(values["target"].unique())
        raise KeyError(f"target={target!r} is not a target of {bench.name}; allowed: {known}")
    wide = v.pivot_table(index="unit", columns="seed", values="value", aggfunc="mean", dropna=False)
    groups = _groups(bench) if groups is None else groups
    n_seeds = wide.notna().sum(axis=1)
    seeds = float(n_seeds[n_seeds > 0].mean()) if (n_seeds > 0).any() else 0.0
    icc = icc_oneway([row[np.isfinite(row)] for row in wide.to_numpy()])
    pre_sd, ft_sd = _finetune_sds(bench, target)
    nan = Estimate(math.nan)
    tie = _tie(v["value"].to_numpy(dtype=float))
    if wide.shape[1] < 2 or n_seeds.max() < 2:
        tau = group_tau = nan
        verdict = ONE_SEED
    else:
        pairs = _seed_pairs(wide)
        tau = _pair_tau(wide, pairs, None, n_boot, seed)
        has_groups = groups is not None and groups.reindex(wide.index).nunique() > 1
        group_tau = _pair_tau(wide, pairs, groups, n_boot, seed) if has_groups else tau
        verdict = FEW if not pairs else tie or _verdict(tau, group_tau, has_groups, icc.icc.low)
    unknown = verdict in (ONE_SEED, FEW)
    rel = spearman_brown(icc.icc.value, seeds) if not unknown else math.nan
    return TargetReliability(
        target, int((n_seeds > 0).sum()), round(seeds, 3), tau.value, tau.low, tau.high, group_tau.value,
        group_tau.low, group_tau.high, icc.icc.value, icc.icc.low, icc.icc.high, icc.unit_sd, icc.seed_sd, pre_sd,
        ft_sd, rel, seeds_needed(icc.icc.value) if not unknown else math.nan, verdict)


def _groups(bench: Any) -> pd.Series | None:
    """(hidden size, depth) group of each unit, for BERT benchmarks."""
    archs = bench.tables["architectures"]
    if not {"hidden_size", "num_layers"} <= set(archs.column_names) or bench.id_column != "arch_id":
        return None
    a = archs.select(["arch_id", "hidden_size", "num_layers"]).to_pandas()
    return pd.Series([f"H{h} L{n}" for h, n in zip(a["hidden_size"], a["num_layers"])], index=a["arch_id"].astype(str))


def reliability_table(bench: Any, curves: bool = True, n_boot: int = 1000, seed: int = 0,
                      progress: bool = False) -> pd.DataFrame:
    """One row per target of ``bench`` (see the module docstring), stages first, then aggregates, then curves."""
    values = run_values(bench, curves=curves)
    values = values[values.groupby("target")["value"].transform(lambda x: x.notna().any())]
    groups = _groups(bench)
    targets = list(dict.fromkeys(values["target"]))
    targets.sort(key=_order)
    rows = []
    for t in _progress(targets, progress):
        rows.append(asdict(target_reliability(bench, t, values, n_boot, seed, groups)))
    return pd.DataFrame(rows)


def _order(target: str) -> tuple[int, int, str]:
    if "@" in target:
        step = int(target.split("@")[1].split(".")[0])
        return (3, step, target)
    return (0 if target == "pretrain" else 1 if "." not in target else 2, 0, target)


def _progress(items: list[str], on: bool) -> Iterator[str] | list[str]:
    if not on:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="reliability", unit="target", disable=None)


def column_reliability(bench: Any, column: str) -> TargetReliability | None:
    """The reliability of a summary column (a stage or an aggregate), None when it is not a seed-measured target."""
    try:
        return target_reliability(bench, column, n_boot=200)
    except KeyError:
        return None


def reliability_warning(bench: Any, column: str) -> str | None:
    """A one-line warning when the summary column ``column`` is below ``WARN_BELOW`` reliability or unknown."""
    r = column_reliability(bench, column)
    if r is None:
        return None
    if not np.isfinite(r.reliability):
        return (f"warning: the reliability of {column!r} is unknown ({r.verdict}); rankings by it may not "
                "reproduce with another seed")
    if r.reliability < WARN_BELOW:
        return (f"warning: {column!r} has reliability {r.reliability:.2f} (seed tau {r.seed_tau:.2f}): "
                f"{r.verdict}; rankings by it may not reproduce with another seed")
    return None
