"""The `bertbench` command line (typer). Heavy imports happen inside the commands, so `--help` is fast.

Errors are one clear line on stderr (exit 2); `--debug` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from bertbench.errors import BertbenchError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Build, version, load and publish NAS benchmarks of small BERT architectures; score training-free proxies.",
)
space_app = typer.Typer(no_args_is_help=True, help="Inspect a search space (show, size, sample).")
app.add_typer(space_app, name="space")

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
def space_size(name: str = typer.Argument("nas-bench-bert-2023", help="Space name under manifests/spaces/.")) -> None:
    """Number of architectures in a space.

    Example: bertbench space size nas-bench-bert-2023
    """
    from bertbench.space import SearchSpace

    _out(str(SearchSpace.named(name).size()))


@space_app.command("show")
def space_show(name: str = typer.Argument("nas-bench-bert-2023", help="Space name under manifests/spaces/.")) -> None:
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
    n: int = typer.Option(5, "--n", help="How many architectures."),
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
) -> None:
    """Run the main job end to end on the embedded default data (what `make demo` runs).

    Example: bertbench demo --out demo-output
    """
    from bertbench.demo import run_demo

    run_demo(out)


def main() -> None:
    """Console-script entry point: one-line errors unless --debug."""
    try:
        app()
    except BertbenchError as err:
        if _DEBUG["on"] or "--debug" in sys.argv:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except (FileNotFoundError, ValueError, KeyError) as err:
        if _DEBUG["on"] or "--debug" in sys.argv:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        typer.echo(f"error: {msg}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()

