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
import platform
import shutil
import time
import traceback
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from bertbench.data.tasks import get_task
from bertbench.errors import EnvironmentFault, environment_failure, machine_io
from bertbench.models.export import load_encoder_state, save_encoder
from bertbench.options import Parallel, parse
from bertbench.space.grids import Grid
from bertbench.store.run_folder import checkpoint_dir, record_invocation, run_info_path, unit_dir, unit_name
from bertbench.store.schema import architecture_row, curve_rows, run_row
from bertbench.store.writer import ResultWriter, result_name
from bertbench.training.common import RankSlice, device_summary, make_accelerator, set_threads
from bertbench.training.data_identity import run_data_files
from bertbench.training.finetune import finetune
from bertbench.training.pretrain import pretrain
from bertbench.training.recipe import Recipe
from bertbench.training.run_info import (
    StageResult,
    grid_info,
    identity_sha256,
    record_run,
    run_details,
    run_identity,
)
from bertbench.training.work_split import Unit, units_for_worker, worker_position

log = logging.getLogger(__name__)
progress_log = logging.getLogger("bertbench.progress")  # shown by the CLI at INFO: one line per unit off a terminal
DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK",
            "ROLE_RANK", "ROLE_WORLD_SIZE", "TORCHELASTIC_RUN_ID", "ACCELERATE_USE_CPU")


class GridRunner:
    """Runs a grid into RUN_DIR (see the module docstring)."""

    def __init__(self, grid: Grid, recipe: Recipe, run_dir: str | os.PathLike[str], seeds: tuple[int, ...] | None = None,
                 tasks: tuple[str, ...] | None = None, parallel: str = "grid", worker_index: int | None = None,
                 num_workers: int | None = None, threads: int | None = None, progress: bool = True,
                 retry_failed: bool = False, pretrain_only: bool = False) -> None:
        parallel = parse(Parallel, parallel, "parallel").value
        self.grid, self.recipe, self.run_dir = grid, recipe, Path(run_dir)
        # Seeds given: those for every architecture. None: the grid's (an entry's own, else the grid's, else 0).
        self.seeds = tuple(seeds) if seeds is not None else (grid.seeds or (0,))
        self._grid_seeds = seeds is None
        self.tasks = tuple(tasks if tasks is not None else recipe.data.tasks)
        self.parallel, self.progress, self.threads = parallel, progress, threads
        self.retry_failed = retry_failed
        self.pretrain_only = pretrain_only  # scheduling only: the run's identity (tasks included) is unchanged
        self.index, self.count = worker_position(worker_index, num_workers)
        self.writer = ResultWriter(self.run_dir)
        self._tokenizer = self._corpus = self._heldout = None
        self._task_data: dict[str, Any] = {}

    # -- data (loaded lazily, once per process) -------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from bertbench.data.tokenizer import run_tokenizer

            self._tokenizer = run_tokenizer(self.recipe.data.tokenizer, self.recipe.data.corpus,
                                            self.run_dir / "tokenizer")
        return self._tokenizer

    @property
    def corpus(self) -> Any:
        if self._corpus is None:
            from bertbench.data.corpus import pack
            from bertbench.training.heldout import prepare_heldout

            packed = pack(self.recipe.data.corpus, self.tokenizer, self.recipe.pretrain.seq_len, progress=self.progress)
            self._corpus, self._heldout = prepare_heldout(self.recipe.data.corpus, packed, self.tokenizer,
                                                          self.recipe.pretrain, self.progress)
        return self._corpus

    @property
    def heldout(self) -> Any:
        """The fixed held-out evaluation set (``training/heldout.py``), or None when the recipe has none."""
        _ = self.corpus
        return self._heldout

    def task_data(self, name: str) -> Any:
        if name not in self._task_data:
            d = self.recipe.data
            if name.startswith("synthetic"):
                from bertbench.data.synthetic import load_synthetic

                self._task_data[name] = load_synthetic(name, n_train=d.synthetic_train_size)
            else:
                from bertbench.data.glue import load_glue

                self._task_data[name] = load_glue(name, d.task_source, revision=d.task_revision)
        return self._task_data[name]

    # -- run ------------------------------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        seen, out = set(), []
        for i, arch in enumerate(self.grid.architectures):
            for seed in self.grid.seeds_for(i, self.seeds) if self._grid_seeds else self.seeds:
                if (arch.arch_id, seed) not in seen:  # duplicated architectures are trained once
                    seen.add((arch.arch_id, seed))
                    out.append(Unit(arch, seed))
        return out

    def identity(self) -> dict[str, Any]:
        """What a result row of this run means (``run_info.run_identity``)."""
        return run_identity(self.grid, self.recipe.to_dict(), self.tasks, self._data_by_content,
                            self.recipe.data.task_revision)

    @cached_property
    def _data_by_content(self) -> dict[str, str]:
        """The recipe's data sources with local paths named by content (``data_identity.portable_data``): the
        same files at another path are the same run."""
        from bertbench.training.data_identity import portable_data

        return portable_data(self.recipe.data, self.tasks)

    @cached_property
    def run_hash(self) -> str:
        """sha256[:16] of the run identity (run.json ``identity_sha256``), written on every result row: rows with
        one hash were trained under one recipe, grid, task list and data; ``commit`` refuses a mix."""
        return identity_sha256(self.identity())[:16]

    def check_inputs(self) -> None:
        """Everything the run needs, before anything is written: known tasks, every task's data (cheap: a wrong
        GLUE path is named before the corpus is packed), the tokenizer and the corpus (packed into the cache). A
        failure here is the environment's or the user's, never a row; a run folder this check created is removed."""
        from bertbench.data.tasks import get_task

        for name in self.tasks:
            get_task(name)  # KeyError naming the allowed tasks
        fresh = not self.run_dir.exists()
        try:
            for name in self.tasks:
                self.task_data(name)
            _ = self.tokenizer, self.corpus
        except BaseException as err:
            if fresh and not run_info_path(self.run_dir).exists():
                shutil.rmtree(self.run_dir, ignore_errors=True)  # only the tokenizer can be in it: nothing is kept
            if isinstance(err, (OSError, MemoryError)) and not isinstance(err, FileNotFoundError):
                raise EnvironmentFault(f"cannot prepare the run's data: {type(err).__name__}: {err}") from err
            raise

    def write_run_info(self, accelerator: Any) -> None:
        """Create run.json, or check the folder's identity against it and add this invocation's units."""
        record_run(run_info_path(self.run_dir), self.identity(), [[u.arch.arch_id, u.seed] for u in self.units()],
                   grid_info(self.grid), lambda: run_details(self.grid, self.recipe, self.tasks, run_data_files(
                                                                 self.recipe.data, self.tasks, self.run_dir),
                                                             len(self.tokenizer), self.heldout, self.parallel,
                                                             self._hardware(accelerator)),
                   self.writer.finetuning_keys)

    def _hardware(self, accelerator: Any) -> dict[str, Any]:
        """The environment of this process: device, python, torch, machine, worker count."""
        return {"device": device_summary(accelerator), "python": platform.python_version(),
                "torch": torch.__version__, "machine": platform.machine(), "workers": self.count}

    def prepare(self) -> None:
        """Check and cache every input (tokenizer, packed corpus, tasks) and write run.json; train nothing. Run it
        once before starting many workers on one folder (a cluster's login node, or a GPU shared by processes)."""
        set_threads(self.threads)
        self.check_inputs()
        self.write_run_info(make_accelerator(self.recipe.mixed_precision))

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
        accelerator = make_accelerator(self.recipe.mixed_precision)
        units = self.units()
        mine = units_for_worker(units, self.index, self.count)
        # Costliest first (longest-processing-time order); others' units cheapest first: the end of their owners' queues
        others = sorted((u for u in units if u not in mine), key=lambda u: u.cost)
        mine = sorted(mine, key=lambda u: -u.cost)
        log.info("worker %d/%d: %d of %d units, then any of the others' not yet claimed", self.index, self.count,
                 len(mine), len(units))
        self.check_inputs()
        self.write_run_info(accelerator)
        return self._train_units(mine, lambda: make_accelerator(self.recipe.mixed_precision), RankSlice(), others)

    def _run_ddp_mode(self) -> dict[str, int]:
        set_threads(self.threads)
        accelerator = make_accelerator(self.recipe.mixed_precision)
        self.check_inputs()
        if accelerator.is_main_process:
            self.write_run_info(accelerator)
        accelerator.wait_for_everyone()
        ranks = RankSlice(accelerator.process_index, accelerator.num_processes)
        try:
            return self._train_units(self.units(), lambda: make_accelerator(self.recipe.mixed_precision), ranks)
        finally:
            accelerator.wait_for_everyone()
            accelerator.end_training()

    def _train_units(self, units: list[Unit], new_accelerator: Any, ranks: RankSlice,
                     others: Sequence[Unit] = ()) -> dict[str, int]:
        """Train ``units``; each gets a fresh Accelerator (no model, optimizer or scheduler of a previous unit is
        carried over, whatever happened to it). In grid mode a unit is claimed first (``claims.py``): independent
        workers on one folder train each unit once between them. Then ``others`` (other workers' shares): a worker
        that finishes early trains those not yet done or claimed, so the slowest share does not set the wall time.
        Results are a function of (architecture, recipe, seed) alone, so who trains a unit changes nothing."""
        from bertbench.store.claims import claim

        counts = {"written": 0, "skipped": 0, "claimed_elsewhere": 0}
        accelerator = new_accelerator()
        bar = None
        if self.progress and accelerator.is_local_main_process:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(units), desc=f"grid worker {self.index}/{self.count}", unit="arch", disable=None)
        dev = device_summary(accelerator)
        started, env = time.time(), self._hardware(accelerator)
        for unit, own in [(u, True) for u in units] + [(u, False) for u in others]:
            if not own and self._unit_done(unit):
                continue
            accelerator = new_accelerator()
            name = unit_name(unit.arch.arch_id, unit.seed)
            with claim(self.run_dir / "claims" / name, enabled=self.parallel == "grid") as mine:
                if mine:
                    self._train_unit(unit, accelerator, ranks, dev, counts)
                elif own:
                    counts["claimed_elsewhere"] += 1
            if accelerator.is_main_process and mine:
                record_invocation(self.run_dir, started, time.time(), counts["written"], env)
            if bar is not None and (own or mine):
                bar.total += 0 if own else 1  # a unit taken over from another worker's share
                bar.update(1)
            if mine and self.progress and (bar is None or bar.disable):  # not a terminal: one line per unit
                progress_log.info("worker %d/%d: %s seed %d done (%d results written so far)", self.index, self.count,
                                  unit.arch.arch_id, unit.seed, counts["written"])
        if self.parallel == "grid":
            counts["claimed_elsewhere"] = self._wait_for_others([*units, *others], new_accelerator, ranks, dev, counts)
        if bar is not None:
            bar.close()
        return counts

    def _wait_for_others(self, units: list[Unit], new_accelerator: Any, ranks: RankSlice, dev: str,
                         counts: dict[str, int]) -> int:
        """Wait for the units other workers hold, taking over those whose claims go stale (``claims.finish``)."""
        from bertbench.store.claims import finish

        return finish([u for u in units if not self._unit_done(u)], self._unit_done,
                      lambda u: self.run_dir / "claims" / unit_name(u.arch.arch_id, u.seed),
                      lambda u: self._train_unit(u, new_accelerator(), ranks, dev, counts))

    def _result_keys(self, unit: Unit) -> dict[tuple[str, int | None], str]:
        """{(stage, fine-tuning seed): result file name} of every stage of ``unit`` (pretraining: seed None) that this
        invocation trains (``pretrain_only``: the pretraining stage alone; the tasks are left for a later one)."""
        a, s = unit.arch.arch_id, unit.seed
        tasks = () if self.pretrain_only else self.tasks
        return {("pretrain", None): result_name(a, s, "pretrain"),
                **{(t, f): result_name(a, s, t, f) for t in tasks for f in self.recipe.finetune.seeds}}

    def _unit_done(self, unit: Unit) -> bool:
        return all(self._done(k) for k in self._result_keys(unit).values())

    def _train_unit(self, unit: Unit, accelerator: Any, ranks: RankSlice, dev: str, counts: dict[str, int]) -> None:
        """Pretrain (or reuse the saved encoder) and fine-tune every task of one unit; write what is missing."""
        writes = accelerator.is_main_process
        arch, seed = unit.arch, unit.seed
        if writes:
            self.writer.write_architecture(arch.arch_id, [architecture_row(arch, len(self.tokenizer))])
        keys = self._result_keys(unit)
        self._clean_unit(arch.arch_id, seed, keys)
        if all(self._done(k) for k in keys.values()):
            counts["skipped"] += len(keys)
            return
        model_dir = unit_dir(self.run_dir, arch.arch_id, seed)
        with machine_io(f"reading the saved encoder {model_dir}"):
            state = load_encoder_state(model_dir)
        pre_key = keys[("pretrain", None)]
        if state is None and self._done(pre_key) and self._status_of(pre_key) == "ok" and writes:
            # The encoder is gone (a folder copied without models/): every result of a unit must come from one
            # encoder, so the unit is trained again whole, not finished with a second pretraining.
            log.warning("%s seed %d: saved encoder missing; the unit is trained again from pretraining",
                        arch.arch_id, seed)
            for key in keys.values():
                self.writer.remove_result(key)
        if not self._done(pre_key) or state is None:
            result, state = self._pretrain(unit, accelerator, ranks)
            if writes:
                if state is not None:  # a transformers folder: `bertbench export-model` hands it out
                    with machine_io(f"saving the encoder {model_dir}"):
                        save_encoder(model_dir, arch, state, pad_token_id=self.tokenizer.pad_token_id)
                self._write(pre_key, unit, "pretrain", self._pretrain_target, result, dev)
                shutil.rmtree(checkpoint_dir(self.run_dir, arch.arch_id, seed), ignore_errors=True)
                counts["written"] += 1
            pre_status = result.status
        else:  # the pretraining result and its encoder are reused: counted as already present
            pre_status = self._status_of(pre_key)
            counts["skipped"] += 1
        for (task_name, ft_seed), key in keys.items():
            if task_name == "pretrain":
                continue
            if self._done(key):
                counts["skipped"] += 1
                continue
            task = get_task(task_name)
            if state is None or pre_status != "ok":
                result = StageResult.failed(task.metric_names(), f"pretraining {pre_status}: nothing to fine-tune")
            else:
                result = self._guarded(
                    f"fine-tuning {arch.arch_id} seed {seed} on {task_name}", task.metric_names(),
                    lambda task=task: StageResult.of(finetune(
                        arch, task, self.task_data(task.name), self.tokenizer, self.recipe.finetune, seed, accelerator,
                        state, config={"hidden_dropout_prob": self.recipe.pretrain.dropout}, ranks=ranks,
                        progress=self.progress, finetune_seed=ft_seed)))[0]
            if writes:
                self._write(key, unit, task_name, task.main_metric, result, dev, ft_seed)
                counts["written"] += 1

    def _pretrain(self, unit: Unit, accelerator: Any, ranks: RankSlice) -> tuple[StageResult, dict | None]:
        """(result, encoder state or None) of pretraining one unit, from its checkpoints when there are some."""
        arch, seed = unit.arch, unit.seed

        def train() -> tuple[StageResult, dict | None]:
            out = pretrain(arch, self.recipe.pretrain, self.corpus, self.tokenizer, seed, accelerator,
                           ckpt_dir=checkpoint_dir(self.run_dir, arch.arch_id, seed), ranks=ranks,
                           progress=self.progress, heldout=self.heldout)
            return StageResult.of(out), out.encoder_state

        return self._guarded(f"pretraining {arch.arch_id} seed {seed}", ["loss"], train)

    @property
    def _pretrain_target(self) -> str:
        """The main metric of pretraining rows: the held-out loss of the objective, else the last batch's loss."""
        from bertbench.training.heldout import TARGET

        return TARGET[self.recipe.pretrain.objective] if self.heldout is not None else "loss"

    @staticmethod
    def _guarded(what: str, metric_names: list[str], train: Any) -> tuple[StageResult, dict | None]:
        """Run one stage. A failure of the environment stops the grid (EnvironmentFault: nothing is recorded); any
        other exception is the architecture's: a ``failed`` result with NaN metrics, and the grid goes on."""
        try:
            out = train()
            return out if isinstance(out, tuple) else (out, None)
        except EnvironmentFault:
            raise  # file I/O inside the stage (machine_io): the machine's, whatever the library said
        except Exception as err:  # noqa: BLE001 - a failed architecture must not stop the grid
            if environment_failure(err, (torch.OutOfMemoryError,)):
                raise EnvironmentFault(f"{what} stopped by the environment: {type(err).__name__}: "
                                       f"{' '.join(str(err).split())}") from err
            log.error("%s failed: %s", what, err)
            return StageResult.failed(metric_names, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"), None

    def _write(self, key: str, unit: Unit, stage: str, main_metric: str, result: StageResult, dev: str,
               finetune_seed: int | None = None) -> None:
        aid = unit.arch.arch_id
        row = run_row(aid, aid, unit.seed, stage, result.status, main_metric, result.metrics, steps=result.steps,
                      tokens=result.tokens, wall_seconds=result.seconds, device=dev, error=result.error,
                      run_hash=self.run_hash, finetune_seed=finetune_seed)
        with machine_io(f"writing the result {key}"):
            self.writer.write_result(key, [row], curve_rows(aid, aid, unit.seed, stage, result.curves, finetune_seed))

    def _done(self, key: str) -> bool:
        """A result exists (and, with ``retry_failed``, is not a recorded failure)."""
        if not self.writer.done(key):
            return False
        return not (self.retry_failed and self._status_of(key) == "failed")

    def _clean_unit(self, arch_id: str, seed: int, keys: dict[tuple[str, int | None], str]) -> None:
        """Litter of killed runs of this unit (safe: the caller holds the unit's claim): orphan temp result files,
        temp folders of an encoder save, and the checkpoints once its pretraining result exists."""
        unit = f"{unit_name(arch_id, seed)}__"
        for table in ("runs", "curves"):
            for tmp in (self.run_dir / "shards" / table).glob(f".{unit}*.tmp"):
                tmp.unlink(missing_ok=True)
        if self.writer.done(keys[("pretrain", None)]):
            shutil.rmtree(checkpoint_dir(self.run_dir, arch_id, seed), ignore_errors=True)
        model_dir = unit_dir(self.run_dir, arch_id, seed)
        for tmp in model_dir.parent.glob(f".{model_dir.name}.*"):  # an encoder save killed before its rename
            shutil.rmtree(tmp, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------------------------------------
    def _status_of(self, key: str) -> str:
        import pyarrow.parquet as pq

        return pq.read_table(self.writer.path("runs", key), columns=["status"]).column(0)[0].as_py()


def regenerate(grid: Grid, recipe: Recipe, run_dir: str | os.PathLike[str], **kwargs: Any) -> dict[str, int]:
    """Run (or resume) a grid into ``run_dir``; see GridRunner."""
    t0 = time.perf_counter()
    counts = GridRunner(grid, recipe, run_dir, **kwargs).run()
    counts["seconds"] = int(time.perf_counter() - t0)
    return counts
