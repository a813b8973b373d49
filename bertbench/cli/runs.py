"""`bertbench regenerate`, `progress`, `commit`, `export-model` and `validate`: building a run folder and turning it into a
release (registered on the main app in ``cli/main.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer

from bertbench.cli.common import echo, release_folder


def regenerate_cmd(
    grid: str = typer.Option("tiny", "--grid", help="Grid name (bertbench/manifests/grids, or $BERTBENCH_MANIFESTS) or YAML path."),
    recipe: str = typer.Option("tiny", "--recipe", help="Recipe name (bertbench/manifests/recipes, or $BERTBENCH_MANIFESTS) or YAML path."),
    out: Path = typer.Option(..., "--out", help="RUN_DIR: results, checkpoints and run.json go here."),
    tasks: str | None = typer.Option(None, "--tasks", help="Comma-separated task names (default: the recipe's)."),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma-separated seeds for every architecture (default: "
                                                          "the grid's, an entry's own first, else 0)."),
    parallel: str = typer.Option("grid", "--parallel", help="grid: whole architectures per process; ddp: all "
                                                             "processes train each architecture together."),
    worker_index: int | None = typer.Option(None, "--worker-index", "--shard-index",
                                            help="This worker's index (default: from torchrun/accelerate or Slurm)."),
    num_workers: int | None = typer.Option(None, "--num-workers", "--num-shards",
                                             help="Number of workers (with --worker-index)."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads per process (fixed for bitwise "
                                                                   "reproducibility)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field, e.g. --set pretrain.steps=50."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N architectures of the grid."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Train again the results recorded as failed."),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="Only check and cache the inputs (tokenizer, "
                                      "corpus, tasks) and write run.json; start workers after."),
    pretrain_only: bool = typer.Option(False, "--pretrain-only", help="Pretrain every unit first and leave the "
                                       "tasks to a later run on the same folder (scheduling only; same run)."),
    only_tasks: str | None = typer.Option(None, "--only-tasks", help="Pretrain, and fine-tune only these tasks "
                                          "(comma-separated), leaving the others to a later run (scheduling only)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Prepare the folder, then start N worker "
                                       "processes here (--threads each, default 1) and wait for them."),
    deadline: float | None = typer.Option(None, "--deadline", min=1, help="With --workers: stop them after this many "
                                          "seconds; rerun the same command to resume."),
    nice: int = typer.Option(0, "--nice", min=0, max=19, help="With --workers: their added niceness (a background "
                             "build that leaves the machine usable)."),
) -> None:
    """Train a grid (pretraining + every task), resumable; under torchrun / accelerate launch each process takes
    its share.

    Example: bertbench regenerate --grid tiny --recipe tiny --out runs/tiny
    Example: torchrun --nproc_per_node 2 -m bertbench.cli regenerate --grid tiny --out runs/tiny --threads 1
    Example: bertbench regenerate --grid ptb --recipe ptb --out runs/ptb --workers 2 --nice 19 --deadline 36000
    """
    from bertbench.training.grid import GridRunner, regenerate

    g, r, task_list, seed_list = _inputs(grid, recipe, limit, set_, tasks, seeds)
    only = _only_tasks(pretrain_only, only_tasks)
    _check_worker_options(workers, deadline, nice, prepare_only, worker_index, num_workers, parallel)
    if prepare_only or workers is not None:
        runner = GridRunner(g, r, out, seeds=seed_list, tasks=task_list, parallel=parallel, threads=threads,
                            progress=not no_progress, only_tasks=only)
        runner.prepare()
        echo(f"prepared {out}: {len(runner.units())} units planned, inputs cached")
        if workers is not None:
            argv = _worker_argv(grid=grid, recipe=recipe, out=str(out), set=set_, tasks=tasks, seeds=seeds, limit=limit,
                                retry_failed=retry_failed, pretrain_only=pretrain_only, only_tasks=only_tasks)
            _start_workers(out, argv, workers, threads or 1, deadline, nice)
        return
    counts = regenerate(g, r, out, seeds=seed_list, tasks=task_list, parallel=parallel, worker_index=worker_index,
                        num_workers=num_workers, threads=threads, progress=not no_progress, retry_failed=retry_failed,
                        only_tasks=only)
    elsewhere = f", {counts['claimed_elsewhere']} unit(s) left to other workers" if counts.get("claimed_elsewhere") else ""
    echo(f"worker done: {counts['written']} results written, {counts['skipped']} already present{elsewhere}, "
         f"{counts['seconds']} s; results in {out}/shards")


def progress_cmd(run: Path = typer.Argument(..., help="A run folder (`regenerate --out`).")) -> None:
    """How far a run folder is, also while its workers train: results written per stage against the plan, failures,
    the units in flight, and the work left predicted from the seconds its own results took.

    Example: bertbench progress runs/ptb
    """
    from bertbench.store.run_progress import format_progress, run_progress

    echo(format_progress(run_progress(run)))


def _worker_argv(**options: Any) -> list[str]:
    """The arguments of ``regenerate`` each worker of ``--workers`` gets: the invocation's own, as given
    (``--set`` repeated; flags when true; options when given)."""
    argv: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if name == "set":
            argv += [a for x in value for a in (flag, x)]
        elif isinstance(value, bool):
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def _only_tasks(pretrain_only: bool, only_tasks: str | None) -> tuple[str, ...] | None:
    """The tasks one invocation trains besides pretraining: () with --pretrain-only, None (all) without either."""
    if pretrain_only and only_tasks is not None:
        raise ValueError("--pretrain-only and --only-tasks: give one of them (--pretrain-only trains no task)")
    if pretrain_only:
        return ()
    return None if only_tasks is None else tuple(t.strip() for t in only_tasks.split(",") if t.strip())


def _inputs(grid: str, recipe: str, limit: int | None, overrides: list[str], tasks: str | None, seeds: str | None
            ) -> tuple[Any, Any, tuple[str, ...] | None, tuple[int, ...] | None]:
    """(grid, recipe, tasks, seeds) of a regenerate invocation, each checked."""
    from bertbench.space.grids import load_grid

    g = load_grid(grid)
    if limit is not None:
        g = g.head(limit)
    r = _recipe(recipe, overrides)
    task_list = tuple(t.strip() for t in tasks.split(",") if t.strip()) if tasks else None
    if task_list:
        r = dataclasses.replace(r, data=dataclasses.replace(r.data, tasks=task_list))
    return g, r, task_list, _seeds(seeds)


def _check_worker_options(workers: int | None, deadline: float | None, nice: int, prepare_only: bool,
                          worker_index: int | None, num_workers: int | None, parallel: str) -> None:
    if workers is None and (deadline is not None or nice):
        raise ValueError("--deadline and --nice start nothing without --workers N")
    if workers is not None and (prepare_only or worker_index is not None or num_workers is not None
                                or parallel != "grid"):
        raise ValueError("--workers N starts grid workers itself: it takes no --prepare-only, --worker-index, "
                         "--num-workers or --parallel ddp")


def _start_workers(out: Path, argv: list[str], workers: int, threads: int, deadline: float | None, nice: int) -> None:
    """Run ``workers`` grid workers on the prepared folder ``out`` and say what the folder now holds."""
    from collections import Counter

    from bertbench.errors import EnvironmentFault
    from bertbench.store.release import missing_results
    from bertbench.store.run_folder import read_run_info, worker_log
    from bertbench.store.writer import ResultWriter
    from bertbench.training.workers import run_workers

    done = run_workers(out, argv, workers, threads, deadline, nice)
    runs = ResultWriter(out).read("runs")
    missing = missing_results(read_run_info(out), runs)
    statuses = dict(sorted(Counter(runs.column("status").to_pylist()).items()))
    echo(f"{workers} workers, {done.seconds:.0f} s: {runs.num_rows} results {statuses}, {len(missing)} planned "
         "result(s) missing" + ("; stopped at the deadline: rerun the same command to resume"
                                if done.stopped_at_deadline else ""))
    failed = [(i, c) for i, c in enumerate(done.exit_codes) if c not in (0, None)]
    if failed:
        i, c = failed[0]
        raise EnvironmentFault(f"worker {i} exited with code {c}; its log: {worker_log(out, i)}")


def _recipe(name: str, overrides: list[str]) -> Any:
    """The recipe ``name`` with ``--set SECTION.KEY=VALUE`` overrides applied (values read as YAML)."""
    from bertbench.training.recipe import load_recipe

    r = load_recipe(name)
    if not overrides:
        return r
    changes: dict = {}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"--set {item!r} must be SECTION.KEY=VALUE")
        key, value = item.split("=", 1)
        section, field_name = key.split(".", 1)
        changes.setdefault(section, {})[field_name] = yaml_value(value)
    return r.replace(**changes)


def _seeds(seeds: str | None) -> tuple[int, ...] | None:
    """``--seeds 0,1,2`` as a tuple (None: the grid's)."""
    if seeds is None:
        return None
    try:
        seed_list = tuple(int(x) for x in seeds.split(","))
    except ValueError:
        raise ValueError(f"--seeds {seeds!r}: allowed: comma-separated integers >= 0, e.g. 0,1,2") from None
    if any(x < 0 for x in seed_list):
        raise ValueError(f"--seeds {seeds!r}: allowed: comma-separated integers >= 0, e.g. 0,1,2")
    return seed_list


def yaml_value(text: str):
    from bertbench.yaml_io import loads

    return loads(text, "--set value")


def commit_cmd(
    run_dir: Path = typer.Argument(..., help="A run folder written by `bertbench regenerate`."),
    name: str = typer.Option(..., "--name", help="Release name, e.g. bertbench-tiny."),
    version: str = typer.Option(..., "--version", help="Semantic version X.Y.Z; an existing one is refused."),
    out: Path = typer.Option(Path("releases"), "--out", help="Folder that holds releases."),
    license: str = typer.Option(..., "--license", help="License of the release (Hub id): cc-by-4.0, cc0-1.0, "
                                "odc-by, apache-2.0, mit, other, ..."),
    models: bool = typer.Option(False, "--models", help="Also copy the trained encoders (transformers folders)."),
    allow_partial: bool = typer.Option(False, "--allow-partial",
                                       help="Commit an unfinished run, recorded as complete: false with the missing."),
    caveat: list[str] = typer.Option([], "--caveat", help="A sentence the card must carry, e.g. what the scores "
                                     "cannot tell (repeatable); added to the manifest's caveats."),
) -> None:
    """Commit a finished run folder as a versioned Parquet release (atomic; never overwrites).

    Example: bertbench commit runs/tiny --name bertbench-tiny --version 0.1.0 --out releases --license cc-by-4.0
    """
    from bertbench.loaders.release import load_run
    from bertbench.reliability import manifest_extra
    from bertbench.store.release import commit

    dest = commit(run_dir, name, version, out, license=license, models=models, allow_partial=allow_partial,
                  caveats=caveat, extra=manifest_extra(load_run(run_dir)))
    echo(f"release written: {dest}")


def export_model_cmd(
    source: str = typer.Argument(..., help="A run folder, or a release committed with --models (a folder or a "
                                 "shipped release's name)."),
    arch_id: str = typer.Argument(..., help="The architecture id (16 hex digits)."),
    out: Path = typer.Option(..., "--out", help="Folder to write (must not exist or be empty)."),
    seed: int = typer.Option(0, "--seed", help="Training seed of the unit."),
) -> None:
    """Write a trained encoder as a transformers folder (safetensors + config.json):
    AutoModel.from_pretrained(OUT) after `import bertbench.models`, or with trust_remote_code=True.

    Example: bertbench export-model runs/tiny 303bbbae7e9a911d --out my-encoder
    """
    from bertbench.loaders.model_export import export_model

    dest = export_model(release_folder(source), arch_id, out, seed=seed)
    echo(f"exported to {dest} (transformers.AutoModel.from_pretrained('{dest}', trust_remote_code=True))")


def validate_cmd(release: str = typer.Argument(..., help="A release folder, or a shipped release's name.")) -> None:
    """Re-check a release: schema version, sha256 and row count of every table, column schemas.

    Example: bertbench validate releases/bertbench-tiny-0.1.0
    """
    from bertbench.store.release import validate

    m = validate(release_folder(release))
    rows = ", ".join(f"{k} {v['rows']}" for k, v in m["tables"].items())
    echo(f"ok: {m['name']} {m['version']} (schema {m['schema_version']}): {rows}")
