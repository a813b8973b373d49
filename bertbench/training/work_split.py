"""How a grid's units are split among independent workers (the "worker split"; a rank's slice of one model's data
in ddp mode is a "data shard", see ``training/common.py``): a unit is (architecture, seed); each worker learns its
position from explicit options, torchrun/accelerate or Slurm, and takes a cost-balanced share."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bertbench.cost import count_flops
from bertbench.space import Architecture


@dataclass(frozen=True)
class Unit:
    arch: Architecture
    seed: int

    @property
    def cost(self) -> float:
        return float(count_flops(self.arch, 128))


def worker_position(shard_index: int | None = None, num_shards: int | None = None) -> tuple[int, int]:
    """(index, count) of this process among the grid workers: explicit, else torchrun/accelerate env, else Slurm."""
    if shard_index is not None or num_shards is not None:
        if shard_index is None or num_shards is None or not 0 <= shard_index < num_shards:
            raise ValueError(f"shard_index={shard_index} and num_shards={num_shards} must satisfy 0 <= index < count")
        return shard_index, num_shards
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
