"""The NAS-Bench-BERT search space: layer and architecture specs, their canonical form and ids, and search spaces.

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
import itertools
import json
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bertbench.errors import InvalidArchitecture, InvalidSearchSpace
from bertbench.op_costs import op_params
from bertbench.yaml_io import load_file

#: op type -> allowed op parameters, from the op registry (bertbench/op_costs.py; models/ops.py builds them).
OP_PARAMS: dict[str, tuple[str | int, ...]] = op_params()


def _fmt(values: Sequence[Any]) -> str:
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
            raise InvalidArchitecture(f"op_type={self.op_type!r} is not a known op type; allowed: {_fmt(OP_PARAMS)}")
        allowed = OP_PARAMS[self.op_type]
        param = self.op_param
        if self.op_type == "DSC" and isinstance(param, str) and param.isdigit():
            param = int(param)
            object.__setattr__(self, "op_param", param)
        if isinstance(param, bool) or param not in allowed:
            raise InvalidArchitecture(
                f"op_param={self.op_param!r} is not valid for op_type={self.op_type!r}; allowed: {_fmt(allowed)}"
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
@dataclass(frozen=True)
class SearchSpace:
    """A NAS-Bench-BERT-style space: choices of hidden size, depth, and per-layer choices (see the YAML files)."""

    name: str
    hidden_sizes: tuple[int, ...]
    num_layers: tuple[int, ...]
    op_params: tuple[tuple[str, tuple[str | int, ...]], ...]
    heads: tuple[int, ...]
    ffn_dims: tuple[int, ...]
    num_ffns: tuple[int, ...]
    description: str = ""

    # -- construction -----------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        allowed_top = {"name", "description", "hidden_size", "num_layers", "layer"}
        extra = sorted(set(d) - allowed_top)
        if extra:
            raise InvalidSearchSpace(f"unknown field(s) {extra}; allowed: {sorted(allowed_top)}")
        for key in ("name", "hidden_size", "num_layers", "layer"):
            if key not in d:
                raise InvalidSearchSpace(f"search space is missing field {key!r}")
        layer = d["layer"]
        allowed_layer = {"op_type", "heads", "ffn_dim", "num_ffn"}
        extra = sorted(set(layer) - allowed_layer)
        if extra:
            raise InvalidSearchSpace(f"unknown field(s) layer.{extra}; allowed: {sorted(allowed_layer)}")

        def ints(path: str, values: Any) -> tuple[int, ...]:
            if not isinstance(values, list) or not values:
                raise InvalidSearchSpace(f"{path} must be a non-empty list of positive integers")
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
                raise InvalidSearchSpace(f"{path}={values!r} must hold positive integers only")
            return tuple(values)

        op_types = layer.get("op_type")
        if not isinstance(op_types, Mapping) or not op_types:
            raise InvalidSearchSpace("layer.op_type must map op types to lists of op parameters")
        ops = []
        for op_type, params in op_types.items():
            if op_type not in OP_PARAMS:
                raise InvalidSearchSpace(f"layer.op_type has unknown op type {op_type!r}; allowed: {_fmt(OP_PARAMS)}")
            if not isinstance(params, list) or not params:
                raise InvalidSearchSpace(f"layer.op_type.{op_type} must be a non-empty list")
            for p in params:
                if p not in OP_PARAMS[op_type]:
                    raise InvalidSearchSpace(
                        f"layer.op_type.{op_type} has op_param {p!r}; allowed: {_fmt(OP_PARAMS[op_type])}"
                    )
            ops.append((op_type, tuple(params)))
        space = cls(
            name=str(d["name"]),
            hidden_sizes=ints("hidden_size", d["hidden_size"]),
            num_layers=ints("num_layers", d["num_layers"]),
            op_params=tuple(ops),
            heads=ints("layer.heads", layer.get("heads")),
            ffn_dims=ints("layer.ffn_dim", layer.get("ffn_dim")),
            num_ffns=ints("layer.num_ffn", layer.get("num_ffn")),
            description=str(d.get("description", "")),
        )
        for h in space.hidden_sizes:
            for n in space.heads:
                if h % n:
                    raise InvalidSearchSpace(f"hidden_size {h} is not divisible by heads {n}; every pair must divide")
        return space

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SearchSpace:
        return cls.from_dict(load_file(path, InvalidSearchSpace))

    @classmethod
    def named(cls, name: str) -> SearchSpace:
        """A space by name (``spaces/NAME.yaml`` on the manifest search path) or YAML path."""
        from bertbench.manifest_files import find

        return cls.from_yaml(find("spaces", name, InvalidSearchSpace, "search space"))

    # -- the space --------------------------------------------------------------------------------------------------
    def layer_choices(self) -> list[LayerSpec]:
        """Every possible layer, in generation order."""
        return [
            LayerSpec(t, p, n, f, k)
            for t, params in self.op_params
            for p in params
            for n in self.heads
            for f in self.ffn_dims
            for k in self.num_ffns
        ]

    def size(self) -> int:
        """Number of architectures: sum over depths L of |hidden sizes| * |layer choices|^L."""
        per_layer = sum(len(p) for _, p in self.op_params) * len(self.heads) * len(self.ffn_dims) * len(self.num_ffns)
        return len(self.hidden_sizes) * sum(per_layer**n for n in self.num_layers)

    def __contains__(self, arch: object) -> bool:
        try:
            self.validate(arch)  # type: ignore[arg-type]
        except InvalidArchitecture:
            return False
        return True

    def validate(self, arch: Architecture) -> Architecture:
        """Raise InvalidArchitecture naming the first field outside this space and its allowed values."""
        if not isinstance(arch, Architecture):
            raise InvalidArchitecture(f"expected an Architecture, got {type(arch).__name__}")
        if arch.hidden_size not in self.hidden_sizes:
            raise InvalidArchitecture(f"hidden_size={arch.hidden_size} not in space {self.name}; allowed: {_fmt(self.hidden_sizes)}")
        if arch.num_layers not in self.num_layers:
            raise InvalidArchitecture(f"num_layers={arch.num_layers} not in space {self.name}; allowed: {_fmt(self.num_layers)}")
        ops = dict(self.op_params)
        for i, ly in enumerate(arch.layers):
            if ly.op_type not in ops:
                raise InvalidArchitecture(f"layers[{i}].op_type={ly.op_type!r} not in space; allowed: {_fmt(ops)}")
            if ly.op_param not in ops[ly.op_type]:
                raise InvalidArchitecture(f"layers[{i}].op_param={ly.op_param!r} not in space; allowed: {_fmt(ops[ly.op_type])}")
            for name, allowed in (("heads", self.heads), ("ffn_dim", self.ffn_dims), ("num_ffn", self.num_ffns)):
                if getattr(ly, name) not in allowed:
                    raise InvalidArchitecture(f"layers[{i}].{name}={getattr(ly, name)} not in space; allowed: {_fmt(allowed)}")
        return arch

    def _draw(self, rng: random.Random) -> Architecture:
        """One architecture, drawing with ``rng.choice`` in the 2023 generator's order (H, depth, then
        per layer: op type, op parameter, heads, FFN width, FFN depth)."""
        hidden = rng.choice(self.hidden_sizes)
        depth = rng.choice(self.num_layers)
        ops = dict(self.op_params)
        op_types = list(ops)
        layers = []
        for _ in range(depth):
            t = rng.choice(op_types)
            p = rng.choice(ops[t])
            layers.append(LayerSpec(t, p, rng.choice(self.heads), rng.choice(self.ffn_dims), rng.choice(self.num_ffns)))
        return Architecture(hidden, tuple(layers))

    def sample(self, n: int, seed: int = 0, unique: bool = False) -> list[Architecture]:
        """``n`` architectures drawn uniformly per choice with ``random.Random(seed)`` (duplicates kept unless
        ``unique``)."""
        if n < 0:
            raise ValueError(f"n={n} must be >= 0")
        if unique and n > self.size():
            raise ValueError(f"n={n} exceeds the space size {self.size()} with unique=True")
        rng = random.Random(seed)
        out: list[Architecture] = []
        seen: set[str] = set()
        while len(out) < n:
            arch = self._draw(rng)
            if unique:
                if arch.arch_id in seen:
                    continue
                seen.add(arch.arch_id)
            out.append(arch)
        return out

    def enumerate(self) -> Iterator[Architecture]:
        """Every architecture of the space, lazily, by depth then hidden size then layers (lexicographic)."""
        choices = self.layer_choices()
        for depth in self.num_layers:
            for hidden in self.hidden_sizes:
                for layers in itertools.product(choices, repeat=depth):
                    yield Architecture(hidden, layers)

    def paper_2023_grid(self, n: int = 500, seed: int = 0) -> list[Architecture]:
        """The 2023 paper's benchmark: ``random.seed(seed)`` then ``n`` draws with the module-level ``random`` API,
        as ``space_maker.ipynb`` did. Index i is the paper's id i. The global random state is restored afterwards."""
        state = random.getstate()
        try:
            random.seed(seed)
            return [self._draw(random) for _ in range(n)]  # type: ignore[arg-type]
        finally:
            random.setstate(state)


def paper_2023_grid() -> list[Architecture]:
    """The 500 architectures of NAS-Bench-BERT (2023), ids 0..499 by list position."""
    return SearchSpace.named("nas-bench-bert-2023").paper_2023_grid()
