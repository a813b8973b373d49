"""The search algorithms and their simulated clock (``bertbench.search``'s docstring has the rules)."""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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


def proxy_pool(clock: Clock, units: list[str], rng: np.random.Generator, scores: dict[str, float],
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
