"""`load(source, **options)`: one entry point for every benchmark bertbench reads, and the registry of named ones.

Named benchmarks (``bertbench.load(NAME)``, listed by ``list_benchmarks()`` and ``bertbench list``):
- converters of published benchmarks: ``nas-bench-bert-2023`` (``path=``, ``metrics_csv=``) and ``nas-bench-nlp``
  (``path=``, ``dataset=``, ``reduction=``), read from the user's copy of their data;
- every release shipped inside the package (``bertbench/releases/NAME-VERSION/``): loads offline by its name, the
  newest version unless ``version=`` names one.

- every proxy suite shipped inside the package (``bertbench/suites/NAME-VERSION/``, e.g. ``bertbench-zero``):
  a ``ProxySuite`` of precomputed proxy scores joined to their benchmarks' targets.

Other sources: ``hf://ORG/NAME@vX.Y.Z`` (a published release), a release folder (one with ``manifest.json``) and a
suite folder (one with ``suite.json``).
A new named benchmark is one ``@register_benchmark(name, description)`` loader function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertbench.errors import UnknownBenchmark
from bertbench.loaders.base import Benchmark
from bertbench.registry import Registry

SHIPPED = Path(__file__).resolve().parent.parent / "releases"


@dataclass(frozen=True)
class NamedBenchmark:
    """A benchmark ``bertbench.load`` knows by name: ``loader(**options)`` returns it."""

    name: str
    description: str
    loader: Callable[..., Benchmark]


BENCHMARKS: Registry[NamedBenchmark] = Registry("benchmark")


def register_benchmark(name: str, description: str) -> Callable[[Callable[..., Benchmark]], Callable[..., Benchmark]]:
    """Decorator: register ``loader`` as the named benchmark ``name``."""

    def deco(loader: Callable[..., Benchmark]) -> Callable[..., Benchmark]:
        BENCHMARKS.add(name, NamedBenchmark(name, description, loader))
        return loader

    return deco


@register_benchmark("nas-bench-bert-2023", "the 2023 paper's 500 BERT architectures (path= the paper's data folder)")
def _paper2023(**options: Any) -> Benchmark:
    from bertbench.loaders.paper2023 import load_paper2023

    return load_paper2023(**options)


@register_benchmark("nas-bench-nlp", "NAS-Bench-NLP training logs (path= the logs zip or folder)")
def _nasbench_nlp(**options: Any) -> Benchmark:
    from bertbench.loaders.nasbench_nlp import load_nasbench_nlp

    return load_nasbench_nlp(**options)


def shipped_folders(root: Path, manifest_name: str) -> dict[str, dict[str, Path]]:
    """{name: {version: folder}} of the folders under ``root`` holding a ``manifest_name`` (releases: manifest.json;
    proxy suites: suite.json)."""
    found: dict[str, dict[str, Path]] = {}
    for manifest in sorted(root.glob(f"*/{manifest_name}")) if root.is_dir() else []:
        m = json.loads(manifest.read_text())
        found.setdefault(m["name"], {})[m["version"]] = manifest.parent
    return found


def shipped_releases(root: Path = SHIPPED) -> dict[str, dict[str, Path]]:
    """{name: {version: folder}} of the releases shipped in the package."""
    return shipped_folders(root, "manifest.json")


def _shipped_loader(name: str, versions: dict[str, Path], load_folder: Callable[..., Any] | None = None
                    ) -> Callable[..., Any]:
    """Load the named shipped folder, the newest version unless ``version=`` names one, with ``load_folder``
    (default: ``load_release``)."""

    def load_shipped(version: str | None = None, **options: Any) -> Any:
        from bertbench.store.schema import version_tuple

        if version is None:
            version = max(versions, key=version_tuple)
        if version not in versions:
            raise UnknownBenchmark(f"{name} version={version!r} is not shipped; allowed: {sorted(versions)}")
        if load_folder is None:
            from bertbench.loaders.release import load_release

            return load_release(versions[version], **options)
        return load_folder(versions[version], **options)

    return load_shipped


for _name, _versions in shipped_releases().items():
    register_benchmark(_name, f"shipped release, versions {', '.join(sorted(_versions))} (offline)")(
        _shipped_loader(_name, _versions))


def shipped_suites() -> dict[str, dict[str, Path]]:
    """{name: {version: folder}} of the proxy suites shipped in the package."""
    from bertbench.loaders.proxy_suite import SHIPPED_SUITES
    from bertbench.store.proxy_suite import MANIFEST

    return shipped_folders(SHIPPED_SUITES, MANIFEST)


def _register_suites() -> None:
    from bertbench.loaders.proxy_suite import load_suite

    for name, versions in shipped_suites().items():
        register_benchmark(name, f"proxy suite (precomputed proxy scores with their targets), versions "
                                 f"{', '.join(sorted(versions))} (offline)")(_shipped_loader(name, versions, load_suite))


_register_suites()


def list_benchmarks() -> list[NamedBenchmark]:
    """Every named benchmark, in registration order."""
    return [b for _, b in BENCHMARKS.items()]


def load(source: str | Path, **options: Any) -> Any:
    """``source``: a registered name (see the module docstring), ``hf://ID@vX.Y.Z``, a release folder or a suite
    folder. Returns a ``Benchmark`` (a ``ProxySuite`` for a suite)."""
    s = str(source)
    if s in BENCHMARKS:
        return BENCHMARKS.get(s).loader(**options)
    if s.startswith("hf://"):
        from bertbench.loaders.hub_source import load_hub

        return load_hub(s, **options)
    path = Path(s)
    from bertbench.store.proxy_suite import is_suite

    if is_suite(path):
        from bertbench.loaders.proxy_suite import load_suite

        return load_suite(path, **options)
    if (path / "manifest.json").exists():
        from bertbench.loaders.release import load_release

        return load_release(path, **options)
    raise UnknownBenchmark(
        f"unknown benchmark {s!r}: not a registered name (allowed: {[str(k) for k in BENCHMARKS]}), not an hf:// "
        f"source, and not a release folder (no manifest.json at {path})"
    )
