"""What an exported model folder needs from the rest of bertbench where bertbench is not installed.

An encoder handed out by ``bertbench export-model`` carries this package's own ``configuration.py``, ``modeling.py``
and ``ops.py`` (``AutoModel.from_pretrained(DIR, trust_remote_code=True)`` with ``transformers`` and ``torch``
alone). Those three files import the originals from bertbench when it is installed and fall back to the small copies
here otherwise (the Hugging Face idiom of self-contained modeling files). The copies hold no validation: an exported
config was validated when bertbench wrote it. ``tests/test_models.py`` checks that every copy agrees with its original.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any


class InvalidArchitecture(ValueError):
    """Copy of bertbench.errors.InvalidArchitecture: an architecture or layer spec is malformed."""


class Registry:
    """The part of bertbench.registry.Registry the modeling files use: ``add(key, obj)``, ``get(key)``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[Hashable, Any] = {}

    def add(self, key: Hashable, obj: Callable[..., Any]) -> Callable[..., Any]:
        self._items[key] = obj
        return obj

    def get(self, key: Hashable) -> Any:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {key!r}; known: {', '.join(map(repr, self._items))}") from None


@dataclass(frozen=True)
class LayerSpec:
    """Copy of bertbench.space.LayerSpec's fields (our layout only)."""

    op_type: str
    op_param: str | int
    heads: int
    ffn_dim: int
    num_ffn: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerSpec:
        return cls(d["op_type"], int(d["op_param"]) if d["op_type"] == "DSC" else d["op_param"], int(d["heads"]),
                   int(d["ffn_dim"]), int(d["num_ffn"]))

    def to_dict(self) -> dict[str, Any]:
        return {"op_type": self.op_type, "op_param": self.op_param, "heads": self.heads, "ffn_dim": self.ffn_dim,
                "num_ffn": self.num_ffn}


@dataclass(frozen=True)
class Architecture:
    """Copy of bertbench.space.Architecture's fields (our layout only)."""

    hidden_size: int
    layers: tuple[LayerSpec, ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Architecture:
        return cls(int(d["hidden_size"]), tuple(LayerSpec.from_dict(x) for x in d["layers"]))


# Copied from bertbench.space.cost.ffn_widths
def ffn_widths(layer: LayerSpec, hidden_size: int, variant: str) -> list[int]:
    """Widths of the dense layers of a layer's FFN stack (before the projection back to H). as_named: ``num_ffn``
    layers of ``ffn_dim``; as_trained_2023 (what the 2023 code built): the first is 4H, the others ``ffn_dim``."""
    if variant == "as_trained_2023":
        return [4 * hidden_size] + [layer.ffn_dim] * (layer.num_ffn - 1)
    return [layer.ffn_dim] * layer.num_ffn


# Copied from bertbench.space.cost.built_op
def built_op(layer: LayerSpec, variant: str) -> tuple[str, str | int]:
    """The (op_type, op_param) a layer is built with: as named, or SA-SDP for every layer under as_trained_2023
    (the 2023 TF code compared op names with ``is`` and always fell through to self-attention)."""
    return ("SA", "SDP") if variant == "as_trained_2023" else (layer.op_type, layer.op_param)
