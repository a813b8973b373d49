"""Helpers shared by the command-line modules (``cli/main.py``, ``cli/proxies.py``, ...)."""

from __future__ import annotations

from pathlib import Path

import typer


def echo(text: str) -> None:
    typer.echo(text)


def release_folder(source: str) -> Path:
    """A release folder from a path, or from a shipped release's name (``NAME`` for its newest version, or
    ``NAME-X.Y.Z``), as ``bertbench list`` shows them."""
    path = Path(source)
    if path.exists():
        return path
    from bertbench.loaders.registry import shipped_releases
    from bertbench.store.schema import version_tuple

    shipped = shipped_releases()
    if source in shipped:
        return shipped[source][max(shipped[source], key=version_tuple)]
    for name, versions in shipped.items():
        for version, folder in versions.items():
            if source == f"{name}-{version}":
                return folder
    raise FileNotFoundError(f"{source!r} is neither a release folder nor a shipped release; shipped: "
                            f"{sorted(shipped) or 'none'}")


def load_bench(source: str, path: Path | None, dataset: str | None = None, reduction: str = "none"):
    """A benchmark by name, release folder or hf:// source (``bertbench.load``), or a run folder's finished results
    (``loaders.release.load_run``: e.g. its reliability before it is committed)."""
    import bertbench
    from bertbench.store.run_folder import run_info_path

    if run_info_path(source).is_file() and not (Path(source) / "manifest.json").exists():
        from bertbench.loaders.release import load_run

        return load_run(source)
    options: dict = {}
    if path is not None:
        options["path"] = path
    if source == "nas-bench-nlp":
        options.update(dataset=dataset, reduction=reduction)
    return bertbench.load(source, **options)
