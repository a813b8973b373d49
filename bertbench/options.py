"""Closed sets of options, one ``StrEnum`` each (a member is its string: ``Parallel.GRID == "grid"``), checked once
where a value enters the package with :func:`parse`, which names the field and the allowed values."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class Direction(StrEnum):
    """Which way a metric or a proxy is better."""

    HIGHER = "higher"
    LOWER = "lower"


class Parallel(StrEnum):
    """How a grid's processes share the work: whole units each (grid) or every unit together (ddp)."""

    GRID = "grid"
    DDP = "ddp"


class Stability(StrEnum):
    """The proxies' stability gate: float64 (each value checked) or off."""

    FLOAT64 = "float64"
    OFF = "off"


class Cost(StrEnum):
    """What a simulated search pays per training: each unit's measured cost, or the median for every unit (flat)."""

    MEASURED = "measured"
    FLAT = "flat"


class View(StrEnum):
    """The views of a benchmark (``Benchmark.to_pandas``): one row per unit, per run, per curve point, per proxy
    score."""

    SUMMARY = "summary"
    RUNS = "runs"
    CURVES = "curves"
    PROXIES = "proxies"


class Reduction(StrEnum):
    """NAS-Bench-NLP: one unit per log (none) or per distinct cell, its logs averaged (mean)."""

    NONE = "none"
    MEAN = "mean"


class RunStatus(StrEnum):
    """What became of one stage of a unit (a ``runs`` row): trained, failed, or its loss diverged."""

    OK = "ok"
    FAILED = "failed"
    DIVERGED = "diverged"


class ProxyStatus(StrEnum):
    """What became of one proxy score: a value, a failure, or a value below numerical resolution (unstable)."""

    OK = "ok"
    FAILED = "failed"
    UNSTABLE = "unstable"


#: The embedded synthetic suite's one name (``bertbench.data.synthetic``): a corpus source (``synthetic[:opts]``), the
#: tokenizer, a task source, the task suite, the prefix of its tasks (``synthetic-sst2``) and their aggregate.
SYNTHETIC = "synthetic"


def is_synthetic(name: str) -> bool:
    """Whether ``name`` (a corpus or task source, a tokenizer, a task or an aggregate) is of the synthetic suite: it
    starts with its name (``synthetic``, ``synthetic:seed=1``, ``synthetic-sst2``)."""
    return str(name).startswith(SYNTHETIC)


E = TypeVar("E", bound=StrEnum)


def parse(kind: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``kind``; a ValueError naming ``field`` and the allowed values otherwise."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise ValueError(f"{field}={value!r} is not known; allowed: {allowed}") from None
