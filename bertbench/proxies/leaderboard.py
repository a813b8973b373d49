"""The proxy leaderboard of a suite: per benchmark, every proxy beside the size baselines (params, flops, depth,
hidden size, the size model), oriented, with CIs, within-(hidden size, depth) taus, partial correlations given size,
the paired difference from the best size baseline, and the target's reliability ceiling
(``bertbench.proxies.correlations.correlation_table``).

    from bertbench.proxies.leaderboard import leaderboard
    table = leaderboard(bertbench.load("bertbench-zero"))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bertbench.proxies.correlations import BASELINES, correlation_table, format_table
from bertbench.stats import tau_from_reliability


def benchmark_table(suite: Any, key: str, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The correlation table of benchmark ``key`` of ``suite``, with ``benchmark``, ``target_reliability`` and
    ``tau_ceiling`` (the tau against the true target that the target's noise allows)."""
    b = suite.benchmark(key)
    df = suite.to_pandas(key)
    directions = dict(b.info.get("directions", {}))
    proxies = [p for p in suite.proxies(key) if p not in BASELINES]
    corr = correlation_table(df, b.target, proxies, b.direction, directions, n_boot=n_boot, seed=seed)
    corr.insert(0, "benchmark", key)
    rel = b.reliability
    corr["target_reliability"] = rel
    corr["tau_ceiling"] = tau_from_reliability(math.sqrt(rel)) if np.isfinite(rel) else math.nan
    return corr


def leaderboard(suite: Any, benchmarks: list[str] | None = None, n_boot: int = 1000, seed: int = 0,
                reuse: bool = True) -> pd.DataFrame:
    """``benchmark_table`` of each of ``benchmarks`` (all of the suite's by default), stacked. With ``reuse``, the
    table stored in the suite is returned when it was computed by this code with these settings (``code_digest``):
    the same numbers, without the bootstrap's seconds."""
    keys = benchmarks or suite.benchmarks
    if reuse and suite.manifest.get("leaderboard_digest") == code_digest(n_boot, seed):
        stored = suite.stored_leaderboard()
        if stored is not None:
            return stored[stored["benchmark"].isin(keys)].reset_index(drop=True)
    return pd.concat([benchmark_table(suite, k, n_boot, seed) for k in keys], ignore_index=True)


def code_digest(n_boot: int, seed: int) -> str:
    """sha256 of what a leaderboard depends on besides the suite's tables: the source of this module, of
    ``proxies/correlations.py`` and ``stats.py``, and the bootstrap settings."""
    import hashlib
    from pathlib import Path

    here = Path(__file__).resolve()
    h = hashlib.sha256(f"{n_boot}|{seed}".encode())
    for f in (here, here.parent / "correlations.py", here.parents[1] / "stats.py"):
        h.update(f.read_bytes())
    return h.hexdigest()


def format_leaderboard(table: pd.DataFrame, suite: Any) -> str:
    """The leaderboard as text: per benchmark a header (source, variant, target, batch) and ``format_table``."""
    parts = []
    for key in dict.fromkeys(table["benchmark"]):
        b = suite.benchmark(key)
        batch = b.info.get("batch", {})
        head = (f"== {key}: proxies of the {b.variant} networks"
                + (f" reshaped to {b.info['shape']}" if b.info.get("shape") else "")
                + f" vs {b.target} ({b.direction} is better), batch {batch.get('description', '?')}")
        missing = b.info.get("not_scored")
        parts.append(head + "\n" + format_table(table[table["benchmark"] == key].drop(columns="benchmark"))
                     + (f"\nnot scored: {missing}" if missing else ""))
    return "\n\n".join(parts)
