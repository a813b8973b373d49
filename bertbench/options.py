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


E = TypeVar("E", bound=StrEnum)


def parse(kind: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``kind``; a ValueError naming ``field`` and the allowed values otherwise."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise ValueError(f"{field}={value!r} is not known; allowed: {allowed}") from None
