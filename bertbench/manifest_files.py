"""Where named manifests are found: the spaces, grids and recipes shipped inside the package (read through
``importlib.resources``, so a wheel install finds them), after any folders the user lists in ``BERTBENCH_MANIFESTS``
(``os.pathsep``-separated, each laid out as ``spaces/``, ``grids/``, ``recipes/``). A user's own manifest can always
be given by path instead of by name.

The record of publications (``manifests/releases/index.json``) is not here: it belongs to the user's working folder
(``bertbench publish --record``, relative to the current directory by default).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

KINDS = ("spaces", "grids", "recipes")


def packaged_dir() -> Path:
    """The manifests shipped with bertbench (a real folder for wheel and editable installs)."""
    return Path(str(resources.files("bertbench") / "manifests"))


def search_path() -> list[Path]:
    """Folders searched for named manifests, first match wins: $BERTBENCH_MANIFESTS entries, then the package's."""
    extra = [Path(p) for p in os.environ.get("BERTBENCH_MANIFESTS", "").split(os.pathsep) if p]
    return [*extra, packaged_dir()]


def known(kind: str) -> list[str]:
    """Names of every ``kind`` manifest on the search path."""
    return sorted({p.stem for d in search_path() for p in (d / kind).glob("*.yaml")})


def find(kind: str, name_or_path: str | os.PathLike[str], error: type[Exception], what: str) -> Path:
    """``KIND/NAME.yaml`` on the search path for a name, or the given YAML path; ``error`` names the known ones."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; allowed: {KINDS}")
    path = Path(name_or_path)
    if path.suffix:
        if path.exists():
            return path
    else:
        for folder in search_path():
            candidate = folder / kind / f"{name_or_path}.yaml"
            if candidate.exists():
                return candidate
    raise error(f"{what} {str(name_or_path)!r} not found; known {kind}: {known(kind)} (or pass a YAML path)")
