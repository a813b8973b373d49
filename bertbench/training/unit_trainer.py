"""Training one unit (an architecture x pretraining seed): pretraining, or its saved encoder, then every task x
fine-tuning seed; each stage's result is one result file. What a unit already has is kept; what a killed run left
behind is cleaned up first."""

from __future__ import annotations

import logging
import shutil
import traceback
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import torch

from bertbench.data.tasks import get_task
from bertbench.errors import EnvironmentFault, environment_failure, machine_io
from bertbench.models.export import load_encoder_state, save_encoder
from bertbench.options import RunStatus
from bertbench.store.run_folder import checkpoint_dir, unit_dir, unit_name
from bertbench.store.schema import architecture_row, curve_rows, run_row
from bertbench.store.writer import ResultWriter, result_name
from bertbench.training.common import RankSlice, StageResult
from bertbench.training.finetune import finetune
from bertbench.training.pretrain import pretrain
from bertbench.training.run_inputs import RunInputs
from bertbench.training.work_split import Unit

log = logging.getLogger(__name__)

Key = tuple[str, int | None]  # (stage, fine-tuning seed); pretraining: ("pretrain", None)


class UnitTrainer:
    """Trains the units of one run folder. ``only_tasks``: the pretraining stage and these of the run's tasks alone
    (``()``: pretraining only; the others are left for a later invocation; None: every task); ``retry_failed``: a
    recorded failure is trained again."""

    def __init__(self, inputs: RunInputs, writer: ResultWriter, only_tasks: tuple[str, ...] | None = None,
                 retry_failed: bool = False) -> None:
        self.inputs, self.writer = inputs, writer
        self.recipe, self.run_dir = inputs.recipe, inputs.run_dir
        unknown = sorted(set(only_tasks or ()) - set(inputs.tasks))
        if unknown:
            raise ValueError(f"only_tasks: {unknown} are not tasks of this run; allowed: {list(inputs.tasks)}")
        self.tasks = inputs.tasks if only_tasks is None else tuple(t for t in inputs.tasks if t in only_tasks)
        self.retry_failed = retry_failed

    def result_keys(self, unit: Unit) -> dict[Key, str]:
        """{(stage, fine-tuning seed): result file name} of every stage of ``unit`` this invocation trains."""
        a, s = unit.arch.arch_id, unit.seed
        tasks = self.tasks
        return {("pretrain", None): result_name(a, s, "pretrain"),
                **{(t, f): result_name(a, s, t, f) for t in tasks for f in self.recipe.finetune.seeds}}

    def done(self, unit: Unit) -> bool:
        return all(self._done(k) for k in self.result_keys(unit).values())

    def train(self, unit: Unit, accelerator: Any, ranks: RankSlice, dev: str, counts: dict[str, int]) -> None:
        """Pretrain (or reuse the saved encoder) and fine-tune every task of one unit; write what is missing."""
        writes = accelerator.is_main_process
        if writes:
            self.writer.write_architecture(unit.arch.arch_id, [architecture_row(unit.arch, len(self.inputs.tokenizer))])
        keys = self.result_keys(unit)
        self._clean(unit, keys)
        if all(self._done(k) for k in keys.values()):
            counts["skipped"] += len(keys)
            return
        pre_status, state = self._pretrained(unit, keys[("pretrain", None)], accelerator, ranks, dev, counts)
        for (task_name, ft_seed), key in keys.items():
            if task_name == "pretrain":
                continue
            if self._done(key):
                counts["skipped"] += 1
                continue
            result = self._finetune(unit, task_name, ft_seed, pre_status, state, accelerator, ranks)
            if writes:
                self._write(key, unit, task_name, get_task(task_name).main_metric, result, dev, ft_seed)
                counts["written"] += 1

    def _pretrained(self, unit: Unit, key: str, accelerator: Any, ranks: RankSlice, dev: str,
                    counts: dict[str, int]) -> tuple[str, dict | None]:
        """(status, encoder state) of the unit's pretraining: the saved encoder when its result exists, else trained
        now (from its checkpoints when there are some) and written."""
        arch, seed = unit.arch, unit.seed
        model_dir = unit_dir(self.run_dir, arch.arch_id, seed)
        with machine_io(f"reading the saved encoder {model_dir}"):
            state = load_encoder_state(model_dir)
        if state is None and self._done(key) and self._status_of(key) == RunStatus.OK and accelerator.is_main_process:
            # The encoder is gone (a folder copied without models/): every result of a unit must come from one
            # encoder, so the unit is trained again whole, not finished with a second pretraining.
            log.warning("%s seed %d: saved encoder missing; the unit is trained again from pretraining",
                        arch.arch_id, seed)
            for k in self.result_keys(unit).values():
                self.writer.remove_result(k)
        if self._done(key) and state is not None:  # reused: counted as already present
            counts["skipped"] += 1
            return self._status_of(key), state
        result = guarded(f"pretraining {arch.arch_id} seed {seed}", ["loss"], lambda: pretrain(
            arch, self.recipe.pretrain, self.inputs.corpus, self.inputs.tokenizer, seed, accelerator,
            ckpt_dir=checkpoint_dir(self.run_dir, arch.arch_id, seed), ranks=ranks, progress=self.inputs.progress,
            heldout=self.inputs.heldout))
        if accelerator.is_main_process:
            if result.encoder_state is not None:  # a transformers folder: `bertbench export-model` hands it out
                with machine_io(f"saving the encoder {model_dir}"):
                    save_encoder(model_dir, arch, result.encoder_state, pad_token_id=self.inputs.tokenizer.pad_token_id)
            self._write(key, unit, "pretrain", self.pretrain_target, result, dev)
            shutil.rmtree(checkpoint_dir(self.run_dir, arch.arch_id, seed), ignore_errors=True)
            counts["written"] += 1
        return result.status, result.encoder_state

    def _finetune(self, unit: Unit, task_name: str, ft_seed: int, pre_status: str, state: dict | None,
                  accelerator: Any, ranks: RankSlice) -> StageResult:
        task = get_task(task_name)
        if state is None or pre_status != RunStatus.OK:
            return StageResult.failed(task.metric_names(), f"pretraining {pre_status}: nothing to fine-tune")
        return guarded(f"fine-tuning {unit.arch.arch_id} seed {unit.seed} on {task_name}", task.metric_names(),
                       lambda: finetune(unit.arch, task, self.inputs.task_data(task.name), self.inputs.tokenizer,
                                        self.recipe.finetune, unit.seed, accelerator, state,
                                        config={"hidden_dropout_prob": self.recipe.pretrain.dropout}, ranks=ranks,
                                        progress=self.inputs.progress, finetune_seed=ft_seed))

    @property
    def pretrain_target(self) -> str:
        """The main metric of pretraining rows: the held-out loss of the objective, else the last batch's loss."""
        from bertbench.training.heldout import TARGET

        return TARGET[self.recipe.pretrain.objective] if self.inputs.heldout is not None else "loss"

    def _write(self, key: str, unit: Unit, stage: str, main_metric: str, result: StageResult, dev: str,
               finetune_seed: int | None = None) -> None:
        aid = unit.arch.arch_id
        row = run_row(aid, aid, unit.seed, stage, result.status, main_metric, result.metrics, steps=result.steps,
                      tokens=result.tokens, wall_seconds=result.seconds, device=dev, error=result.error,
                      run_hash=self.inputs.run_hash, finetune_seed=finetune_seed)
        with machine_io(f"writing the result {key}"):
            self.writer.write_result(key, [row], curve_rows(aid, aid, unit.seed, stage, result.curves, finetune_seed))
        log.info("result %s: %s, %s %.4g, %.0f s", key, result.status, main_metric,
                 result.metrics.get(main_metric, float("nan")), result.seconds)

    def _done(self, key: str) -> bool:
        """A result exists (and, with ``retry_failed``, is not a recorded failure)."""
        if not self.writer.done(key):
            return False
        return not (self.retry_failed and self._status_of(key) == RunStatus.FAILED)

    def _clean(self, unit: Unit, keys: dict[Key, str]) -> None:
        """Litter of killed runs of this unit (safe: the caller holds the unit's claim): orphan temp result files,
        temp folders of an encoder save, and the checkpoints once its pretraining result exists."""
        arch_id, seed = unit.arch.arch_id, unit.seed
        self.writer.remove_temp_files(f"{unit_name(arch_id, seed)}__")
        if self.writer.done(keys[("pretrain", None)]):
            shutil.rmtree(checkpoint_dir(self.run_dir, arch_id, seed), ignore_errors=True)
        model_dir = unit_dir(self.run_dir, arch_id, seed)
        for tmp in model_dir.parent.glob(f".{model_dir.name}.*"):  # an encoder save killed before its rename
            shutil.rmtree(tmp, ignore_errors=True)

    def _status_of(self, key: str) -> str:
        return pq.read_table(self.writer.path("runs", key), columns=["status"]).column(0)[0].as_py()


def guarded(what: str, metric_names: list[str], train: Callable[[], StageResult]) -> StageResult:
    """Run one stage. A failure of the environment stops the grid (EnvironmentFault: nothing is recorded); any
    other exception is the architecture's: a ``failed`` result with NaN metrics, and the grid goes on."""
    try:
        return train()
    except EnvironmentFault:
        raise  # file I/O inside the stage (machine_io): the machine's, whatever the library said
    except Exception as err:  # noqa: BLE001 - a failed architecture must not stop the grid
        if environment_failure(err, (torch.OutOfMemoryError,)):
            raise EnvironmentFault(f"{what} stopped by the environment: {type(err).__name__}: "
                                   f"{' '.join(str(err).split())}") from err
        log.error("%s failed: %s", what, err)
        return StageResult.failed(metric_names, f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")
