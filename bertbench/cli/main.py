"""The `bertbench` command line (typer). Heavy imports happen inside the commands, so `--help` is fast.

Errors are one clear line on stderr (exit 2); `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer

from bertbench.cli.common import echo, load_bench, release_folder
from bertbench.cli.proxies import proxies_app
from bertbench.cli.reliability import reliability_cmd
from bertbench.cli.runs import commit_cmd, export_model_cmd, progress_cmd, regenerate_cmd, validate_cmd
from bertbench.cli.search import search_cmd
from bertbench.cli.space import space_app
from bertbench.errors import BertbenchError, EnvironmentFault

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Build, version, load and publish NAS benchmarks of small BERT architectures; score training-free proxies.",
)
app.add_typer(space_app, name="space")
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
    logging.getLogger("bertbench.progress").setLevel(logging.INFO)  # one line per finished unit off a terminal


# ------------------------------------------------------------------------------------------------------ benchmarks
@app.command("list")
def list_cmd() -> None:
    """The benchmarks `bertbench.load` and every command know by name (converters of published data, and the
    releases shipped with the package, which load offline).

    Example: bertbench list
    """
    from bertbench.loaders.registry import list_benchmarks

    for b in list_benchmarks():
        echo(f"{b.name:<28} {b.description}")


# ---------------------------------------------------------------------------------------------------------- models
@app.command("models")
def models_cmd(
    seq_len: int = typer.Option(128, min=1, help="Sequence length of the timing batch."),
    batch: int = typer.Option(8, min=1, help="Batch size of the timing batch."),
) -> None:
    """Build one model per op type at H256 (2 layers), print parameter counts and forward time.

    Example: bertbench models --batch 8 --seq-len 128
    """
    from bertbench.demo import model_tour

    echo(model_tour(batch=batch, seq_len=seq_len))


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), help="Folder for everything the demo writes."),
    processes: int | None = typer.Option(None, "--processes", min=1, help="Training processes (default: 2 if 2 cores)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars (off a terminal there are none: "
                                     "one line per finished unit)."),
) -> None:
    """Run the main job end to end on the embedded default data, offline (what `make demo` runs): regenerate the
    tiny grid, score proxies, commit a release, print the summary and correlations, write plots and a Hub folder.

    Example: bertbench demo --out demo-output
    """
    from bertbench.demo import run_demo

    run_demo(out, processes=processes, progress=not no_progress)


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
    b = curves_plot(bench, out / "pretrain_curves.png")
    echo(f"wrote {a} and {b}")


@app.command("export")
def export_cmd(
    release: str = typer.Argument(..., help="A release folder, or a shipped release's name (bertbench list)."),
    out: Path = typer.Argument(..., help="The Hub dataset folder to write (must not exist or be empty)."),
) -> None:
    """Write a release as a Hub dataset folder: README.md card with configs, data/*.parquet, manifest.json.

    Example: bertbench export releases/bertbench-tiny-0.1.0 hub/bertbench-tiny
    """
    from bertbench.hub import export

    echo(f"exported to {export(release_folder(release), out)} (datasets.load_dataset('{out}', name='summary'))")


@app.command("publish")
def publish_cmd(
    release: Path = typer.Argument(..., help="A release folder."),
    repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository, ORG/NAME."),
    tag: str = typer.Option(..., "--tag", help="Tag for the commit, e.g. v0.1.0."),
    private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds for the whole call, retries included (a rerun "
                                  "resumes: it only sends what the Hub lacks)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub endpoint (default: huggingface.co)."),
    record: Path | None = typer.Option(None, "--record", help="JSON record of publications to append to (created "
                                       "with its folders if missing); default: manifests/releases/index.json when "
                                       "that folder exists here (a bertbench checkout)."),
) -> None:
    """Publish a release to the Hugging Face Hub as one commit plus a tag (token from HF_TOKEN or `hf auth login`).

    Example: bertbench publish releases/bertbench-tiny-0.1.0 --repo-id me/bertbench-tiny --tag v0.1.0
    """
    from bertbench.hub import publish

    default = Path("manifests/releases/index.json")
    if record is None and default.parent.is_dir():
        record = default
    res = publish(release, repo_id, tag, private=private, timeout=timeout, endpoint=endpoint, record=record)
    if record is None:
        echo("not recorded in a publications index (no --record, and no manifests/releases/ here)")
    echo(f"{res['action']}: {res['name']} {res['version']} at {res['url']}, commit {res['commit'][:12]}, tag "
         f"{res['tag']}; load with bertbench.load('hf://{repo_id}@{tag}')")


# training and releases (cli/runs.py), then reading them
app.command("regenerate")(regenerate_cmd)
app.command("progress")(progress_cmd)
app.command("commit")(commit_cmd)
app.command("export-model")(export_model_cmd)
app.command("validate")(validate_cmd)
app.command("reliability")(reliability_cmd)
app.command("search")(search_cmd)


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
    bench = load_bench(source, path, dataset, reduction)
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
        echo(json.dumps({k: v for k, v in rec.items() if k not in ("curves", "architecture")}, indent=2, default=str))
        return
    df = bench.to_pandas(view)
    if out is not None:
        if out.suffix == ".csv":
            df.to_csv(out, index=False)
        elif out.suffix == ".parquet":
            df.to_parquet(out, index=False)
        else:
            raise ValueError(f"--out {out}: suffix must be .csv or .parquet")
        echo(f"wrote {len(df)} rows to {out}")
        return
    import pandas as pd

    with pd.option_context("display.max_columns", 40, "display.width", 200):
        echo(df.drop(columns=[c for c in ("arch_json", "recipe_json") if c in df]).head(limit).to_string(index=False))
    echo(f"({len(df)} rows)")


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
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False, prog_name="bertbench")
        if isinstance(code, int) and code:
            sys.exit(code)
    except TyperException as err:  # typer's (vendored click) usage errors: one line, not a usage box
        ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError" and ctx is not None:  # `bertbench proxies`: the help
            typer.echo(ctx.get_help())
            sys.exit(2)
        if not hasattr(err, "format_message"):  # Abort and the like
            _fail(err, "aborted", 1)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        _fail(err, where + " ".join(err.format_message().split()), int(getattr(err, "exit_code", 2)))
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

