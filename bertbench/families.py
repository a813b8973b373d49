"""Model families: everything that differs between the BERT space and NAS-Bench-NLP's recurrent cells, in one place.

A benchmark names its family (``Benchmark.family``); loaders, proxies and the CLI ask the family instead of
branching on its name. A new family is one :class:`ModelFamily` passed to :func:`register_family`.

    fam = get_family(bench.family)
    arch = fam.arch_from_row(row)               # a row of the architectures table -> an architecture object
    model = fam.build(arch, variant, seed=0, vocab_size=30522)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertbench.registry import Registry


@dataclass(frozen=True)
class ModelFamily:
    """What a family of architectures needs from the rest of bertbench.

    ``variants``: build variants, the first being the default when a benchmark names none. ``target``: the summary
    column and direction that rank its benchmarks, or None to let the benchmark choose among its aggregates.
    ``metric_columns``: metrics that become summary columns of their own (one stage, several metrics), instead of a
    stage's main score and its seed std. ``encodings``: the kinds ``encode`` knows, the first being the one moves
    (``neighbours``) use. ``batch_first``: the layout of the proxies' token batch ([B, L] or [T, B]; the batch itself
    comes from ``bertbench.proxies.inputs.default_batch``).
    ``proxy_loss``: the loss its gradient proxies differentiate when the batch does not say. ``encode_context``:
    what ``encode`` pads to, read from a benchmark (the search space; the largest cell). ``owns_model``: whether a
    torch model was built by this family (``family_of_model``)."""

    name: str
    description: str
    variants: tuple[str, ...]
    target: tuple[str, str] | None
    cost_unit: str
    metric_columns: tuple[str, ...]
    encodings: tuple[str, ...]
    batch_first: bool
    proxy_loss: str | None
    arch_from_row: Callable[[dict[str, Any]], Any]
    build_fn: Callable[..., Any]
    encode_fn: Callable[[Any, str, Any], np.ndarray]
    encode_context: Callable[[Any], Any]
    owns_model: Callable[[Any], bool]

    def build(self, arch: Any, variant: str | None = None, **kwargs: Any) -> Any:
        """An untrained torch model of ``arch`` (``variant``: one of ``variants``; None = the first)."""
        variant = variant or self.variants[0]
        if variant not in self.variants:
            raise ValueError(f"variant={variant!r} is not known for the {self.name} family; allowed: {list(self.variants)}")
        return self.build_fn(arch, variant, **kwargs)

    def encode(self, arch: Any, kind: str, context: Any) -> np.ndarray:
        """A fixed-length vector of ``arch`` (``context``: what the encoding is padded to, from the benchmark)."""
        if kind not in self.encodings:
            raise ValueError(f"kind={kind!r} is not known for the {self.name} family; allowed: {list(self.encodings)}")
        return self.encode_fn(arch, kind, context)


FAMILIES: Registry[ModelFamily] = Registry("model family")


def register_family(family: ModelFamily) -> ModelFamily:
    """Add ``family`` to the registry (a name registered twice is an error)."""
    return FAMILIES.add(family.name, family)


def get_family(name: str) -> ModelFamily:
    """The registered family ``name``; an unknown name raises ValueError, listing the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"model family {name!r} is not known; allowed: {family_names()}")
    return FAMILIES.get(name)


def family_of_model(model: Any) -> str:
    """The name of the family that built ``model`` (its ``owns_model``); ValueError naming the families otherwise."""
    for name in family_names():
        if get_family(name).owns_model(model):
            return name
    raise ValueError(f"model of type {type(model).__name__} belongs to no model family; known: {family_names()}")


def family_names() -> list[str]:
    return [str(k) for k in FAMILIES]


# -- BERT (NAS-Bench-BERT / FlexiBERT space) ---------------------------------------------------------------------------
def _bert_arch(row: dict[str, Any]) -> Any:
    from bertbench.space import Architecture

    return Architecture.from_json(row["arch_json"])


def _bert_build(arch: Any, variant: str, **kwargs: Any) -> Any:
    from bertbench.models import build_model

    return build_model(arch, variant=variant, **kwargs)


# -- RNN (NAS-Bench-NLP cells) -----------------------------------------------------------------------------------------
def _rnn_arch(row: dict[str, Any]) -> Any:
    from bertbench.space.rnn import RnnArchitecture

    return RnnArchitecture(row["recipe_json"])


def _is_bert_model(model: Any) -> bool:
    from bertbench.models.modeling import BertBenchPreTrainedModel

    return isinstance(model, BertBenchPreTrainedModel)


def _is_rnn_model(model: Any) -> bool:
    from bertbench.models.rnn import RnnLM

    return isinstance(model, RnnLM)


def _rnn_build(arch: Any, variant: str, **kwargs: Any) -> Any:
    from bertbench.models.rnn import build_rnn_lm

    if "vocab_size" in kwargs:
        kwargs["ntoken"] = kwargs.pop("vocab_size")
    return build_rnn_lm(arch, **kwargs)


# -- encodings ------------------------------------------------------------------------------------------------------
def encode_bert(arch: Any, kind: str, space: Any) -> np.ndarray:
    ops = [(t, str(p)) for t, params in space.op_params for p in params]
    depth = max(space.num_layers)
    if len(arch.layers) > depth:
        raise ValueError(f"architecture has {len(arch.layers)} layers; the space allows at most {depth}")
    if kind == "features":
        out = [arch.hidden_size, len(arch.layers)]
        for i in range(depth):
            ly = arch.layers[i] if i < len(arch.layers) else None
            out += ([1 + ops.index((ly.op_type, str(ly.op_param))), ly.heads, ly.ffn_dim, ly.num_ffn] if ly else [0, 0, 0, 0])
        return np.asarray(out, float)
    if kind != "onehot":
        raise ValueError(f"kind={kind!r} is not known for BERT; allowed: 'onehot', 'features'")

    def one(value: Any, choices: list) -> list[float]:
        return [float(value == c) for c in choices]

    out = one(arch.hidden_size, list(space.hidden_sizes))
    for i in range(depth):
        ly = arch.layers[i] if i < len(arch.layers) else None
        if ly is None:
            out += [0.0] * (1 + len(ops) + len(space.heads) + len(space.ffn_dims) + len(space.num_ffns))
            continue
        out += [1.0] + one((ly.op_type, str(ly.op_param)), ops) + one(ly.heads, list(space.heads)) \
            + one(ly.ffn_dim, list(space.ffn_dims)) + one(ly.num_ffn, list(space.num_ffns))
    return np.asarray(out, float)


def encode_rnn(arch: Any, kind: str, max_nodes: int) -> np.ndarray:
    from bertbench.space.rnn import RNN_OPS

    recipe = arch.recipe
    order = arch.topological_order()
    ops = list(RNN_OPS)
    if kind == "features":
        counts = [sum(recipe[n]["op"] == op for n in order) for op in ops]
        return np.asarray([len(order), *counts], float)
    if kind != "adjacency":
        raise ValueError(f"kind={kind!r} is not known for NAS-Bench-NLP; allowed: 'adjacency', 'features'")
    index = {n: i for i, n in enumerate(order)}
    adj = np.zeros((max_nodes, max_nodes))
    onehot = np.zeros((max_nodes, len(ops)))
    for n in order:
        for inp in recipe[n]["input"]:
            if inp in index:
                adj[index[inp], index[n]] = 1.0
        onehot[index[n], ops.index(recipe[n]["op"])] = 1.0
    return np.concatenate([adj.ravel(), onehot.ravel()])


BERT = register_family(ModelFamily(
    name="bert",
    description="BERT encoders of the NAS-Bench-BERT space (hidden size, depth, per-layer token mixer, heads, FFN)",
    variants=("as_named", "as_trained_2023"),
    target=None,
    cost_unit="seconds",
    metric_columns=(),
    encodings=("onehot", "features"),
    batch_first=True,
    proxy_loss=None,
    arch_from_row=_bert_arch, build_fn=_bert_build, encode_fn=encode_bert, encode_context=lambda bench: bench.search_space(),
    owns_model=_is_bert_model,
))

RNN = register_family(ModelFamily(
    name="rnn",
    description="NAS-Bench-NLP recurrent cells in a word-level language model",
    variants=("rnn",),
    target=("test_loss", "lower"),
    cost_unit="gpu seconds",
    metric_columns=("test_loss", "val_loss", "train_loss", "test_perplexity"),
    encodings=("adjacency", "features"),
    batch_first=False,
    proxy_loss="output-sum",
    arch_from_row=_rnn_arch, build_fn=_rnn_build, encode_fn=encode_rnn, encode_context=lambda bench: bench.max_nodes(),
    owns_model=_is_rnn_model,
))
