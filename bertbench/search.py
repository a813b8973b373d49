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

POPULATION, TOURNAMENT = 20, 5


@dataclass
class Clock:
    """A search's simulated clock and its trace."""

    bench: Any
    values: dict[str, float]
    lower: bool
    budget: float
    costs: pd.Series
    time: float = 0.0
    trained: dict[str, float] = field(default_factory=dict)
    trace: list[dict[str, Any]] = field(default_factory=list)
    best: float = math.nan

    def can_train(self, unit: str) -> bool:
        return unit in self.trained or self.time + float(self.costs[unit]) <= self.budget

    def train(self, unit: str) -> float:
        """The unit's true metric (NaN for a failed unit), paying its cost the first time; raises StopIteration
        when the budget does not allow it."""
        if unit in self.trained:
            return self.trained[unit]
        if not self.can_train(unit):
            raise StopIteration
        self.time += float(self.costs[unit])
        v = self.values.get(unit, math.nan)
        self.trained[unit] = v
        if not math.isnan(v) and (math.isnan(self.best) or (v < self.best if self.lower else v > self.best)):
            self.best = v
        self.trace.append({"time": self.time, "unit": unit, "value": v, "best_so_far": self.best})
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
    table = proxies if proxies is not None else bench.tables["proxies"]
    df = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
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
    try:
        from bertbench.proxies.registry import get_proxy

        higher = get_proxy(proxy).direction == "higher"
    except KeyError:
        higher = True  # a column of another table (e.g. the 2023 paper's): higher is better, as the paper ranks
    return scores, seconds, higher


def run(bench: Any, algorithm: str, budget: float, seeds: Iterable[int], metric: str | None = None,
        proxy: str | None = None, proxies: Any = None, variant: str | None = None, pool: int = 100) -> pd.DataFrame:
    """Run ``algorithm`` once per seed on ``bench`` with a budget in ``bench.cost_unit``; the trace of every
    training as a DataFrame (see the module docstring). ``metric``: the summary column searched for (default: the
    benchmark's main aggregate, or test_loss for NAS-Bench-NLP)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm={algorithm!r} is not known; allowed: {list(ALGORITHMS)}")
    if (algorithm in NEEDS_PROXY) != (proxy is not None):
        raise ValueError(f"algorithm={algorithm!r} {'needs' if algorithm in NEEDS_PROXY else 'takes no'} proxy=; "
                         f"proxy-guided algorithms: {list(NEEDS_PROXY)}")
    if budget <= 0:
        raise ValueError(f"budget={budget} must be > 0 ({bench.cost_unit})")
    metric = metric or bench.default_target()[0]
    s = bench.to_pandas()
    if metric not in s.columns:
        raise KeyError(f"metric {metric!r} is not a summary column of {bench.name}; allowed: {list(s.columns)}")
    lower = bench.direction(metric) == "lower"
    units = s[bench.id_column].astype(str).tolist()
    values = dict(zip(units, pd.to_numeric(s[metric], errors="coerce").astype(float)))
    finite = [v for v in values.values() if not math.isnan(v)]
    optimum = min(finite) if lower else max(finite)
    costs = bench.train_costs()
    pool_fn = None
    if proxy is not None:
        scores, seconds, higher = proxy_scores(bench, proxy, proxies, variant)

        def pool_fn(clock: Clock, us: list[str], rng: np.random.Generator) -> list[str]:
            return _proxy_pool(clock, us, rng, scores, seconds, higher, pool)
    frames = []
    for seed in seeds:
        rng = np.random.default_rng([int(seed), list(ALGORITHMS).index(algorithm)])
        clock = Clock(bench, values, lower, float(budget), costs)
        try:
            ALGORITHMS[algorithm](clock, units, rng, pool_fn=pool_fn)
        except StopIteration:
            pass
        f = pd.DataFrame(clock.trace, columns=["time", "unit", "value", "best_so_far"])
        f.insert(0, "seed", int(seed))
        f.insert(0, "proxy", proxy or "")
        f.insert(0, "algorithm", algorithm)
        f["regret"] = (f["best_so_far"] - optimum) if lower else (optimum - f["best_so_far"])
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(metric=metric, direction="lower" if lower else "higher", optimum=optimum, budget=budget,
                     cost_unit=bench.cost_unit, benchmark=bench.name)
    return out


def final_regret(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (algorithm, proxy): mean and std over seeds of the regret when the budget ran out."""
    last = frame.groupby(["algorithm", "proxy", "seed"])["regret"].last().reset_index()
    return last.groupby(["algorithm", "proxy"])["regret"].agg(["mean", "std", "count"]).reset_index()


def plot(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Mean best-so-far vs simulated time with a band of one std over seeds, one line per (algorithm, proxy)."""
    from bertbench.plots import pyplot, save_figure

    plt = pyplot()
    budget = float(frame.attrs.get("budget", frame["time"].max()))
    grid = np.linspace(0, budget, 200)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (alg, proxy), part in frame.groupby(["algorithm", "proxy"]):
        curves = []
        for _, f in part.groupby("seed"):
            idx = np.searchsorted(f["time"].to_numpy(), grid, side="right") - 1
            vals = np.where(idx >= 0, f["best_so_far"].to_numpy()[np.clip(idx, 0, None)], np.nan)
            curves.append(vals)
        c = np.vstack(curves)
        with warnings.catch_warnings():  # before a seed's first training its best is NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(c, axis=0), np.nanstd(c, axis=0)
        label = f"{alg} ({proxy})" if proxy else alg
        ax.plot(grid, mean, label=label)
        ax.fill_between(grid, mean - std, mean + std, alpha=0.15)
    ax.set_xlabel(f"simulated time ({frame.attrs.get('cost_unit', 'cost')})")
    ax.set_ylabel(f"best {frame.attrs.get('metric', '')} so far")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
