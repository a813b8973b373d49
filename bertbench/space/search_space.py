"""Search spaces over NAS-Bench-BERT architectures: the choices per field, sampling, enumeration, membership and the\n2023 paper's space and grid."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bertbench.errors import InvalidArchitecture, InvalidSearchSpace
from bertbench.space.architecture import OP_PARAMS, Architecture, LayerSpec, format_values
from bertbench.yaml_io import load_file


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
                raise InvalidSearchSpace(f"layer.op_type has unknown op type {op_type!r}; allowed: {format_values(OP_PARAMS)}")
            if not isinstance(params, list) or not params:
                raise InvalidSearchSpace(f"layer.op_type.{op_type} must be a non-empty list")
            for p in params:
                if p not in OP_PARAMS[op_type]:
                    raise InvalidSearchSpace(
                        f"layer.op_type.{op_type} has op_param {p!r}; allowed: {format_values(OP_PARAMS[op_type])}"
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
            raise InvalidArchitecture(f"hidden_size={arch.hidden_size} not in space {self.name}; allowed: {format_values(self.hidden_sizes)}")
        if arch.num_layers not in self.num_layers:
            raise InvalidArchitecture(f"num_layers={arch.num_layers} not in space {self.name}; allowed: {format_values(self.num_layers)}")
        ops = dict(self.op_params)
        for i, ly in enumerate(arch.layers):
            if ly.op_type not in ops:
                raise InvalidArchitecture(f"layers[{i}].op_type={ly.op_type!r} not in space; allowed: {format_values(ops)}")
            if ly.op_param not in ops[ly.op_type]:
                raise InvalidArchitecture(f"layers[{i}].op_param={ly.op_param!r} not in space; allowed: {format_values(ops[ly.op_type])}")
            for name, allowed in (("heads", self.heads), ("ffn_dim", self.ffn_dims), ("num_ffn", self.num_ffns)):
                if getattr(ly, name) not in allowed:
                    raise InvalidArchitecture(f"layers[{i}].{name}={getattr(ly, name)} not in space; allowed: {format_values(allowed)}")
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
