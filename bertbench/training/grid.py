"""The grid runner: trains every (architecture, seed) of a grid -- pretraining, then each task -- and writes one
result file per (arch_id, seed, stage) through the store's atomic result writer.

Parallel modes: ``grid`` (each process trains whole architectures alone; units split by rank/world size from
torchrun or ``accelerate launch``, a Slurm array or ``worker_index``/``num_workers``, balanced by estimated cost;
claims keep independent workers apart) and ``ddp`` (every process trains every architecture together, via
Accelerate). A rerun on the same RUN_DIR only does what is missing; seeds derive from (arch_id, seed, stage), never
from rank or order. Failures and divergences are recorded (status, NaN metrics, error text); the grid goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import torch

from bertbench.options import Parallel, parse
from bertbench.space.grids import Grid
from bertbench.store.run_folder import claim_path, record_invocation
from bertbench.store.writer import ResultWriter
from bertbench.training.common import RankSlice, device_summary, make_accelerator, set_threads
from bertbench.training.recipe import Recipe
from bertbench.training.run_inputs import RunInputs, hardware
from bertbench.training.unit_trainer import UnitTrainer
from bertbench.training.work_split import Unit, units_for_worker, worker_position

log = logging.getLogger(__name__)
progress_log = logging.getLogger("bertbench.progress")  # shown by the CLI at INFO: one line per unit off a terminal
DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK",
            "ROLE_RANK", "ROLE_WORLD_SIZE", "TORCHELASTIC_RUN_ID", "ACCELERATE_USE_CPU")


class GridRunner:
    """Runs a grid into RUN_DIR (see the module docstring): the run's inputs (``RunInputs``), who trains which unit
    (here), and how one unit is trained (``UnitTrainer``)."""

    def __init__(self, grid: Grid, recipe: Recipe, run_dir: str | os.PathLike[str], seeds: tuple[int, ...] | None = None,
                 tasks: tuple[str, ...] | None = None, parallel: str = "grid", worker_index: int | None = None,
                 num_workers: int | None = None, threads: int | None = None, progress: bool = True,
                 retry_failed: bool = False, only_tasks: tuple[str, ...] | None = None) -> None:
        self.parallel = parse(Parallel, parallel, "parallel").value
        self.inputs = RunInputs(grid, recipe, run_dir, seeds, tasks, progress)
        self.grid, self.recipe, self.run_dir = grid, recipe, self.inputs.run_dir
        self.progress, self.threads = progress, threads
        self.index, self.count = worker_position(worker_index, num_workers)
        self.writer = ResultWriter(self.run_dir)
        # only_tasks is scheduling only (pretraining first, a cheap task first): the run's identity is unchanged
        self.trainer = UnitTrainer(self.inputs, self.writer, only_tasks, retry_failed)

    def units(self) -> list[Unit]:
        return self.inputs.units()

    def identity(self) -> dict[str, Any]:
        return self.inputs.identity()

    @property
    def run_hash(self) -> str:
        return self.inputs.run_hash

    def _new_accelerator(self) -> Any:
        return make_accelerator(self.recipe.mixed_precision)

    def _check_and_record(self, accelerator: Any) -> None:
        self.inputs.check()
        if accelerator.is_main_process:
            self.inputs.write_run_info(hardware(accelerator, self.count), self.parallel, self.writer.finetuning_keys)

    def prepare(self) -> None:
        """Check and cache every input (tokenizer, packed corpus, tasks) and write run.json; train nothing. Run it
        once before starting many workers on one folder (a cluster's login node, or a GPU shared by processes)."""
        set_threads(self.threads)
        self._check_and_record(self._new_accelerator())

    def run(self) -> dict[str, int]:
        """Run this process's share; returns counts of results written and skipped."""
        if self.parallel == "grid":
            return self._run_grid_mode()
        return self._run_ddp_mode()

    def _run_grid_mode(self) -> dict[str, int]:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        for k in DIST_ENV:  # each grid worker is a single-process Accelerator: no gradient sync between archs
            os.environ.pop(k, None)
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        set_threads(self.threads)
        units = self.units()
        mine = units_for_worker(units, self.index, self.count)
        # Costliest first (longest-processing-time order); others' units cheapest first: the end of their owners' queues
        others = sorted((u for u in units if u not in mine), key=lambda u: u.cost)
        mine = sorted(mine, key=lambda u: -u.cost)
        log.info("worker %d/%d: %d of %d units, then any of the others' not yet claimed", self.index, self.count,
                 len(mine), len(units))
        self._check_and_record(self._new_accelerator())
        return self._train_units(mine, RankSlice(), others)

    def _run_ddp_mode(self) -> dict[str, int]:
        set_threads(self.threads)
        accelerator = self._new_accelerator()
        self._check_and_record(accelerator)
        accelerator.wait_for_everyone()
        ranks = RankSlice(accelerator.process_index, accelerator.num_processes)
        try:
            return self._train_units(self.units(), ranks)
        finally:
            accelerator.wait_for_everyone()
            accelerator.end_training()

    def _train_units(self, units: list[Unit], ranks: RankSlice, others: Sequence[Unit] = ()) -> dict[str, int]:
        """Train ``units``; each gets a fresh Accelerator (no model, optimizer or scheduler of a previous unit is
        carried over, whatever happened to it). In grid mode a unit is claimed first (``claims.py``): independent
        workers on one folder train each unit once between them. Then ``others`` (other workers' shares): a worker
        that finishes early trains those not yet done or claimed, so the slowest share does not set the wall time.
        Results are a function of (architecture, recipe, seed) alone, so who trains a unit changes nothing."""
        from bertbench.store.claims import claim, finish

        counts = {"written": 0, "skipped": 0, "claimed_elsewhere": 0}
        accelerator = self._new_accelerator()
        bar = self._bar(len(units), accelerator)
        dev = device_summary(accelerator)
        started, env = time.time(), hardware(accelerator, self.count)

        def train(unit: Unit) -> None:
            self.trainer.train(unit, self._new_accelerator(), ranks, dev, counts)

        for unit, own in [(u, True) for u in units] + [(u, False) for u in others]:
            if not own and self.trainer.done(unit):
                continue
            with claim(claim_path(self.run_dir, unit.arch.arch_id, unit.seed), enabled=self.parallel == "grid") as mine:
                if mine:
                    train(unit)
                elif own:
                    counts["claimed_elsewhere"] += 1
            if mine and accelerator.is_main_process:
                record_invocation(self.run_dir, started, time.time(), counts["written"], env)
            if bar is not None and (own or mine):
                bar.total += 0 if own else 1  # a unit taken over from another worker's share
                bar.update(1)
            if mine and self.progress and (bar is None or bar.disable):  # not a terminal: one line per unit
                progress_log.info("worker %d/%d: %s seed %d done (%d results written so far)", self.index, self.count,
                                  unit.arch.arch_id, unit.seed, counts["written"])
        if self.parallel == "grid":  # wait for the units others hold, taking over those whose claims go stale
            counts["claimed_elsewhere"] = finish(
                [u for u in [*units, *others] if not self.trainer.done(u)], self.trainer.done,
                lambda u: claim_path(self.run_dir, u.arch.arch_id, u.seed), train)
        if bar is not None:
            bar.close()
        return counts

    def _bar(self, total: int, accelerator: Any) -> Any:
        if not (self.progress and accelerator.is_local_main_process):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"grid worker {self.index}/{self.count}", unit="arch", disable=None)


def regenerate(grid: Grid, recipe: Recipe, run_dir: str | os.PathLike[str], **kwargs: Any) -> dict[str, int]:
    """Run (or resume) a grid into ``run_dir``; see GridRunner."""
    t0 = time.perf_counter()
    counts = GridRunner(grid, recipe, run_dir, **kwargs).run()
    counts["seconds"] = int(time.perf_counter() - t0)
    return counts
