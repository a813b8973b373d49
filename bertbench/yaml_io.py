"""YAML for manifests and ``--set`` values: safe loading where ``5e-4`` is a number (YAML 1.2's float rule; YAML 1.1
as PyYAML reads it needs a dot: ``5.0e-4``), and syntax errors that name the file and the line."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader plus YAML 1.2 floats without a dot (1e-3, 5E+4)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
               r"|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def loads(text: str, source: str = "<text>", error: type[Exception] = ValueError) -> Any:
    """Parse ``text``; a syntax error becomes ``error`` naming ``source`` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise error(f"{source}:{where}: YAML syntax error: {problem}") from None


def load_file(path: str | os.PathLike[str], error: type[Exception] = ValueError) -> Any:
    """Parse the YAML file at ``path`` (see :func:`loads`)."""
    return loads(Path(path).read_text(encoding="utf-8"), str(path), error)
