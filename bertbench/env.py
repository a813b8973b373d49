"""Where bertbench keeps things: the cache folder and offline mode (how it writes files: ``bertbench.file_io``).

- ``cache_root(sub)``: ``$BERTBENCH_CACHE/sub``, else ``$XDG_CACHE_HOME/bertbench/sub``, else ``~/.cache/bertbench/sub``.
- ``is_offline()``: true when any of ``HF_HUB_OFFLINE``, ``HF_DATASETS_OFFLINE`` or ``BERTBENCH_OFFLINE`` is set to
  1/true/yes/on: bertbench then makes no network call (corpora, GLUE, the 2023 JSON, the Hub).
"""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "BERTBENCH_OFFLINE")


def cache_root(sub: str = "") -> Path:
    """The cache folder (see the module docstring), or its subfolder ``sub``; not created."""
    base = os.environ.get("BERTBENCH_CACHE")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "bertbench"
    return root / sub if sub else root


def is_offline() -> bool:
    """True when offline mode is on (any of OFFLINE_VARIABLES is 1/true/yes/on)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARIABLES)


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written); "0.0.0+unknown" for a
    source tree that is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bertbench")
    except PackageNotFoundError:
        return "0.0.0+unknown"
