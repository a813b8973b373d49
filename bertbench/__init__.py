"""bertbench: NAS benchmarks of small BERT architectures, their loaders, and training-free NAS proxies.

Light imports only: torch, transformers and datasets are imported by the submodules that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertbench.env import package_version
from bertbench.errors import BertbenchError
from bertbench.space import Architecture, LayerSpec, SearchSpace, paper_2023_grid

__version__ = package_version()

__all__ = ["Architecture", "BertbenchError", "LayerSpec", "SearchSpace", "__version__", "load", "paper_2023_grid"]

if TYPE_CHECKING:
    from bertbench.loaders.base import Benchmark
    from bertbench.loaders.proxy_suite import ProxySuite


def load(source: str, **options: Any) -> Benchmark | ProxySuite:
    """Load a benchmark: a shipped release's name, a release folder, ``hf://ID@vX.Y.Z``, ``nas-bench-bert-2023`` or
    ``nas-bench-nlp``; or a proxy suite (``bertbench-zero``, or a folder with ``suite.json``) as a ``ProxySuite``."""
    from bertbench.loaders.registry import load as _load

    return _load(source, **options)
