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

from bertbench.search.algorithms import ALGORITHMS, NEEDS_PROXY, POPULATION, TOURNAMENT, Clock
from bertbench.search.protocol import (
    MIN_TRAININGS,
    VALIDATION_OF,
    budget_warnings,
    proxy_scores,
    run,
    search_metrics,
)
from bertbench.search.regret import final_regret, plot, regret_curves

__all__ = ["ALGORITHMS", "MIN_TRAININGS", "NEEDS_PROXY", "POPULATION", "TOURNAMENT", "VALIDATION_OF", "Clock",
           "budget_warnings", "final_regret", "plot", "proxy_scores", "regret_curves", "run", "search_metrics"]
