"""How well proxies rank a benchmark's trained results (scoring itself: ``proxies/scoring.py``).

``evaluate`` scores (or reads) the proxies and builds ``proxies/correlations.py``'s table: every proxy beside the
size baselines (params of the network built, flops, depth, hidden size, the size model), oriented so that a positive
tau means "ranks the better architectures higher", with the target's own reliability and the tau it allows.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from bertbench.file_io import atomic_write_table
from bertbench.proxies.correlations import BASELINES, correlation_table, duplicate_reliability
from bertbench.proxies.inputs import ProxySeeds
from bertbench.proxies.scoring import score_benchmark

log = logging.getLogger(__name__)


def _add_ceiling(bench: Any, target: str, corr: pd.DataFrame) -> None:
    """Add the target's reliability over seeds and the Kendall tau it allows (``tau_ceiling``: no proxy can rank the
    architectures better than the target reproduces itself) to ``corr``; warn when it is below 0.5 or unknown."""
    from bertbench.reliability import column_reliability
    from bertbench.stats import tau_from_reliability

    if bench.id_column == "arch_id":
        r = column_reliability(bench, target)
        rel = r.reliability if r is not None else float("nan")
    else:  # one run per unit: the noise between duplicated architectures (the 2023 data)
        summary = bench.to_pandas()
        rel = duplicate_reliability(summary[target], summary["arch_id"]) if target in summary else float("nan")
    corr["target_reliability"] = rel
    corr["tau_ceiling"] = tau_from_reliability(np.sqrt(rel)) if np.isfinite(rel) else float("nan")
    warning = bench.target_warning(target)
    if warning:
        log.warning("%s", warning)


def _size_columns(summary: pd.DataFrame, variant: str) -> pd.DataFrame:
    """Per arch_id: hidden size, depth and the forward FLOPs of the network as built in ``variant`` (the 2023 data's
    ``flops_as_trained`` for as_trained_2023); params come from the scored ``params`` proxy (the network built)."""
    flops = "flops_as_trained" if variant == "as_trained_2023" and "flops_as_trained" in summary else "flops"
    cols = [c for c in ("hidden_size", "num_layers", flops) if c in summary]
    out = summary.groupby("arch_id")[cols].first().rename(columns={flops: "flops"})
    return out.astype(float)


def evaluate(bench: Any, names: list[str] | None = None, n: int | None = None, seed: int | ProxySeeds = 0,
             variant: str | None = None, target: str | None = None, out: str | os.PathLike[str] | None = None,
             n_boot: int = 1000, scores: pa.Table | None = None, **score_kwargs: Any
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score proxies on ``bench`` and correlate them with ``target`` (default: GLUE / the synthetic aggregate for
    BERT, the final test loss for RNN). Returns (scores wide: one row per architecture, correlation table). With
    ``out``, writes proxies.parquet, scores.csv, correlations.csv, scatter.png and ranks.png there. ``scores``: an
    already computed ``proxies`` table (e.g. a release's) to correlate instead of scoring again. ``seed``: see
    ``score_benchmark``; the bootstrap CIs use ``ProxySeeds.of(seed).bootstrap``."""
    from bertbench.proxies.registry import get_proxy, list_proxies

    names = list(names or list_proxies(bench.family))
    if "params" not in names:  # the built network's parameter count: the first size baseline
        names.append("params")
    if scores is not None:
        missing = sorted(set(names) - set(scores.column("proxy").to_pylist()))
        if missing:
            raise ValueError(f"scores has no rows for proxies {missing}")
        table = scores
    else:
        table = score_benchmark(bench, names, n=n, seed=seed, variant=variant, **score_kwargs)
    wide = table.to_pandas().pivot_table(index="arch_id", columns="proxy", values="value", aggfunc="first",
                                         dropna=False)
    tgt, tdir = (target, bench.direction(target)) if target else bench.default_target()
    summary = bench.to_pandas()
    per_arch = summary.groupby("arch_id")[tgt].mean() if tgt in summary else pd.Series(dtype=float)
    sizes = _size_columns(summary, variant or bench.default_variant)
    wide = wide.join(per_arch.astype(float), how="left").join(sizes.drop(columns=[c for c in sizes if c in wide]))
    directions = {p: get_proxy(p).direction for p in names}
    proxies = [p for p in names if p not in BASELINES]  # params and flops of the built network are size baselines
    corr = correlation_table(wide.reset_index(), tgt, proxies, tdir, directions, n_boot=n_boot,
                             seed=ProxySeeds.of(seed).bootstrap)
    _add_ceiling(bench, tgt, corr)
    trained_as = bench.default_variant
    built_as = variant or trained_as
    corr["pairing"] = "valid" if built_as == trained_as else (
        f"invalid: proxies of networks built {built_as}, scores of networks trained {trained_as}")
    if built_as != trained_as:
        log.warning("proxies of networks built %s are paired with scores of networks trained %s: this table compares "
                    "two different networks and says nothing about either (its size baselines only describe size)",
                    built_as, trained_as)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_table(out / "proxies.parquet", table)
        wide.reset_index().to_csv(out / "scores.csv", index=False)
        corr.to_csv(out / "correlations.csv", index=False)
        from bertbench.plots import plot_ranks, plot_scatter

        plot_scatter(wide.reset_index(), tgt, ["params", *proxies], out / "scatter.png", title=f"{bench.name}: proxies vs {tgt}")
        plot_ranks(corr, out / "ranks.png", title=f"{bench.name}: Kendall tau vs {tgt} (oriented, 95% CI)")
    return wide.reset_index(), corr
