"""NAS-Bench-NLP recurrent language models: a cell recipe becomes the AWD-style LM that NAS-Bench-NLP trains.

Embedding ``emsize`` (400) -> 3 recurrent layers of ``nhid`` (600) units, the last of ``emsize`` units because the
decoder is tied to the embedding -> decoder. A cell evaluates the recipe graph once per time step: ``linear`` over
any number of inputs (W_1 x_1 + ... + W_n x_n + b), ``blend`` (z * a + (1 - z) * b), ``elementwise_prod`` and
``elementwise_sum`` over any number of inputs, and tanh / sigmoid / leaky-ReLU activations; the hidden state is the
tuple (h_new_0, h_new_1, ...).

Initialisation follows NAS-Bench-NLP's model code draw for draw (the order of its parameter creation and of its uniform draws), so that with
``torch.manual_seed(seed)`` before building, the weights equal those of the original code: the embedding is created
(a normal draw), then each layer's linear nodes in recipe order (Kaiming-uniform weights, uniform bias), then every
cell parameter is redrawn U(-1/sqrt(H), 1/sqrt(H)); then the decoder Linear is created (its draws), the embedding is
drawn U(-0.1, 0.1) and, being tied, drawn again as the decoder weight; the decoder bias is 0. Dropouts are inactive
in eval mode and are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bertbench.space.rnn import RnnArchitecture

_ACTS = {"activation_tanh": torch.tanh, "activation_sigm": torch.sigmoid,
         "activation_leaky_relu": lambda x: F.leaky_relu(x, 0.01)}


class MultiLinear(nn.Module):
    """y = W_1 x_1 + ... + W_n x_n + b, one weight per input."""

    def __init__(self, input_sizes: list[int], output_size: int) -> None:
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.empty(output_size, n)) for n in input_sizes])
        self.bias = nn.Parameter(torch.empty(output_size))
        for w in self.weights:
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        bound = 1 / math.sqrt(input_sizes[0])
        nn.init.uniform_(self.bias, -bound, bound)


class RecipeCell(nn.Module):
    """One recurrent layer whose cell is a recipe graph."""

    def __init__(self, arch: RnnArchitecture, input_size: int, hidden_size: int) -> None:
        super().__init__()
        recipe = arch.recipe
        self.recipe = recipe
        self.hidden_size, self.input_size = hidden_size, input_size
        self.order = [n for n in arch.topological_order()]
        self.num_hidden = arch.num_hidden
        comps = {}
        for name, node in recipe.items():  # recipe (insertion) order, as the original code creates them
            if node["op"] == "linear":
                comps[name] = MultiLinear([input_size if i == "x" else hidden_size for i in node["input"]], hidden_size)
        self.components = nn.ModuleDict(comps)
        stdv = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -stdv, stdv)

    def forward(self, x: torch.Tensor, hidden: tuple[torch.Tensor, ...] | None = None,
                record: list[torch.Tensor] | None = None, record_codes: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x [T, B, input] -> outputs [T, B, H] (h_new_0 per step) and the last hidden tuple. ``record`` collects the
        incoming h_prev_0 of every step (h_0 .. h_{T-1}); ``record_codes`` every activation node's output."""
        steps, batch = x.shape[0], x.shape[1]
        if hidden is None:
            hidden = tuple(x.new_zeros(batch, self.hidden_size) for _ in range(self.num_hidden))
        xproj, fused, direct = self._projections(x)
        outs = []
        hsize = self.hidden_size
        for t in range(steps):
            if record is not None:
                record.append(hidden[0])
            values: dict[str, torch.Tensor] = {"x": x[t]}
            for i, h in enumerate(hidden):
                values[f"h_prev_{i}"] = h
            partial: dict[str, torch.Tensor] = {}
            for name in self.components:
                partial[name] = xproj[name][t] if name in xproj else self.components[name].bias.expand(batch, -1)
            for inp, (w, names) in fused.items():
                y = F.linear(values[inp], w)
                for j, name in enumerate(names):
                    partial[name] = partial[name] + y[:, j * hsize:(j + 1) * hsize]
            for name in self.order:
                values[name] = self._node(name, values, partial, direct)
                if record_codes is not None and self.recipe[name]["op"] in _ACTS:
                    record_codes.append(values[name])
            hidden = tuple(values[f"h_new_{i}"] for i in range(self.num_hidden))
            outs.append(hidden[0])
        return torch.stack(outs), hidden

    def _projections(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, tuple[torch.Tensor, list[str]]],
                                                     dict[str, list[tuple[str, torch.Tensor]]]]:
        """(input projections of all time steps at once: W_x x_t for every linear node that reads x; per hidden
        component read by several linear nodes, their weights concatenated for one matmul per step; the other
        (input, [(node, weight)]) pairs)."""
        xproj: dict[str, torch.Tensor] = {}
        per_input: dict[str, list[tuple[str, torch.Tensor]]] = {}
        for name, comp in self.components.items():
            inputs = self.recipe[name]["input"]
            xw = [comp.weights[i] for i, inp in enumerate(inputs) if inp == "x"]
            if xw:
                xproj[name] = sum(F.linear(x, w) for w in xw) + comp.bias
            for i, inp in enumerate(inputs):
                if inp != "x":
                    per_input.setdefault(inp, []).append((name, comp.weights[i]))
        fused = {inp: (torch.cat([w for _, w in pairs], 0), [n for n, _ in pairs])
                 for inp, pairs in per_input.items() if inp.startswith("h_prev_") and len(pairs) > 1}
        direct = {inp: pairs for inp, pairs in per_input.items() if inp not in fused}
        return xproj, fused, direct

    def _node(self, name: str, values: dict[str, torch.Tensor], partial: dict[str, torch.Tensor],
              direct: dict[str, list[tuple[str, torch.Tensor]]]) -> torch.Tensor:
        """The value of node ``name`` of one step from the values computed before it."""
        node = self.recipe[name]
        op = node["op"]
        if op == "linear":
            acc = partial[name]
            for inp, pairs in direct.items():
                for owner, w in pairs:
                    if owner == name:
                        acc = acc + F.linear(values[inp], w)
            return acc
        if op == "blend":
            z, a, b = (values[i] for i in node["input"])
            return z * a + (1 - z) * b
        if op in ("elementwise_prod", "elementwise_sum"):
            vals = [values[i] for i in node["input"]]
            out = vals[0]
            for v in vals[1:]:
                out = out * v if op == "elementwise_prod" else out + v
            return out
        return _ACTS[op](values[node["input"][0]])


@dataclass(frozen=True)
class RnnHyper:
    """NAS-Bench-NLP hyper-parameters that shape the model (defaults: the benchmark's)."""

    ntoken: int = 10000
    emsize: int = 400
    nhid: int = 600
    nlayers: int = 3
    tied: bool = True


class RnnLM(nn.Module):
    """The NAS-Bench-NLP language model (eval-mode semantics; see the module docstring)."""

    def __init__(self, arch: RnnArchitecture, hyper: RnnHyper = RnnHyper()) -> None:
        super().__init__()
        self.arch, self.hyper = arch, hyper
        self.encoder = nn.Embedding(hyper.ntoken, hyper.emsize)
        layers = []
        for i in range(hyper.nlayers):
            inp = hyper.emsize if i == 0 else hyper.nhid
            hid = hyper.nhid if i != hyper.nlayers - 1 else (hyper.emsize if hyper.tied else hyper.nhid)
            layers.append(RecipeCell(arch, inp, hid))
        self.rnns = nn.ModuleList(layers)
        self.decoder = nn.Linear(hyper.nhid, hyper.ntoken)
        if hyper.tied:
            self.decoder.weight = self.encoder.weight
        with torch.no_grad():
            self.encoder.weight.uniform_(-0.1, 0.1)
            self.decoder.bias.fill_(0)
            self.decoder.weight.uniform_(-0.1, 0.1)

    def forward(self, tokens: torch.Tensor | None, inputs_embeds: torch.Tensor | None = None,
                record: dict | None = None, layers: int | None = None) -> torch.Tensor:
        """tokens [T, B] -> the last RNN layer's output [T, B, H_last] (the decoder is not applied, as the proxies
        expect). ``record`` (a dict) receives "hidden" (per layer, the list of incoming h_prev_0) and "codes".
        ``layers``: run only the first that many layers (and return the output of the last one run)."""
        x = self.encoder(tokens) if inputs_embeds is None else inputs_embeds
        for i, rnn in enumerate(self.rnns):
            if layers is not None and i >= layers:
                break
            rec = None
            codes = None
            if record is not None:
                rec = record.setdefault("hidden", {}).setdefault(i, [])
                codes = record.setdefault("codes", [])
            x, _ = rnn(x, None, rec, codes)
        return x

    def logits(self, output: torch.Tensor) -> torch.Tensor:
        return self.decoder(output)


def build_rnn_lm(arch: RnnArchitecture | str | dict, seed: int | None = 0, **hyper: Any) -> RnnLM:
    """Build the LM of a recipe; with ``seed`` the initialisation equals NAS-Bench-NLP's for ``torch.manual_seed(seed)``
    (the global RNG is restored afterwards)."""
    if not isinstance(arch, RnnArchitecture):
        arch = RnnArchitecture.from_recipe(arch)
    h = RnnHyper(**{k: v for k, v in hyper.items() if k in RnnHyper.__dataclass_fields__})
    if seed is None:
        return RnnLM(arch, h).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RnnLM(arch, h).eval()
