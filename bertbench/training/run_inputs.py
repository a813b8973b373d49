"""What a run reads and what its rows mean: the grid's units, the tokenizer, the packed corpus with its held-out set,
the tasks' data (each loaded lazily, once per process), the run identity and ``run.json``."""

from __future__ import annotations

import os
import platform
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from bertbench.errors import EnvironmentFault
from bertbench.options import is_synthetic
from bertbench.space.grids import Grid
from bertbench.store.run_folder import run_info_path, tokenizer_dir
from bertbench.training.common import device_summary
from bertbench.training.recipe import Recipe
from bertbench.training.run_info import grid_info, identity_sha256, record_run, run_details, run_identity
from bertbench.training.work_split import Unit


class RunInputs:
    """The inputs of one run folder: ``seeds`` given are those of every architecture; None takes the grid's (an
    entry's own, else the grid's, else 0). ``tasks`` None takes the recipe's."""

    def __init__(self, grid: Grid, recipe: Recipe, run_dir: str | os.PathLike[str],
                 seeds: tuple[int, ...] | None = None, tasks: tuple[str, ...] | None = None,
                 progress: bool = True) -> None:
        self.grid, self.recipe, self.run_dir, self.progress = grid, recipe, Path(run_dir), progress
        self.seeds = tuple(seeds) if seeds is not None else (grid.seeds or (0,))
        self._grid_seeds = seeds is None
        self.tasks = tuple(tasks if tasks is not None else recipe.data.tasks)
        self._tokenizer = self._corpus = self._heldout = None
        self._task_data: dict[str, Any] = {}

    # -- data -----------------------------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from bertbench.data.tokenizer import run_tokenizer

            self._tokenizer = run_tokenizer(self.recipe.data.tokenizer, self.recipe.data.corpus,
                                            tokenizer_dir(self.run_dir))
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
            if is_synthetic(name):
                from bertbench.data.synthetic import load_synthetic

                self._task_data[name] = load_synthetic(name, n_train=d.synthetic_train_size)
            else:
                from bertbench.data.glue import load_glue

                self._task_data[name] = load_glue(name, d.task_source, revision=d.task_revision)
        return self._task_data[name]

    def check(self) -> None:
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

    # -- identity -------------------------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        """Every (architecture, seed) of the run in grid order; a duplicated architecture is trained once."""
        seen, out = set(), []
        for i, arch in enumerate(self.grid.architectures):
            for seed in self.grid.seeds_for(i, self.seeds) if self._grid_seeds else self.seeds:
                if (arch.arch_id, seed) not in seen:
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

    def write_run_info(self, hardware: dict[str, Any], parallel: str, finetuning_results: Any) -> None:
        """Create run.json, or check the folder's identity against it and add this invocation's units
        (``run_info.record_run``; ``finetuning_results()``: the folder's fine-tuning result names)."""
        from bertbench.training.data_identity import run_data_files

        record_run(run_info_path(self.run_dir), self.identity(), [[u.arch.arch_id, u.seed] for u in self.units()],
                   grid_info(self.grid), lambda: run_details(self.grid, self.recipe, self.tasks, run_data_files(
                       self.recipe.data, self.tasks, self.run_dir), len(self.tokenizer), self.heldout, parallel,
                       hardware), finetuning_results)


def hardware(accelerator: Any, workers: int) -> dict[str, Any]:
    """The environment of this process: device, python, torch, machine, worker count."""
    return {"device": device_summary(accelerator), "python": platform.python_version(),
            "torch": torch.__version__, "machine": platform.machine(), "workers": workers}
