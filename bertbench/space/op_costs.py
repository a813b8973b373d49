"""The token mixers of the search space and their arithmetic, in one place (no torch needed).

Each op is registered once here under its key (op_type, op_param) with its closed-form parameter count, its forward
multiply-accumulates for ``n`` tokens and its output width; ``models/ops.py`` registers the torch module under the
same key. A new op touches these two files (and a space YAML that offers it); ``tests/test_models.py`` checks every
formula against the built module and that both registries name the same ops.

Symbols: ``h`` hidden size, ``heads`` heads, ``n`` tokens, ``d = h / heads``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bertbench.registry import Registry


@dataclass(frozen=True)
class OpCost:
    """``params(h, heads)``: parameters of the mixer (without the layer's output dense); ``macs(h, heads, n)``:
    forward multiply-accumulates of the mixer for one sequence (softmax and norms not counted; transforms as the
    dense products they equal); ``out_factor``: mixer output width / h (the output dense maps it back to h)."""

    params: Callable[[int, int], int]
    macs: Callable[[int, int, int], int]
    out_factor: int = 1
    doc: str = ""


OP_COSTS: Registry[OpCost] = Registry("op")


def _sa(weighted: bool) -> OpCost:
    return OpCost(
        params=lambda h, heads: 3 * (h * h + h) + (h * h if weighted else 0),
        macs=lambda h, heads, n: 3 * h * h * n + 2 * n * n * h + (h * h * n if weighted else 0),
        doc="self-attention: q, k, v projections (+ the WMA per-head weighting matrix), softmax(QK^T)V",
    )


def _lt() -> OpCost:
    return OpCost(params=lambda h, heads: 0, macs=lambda h, heads, n: n * n * h + n * (h // heads) * h,
                  doc="parameter-free 2-D transform over tokens and per-head features")


def _dsc(k: int) -> OpCost:
    return OpCost(
        # attention heads (q, k, v) + conv heads: pointwise key conv and values (2 x H x H + bias), depthwise kernel
        # (h x k), dynamic kernel generator (h -> heads x k, with bias)
        params=lambda h, heads: 5 * (h * h + h) + h * k + h * heads * k + heads * k,
        macs=lambda h, heads, n: (3 * h * h * n + 2 * n * n * h
                                  + 2 * h * h * n + h * k * n + h * heads * k * n + h * k * n),
        out_factor=2,
        doc=f"ConvBERT mixed attention: attention heads + span-conv heads (k={k}), concatenated to 2H",
    )


OP_COSTS.add(("SA", "SDP"), _sa(weighted=False))
OP_COSTS.add(("SA", "WMA"), _sa(weighted=True))
OP_COSTS.add(("LT", "DFT"), _lt())
OP_COSTS.add(("LT", "DCT"), _lt())
OP_COSTS.add(("DSC", 5), _dsc(5))
OP_COSTS.add(("DSC", 9), _dsc(9))


def op_params() -> dict[str, tuple[str | int, ...]]:
    """op type -> allowed op parameters, in registration order."""
    out: dict[str, tuple[str | int, ...]] = {}
    for op_type, op_param in OP_COSTS.keys():
        out[op_type] = (*out.get(op_type, ()), op_param)
    return out
