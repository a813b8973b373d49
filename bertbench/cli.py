"""The `bertbench` command line (typer). Heavy imports happen inside the commands, so `--help` is fast.

Errors are one clear line on stderr (exit 2); `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer

from bertbench.errors import BertbenchError, EnvironmentFault

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Build, version, load and publish NAS benchmarks of small BERT architectures; score training-free proxies.",
)
space_app = typer.Typer(no_args_is_help=True, help="Inspect a search space (show, size, sample).")
app.add_typer(space_app, name="space")
proxies_app = typer.Typer(no_args_is_help=True, help="Training-free proxies: list, score, evaluate, correlate.")
app.add_typer(proxies_app, name="proxies")

log = logging.getLogger("bertbench")
_DEBUG = {"on": False}


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at INFO level."),
) -> None:
    _DEBUG["on"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _out(text: str) -> None:
    typer.echo(text)


# --------------------------------------------------------------------------------------------------------- space
@space_app.command("size")
def space_size(name: str = typer.Argument("nas-bench-bert-2023", help="Space name (bertbench/manifests/spaces, or $BERTBENCH_MANIFESTS) or YAML path.")) -> None:
    """Number of architectures in a space.

    Example: bertbench space size nas-bench-bert-2023
    """
    from bertbench.space import SearchSpace

    _out(str(SearchSpace.named(name).size()))


@space_app.command("show")
def space_show(name: str = typer.Argument("nas-bench-bert-2023", help="Space name (bertbench/manifests/spaces, or $BERTBENCH_MANIFESTS) or YAML path.")) -> None:
    """Print a space's choices.

    Example: bertbench space show nas-bench-bert-2023
    """
    from bertbench.space import SearchSpace

    s = SearchSpace.named(name)
    _out(f"{s.name}: {s.description}")
    _out(f"  hidden_size: {list(s.hidden_sizes)}")
    _out(f"  num_layers:  {list(s.num_layers)}")
    _out(f"  op_type:     {dict((t, list(p)) for t, p in s.op_params)}")
    _out(f"  heads: {list(s.heads)}  ffn_dim: {list(s.ffn_dims)}  num_ffn: {list(s.num_ffns)}")
    _out(f"  size: {s.size():,}")


@space_app.command("sample")
def space_sample(
    n: int = typer.Option(5, "--n", min=1, help="How many architectures."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    name: str = typer.Option("nas-bench-bert-2023", "--space", help="Space name."),
    as_json: bool = typer.Option(False, "--json", help="One canonical JSON per line."),
) -> None:
    """Draw architectures from a space.

    Example: bertbench space sample --n 3 --seed 1 --json
    """
    from bertbench.space import SearchSpace

    for a in SearchSpace.named(name).sample(n, seed):
        _out(a.to_json() if as_json else f"{a.arch_id}  {a.short()}")


# ---------------------------------------------------------------------------------------------------------- models
@app.command("models")
def models_cmd(
    seq_len: int = typer.Option(128, help="Sequence length of the timing batch."),
    batch: int = typer.Option(8, help="Batch size of the timing batch."),
) -> None:
    """Build one model per op type at H256 (2 layers), print parameter counts and forward time.

    Example: bertbench models --batch 8 --seq-len 128
    """
    from bertbench.demo import model_tour

    _out(model_tour(batch=batch, seq_len=seq_len))


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), help="Folder for everything the demo writes."),
    processes: int | None = typer.Option(None, "--processes", min=1, help="Training processes (default: 2 if 2 cores)."),
) -> None:
    """Run the main job end to end on the embedded default data, offline (what `make demo` runs): regenerate the
    tiny grid, score proxies, commit a release, print the summary and correlations, write plots and a Hub folder.

    Example: bertbench demo --out demo-output
    """
    from bertbench.demo import run_demo

    run_demo(out, processes=processes)


@app.command("plot")
def plot_cmd(
    release: str = typer.Argument(..., help="A release folder (or any source bertbench.load reads)."),
    out: Path = typer.Option(Path("plots"), "--out", help="Folder for the PNGs."),
) -> None:
    """Plot a benchmark: per-task scores with the aggregate, and pretraining curves (PNG).

    Example: bertbench plot releases/bertbench-tiny-0.1.0 --out plots
    """
    import bertbench
    from bertbench.plots import curves_plot, results_plot

    bench = bertbench.load(release)
    out.mkdir(parents=True, exist_ok=True)
    a = results_plot(bench, out / "results.png")
    b = curves_plot(bench, out / "pretrain_loss.png")
    _out(f"wrote {a} and {b}")


@app.command("export")
def export_cmd(
    release: Path = typer.Argument(..., help="A release folder."),
    out: Path = typer.Argument(..., help="The Hub dataset folder to write (must not exist or be empty)."),
) -> None:
    """Write a release as a Hub dataset folder: README.md card with configs, data/*.parquet, manifest.json.

    Example: bertbench export releases/bertbench-tiny-0.1.0 hub/bertbench-tiny
    """
    from bertbench.hub import export

    _out(f"exported to {export(release, out)} (datasets.load_dataset('{out}', name='summary'))")


@app.command("publish")
def publish_cmd(
    release: Path = typer.Argument(..., help="A release folder."),
    repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository, ORG/NAME."),
    tag: str = typer.Option(..., "--tag", help="Tag for the commit, e.g. v0.1.0."),
    private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    timeout: float = typer.Option(30.0, "--timeout", help="HTTP client timeout in seconds."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub endpoint (default: huggingface.co)."),
    record: Path | None = typer.Option(Path("manifests/releases/index.json"), "--record",
                                       help="Record of publications, in your working folder (created if missing)."),
) -> None:
    """Publish a release to the Hugging Face Hub as one commit plus a tag (token from HF_TOKEN or `hf auth login`).

    Example: bertbench publish releases/bertbench-tiny-0.1.0 --repo-id me/bertbench-tiny --tag v0.1.0
    """
    from bertbench.hub import publish

    res = publish(release, repo_id, tag, private=private, timeout=timeout, endpoint=endpoint,
                  record=record if record and record.parent.exists() else None)
    _out(f"published {res['name']} {res['version']} to {res['url']} at {res['commit'][:12]}, tagged {res['tag']}; "
         f"load with bertbench.load('hf://{repo_id}@{tag}')")


# -------------------------------------------------------------------------------------------------------- training
@app.command("regenerate")
def regenerate_cmd(
    grid: str = typer.Option("tiny", "--grid", help="Grid name (bertbench/manifests/grids, or $BERTBENCH_MANIFESTS) or YAML path."),
    recipe: str = typer.Option("tiny", "--recipe", help="Recipe name (bertbench/manifests/recipes, or $BERTBENCH_MANIFESTS) or YAML path."),
    out: Path = typer.Option(..., "--out", help="RUN_DIR: results, checkpoints and run.json go here."),
    tasks: str | None = typer.Option(None, "--tasks", help="Comma-separated task names (default: the recipe's)."),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma-separated seeds for every architecture (default: "
                                                          "the grid's, an entry's own first, else 0)."),
    parallel: str = typer.Option("grid", "--parallel", help="grid: whole architectures per process; ddp: all "
                                                             "processes train each architecture together."),
    shard_index: int | None = typer.Option(None, "--shard-index", help="This worker's index (default: from "
                                                                          "torchrun/accelerate or Slurm)."),
    num_shards: int | None = typer.Option(None, "--num-shards", help="Number of workers (with --shard-index)."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads per process (fixed for bitwise "
                                                                   "reproducibility)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field, e.g. --set pretrain.steps=50."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N architectures of the grid."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Train again the results recorded as failed."),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="Only check and cache the inputs (tokenizer, "
                                      "corpus, tasks) and write run.json; start workers after."),
) -> None:
    """Train a grid (pretraining + every task), resumable; under torchrun / accelerate launch each process takes
    its share.

    Example: bertbench regenerate --grid tiny --recipe tiny --out runs/tiny
    Example: torchrun --nproc_per_node 2 -m bertbench.cli regenerate --grid tiny --out runs/tiny --threads 1
    """
    import dataclasses

    from bertbench.space import load_grid
    from bertbench.training.grid import regenerate
    from bertbench.training.recipe import load_recipe

    g = load_grid(grid)
    if limit is not None:
        g = g.head(limit)
    r = load_recipe(recipe)
    if set_:
        changes: dict = {}
        for item in set_:
            if "=" not in item or "." not in item.split("=", 1)[0]:
                raise ValueError(f"--set {item!r} must be SECTION.KEY=VALUE")
            key, value = item.split("=", 1)
            section, field_name = key.split(".", 1)
            changes.setdefault(section, {})[field_name] = yaml_value(value)
        r = r.replace(**changes)
    task_list = tuple(t.strip() for t in tasks.split(",") if t.strip()) if tasks else None
    if task_list:
        r = dataclasses.replace(r, data=dataclasses.replace(r.data, tasks=task_list))
    try:
        seed_list = tuple(int(x) for x in seeds.split(",")) if seeds is not None else None
    except ValueError:
        raise ValueError(f"--seeds {seeds!r}: allowed: comma-separated integers >= 0, e.g. 0,1,2") from None
    if seed_list is not None and any(x < 0 for x in seed_list):
        raise ValueError(f"--seeds {seeds!r}: allowed: comma-separated integers >= 0, e.g. 0,1,2")
    if prepare_only:
        from bertbench.training.grid import GridRunner

        runner = GridRunner(g, r, out, seeds=seed_list, tasks=task_list, parallel=parallel, threads=threads,
                            progress=not no_progress)
        runner.prepare()
        _out(f"prepared {out}: {len(runner.units())} units planned, inputs cached")
        return
    counts = regenerate(g, r, out, seeds=seed_list, tasks=task_list, parallel=parallel, shard_index=shard_index,
                        num_shards=num_shards, threads=threads, progress=not no_progress, retry_failed=retry_failed)
    elsewhere = f", {counts['claimed_elsewhere']} unit(s) left to other workers" if counts.get("claimed_elsewhere") else ""
    _out(f"worker done: {counts['written']} results written, {counts['skipped']} already present{elsewhere}, "
         f"{counts['seconds']} s; results in {out}/shards")


def yaml_value(text: str):
    from bertbench.yaml_io import loads

    return loads(text, "--set value")


# --------------------------------------------------------------------------------------------------------- store
@app.command("commit")
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
) -> None:
    """Commit a finished run folder as a versioned Parquet release (atomic; never overwrites).

    Example: bertbench commit runs/tiny --name bertbench-tiny --version 0.1.0 --out releases --license cc-by-4.0
    """
    from bertbench.store.release import commit

    dest = commit(run_dir, name, version, out, license=license, models=models, allow_partial=allow_partial)
    _out(f"release written: {dest}")


@app.command("export-model")
def export_model_cmd(
    source: Path = typer.Argument(..., help="A run folder, or a release committed with --models."),
    arch_id: str = typer.Argument(..., help="The architecture id (16 hex digits)."),
    out: Path = typer.Option(..., "--out", help="Folder to write (must not exist or be empty)."),
    seed: int = typer.Option(0, "--seed", help="Training seed of the unit."),
) -> None:
    """Write a trained encoder as a transformers folder (safetensors + config.json):
    AutoModel.from_pretrained(OUT) after `import bertbench.models`, or with trust_remote_code=True.

    Example: bertbench export-model runs/tiny 303bbbae7e9a911d --out my-encoder
    """
    from bertbench.models.export import export_model

    dest = export_model(source, arch_id, out, seed=seed)
    _out(f"exported to {dest} (transformers.AutoModel.from_pretrained('{dest}', trust_remote_code=True))")


@app.command("validate")
def validate_cmd(release: Path = typer.Argument(..., help="A release folder.")) -> None:
    """Re-check a release: schema version, sha256 and row count of every table, column schemas.

    Example: bertbench validate releases/bertbench-tiny-0.1.0
    """
    from bertbench.store.release import validate

    m = validate(release)
    rows = ", ".join(f"{k} {v['rows']}" for k, v in m["tables"].items())
    _out(f"ok: {m['name']} {m['version']} (schema {m['schema_version']}): {rows}")


@app.command("query")
def query_cmd(
    source: str = typer.Argument(..., help="Release folder, hf://ID@vX.Y.Z, nas-bench-bert-2023 or nas-bench-nlp."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    view: str = typer.Option("summary", "--view", help="summary | runs | curves | proxies."),
    where: list[str] = typer.Option([], "--where", help="Filter COLUMN=VALUE (repeatable), on summary columns."),
    arch: str | None = typer.Option(None, "--arch", help="Print one record (an id or arch_id)."),
    dataset: str | None = typer.Option(None, "--dataset", help="nas-bench-nlp: ptb | wikitext-2."),
    reduction: str = typer.Option("none", "--reduction", help="nas-bench-nlp: none | mean."),
    out: Path | None = typer.Option(None, "--out", help="Write .csv or .parquet instead of printing."),
    limit: int = typer.Option(20, "--limit", min=1, help="Rows to print."),
) -> None:
    """Load a benchmark and print (or write) a view, optionally filtered.

    Example: bertbench query nas-bench-bert-2023 --path ../shared/data/seed-paper --where hidden_size=256 --limit 5
    """
    bench = _load_bench(source, path, dataset, reduction)
    conditions = {}
    for w in where:
        if "=" not in w:
            raise ValueError(f"--where {w!r} must be COLUMN=VALUE")
        k, v = w.split("=", 1)
        conditions[k] = _parse_value(v)
    if conditions:
        bench = bench.filter(**conditions)
    if arch is not None:
        rec = bench.query(arch)
        _out(json.dumps({k: v for k, v in rec.items() if k not in ("curves", "architecture")}, indent=2, default=str))
        return
    df = bench.to_pandas(view)
    if out is not None:
        if out.suffix == ".csv":
            df.to_csv(out, index=False)
        elif out.suffix == ".parquet":
            df.to_parquet(out, index=False)
        else:
            raise ValueError(f"--out {out}: suffix must be .csv or .parquet")
        _out(f"wrote {len(df)} rows to {out}")
        return
    import pandas as pd

    with pd.option_context("display.max_columns", 40, "display.width", 200):
        _out(df.drop(columns=[c for c in ("arch_json", "recipe_json") if c in df]).head(limit).to_string(index=False))
    _out(f"({len(df)} rows)")


@app.command("search")
def search_cmd(
    source: str = typer.Argument(..., help="A release folder, nas-bench-bert-2023 or nas-bench-nlp."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    algorithms: str = typer.Option("random,evolution,local", "--algorithms",
                                   help="Comma-separated: random, evolution, local (proxy-guided ones via --proxy)."),
    proxy: list[str] = typer.Option([], "--proxy", help="A proxy of the proxies table, or params (repeatable): runs "
                                    "proxy and proxy-evolution with it."),
    metrics_csv: Path | None = typer.Option(None, "--metrics-csv", help="nas-bench-bert-2023: the paper's proxies CSV."),
    budget_frac: float = typer.Option(0.1, "--budget-frac", min=0.0001, max=1.0,
                                      help="Budget as a fraction of the benchmark's total training cost."),
    seeds: int = typer.Option(20, "--seeds", min=1, help="Searches per algorithm (seeds 0..N-1)."),
    metric: str | None = typer.Option(None, "--metric", help="Summary column to search for (default: the main one)."),
    out: Path = typer.Option(Path("search-out"), "--out", help="Folder for search.parquet and search.png."),
) -> None:
    """Simulated NAS on a benchmark: best-so-far and regret vs simulated training time (bertbench.search).

    Example: bertbench search nas-bench-bert-2023 --path data/ --proxy params --seeds 20 --out search-2023
    """
    import pandas as pd

    from bertbench import search

    bench = _load_bench(source, path)
    if metrics_csv is not None:
        import bertbench

        bench = bertbench.load(source, path=path, metrics_csv=metrics_csv)
    budget = budget_frac * float(bench.train_costs().sum())
    runs = [(a.strip(), None) for a in algorithms.split(",") if a.strip()]
    runs += [(a, p) for p in proxy for a in search.NEEDS_PROXY]
    frame = pd.concat([search.run(bench, a, budget, range(seeds), metric=metric, proxy=p) for a, p in runs],
                      ignore_index=True)
    attrs = search.run(bench, runs[0][0], budget, [0], metric=metric, proxy=runs[0][1]).attrs
    frame.attrs.update(attrs)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "search.parquet", index=False)
    search.plot(frame, out / "search.png", title=f"{bench.name}: {attrs['metric']}, budget {budget_frac:.0%}")
    table = search.final_regret(frame)
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        _out(f"{bench.name}: {attrs['metric']} ({attrs['direction']} is better), best {attrs['optimum']:.3f}; budget "
             f"{budget:,.0f} {attrs['cost_unit']} ({budget_frac:.0%}); final regret over {seeds} seeds:")
        _out(table.to_string(index=False))
    _out(f"written: {out}/search.parquet, {out}/search.png")


# ------------------------------------------------------------------------------------------------------- proxies
def _load_bench(source: str, path: Path | None, dataset: str | None = None, reduction: str = "none"):
    import bertbench

    options: dict = {}
    if path is not None:
        options["path"] = path
    if source == "nas-bench-nlp":
        options.update(dataset=dataset, reduction=reduction)
    return bertbench.load(source, **options)


@proxies_app.command("list")
def proxies_list(
    family: str | None = typer.Option(None, "--family", help="bert | rnn"),
    check: bool = typer.Option(True, "--check/--no-check",
                               help="Measure each proxy's float32 vs float64 gap on reference models (~15 s)."),
) -> None:
    """List the registered proxies with their direction, families and stability: the relative float32 vs float64 gap
    on a reference BERT model (every op type) and RNN; above the gate's tolerance a score is published as NaN.

    Example: bertbench proxies list --family rnn
    """
    from bertbench.proxies import STABILITY_TOL
    from bertbench.proxies.registry import get_proxy, list_proxies

    if family not in (None, "bert", "rnn"):
        raise typer.BadParameter(f"--family {family!r}; allowed: bert, rnn")
    names = list_proxies(family)
    gaps: dict[str, dict[str, float]] = {}
    if check:
        from bertbench.proxies.stability import precision_gaps

        for fam in ("bert", "rnn"):
            if family in (None, fam):
                gaps[fam] = precision_gaps(fam, [n for n in names if fam in get_proxy(n).families])
    _out(f"{'proxy':<22} {'better':<7} {'families':<9} " + ("".join(f"{f + ' f32/f64':<13}" for f in gaps)) +
         f"description (gate: relative gap <= {STABILITY_TOL:g})")
    for name in names:
        spec = get_proxy(name)
        cells = "".join(f"{_gap(gaps[f].get(name)):<13}" for f in gaps)
        _out(f"{name:<22} {spec.direction:<7} {','.join(spec.families):<9} {cells}{spec.doc.splitlines()[0]}")


def _gap(value: float | None) -> str:
    import math

    if value is None:
        return "-"
    if math.isnan(value):
        return "n/a"
    return f"{value:.0e}" if value > 0 else "0"


@proxies_app.command("score")
def proxies_score(
    source: str = typer.Argument(..., help="Benchmark: release folder, nas-bench-bert-2023, nas-bench-nlp, hf://..."),
    arch: str = typer.Option(..., "--arch", help="An id of the benchmark (arch_id, paper id, run_key)."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    proxies: str | None = typer.Option(None, "--proxies", help="Comma-separated names (default: all of the family)."),
    variant: str | None = typer.Option(None, "--variant", help="BERT: as_named | as_trained_2023."),
    seed: int = typer.Option(0, "--seed", help="Initialisation and batch seed."),
    ptb: Path | None = typer.Option(None, "--ptb", help="RNN: PTB text (ptb.zip or folder) for the input batch."),
) -> None:
    """Score proxies on one untrained architecture of a benchmark.

    Example: bertbench proxies score nas-bench-bert-2023 --path ../shared/data/seed-paper --arch 0 --variant as_named
    """
    from bertbench.models.rnn import build_rnn_lm
    from bertbench.proxies import bert_batch, rnn_batch, score
    from bertbench.proxies.registry import list_proxies

    bench = _load_bench(source, path)
    names = proxies.split(",") if proxies else list_proxies(bench.family)
    a = bench.query(arch)["architecture"]
    if bench.family == "rnn":
        if ptb is None:
            raise ValueError("--ptb is required for RNN benchmarks")
        batch = rnn_batch(str(ptb))
        model = build_rnn_lm(a, seed=seed, ntoken=batch.vocab_size)
    else:
        from bertbench.models import build_model

        batch = bert_batch(seed=seed)
        vocab = 30522 if bench.name == "nas-bench-bert-2023" else batch.vocab_size
        model = build_model(a, variant=variant or bench.metadata.get("default_variant", "as_named"), seed=seed,
                            vocab_size=vocab)
    for name, r in score(model, batch, names, seed=seed).items():
        _out(f"{name:<22} {r['value']:>16.6g}  {r['seconds']:6.2f} s  {r['status']}{'  ' + r['error'] if r['error'] else ''}")


@proxies_app.command("evaluate")
def proxies_evaluate(
    source: str = typer.Argument(..., help="Benchmark: release folder, nas-bench-bert-2023, nas-bench-nlp, hf://..."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    proxies: str | None = typer.Option(None, "--proxies", help="Comma-separated names (default: all of the family)."),
    n: int | None = typer.Option(None, "--n", min=1, help="Score a seeded sample of N architectures (default: all)."),
    seed: int = typer.Option(0, "--seed", help="Initialisation, batch and sample seed."),
    variant: str | None = typer.Option(None, "--variant", help="BERT: as_named | as_trained_2023."),
    target: str | None = typer.Option(None, "--target", help="Summary column to rank against (default: GLUE / "
                                                               "synthetic aggregate / test_loss)."),
    ptb: Path | None = typer.Option(None, "--ptb", help="RNN: PTB text (ptb.zip or folder) for the input batch."),
    dataset: str | None = typer.Option(None, "--dataset", help="nas-bench-nlp: ptb | wikitext-2."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Sequences per input batch."),
    processes: int = typer.Option(1, "--processes", min=1, help="Worker processes."),
    out: Path = typer.Option(Path("proxy-eval"), "--out", help="Folder for proxies.parquet, correlations.csv, PNGs."),
) -> None:
    """Score proxies on a benchmark's architectures and correlate them with the trained results (+ plots).

    Example: bertbench proxies evaluate nas-bench-nlp --path logs.zip --ptb ptb.zip --proxies hidden_covariance
    """
    from bertbench.proxies.evaluate import evaluate

    bench = _load_bench(source, path, dataset)
    names = proxies.split(",") if proxies else None
    _, corr = evaluate(bench, names, n=n, seed=seed, variant=variant, target=target, out=out, ptb=str(ptb) if ptb else None,
                       batch_size=batch_size, processes=processes)
    _print_corr(corr)
    _out(f"wrote {out}/proxies.parquet, correlations.csv, scores.csv, scatter.png, ranks.png")


@proxies_app.command("correlate")
def proxies_correlate(
    csv: Path = typer.Argument(..., help="A CSV with one row per architecture: proxy columns and a target column."),
    target: str = typer.Option(..., "--target", help="Target column, e.g. loss or 'GLUE Score'."),
    columns: str | None = typer.Option(None, "--columns", help="Comma-separated proxy columns (default: all numeric)."),
    n_boot: int = typer.Option(1000, "--n-boot", min=1, help="Bootstrap resamples for the 95% intervals."),
    target_direction: str = typer.Option("higher", "--target-direction", help="higher (accuracy) or lower (loss) is "
                                                                                "better; used by precision@top10%."),
    out: Path | None = typer.Option(None, "--out", help="Write the table as CSV."),
) -> None:
    """Correlation table of precomputed scores (e.g. the 2023 paper's CSVs) with a target.

    Example: bertbench proxies correlate ../shared/data/seed-paper/RNN_results.csv --target loss
    """
    import pandas as pd

    from bertbench.proxies.evaluate import correlation_table

    df = pd.read_csv(csv, encoding="utf-8-sig")
    if target not in df.columns:
        raise ValueError(f"--target {target!r} is not a column; columns: {list(df.columns)}")
    cols = columns.split(",") if columns else [c for c in df.select_dtypes("number").columns if c != target]
    if target_direction not in ("higher", "lower"):
        raise ValueError(f"--target-direction {target_direction!r}; allowed: higher, lower")
    corr = correlation_table(df, target, cols, target_direction, n_boot=n_boot)
    _print_corr(corr)
    if out:
        corr.to_csv(out, index=False)


def _print_corr(corr) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        _out(corr.to_string(index=False))


def _parse_value(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def main() -> None:
    """Console-script entry point: one-line errors unless --debug. Exit 2: bad input (an option, a file, a field);
    exit 1: the environment failed (disk, permissions, memory) and nothing was recorded for it."""
    try:
        app()
    except EnvironmentFault as err:
        _fail(err, str(err), 1)
    except (FileNotFoundError, FileExistsError) as err:  # a path the user named
        _fail(err, str(err), 2)
    except (OSError, MemoryError) as err:
        _fail(err, f"{type(err).__name__}: {err}", 1)
    except (BertbenchError, ValueError, KeyError) as err:
        _fail(err, str(err.args[0] if isinstance(err, KeyError) and err.args else err), 2)


def _fail(err: BaseException, message: str, code: int) -> None:
    if _DEBUG["on"] or "--debug" in sys.argv:
        raise err
    typer.echo(f"error: {message}", err=True)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()

