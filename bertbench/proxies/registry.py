"""The proxy registry: ``@proxy(name, direction, families)`` registers ``fn(model, batch, *, seed) -> float``.

``direction`` says which way is better ("higher" or "lower"); ``families`` which models the proxy applies to
("bert": BertBenchModel, "rnn": RnnLM). Hooks and gradients live inside each call: calling twice gives the same
value, and nothing is left attached to the model. The ``bertbench.proxies`` package imports every proxy module, so
the registry is complete as soon as anything under ``bertbench.proxies`` is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bertbench.options import Direction, parse
from bertbench.registry import Registry


class UnstableScore(ValueError):
    """Raised by a proxy whose own check finds its value below numerical resolution (``score`` then publishes NaN
    with status "unstable" and this message)."""


@dataclass(frozen=True)
class ProxySpec:
    name: str
    fn: Callable[..., float]
    direction: str
    families: tuple[str, ...]
    doc: str
    #: The families for which the proxy checks its own precision (raising ``UnstableScore``; ``proxies.gate``):
    #: the float64 gate of ``score``, which would score the network a second time, is skipped for them.
    self_checked: tuple[str, ...] = ()
    #: The proxy reads passes shared with others of one ``score`` call (``common.SharedPasses``, given as ``passes=``).
    shares_passes: bool = False


PROXIES: Registry[ProxySpec] = Registry("proxy")


def proxy(name: str, direction: str = "higher", families: tuple[str, ...] = ("bert", "rnn"),
          self_checked: bool | tuple[str, ...] = (), shares_passes: bool = False) -> Callable:
    """Register ``fn`` as proxy ``name``. ``self_checked``: True (every family) or the families whose precision the
    proxy checks itself. ``shares_passes``: ``fn`` takes ``passes=`` (``common.SharedPasses``)."""
    direction = parse(Direction, direction, "direction").value
    checked = tuple(families) if self_checked is True else tuple(self_checked or ())
    if set(checked) - set(families):
        raise ValueError(f"self_checked={self_checked!r}: allowed families are the proxy's own {families}")

    def deco(fn: Callable[..., float]) -> Callable[..., float]:
        PROXIES.add(name, ProxySpec(name, fn, direction, tuple(families), (fn.__doc__ or "").strip(), checked,
                                    shares_passes))
        return fn

    return deco


def normalise_name(name: str) -> str:
    """A proxy name compared across sources: lower case, runs of other characters as one "_" (the 2023 CSV's
    "Synaptic Diversity" and "synaptic-diversity" are ``synaptic_diversity``)."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def match_name(name: str, names: list[str]) -> str | None:
    """The one of ``names`` that ``name`` means: itself, else the one with the same ``normalise_name``."""
    if name in names:
        return name
    hits = [n for n in names if normalise_name(n) == normalise_name(name)]
    return hits[0] if len(hits) == 1 else None


def get_proxy(name: str) -> ProxySpec:
    """The registered proxy ``name`` (matched by ``normalise_name`` when not registered as written)."""
    key = match_name(name, [str(k) for k in PROXIES.keys()])
    if key is None:
        raise KeyError(f"proxy {name!r} is not known; allowed: {sorted(map(str, PROXIES.keys()))}")
    return PROXIES.get(key)


def list_proxies(family: str | None = None) -> list[str]:
    return [str(k) for k, v in PROXIES.items() if family is None or family in v.families]


def family_of(model: Any) -> str:
    """The model family that built ``model`` (``bertbench.families.family_of_model``)."""
    from bertbench.families import family_of_model

    return family_of_model(model)
