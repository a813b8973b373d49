"""The summary view of a Benchmark (one row per unit; see ``loaders/base.py``), built with pyarrow and pandas
group-bys, and the runs' metrics as a matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bertbench.families import get_family

if TYPE_CHECKING:
    from bertbench.loaders.base import Benchmark


def metric_matrix(runs: pa.Table) -> tuple[list[str], np.ndarray]:
    """Metric names (in order of first appearance) and a (rows x names) float array of the runs' ``metrics``
    column (NaN where a run lacks a metric); vectorised with pyarrow."""
    col = runs.column("metrics").combine_chunks() if runs.num_rows else pa.array([], runs.schema.field("metrics").type)
    flat = pc.list_flatten(col)
    if len(flat) == 0:
        return [], np.empty((runs.num_rows, 0))
    parent = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
    enc = pc.dictionary_encode(flat.field("name")).combine_chunks() if hasattr(flat.field("name"), "combine_chunks") \
        else pc.dictionary_encode(flat.field("name"))
    codes = enc.indices.to_numpy(zero_copy_only=False)
    values = pc.fill_null(flat.field("value").cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    out = np.full((runs.num_rows, len(enc.dictionary)), np.nan)
    out[parent, codes] = values
    return [str(n) for n in enc.dictionary.to_pylist()], out


def build_summary(bench: Benchmark) -> pd.DataFrame:
    """The summary view (see the module docstring), vectorised: a few pandas group-bys over the runs table."""
    runs = bench.tables["runs"]
    idc = bench.id_column
    unit_col = "arch_id" if idc == "arch_id" else "run_key"
    arch_cols = [c for c in bench.tables["architectures"].column_names if c != "layers"]
    archs = bench.tables["architectures"].select(arch_cols).to_pandas(types_mapper=pd.ArrowDtype)
    cols = list(dict.fromkeys([unit_col, "arch_id", "seed", "stage", "status", "score", "main_metric"]))
    r = runs.select(cols).to_pandas()
    r["finetune_seed"] = (runs.column("finetune_seed").to_pandas().fillna(-1).astype(int).to_numpy()
                          if "finetune_seed" in runs.column_names else -1)
    r[unit_col] = r[unit_col].astype(str)
    if unit_col != idc:
        r = r.rename(columns={unit_col: idc})
    units = r[["arch_id"]].drop_duplicates() if idc == "arch_id" else r[[idc, "arch_id"]].drop_duplicates(idc)
    summary = units.merge(archs, on="arch_id", how="left")
    stages = [st for st in dict.fromkeys(r.loc[r["main_metric"] != "", "stage"]) if st]
    status = _unit_status(r, idc)
    n_seeds = r.groupby(idc, sort=False)["seed"].nunique().rename("n_seeds")
    frames = [status, n_seeds]
    fam = get_family(bench.family)
    if not fam.metric_columns and stages:
        frames += _stage_scores(r, idc, stages, status.index)
    wide = pd.concat(frames, axis=1)
    names, metric_of = _metric_means(runs, r, idc, wide.index)
    if fam.metric_columns and stages:  # one stage (the LM dataset): each metric its own column
        for m in [m for m in names if m in fam.metric_columns]:
            wide[m] = metric_of(stages[0], m).to_numpy()
    for agg in bench.metadata.get("aggregates", []):
        wide[agg] = _aggregate(agg, metric_of, wide.index).to_numpy()
    for col, values in (bench.metadata.get("unit_columns") or {}).items():
        summary[col] = summary[idc].astype(str).map(values)
    n_runs = bench.metadata.get("n_runs")
    if n_runs:
        wide["n_runs"] = [n_runs.get(str(u), 1) for u in wide.index]
    wide.index.name = idc
    wide = wide.reset_index()
    wide[idc] = wide[idc].astype(str)
    summary[idc] = summary[idc].astype(str)
    out = summary.merge(wide, on=idc, how="left")
    if idc != "arch_id" and len(out) and out[idc].str.fullmatch(r"\d+").all():  # numeric ids (the 2023 paper_id)
        out[idc] = out[idc].astype("int64")
        out = out.sort_values(idc, kind="stable", ignore_index=True)
    return pa.Table.from_pandas(out, preserve_index=False).to_pandas(types_mapper=pd.ArrowDtype)


def _unit_status(r: pd.DataFrame, idc: str) -> pd.Series:
    """Per unit: ok if every run is ok, else diverged if one diverged, else failed."""
    flags = pd.DataFrame({idc: r[idc], "bad": r["status"] != "ok", "div": r["status"] == "diverged"})
    flags = flags.groupby(idc, sort=False)[["bad", "div"]].any()
    return pd.Series(np.where(~flags["bad"], "ok", np.where(flags["div"], "diverged", "failed")), index=flags.index,
                     name="status")


def _stage_scores(r: pd.DataFrame, idc: str, stages: list[str], index: pd.Index) -> list[pd.Series]:
    """Per stage: the main score averaged over ok fine-tuning seeds, then over pretraining seeds; its pretraining-seed
    std (``<stage>_std``, the std of the per-seed means) where a stage has more than one pretraining seed somewhere,
    and its fine-tuning-seed std (``<stage>_ft_std``, the mean over pretraining seeds of the std between fine-tuning
    seeds) where a stage has more than one fine-tuning seed somewhere."""
    ok = r[r["status"] == "ok"]
    per_seed = ok.groupby([idc, "stage", "seed"], sort=False)["score"]
    seed_means, ft_std = per_seed.mean(), per_seed.std().groupby(level=[0, 1], sort=False).mean()
    by = seed_means.groupby(level=[0, 1], sort=False)
    mean, std, ft_std = by.mean().unstack("stage"), by.std().unstack("stage"), ft_std.unstack("stage")
    multi = r.groupby(["stage", idc], sort=False)["seed"].nunique().groupby(level="stage").max()
    multi_ft = r.groupby(["stage", idc, "seed"], sort=False)["finetune_seed"].nunique().groupby(level="stage").max()
    out = []
    for st in stages:
        out.append((mean[st] if st in mean else pd.Series(np.nan, index=index)).rename(st))
        if multi.get(st, 1) > 1:
            out.append((std[st] if st in std else pd.Series(np.nan, index=index)).rename(f"{st}_std"))
        if multi_ft.get(st, 1) > 1:
            out.append((ft_std[st] if st in ft_std else pd.Series(np.nan, index=index)).rename(f"{st}_ft_std"))
    return out


def _metric_means(runs: pa.Table, r: pd.DataFrame, idc: str, index: pd.Index) -> tuple[list[str], Any]:
    """(metric names, ``metric_of(stage, metric)``: a metric's mean over ok runs per unit, NaN where absent, on
    ``index``)."""
    names, matrix = metric_matrix(runs)
    keep = (r["status"] == "ok").to_numpy()
    long = pd.DataFrame(matrix[keep], columns=names)
    long[idc], long["stage"] = r.loc[keep, idc].to_numpy(), r.loc[keep, "stage"].to_numpy()
    per_stage = long.groupby([idc, "stage"], sort=False)[names].mean() if names else None

    def metric_of(stage: str, metric: str) -> pd.Series:
        if per_stage is None or metric not in per_stage.columns or stage not in per_stage.index.get_level_values(1):
            return pd.Series(np.nan, index=index)
        return per_stage[metric].xs(stage, level="stage").reindex(index)

    return names, metric_of


def _aggregate(name: str, metric_of: Any, index: pd.Index) -> pd.Series:
    """A named aggregate (``data/tasks.py``): the mean of its tasks' metric means; NaN if any part is missing."""
    from bertbench.data.tasks import get_aggregate

    parts = [pd.concat([metric_of(task, m) for m in metrics], axis=1).mean(axis=1, skipna=False)
             if metrics else pd.Series(np.nan, index=index) for task, metrics in get_aggregate(name).parts]
    return pd.concat(parts, axis=1).mean(axis=1, skipna=False)
