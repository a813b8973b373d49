"""NAS-Bench-BERT architectures: layer and architecture specs, their canonical form and ids.

An architecture is a global hidden size plus a tuple of layers; each layer is one token mixer (``op_type`` with its
``op_param``), a number of heads, and a feed-forward stack (``num_ffn`` dense layers of width ``ffn_dim``).

Canonical JSON and ``arch_id``
------------------------------
The canonical JSON of an architecture is ``json.dumps(obj, sort_keys=True, separators=(",", ":"))`` of::

    {"hidden_size": H, "layers": [{"ffn_dim": F, "heads": N, "num_ffn": K, "op_param": P, "op_type": T}, ...]}

where ``op_param`` is a string for SA and LT ("SDP", "WMA", "DFT", "DCT") and an int for DSC (5, 9).
``arch_id`` is the first 16 hex digits of the SHA-256 of that UTF-8 string. It never changes for a given
architecture, whatever layout it was parsed from; tests pin a few known values.

This module imports no torch: it is cheap to import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bertbench.errors import InvalidArchitecture
from bertbench.space.op_costs import op_params

#: op type -> allowed op parameters, from the op registry (bertbench/space/op_costs.py; models/ops.py builds them).
OP_PARAMS: dict[str, tuple[str | int, ...]] = op_params()


def format_values(values: Sequence[Any]) -> str:
    return "{" + ", ".join(repr(v) for v in values) + "}"


@dataclass(frozen=True)
class LayerSpec:
    """One encoder layer: a token mixer followed by a feed-forward stack.

    ``op_type``: "SA" (self-attention), "LT" (linear transform), "DSC" (dynamic span-based convolution).
    ``op_param``: SA "SDP" | "WMA"; LT "DFT" | "DCT"; DSC kernel size 5 | 9 (int).
    ``heads``: heads of the mixer (head size = hidden_size / heads).
    ``ffn_dim``: width of each dense layer of the feed-forward stack; ``num_ffn``: how many such layers.
    """

    op_type: str
    op_param: str | int
    heads: int
    ffn_dim: int
    num_ffn: int

    def __post_init__(self) -> None:
        if self.op_type not in OP_PARAMS:
            raise InvalidArchitecture(f"op_type={self.op_type!r} is not a known op type; allowed: {format_values(OP_PARAMS)}")
        allowed = OP_PARAMS[self.op_type]
        param = self.op_param
        if self.op_type == "DSC" and isinstance(param, str) and param.isdigit():
            param = int(param)
            object.__setattr__(self, "op_param", param)
        if isinstance(param, bool) or param not in allowed:
            raise InvalidArchitecture(
                f"op_param={self.op_param!r} is not valid for op_type={self.op_type!r}; allowed: {format_values(allowed)}"
            )
        for name in ("heads", "ffn_dim", "num_ffn"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArchitecture(f"{name}={value!r} must be a positive integer")

    def to_dict(self) -> dict[str, Any]:
        return {
            "op_type": self.op_type,
            "op_param": self.op_param,
            "heads": self.heads,
            "ffn_dim": self.ffn_dim,
            "num_ffn": self.num_ffn,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerSpec:
        """Parse our layout (op_type, op_param, heads, ffn_dim, num_ffn) or the 2023 one
        (operation_type, operation_parameter, num_operation_heads, feed_forward_dimension, num_feed_forward)."""
        if "operation_type" in d:
            keys = ("operation_type", "operation_parameter", "num_operation_heads", "feed_forward_dimension", "num_feed_forward")
        else:
            keys = ("op_type", "op_param", "heads", "ffn_dim", "num_ffn")
        missing = [k for k in keys if k not in d]
        if missing:
            raise InvalidArchitecture(f"layer is missing field(s) {missing}; expected fields: {list(keys)}")
        extra = sorted(set(d) - set(keys))
        if extra:
            raise InvalidArchitecture(f"layer has unknown field(s) {extra}; allowed fields: {list(keys)}")
        return cls(*(d[k] for k in keys))

    @property
    def name(self) -> str:
        """Short op name, e.g. ``SA-SDP`` or ``DSC-9``."""
        return f"{self.op_type}-{self.op_param}"


@dataclass(frozen=True)
class Architecture:
    """A NAS-Bench-BERT architecture: one global hidden size and a non-empty tuple of layers."""

    hidden_size: int
    layers: tuple[LayerSpec, ...]
    _canonical: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h = self.hidden_size
        if isinstance(h, bool) or not isinstance(h, int) or h < 1:
            raise InvalidArchitecture(f"hidden_size={h!r} must be a positive integer")
        layers = tuple(self.layers)
        if not layers:
            raise InvalidArchitecture("layers is empty; an architecture needs at least one layer")
        if not all(isinstance(layer, LayerSpec) for layer in layers):
            layers = tuple(layer if isinstance(layer, LayerSpec) else LayerSpec.from_dict(layer) for layer in layers)
        object.__setattr__(self, "layers", layers)
        for i, layer in enumerate(layers):
            if h % layer.heads:
                raise InvalidArchitecture(
                    f"layers[{i}].heads={layer.heads} does not divide hidden_size={h}; "
                    f"allowed heads: divisors of {h}"
                )
        object.__setattr__(self, "_canonical", json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")))

    # -- canonical form ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"hidden_size": self.hidden_size, "layers": [layer.to_dict() for layer in self.layers]}

    def to_json(self) -> str:
        """The canonical JSON (sorted keys, no spaces); see the module docstring."""
        return self._canonical

    @property
    def arch_id(self) -> str:
        """First 16 hex digits of SHA-256(canonical JSON)."""
        return hashlib.sha256(self._canonical.encode()).hexdigest()[:16]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def reshaped(self, hidden_size: int, ffn_dim: int) -> Architecture:
        """The same ops, heads and FFN depths at one hidden size and FFN width: the 2023 paper computed its BERT
        metrics on H = 256, FFN 1024 models whatever the architecture (``arch.reshaped(256, 1024)``)."""
        return Architecture(hidden_size, tuple(replace(layer, ffn_dim=ffn_dim) for layer in self.layers))

    def to_2023_dict(self) -> dict[str, Any]:
        """The 2023 layout (`model_hparam_overrides`): hidden_size + nas_config.encoder_layers."""
        return {
            "hidden_size": self.hidden_size,
            "nas_config": {
                "encoder_layers": [
                    {
                        "operation_type": layer.op_type,
                        "operation_parameter": layer.op_param,
                        "num_operation_heads": layer.heads,
                        "feed_forward_dimension": layer.ffn_dim,
                        "num_feed_forward": layer.num_ffn,
                    }
                    for layer in self.layers
                ]
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Architecture:
        """Parse our layout ({hidden_size, layers}) or the 2023 one: a benchmark entry (with ``hparams``), its
        ``model_hparam_overrides``, or {hidden_size, nas_config: {encoder_layers}}."""
        if not isinstance(d, Mapping):
            raise InvalidArchitecture(f"an architecture must be a mapping, got {type(d).__name__}")
        if "hparams" in d:
            d = d["hparams"]
        if "model_hparam_overrides" in d:
            d = d["model_hparam_overrides"]
        if "hidden_size" not in d:
            raise InvalidArchitecture("architecture is missing field 'hidden_size'")
        if "nas_config" in d:
            layers = d["nas_config"].get("encoder_layers")
            if layers is None:
                raise InvalidArchitecture("nas_config is missing field 'encoder_layers'")
        elif "layers" in d:
            layers = d["layers"]
            extra = sorted(set(d) - {"hidden_size", "layers"})
            if extra:
                raise InvalidArchitecture(f"architecture has unknown field(s) {extra}; allowed fields: "
                                          "['hidden_size', 'layers']")
        else:
            raise InvalidArchitecture("architecture is missing field 'layers' (or 'nas_config.encoder_layers')")
        if not isinstance(layers, Sequence) or isinstance(layers, str):
            raise InvalidArchitecture("layers must be a list of layer mappings")
        return cls(d["hidden_size"], tuple(LayerSpec.from_dict(x) for x in layers))

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        """An architecture from its JSON (``to_json``); text that is not JSON raises InvalidArchitecture."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, TypeError) as err:
            raise InvalidArchitecture(f"arch_json={str(text)[:60]!r} is not JSON ({err}); expected e.g. "
                                      '{"hidden_size": 128, "layers": [{"op_type": "SA", "op_param": "SDP", "heads": 2, '
                                      '"ffn_dim": 512, "num_ffn": 1}]}') from None
        if not isinstance(d, dict):
            raise InvalidArchitecture(f"arch_json must be a JSON object with hidden_size and layers; got {type(d).__name__}")
        return cls.from_dict(d)

    def short(self) -> str:
        """A compact human-readable description, e.g. ``H256 L2 [SA-SDP/4/1024x1 LT-DFT/2/512x3]``."""
        parts = " ".join(f"{ly.name}/{ly.heads}/{ly.ffn_dim}x{ly.num_ffn}" for ly in self.layers)
        return f"H{self.hidden_size} L{self.num_layers} [{parts}]"


# ---------------------------------------------------------------------------------------------------------------------
