"""How a grid's units are split among independent workers: a unit is (architecture, seed); each worker learns its
position (``worker_index`` of ``num_workers``) from explicit options, torchrun/accelerate or Slurm, and takes a
cost-balanced share. Words used once each: a *worker* trains whole units; a *rank* is one of the processes that
train one model together in ddp mode (its ``RankSlice`` of each batch, ``training/common.py``); a *result file* is
one (unit, stage) result in the run folder (``store/writer.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bertbench.space import Architecture
from bertbench.space.cost import count_flops


@dataclass(frozen=True)
class Unit:
    arch: Architecture
    seed: int

    @property
    def cost(self) -> float:
        return float(count_flops(self.arch, 128))


def worker_position(worker_index: int | None = None, num_workers: int | None = None) -> tuple[int, int]:
    """(index, count) of this process among the grid workers: explicit, else torchrun/accelerate env, else Slurm."""
    if worker_index is not None or num_workers is not None:
        if worker_index is None or num_workers is None or not 0 <= worker_index < num_workers:
            raise ValueError(f"--worker-index={worker_index} and --num-workers={num_workers} must satisfy 0 <= index < count")
        return worker_index, num_workers
    env = os.environ
    if "WORLD_SIZE" in env and "RANK" in env:
        return int(env["RANK"]), int(env["WORLD_SIZE"])
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        lo = int(env.get("SLURM_ARRAY_TASK_MIN", 0))
        return int(env["SLURM_ARRAY_TASK_ID"]) - lo, int(env["SLURM_ARRAY_TASK_COUNT"])
    return 0, 1


def units_for_worker(units: list[Unit], index: int, count: int) -> list[Unit]:
    """Greedy longest-processing-time split: deterministic, balanced by cost; returned in grid order."""
    loads = [0.0] * count
    owner: dict[int, int] = {}
    order = sorted(range(len(units)), key=lambda i: (-units[i].cost, i))
    for i in order:
        k = min(range(count), key=lambda j: (loads[j], j))
        owner[i] = k
        loads[k] += units[i].cost
    return [u for i, u in enumerate(units) if owner[i] == index]
