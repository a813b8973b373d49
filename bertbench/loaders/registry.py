"""`load(source, **options)`: one entry point for every benchmark bertbench reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertbench.errors import UnknownBenchmark
from bertbench.loaders.base import Benchmark

NAMED = ("nas-bench-bert-2023", "nas-bench-nlp")


def load(source: str | Path, **options: Any) -> Benchmark:
    """``source``: a release folder, ``hf://ID@vX.Y.Z``, ``nas-bench-bert-2023`` (``path=``, ``metrics_csv=``) or
    ``nas-bench-nlp`` (``path=``, ``dataset=``, ``reduction=``)."""
    s = str(source)
    if s == "nas-bench-bert-2023":
        from bertbench.loaders.paper2023 import load_paper2023

        return load_paper2023(**options)
    if s == "nas-bench-nlp":
        from bertbench.loaders.nasbench_nlp import load_nasbench_nlp

        return load_nasbench_nlp(**options)
    if s.startswith("hf://"):
        from bertbench.loaders.hub_source import load_hub

        return load_hub(s, **options)
    path = Path(s)
    if (path / "manifest.json").exists():
        from bertbench.loaders.release import load_release

        return load_release(path, **options)
    raise UnknownBenchmark(
        f"unknown benchmark {s!r}: not one of {list(NAMED)}, not an hf:// source, and not a release folder "
        f"(no manifest.json at {path})"
    )
