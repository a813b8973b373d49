"""Grids: named lists of architectures to train (``manifests/grids/*.yaml``), with their seeds."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from bertbench.errors import InvalidArchitecture
from bertbench.space import Architecture, SearchSpace
from bertbench.yaml_io import load_file


@dataclass(frozen=True)
class Grid:
    """A named list of architectures to train (``manifests/grids/*.yaml``): an explicit list, or generated from a
    space (``generator: paper_2023`` with ``n`` and ``seed``, or ``generator: sample``).

    Seeds: a grid may name its training seeds (top-level ``seeds: [0, 1]``, used when the user passes none) and an
    architecture entry of an explicit list may name its own (``seeds: [0, 1, 2]`` beside ``hidden_size`` and
    ``layers``), which then win. ``arch_seeds`` holds those, aligned with ``architectures`` (None: the run's seeds)."""

    name: str
    architectures: tuple[Architecture, ...]
    definition: dict[str, Any]
    arch_seeds: tuple[tuple[int, ...] | None, ...] = ()

    @property
    def seeds(self) -> tuple[int, ...] | None:
        """The grid's own default seeds, or None."""
        s = self.definition.get("seeds")
        return tuple(int(x) for x in s) if s is not None else None

    def seeds_for(self, index: int, default: tuple[int, ...]) -> tuple[int, ...]:
        """Seeds of architecture ``index``: its own, else ``default``."""
        own = self.arch_seeds[index] if index < len(self.arch_seeds) else None
        return own if own is not None else default

    def head(self, limit: int) -> Grid:
        """The first ``limit`` architectures (with their seeds), recorded in the definition as ``limit``."""
        return Grid(self.name, self.architectures[:limit], {**self.definition, "limit": limit},
                    self.arch_seeds[:limit])

    @property
    def digest(self) -> str:
        """sha256 of the newline-joined canonical JSONs, in grid order."""
        return hashlib.sha256("\n".join(a.to_json() for a in self.architectures).encode()).hexdigest()


GRID_KEYS = {"name", "description", "seeds", "architectures", "generator", "space", "n", "seed"}


def load_grid(name_or_path: str | os.PathLike[str]) -> Grid:
    """A grid by name (``grids/NAME.yaml`` on the manifest search path) or by YAML path."""
    from bertbench.manifest_files import find

    path = find("grids", name_or_path, InvalidArchitecture, "grid")
    return grid_from_dict(load_file(path, InvalidArchitecture), str(path), path.stem)


def grid_from_dict(d: Any, path: str = "grid", default_name: str = "grid") -> Grid:
    """A grid from its definition (a grid YAML's mapping, or run.json's ``grid.definition`` without its ``limit``);
    ``path`` names it in errors."""
    if not isinstance(d, dict) or not d:
        raise InvalidArchitecture(f"{path}: a grid must be a mapping with 'architectures' or 'generator'; got "
                                  f"{type(d).__name__ if d else 'nothing'}")
    unknown = sorted(set(d) - GRID_KEYS)
    if unknown:
        raise InvalidArchitecture(f"{path}: unknown top-level field(s) {unknown}; allowed: {sorted(GRID_KEYS)}")
    _check_seeds(d.get("seeds"), f"{path}: field 'seeds'")
    arch_seeds: tuple[tuple[int, ...] | None, ...] = ()
    if "architectures" in d:
        entries = d["architectures"]
        if not isinstance(entries, list):
            raise InvalidArchitecture(f"{path}: field 'architectures' must be a list of architectures")
        arch_seeds = tuple(_check_seeds(a.get("seeds"), f"{path}: architectures[{i}].seeds")
                           if isinstance(a, dict) else None for i, a in enumerate(entries))
        archs = tuple(Architecture.from_dict({k: v for k, v in a.items() if k != "seeds"} if isinstance(a, dict) else a)
                      for a in entries)
    elif d.get("generator") in ("paper_2023", "sample"):
        space = SearchSpace.named(d["space"])
        n, seed = int(d.get("n", 500)), int(d.get("seed", 0))
        archs = tuple(space.paper_2023_grid(n, seed) if d["generator"] == "paper_2023" else space.sample(n, seed))
    else:
        raise InvalidArchitecture(f"{path}: needs 'architectures' or 'generator' (allowed: 'paper_2023', 'sample')")
    if not archs:
        raise InvalidArchitecture(f"{path}: the grid is empty")
    return Grid(str(d.get("name", default_name)), archs, d, arch_seeds)


def _check_seeds(value: Any, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if (not isinstance(value, list) or not value
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value)):
        raise InvalidArchitecture(f"{where}={value!r} is not valid; allowed: a non-empty list of integers >= 0")
    return tuple(value)
