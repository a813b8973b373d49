"""`ProxySuite`: precomputed proxy scores on published benchmarks, joined to the targets they are judged against.

``bertbench.load("bertbench-zero")`` returns the suite shipped in the package (offline); ``bertbench.load(FOLDER)``
a suite folder (one with ``suite.json``). The file format belongs to ``bertbench.store.proxy_suite``; the
leaderboard (every proxy beside the size baselines, per benchmark) to ``bertbench.proxies.leaderboard``.

    suite = bertbench.load("bertbench-zero")
    suite.benchmarks                                   # ['nas-bench-bert-2023', ...]
    df = suite.to_pandas("nas-bench-nlp-wikitext-2")   # one row per architecture: target, sizes, one column per proxy
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

SHIPPED_SUITES = Path(__file__).resolve().parent.parent / "suites"


@dataclass(frozen=True)
class SuiteBenchmark:
    """One benchmark of a suite: what was scored and what it is judged against."""

    key: str
    source: str
    variant: str
    target: str
    direction: str
    reliability: float
    info: dict[str, Any]


class ProxySuite:
    """A proxy suite read from its folder (tables checked against their sha256 on load)."""

    def __init__(self, folder: str | os.PathLike[str] | None, verify: bool = True,
                 tables: tuple[dict[str, Any], pa.Table, pa.Table] | None = None) -> None:
        from bertbench.store.proxy_suite import read_suite

        self.path = Path(folder) if folder is not None else None
        self._verify = verify
        self.manifest, self._scores, self._targets = tables if tables is not None else read_suite(self.path, verify)
        self.name: str = self.manifest["name"]
        self.version: str = self.manifest["version"]

    @classmethod
    def from_tables(cls, manifest: dict[str, Any], scores: pa.Table, targets: pa.Table) -> ProxySuite:
        """A suite in memory (before it is written): what ``bench/releases/build_proxy_suite.py`` computes the leaderboard of."""
        return cls(None, tables=(manifest, scores, targets))

    def stored_leaderboard(self) -> pd.DataFrame | None:
        """The leaderboard stored when the suite was built (None when it has none), with its ``leaderboard_digest``
        in ``manifest``."""
        if self.path is None:
            return None
        from bertbench.store.proxy_suite import read_leaderboard

        table = read_leaderboard(self.path, self.manifest, self._verify)
        return None if table is None else table.to_pandas()

    def __repr__(self) -> str:
        return f"ProxySuite({self.name} {self.version}: {', '.join(self.benchmarks)})"

    @property
    def benchmarks(self) -> list[str]:
        return list(self.manifest["benchmarks"])

    def benchmark(self, key: str) -> SuiteBenchmark:
        """What the suite says of benchmark ``key``."""
        if key not in self.manifest["benchmarks"]:
            raise KeyError(f"benchmark={key!r} is not in {self.name}; allowed: {self.benchmarks}")
        b = self.manifest["benchmarks"][key]
        rel = b.get("target_reliability")
        return SuiteBenchmark(key, b["source"], b["variant"], b["target"], b["direction"],
                              float("nan") if rel is None else float(rel), b)

    def proxies(self, key: str) -> list[str]:
        """The proxies scored on benchmark ``key`` (params included: it is the first size baseline)."""
        return list(self.benchmark(key).info["proxies"])

    def scores(self, key: str | None = None) -> pd.DataFrame:
        """The long table: one row per (benchmark, arch_id, proxy) with value, status, error, seconds, batch, seeds."""
        return self._select(self._scores, key).to_pandas()

    def to_pandas(self, key: str) -> pd.DataFrame:
        """One row per architecture of benchmark ``key``: ``arch_id``, the target (under its own name), ``n_runs``,
        the trained network's params, flops, hidden_size and num_layers, and one column per other proxy (NaN where
        the score is unstable or failed; the scored network's own params and flops are in ``scores``)."""
        b = self.benchmark(key)
        scores = self.scores(key)
        wide = scores.pivot_table(index="arch_id", columns="proxy", values="value", aggfunc="first", dropna=False)
        wide.columns.name = None
        targets = self._select(self._targets, key).to_pandas().drop(columns=["benchmark"]).set_index("arch_id")
        targets = targets.rename(columns={"target": b.target})
        out = targets.join(wide.drop(columns=[c for c in wide.columns if c in targets.columns]), how="left")
        return out.reset_index().sort_values("arch_id", kind="stable").reset_index(drop=True)

    def _select(self, table: pa.Table, key: str | None) -> pa.Table:
        if key is None:
            return table
        self.benchmark(key)  # names the allowed keys when unknown
        import pyarrow.compute as pc

        return table.filter(pc.equal(table.column("benchmark"), key))


def load_suite(folder: str | os.PathLike[str], verify: bool = True) -> ProxySuite:
    """The suite in ``folder``."""
    return ProxySuite(folder, verify=verify)
