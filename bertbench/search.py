"""NAS on a benchmark with a simulated clock: random search, regularized evolution (Real et al. 2019), local
search, and proxy-guided variants, each "training" a unit by looking it up and paying its ``train_cost``.

    frame = run(bench, "evolution", budget=0.1 * bench.train_costs().sum(), seeds=range(20))

Rules of the clock: training a unit adds ``bench.train_cost(unit)`` (in ``bench.cost_unit``); a unit already
trained in this search is looked up again for free; a search stops before a training that would exceed the budget.
A proxy-guided search first scores a pool of untrained candidates with a training-free proxy, paying each score's
measured ``seconds`` from the proxies table (0 when the table has none, e.g. the 2023 paper's scores, and for
``params``, read from the architecture); proxy scores always come from a table, never computed in the loop.
Output: one row per training (algorithm, proxy, seed, time, unit, value, best_so_far, regret), regret being the
distance of the best found so far to the benchmark's best.

Algorithms (``ALGORITHMS``): ``random``; ``evolution`` (population 20, tournament 5, mutation =
``bench.mutate``: a nearest held architecture); ``local`` (train all neighbours of the current unit, move to the
best if it improves, else restart at a random unit); ``proxy`` (rank a pool by the proxy, train in that order);
``proxy-evolution`` (regularized evolution whose first population is the proxy's top of a pool).
"""

from __future__ import annotations

import collections
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bertbench.options import Cost, parse

POPULATION, TOURNAMENT = 20, 5


@dataclass
class Clock:
    """A search's simulated clock and its trace. ``draw(unit)`` is what the search observes when it trains a unit
    (the validation metric where one exists; on a benchmark with several seeds, one seed's value drawn by the
    search's RNG); ``report`` is what the search is judged by (the test metric, the mean over seeds)."""

    bench: Any
    draw: Callable[[str], float]
    report: dict[str, float]
    lower: bool
    budget: float
    costs: pd.Series
    time: float = 0.0
    trained: dict[str, float] = field(default_factory=dict)
    trace: list[dict[str, Any]] = field(default_factory=list)
    best: float = math.nan
    incumbent: str | None = None

    def can_train(self, unit: str) -> bool:
        return unit in self.trained or self.time + float(self.costs[unit]) <= self.budget

    def train(self, unit: str) -> float:
        """What the search observes of the unit (NaN for a failed unit), paying its cost the first time; raises
        StopIteration when the budget does not allow it. A unit trained before is looked up again for free."""
        if unit in self.trained:
            return self.trained[unit]
        if not self.can_train(unit):
            raise StopIteration
        self.time += float(self.costs[unit])
        v = self.draw(unit)
        self.trained[unit] = v
        if self.better(v, self.best):
            self.best, self.incumbent = v, unit
        self.trace.append({"time": self.time, "unit": unit, "value": v, "best_so_far": self.best,
                           "incumbent": self.incumbent,
                           "reported": self.report.get(self.incumbent, math.nan) if self.incumbent else math.nan})
        return v

    def pay(self, seconds: float) -> None:
        self.time += seconds

    def better(self, a: float, b: float) -> bool:
        """a better than b (NaN is worst)."""
        if math.isnan(a):
            return False
        return math.isnan(b) or (a < b if self.lower else a > b)


def _random(clock: Clock, units: list[str], rng: np.random.Generator, **_: Any) -> None:
    for i in rng.permutation(len(units)):
        clock.train(units[i])


def _evolution(clock: Clock, units: list[str], rng: np.random.Generator, start: list[str] | None = None,
               **_: Any) -> None:
    population: collections.deque[tuple[str, float]] = collections.deque()
    first = start if start is not None else [units[i] for i in rng.permutation(len(units))[:POPULATION]]
    for u in first:
        population.append((u, clock.train(u)))
    while True:
        picks = [population[int(i)] for i in rng.choice(len(population), size=min(TOURNAMENT, len(population)),
                                                        replace=False)]
        parent = picks[0]
        for p in picks[1:]:
            if clock.better(p[1], parent[1]):
                parent = p
        child = _new_child(clock, units, parent[0], rng)
        population.append((child, clock.train(child)))
        if len(population) > POPULATION:
            population.popleft()


def _new_child(clock: Clock, units: list[str], parent: str, rng: np.random.Generator, tries: int = 10) -> str:
    """A mutation of ``parent`` not yet trained in this search (a repeat costs nothing and would stall the clock):
    up to ``tries`` mutations, then an untrained neighbour, then any untrained unit."""
    for _ in range(tries):
        child = clock.bench.mutate(parent, rng)
        if child not in clock.trained:
            return child
    fresh = [n for n in clock.bench.neighbours(parent) if n not in clock.trained] or \
        [u for u in units if u not in clock.trained]
    if not fresh:
        raise StopIteration  # every unit is trained
    return fresh[int(rng.integers(len(fresh)))]


def _local(clock: Clock, units: list[str], rng: np.random.Generator, **_: Any) -> None:
    while True:
        untried = [u for u in units if u not in clock.trained]
        if not untried:
            return
        current = untried[int(rng.integers(len(untried)))]
        value = clock.train(current)
        while True:
            best, best_v = current, value
            for n in clock.bench.neighbours(current):
                v = clock.train(n)
                if clock.better(v, best_v):
                    best, best_v = n, v
            if best == current:
                break
            current, value = best, best_v


def _proxy_pool(clock: Clock, units: list[str], rng: np.random.Generator, scores: dict[str, float],
                seconds: dict[str, float], higher: bool, pool: int) -> list[str]:
    """A random pool of candidates ranked by the proxy (best first; missing or NaN scores last), each score paid."""
    chosen = [units[i] for i in rng.permutation(len(units))[:pool]]
    for u in chosen:
        clock.pay(seconds.get(u, 0.0))
    key = [(-scores.get(u, math.nan) if higher else scores.get(u, math.nan)) for u in chosen]
    order = sorted(range(len(chosen)), key=lambda i: (math.isnan(key[i]), key[i] if not math.isnan(key[i]) else 0, i))
    return [chosen[i] for i in order]


def _proxy(clock: Clock, units: list[str], rng: np.random.Generator, pool_fn: Callable[..., list[str]],
           **_: Any) -> None:
    for u in pool_fn(clock, units, rng):
        clock.train(u)


def _proxy_evolution(clock: Clock, units: list[str], rng: np.random.Generator, pool_fn: Callable[..., list[str]],
                     **_: Any) -> None:
    _evolution(clock, units, rng, start=pool_fn(clock, units, rng)[:POPULATION])


ALGORITHMS: dict[str, Callable[..., None]] = {"random": _random, "evolution": _evolution, "local": _local,
                                              "proxy": _proxy, "proxy-evolution": _proxy_evolution}
NEEDS_PROXY = ("proxy", "proxy-evolution")


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
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm={algorithm!r} is not known; allowed: {list(ALGORITHMS)}")
    if (algorithm in NEEDS_PROXY) != (proxy is not None):
        raise ValueError(f"algorithm={algorithm!r} {'needs' if algorithm in NEEDS_PROXY else 'takes no'} proxy=; "
                         f"proxy-guided algorithms: {list(NEEDS_PROXY)}")
    if budget <= 0:
        raise ValueError(f"budget={budget} must be > 0 ({bench.cost_unit})")
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
            return _proxy_pool(clock, us, rng, scores, seconds, higher, pool)
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
        f = pd.DataFrame(clock.trace, columns=["time", "unit", "value", "best_so_far", "incumbent", "reported"])
        f.insert(0, "seed", int(seed))
        f.insert(0, "proxy", proxy or "")
        f.insert(0, "algorithm", algorithm)
        f["regret"] = (f["reported"] - optimum) if lower else (optimum - f["reported"])
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(metric=metric, selected_on=select, seed_draws=bool(per_seed),
                     direction="lower" if lower else "higher", optimum=optimum, budget=budget,
                     cost_unit=bench.cost_unit, benchmark=bench.name, cost=cost)
    return out


def final_regret(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (algorithm, proxy): mean and std over seeds of the regret when the budget ran out."""
    last = frame.groupby(["algorithm", "proxy", "seed"])["regret"].last().reset_index()
    return last.groupby(["algorithm", "proxy"])["regret"].agg(["mean", "std", "count"]).reset_index()


def regret_curves(frame: pd.DataFrame, points: int = 200) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per (algorithm, proxy) label: (time grid, mean regret, sd over seeds) of the incumbent, on complete traces
    only: from the time every seed has trained a unit with a finite value to the budget. Where the search selects on
    the metric it reports, each seed's regret never rises, so neither does the mean; where it selects on a
    validation metric or on drawn seeds, the incumbent's reported value can get worse, and the curve shows it."""
    budget = float(frame.attrs.get("budget", frame["time"].max()))
    out = {}
    for (alg, proxy), part in frame.groupby(["algorithm", "proxy"]):
        done = part.dropna(subset=["regret"])
        firsts = done.groupby("seed")["time"].min()
        if firsts.empty or len(firsts) < part["seed"].nunique():
            continue  # a seed that never found a finite unit has no curve
        grid = np.linspace(float(firsts.max()), budget, points)
        curves = []
        for _, f in done.groupby("seed"):
            idx = np.searchsorted(f["time"].to_numpy(), grid, side="right") - 1
            curves.append(f["regret"].to_numpy()[idx])
        c = np.vstack(curves)
        out[f"{alg} ({proxy})" if proxy else alg] = (grid, c.mean(axis=0), c.std(axis=0))
    return out


def plot(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """``regret_curves`` drawn: one line per (algorithm, proxy), a band of one sd over seeds."""
    from bertbench.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    n_seeds = frame["seed"].nunique()
    for label, (grid, mean, std) in regret_curves(frame).items():
        ax.plot(grid, mean, label=label)
        ax.fill_between(grid, np.maximum(mean - std, 0), mean + std, alpha=0.15)
    metric, sel = frame.attrs.get("metric", ""), frame.attrs.get("selected_on", "")
    ax.set_xlabel(f"simulated time ({frame.attrs.get('cost_unit', 'cost')})")
    ax.set_ylabel(f"regret of the incumbent's {metric}" + (f"\n(selected on {sel})" if sel and sel != metric else ""))
    ax.set_title(f"{title}\nmean over {n_seeds} seeds from the time all have a result; band: +-1 sd over seeds",
                 fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
