"""`bertbench reliability`: does a benchmark rank its architectures reproducibly (registered in ``cli.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from bertbench.cli.common import echo, load_bench


def reliability_cmd(
    source: str = typer.Argument(..., help="A release folder, a benchmark name (bertbench list) or a run folder."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    curves: bool = typer.Option(True, "--curves/--no-curves", help="Also each logged held-out (or training) loss point."),
    out: Path | None = typer.Option(None, "--out", help="Also write the table as .csv or .parquet."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the taus with their CIs into this PNG."),
    boot: int = typer.Option(1000, "--boot", min=100, help="Bootstrap resamples of architectures for the CIs."),
) -> None:
    """Seed-to-seed reliability of every target of a benchmark: Kendall tau between seeds (and within each
    (hidden size, depth) group) with bootstrap CIs, ICC with its CI, architecture and seed sds, the reliability of
    the summary value, the seeds needed for tau >= 0.6, and a one-line verdict.

    Example: bertbench reliability bertbench-mini-ptb-glue --no-curves
    Example: bertbench reliability runs/ptb --no-curves   (a run folder's finished results, before commit)
    """
    from bertbench.reliability import format_table, reliability_table

    bench = load_bench(source, path)
    table = reliability_table(bench, curves=curves, n_boot=boot, progress=True)
    if out is not None:
        if out.suffix not in (".csv", ".parquet"):
            raise ValueError(f"--out {out}: suffix must be .csv or .parquet")
        table.to_csv(out, index=False) if out.suffix == ".csv" else table.to_parquet(out, index=False)
    echo(f"{bench.name} {bench.version}: reliability of each target over pretraining seeds")
    echo(format_table(table))
    if plot is not None:
        from bertbench.plots import reliability_plot

        reliability_plot(table, plot, title=f"{bench.name} {bench.version}: seed-to-seed Kendall tau")
    for written in (out, plot):
        if written is not None:
            echo(f"written: {written}")
