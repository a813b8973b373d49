"""Helpers shared by the command-line modules (``cli.py``, ``cli_proxies.py``)."""

from __future__ import annotations

from pathlib import Path

import typer


def echo(text: str) -> None:
    typer.echo(text)


def load_bench(source: str, path: Path | None, dataset: str | None = None, reduction: str = "none"):
    import bertbench

    options: dict = {}
    if path is not None:
        options["path"] = path
    if source == "nas-bench-nlp":
        options.update(dataset=dataset, reduction=reduction)
    return bertbench.load(source, **options)
