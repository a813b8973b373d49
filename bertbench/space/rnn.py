"""NAS-Bench-NLP recurrent cells: `RnnArchitecture`, a validated recipe graph with a canonical form and id.

A recipe maps node names to ``{"op": OP, "input": [names]}``. Inputs are ``x`` (the layer input), ``h_prev_i``
(component i of the previous hidden tuple) or other nodes. ``h_new_0`` is the cell output; ``h_new_i`` (i > 0) are
further hidden components. ``arch_id`` is sha256[:16] of ``json.dumps(recipe, sort_keys=True, separators=(",", ":"))``
(the canonical form, used for equality); ``recipe_json`` keeps the nodes in the order given, because NAS-Bench-NLP's
model code creates (and draws the initial weights of) the linear nodes in that order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bertbench.errors import InvalidRnnRecipe

RNN_OPS = (
    "linear",
    "blend",
    "elementwise_prod",
    "elementwise_sum",
    "activation_tanh",
    "activation_sigm",
    "activation_leaky_relu",
)
_ARITY = {"blend": (3, 3), "activation_tanh": (1, 1), "activation_sigm": (1, 1), "activation_leaky_relu": (1, 1)}
_HPREV = re.compile(r"^h_prev_(\d+)$")
_HNEW = re.compile(r"^h_new_(\d+)$")


@dataclass(frozen=True)
class RnnArchitecture:
    """A NAS-Bench-NLP cell recipe (validated at construction)."""

    recipe_json: str = field(compare=False)
    canonical: str = field(init=False, repr=False)
    _recipe: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            recipe = json.loads(self.recipe_json)
        except json.JSONDecodeError as err:
            raise InvalidRnnRecipe(f"recipe is not valid JSON: {err}") from err
        validate_recipe(recipe)
        object.__setattr__(self, "recipe_json", json.dumps(recipe, separators=(",", ":")))
        object.__setattr__(self, "canonical", json.dumps(recipe, sort_keys=True, separators=(",", ":")))
        object.__setattr__(self, "_recipe", recipe)

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any] | str) -> RnnArchitecture:
        return cls(recipe if isinstance(recipe, str) else json.dumps(recipe))

    @property
    def recipe(self) -> dict[str, Any]:
        """The recipe, nodes in the order given."""
        return json.loads(self.recipe_json)

    @property
    def arch_id(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:16]

    @property
    def num_hidden(self) -> int:
        """Components of the hidden tuple (h_new_0 .. h_new_{k-1})."""
        return 1 + max((int(m.group(1)) for n in self._recipe if (m := _HNEW.match(n))), default=0)

    @property
    def num_nodes(self) -> int:
        return len(self._recipe)

    def topological_order(self) -> list[str]:
        return _toposort(self._recipe)

    def to_json(self) -> str:
        return self.canonical


def validate_recipe(recipe: Any) -> None:
    """Raise InvalidRnnRecipe naming the node and field at fault (unknown op, missing input, arity, cycle)."""
    if not isinstance(recipe, Mapping) or not recipe:
        raise InvalidRnnRecipe("recipe must be a non-empty mapping of node name -> {op, input}")
    if "h_new_0" not in recipe:
        raise InvalidRnnRecipe("recipe has no output node 'h_new_0'")
    hidden = 1 + max((int(m.group(1)) for n in recipe if (m := _HNEW.match(n))), default=0)
    for name, node in recipe.items():
        if not isinstance(node, Mapping) or "op" not in node or "input" not in node:
            raise InvalidRnnRecipe(f"node {name!r} must have fields 'op' and 'input'")
        op = node["op"]
        if op not in RNN_OPS:
            raise InvalidRnnRecipe(f"node {name!r}: op={op!r} is not known; allowed: {list(RNN_OPS)}")
        inputs = node["input"]
        if not isinstance(inputs, list) or not inputs:
            raise InvalidRnnRecipe(f"node {name!r}: field 'input' must be a non-empty list")
        lo, hi = _ARITY.get(op, (1, 10**9))
        if not lo <= len(inputs) <= hi:
            raise InvalidRnnRecipe(f"node {name!r}: op {op!r} takes {lo if lo == hi else f'{lo}+'} input(s), got {len(inputs)}")
        for inp in inputs:
            m = _HPREV.match(inp) if isinstance(inp, str) else None
            if inp == "x" or inp in recipe:
                continue
            if m and int(m.group(1)) < hidden:
                continue
            raise InvalidRnnRecipe(f"node {name!r}: input {inp!r} references a missing node")
    _toposort(recipe)


def _toposort(recipe: Mapping[str, Any]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, path: tuple[str, ...]) -> None:
        s = state.get(n, 0)
        if s == 2:
            return
        if s == 1:
            cycle = " -> ".join((*path[path.index(n):], n))
            raise InvalidRnnRecipe(f"recipe has a cycle: {cycle}")
        state[n] = 1
        for inp in recipe[n]["input"]:
            if inp in recipe:
                visit(inp, (*path, n))
        state[n] = 2
        order.append(n)

    for name in sorted(recipe):
        visit(name, ())
    return order
