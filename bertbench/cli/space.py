"""`bertbench space ...`: inspect a search space (registered on the main app in ``cli.py``)."""

from __future__ import annotations

import typer

from bertbench.cli.common import echo

space_app = typer.Typer(no_args_is_help=True, help="Inspect a search space (show, size, sample).")


@space_app.command("size")
def space_size(name: str = typer.Argument("nas-bench-bert-2023", help="Space name (bertbench/manifests/spaces, or $BERTBENCH_MANIFESTS) or YAML path.")) -> None:
    """Number of architectures in a space.

    Example: bertbench space size nas-bench-bert-2023
    """
    from bertbench.space import SearchSpace

    echo(str(SearchSpace.named(name).size()))


@space_app.command("show")
def space_show(name: str = typer.Argument("nas-bench-bert-2023", help="Space name (bertbench/manifests/spaces, or $BERTBENCH_MANIFESTS) or YAML path.")) -> None:
    """Print a space's choices.

    Example: bertbench space show nas-bench-bert-2023
    """
    from bertbench.space import SearchSpace

    s = SearchSpace.named(name)
    echo(f"{s.name}: {s.description}")
    echo(f"  hidden_size: {list(s.hidden_sizes)}")
    echo(f"  num_layers:  {list(s.num_layers)}")
    echo(f"  op_type:     {dict((t, list(p)) for t, p in s.op_params)}")
    echo(f"  heads: {list(s.heads)}  ffn_dim: {list(s.ffn_dims)}  num_ffn: {list(s.num_ffns)}")
    echo(f"  size: {s.size():,}")


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
        echo(a.to_json() if as_json else f"{a.arch_id}  {a.short()}")
