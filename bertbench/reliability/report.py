"""The reliability table as text or Markdown, and as a release manifest records it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bertbench.reliability.measure import reliability_table


def format_table(table: pd.DataFrame, curves: bool = True, markdown: bool = False) -> str:
    """The reliability table as text (or a Markdown table): one line per target, the verdict last."""
    t = table if curves else table[~table["target"].str.contains("@", regex=False)]

    def f(x: float, nd: int = 2) -> str:
        return "-" if not np.isfinite(x) else ("inf" if math.isinf(x) else f"{x:.{nd}f}")

    def ci(v: float, lo: float, hi: float) -> str:
        return "-" if not np.isfinite(v) else f"{v:.2f} [{f(lo)}, {f(hi)}]"

    rows = [[r.target, str(r.n_archs), f"{r.seeds:g}", ci(r.seed_tau, r.tau_low, r.tau_high),
             ci(r.group_tau, r.group_tau_low, r.group_tau_high), ci(r.icc, r.icc_low, r.icc_high), f(r.arch_sd, 3),
             f(r.seed_sd, 3), f(r.pretrain_seed_sd, 3), f(r.finetune_seed_sd, 3), f(r.reliability),
             "inf" if math.isinf(r.seeds_for_tau_06) else ("-" if not np.isfinite(r.seeds_for_tau_06)
                                                           else f"{r.seeds_for_tau_06:.0f}"), r.verdict]
            for r in t.itertuples()]
    head = ["target", "archs", "seeds", "seed tau [95% CI]", "within-group tau", "ICC [95% CI]", "arch sd",
            "seed sd", "pretrain sd", "finetune sd", "reliability", "seeds for tau 0.6", "verdict"]
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                          *("| " + " | ".join(r) + " |" for r in rows)])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def manifest_entry(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table as JSON-able records (NaN as None, inf as "inf") for a release manifest."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return "inf" if math.isinf(v) and v > 0 else None
        return v

    return [{k: clean(v) for k, v in rec.items()} for rec in table.to_dict("records")]


def table_from_manifest(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The inverse of ``manifest_entry``."""
    rows = [{k: (math.inf if v == "inf" else math.nan if v is None else v) for k, v in r.items()} for r in records]
    return pd.DataFrame(rows)


def manifest_extra(bench: Any, n_boot: int = 1000) -> dict[str, Any]:
    """What ``commit`` records of a run (``loaders.release.load_run``): {"reliability": records}."""
    return {"reliability": manifest_entry(reliability_table(bench, n_boot=n_boot))}
