"""One search run: what it selects on and reports, the proxy scores it reads, what a budget cannot buy, and the
run itself (``run``), one trace row per training."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from bertbench.options import Cost, parse
from bertbench.search.algorithms import ALGORITHMS, NEEDS_PROXY, POPULATION, Clock, proxy_pool


def proxy_scores(bench: Any, proxy: str, proxies: Any = None, variant: str | None = None
                 ) -> tuple[dict[str, float], dict[str, float], bool]:
    """({unit: score}, {unit: seconds}, higher_is_better) of ``proxy`` from a proxies table (``proxies``, else the
    benchmark's own); ``params`` comes from the architectures (cost 0)."""
    s = bench.to_pandas()
    idc = bench.id_column
    if proxy == "params":
        return dict(zip(s[idc].astype(str), pd.to_numeric(s["params"], errors="coerce").astype(float))), {}, True
    from bertbench.proxies.registry import match_name

    table = proxies if proxies is not None else bench.tables["proxies"]
    df = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
    proxy = match_name(proxy, sorted(set(df["proxy"]))) or proxy  # "synaptic_diversity" finds "Synaptic Diversity"
    df = df[df["proxy"] == proxy]
    if variant is not None:
        df = df[df["variant"] == variant]
    if df.empty:
        raise KeyError(f"proxy {proxy!r} has no scores in the proxies table; allowed: "
                       f"{sorted(set((table.to_pandas() if hasattr(table, 'to_pandas') else table)['proxy']))} or 'params'")
    if df["variant"].nunique() > 1:
        raise ValueError(f"proxy {proxy!r} has scores of variants {sorted(df['variant'].unique())}; pass variant=")
    by_arch = df.groupby("arch_id").agg(value=("value", "mean"), seconds=("seconds", "mean"))
    arch_of = dict(zip(s[idc].astype(str), s["arch_id"].astype(str)))
    scores = {u: float(by_arch["value"].get(a, math.nan)) for u, a in arch_of.items()}
    seconds = {u: float(x) for u, a in arch_of.items() if not math.isnan(x := float(by_arch["seconds"].get(a, math.nan)))}
    from bertbench.proxies.registry import PROXIES

    # a column of another table (the 2023 paper's CSV: its own definitions, spec section 3) is ranked higher-is-better,
    # as the paper ranks; only a proxy registered under exactly this name has a registered direction
    higher = PROXIES.get(proxy).direction == "higher" if proxy in PROXIES else True
    return scores, seconds, higher


#: A test metric and the validation metric a search must select on instead, where a benchmark has both.
VALIDATION_OF = {"test_loss": "val_loss", "test_perplexity": "val_loss"}
MIN_TRAININGS = 10


def search_metrics(bench: Any, metric: str | None = None) -> tuple[str, str]:
    """(the metric a search selects on, the metric it reports): the validation metric where ``metric`` is a test
    metric with a validation counterpart in the summary (NAS-Bench-NLP: val_loss, test_loss), else ``metric`` twice."""
    metric = metric or bench.default_target()[0]
    columns = set(bench.to_pandas().columns)
    if metric not in columns:
        raise KeyError(f"metric {metric!r} is not a summary column of {bench.name}; allowed: {sorted(columns)}")
    val = VALIDATION_OF.get(metric)
    return (val if val in columns else metric), metric


def _seed_values(bench: Any, metric: str) -> dict[str, np.ndarray]:
    """unit -> the metric's value of each pretraining seed, for units with two or more (releases with seeds)."""
    if bench.id_column != "arch_id" or len(bench.metadata.get("seeds") or []) < 2:
        return {}
    from bertbench.reliability import run_values

    rv = run_values(bench, curves=False)
    rv = rv[rv["target"] == metric].dropna(subset=["value"])
    out = {u: g["value"].to_numpy(float) for u, g in rv.groupby("unit")}
    return {u: v for u, v in out.items() if len(v) >= 2}


def budget_warnings(bench: Any, algorithm: str, budget: float) -> list[str]:
    """What a budget cannot buy: fewer than ``MIN_TRAININGS`` trainings at the median cost, or too few to fill an
    evolution's first population."""
    median = float(np.median(bench.train_costs().to_numpy(float)))
    n = int(budget // median) if median > 0 else 0
    out = []
    if n < MIN_TRAININGS:
        out.append(f"budget {budget:,.0f} {bench.cost_unit} buys about {n} trainings at the median cost: a search "
                   f"needs at least {MIN_TRAININGS} to mean anything")
    if algorithm in ("evolution", "proxy-evolution") and n < POPULATION:
        out.append(f"{algorithm}: the budget buys about {n} trainings, fewer than its population of {POPULATION}: "
                   "it never evolves, it is random search")
    return out


def run(bench: Any, algorithm: str, budget: float, seeds: Iterable[int], metric: str | None = None,
        proxy: str | None = None, proxies: Any = None, variant: str | None = None, pool: int = 100,
        cost: str = "measured") -> pd.DataFrame:
    """Run ``algorithm`` once per seed on ``bench`` with a budget in ``bench.cost_unit``; the trace of every
    training as a DataFrame (see the module docstring). ``metric``: the summary column the search is judged by
    (default: the benchmark's main target). As NAS benchmarks define the protocol: the search selects on the
    validation metric where one exists (``search_metrics``) and is judged by ``metric``; on a benchmark with several
    seeds each training observes one seed's value, drawn by the search's RNG, while regret is measured on the mean
    over seeds. Trace columns: value and best_so_far (what the search saw), incumbent, reported (``metric`` of the
    incumbent) and regret (of ``reported`` from the best unit's ``metric``).

    ``cost="flat"`` charges every training the median cost instead of its own (``"measured"``): every algorithm
    then buys the same number of trainings, so a params-guided search (which picks the largest, dearest units
    first) is compared with a proxy on what it selects, not on how much its picks cost: the cost-matched
    params baseline."""
    _check(bench, algorithm, proxy, budget)
    cost = parse(Cost, cost, "cost").value
    select, metric = search_metrics(bench, metric)
    for line in budget_warnings(bench, algorithm, budget):
        warnings.warn(line, stacklevel=2)
    s = bench.to_pandas()
    lower = bench.direction(metric) == "lower"
    if bench.direction(select) != bench.direction(metric):
        raise ValueError(f"{select} and {metric} are not ranked the same way")
    units = s[bench.id_column].astype(str).tolist()
    observed = dict(zip(units, pd.to_numeric(s[select], errors="coerce").astype(float)))
    report = dict(zip(units, pd.to_numeric(s[metric], errors="coerce").astype(float)))
    per_seed = _seed_values(bench, select)
    finite = [v for v in report.values() if not math.isnan(v)]
    optimum = min(finite) if lower else max(finite)
    costs = bench.train_costs()
    if cost == "flat":
        costs = pd.Series(float(np.median(costs.to_numpy(float))), index=costs.index)
    pool_fn = None
    if proxy is not None:
        scores, seconds, higher = proxy_scores(bench, proxy, proxies, variant)

        def pool_fn(clock: Clock, us: list[str], rng: np.random.Generator) -> list[str]:
            return proxy_pool(clock, us, rng, scores, seconds, higher, pool)
    frames = []
    for seed in seeds:
        rng = np.random.default_rng([int(seed), list(ALGORITHMS).index(algorithm)])
        seed_rng = np.random.default_rng([int(seed), list(ALGORITHMS).index(algorithm), 1])  # draws of seeds only

        def draw(unit: str, seed_rng: np.random.Generator = seed_rng) -> float:
            vals = per_seed.get(unit)
            return float(vals[int(seed_rng.integers(len(vals)))]) if vals is not None else observed.get(unit, math.nan)

        clock = Clock(bench, draw, report, lower, float(budget), costs)
        try:
            ALGORITHMS[algorithm](clock, units, rng, pool_fn=pool_fn)
        except StopIteration:
            pass
        frames.append(_trace(clock, algorithm, proxy, int(seed), optimum))
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(metric=metric, selected_on=select, seed_draws=bool(per_seed),
                     direction="lower" if lower else "higher", optimum=optimum, budget=budget,
                     cost_unit=bench.cost_unit, benchmark=bench.name, cost=cost)
    return out


def _check(bench: Any, algorithm: str, proxy: str | None, budget: float) -> None:
    """Refuse an unknown algorithm, a proxy given to an algorithm without one (or missing), a budget <= 0."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm={algorithm!r} is not known; allowed: {list(ALGORITHMS)}")
    if (algorithm in NEEDS_PROXY) != (proxy is not None):
        raise ValueError(f"algorithm={algorithm!r} {'needs' if algorithm in NEEDS_PROXY else 'takes no'} proxy=; "
                         f"proxy-guided algorithms: {list(NEEDS_PROXY)}")
    if budget <= 0:
        raise ValueError(f"budget={budget} must be > 0 ({bench.cost_unit})")


def _trace(clock: Clock, algorithm: str, proxy: str | None, seed: int, optimum: float) -> pd.DataFrame:
    """One seed's trace, with the regret of what it reports."""
    f = pd.DataFrame(clock.trace, columns=["time", "unit", "value", "best_so_far", "incumbent", "reported"])
    f.insert(0, "seed", seed)
    f.insert(0, "proxy", proxy or "")
    f.insert(0, "algorithm", algorithm)
    f["regret"] = (f["reported"] - optimum) if clock.lower else (optimum - f["reported"])
    return f

