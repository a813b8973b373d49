"""Attention-head proxies (BERT family)."""

from __future__ import annotations

import torch

from bertbench.proxies.common import forward, loss_of, zero_grads
from bertbench.proxies.inputs import ProxyBatch
from bertbench.proxies.registry import proxy

_MIXER_PROJ = ("query", "key", "value", "weight", "conv_kernel", "conv_value")
#: Why a head proxy has no value (score() records it as the row's error, with NaN and status "failed").
NO_HEADS = "undefined for this network: no attention heads (every layer is a linear transform, LT)"


@proxy("head_importance", "higher", families=("bert",))
def head_importance(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """The 2023 paper's head importance: mean over the mixers' projection matrices (SA: query, key, value, WMA
    weight; DSC: query, key, value, conv_kernel, conv_value) of sum |W * dL/dW|. Undefined (NaN, the reason in the error) for networks without such matrices (all LT)."""
    zero_grads(model)
    loss_of(model, batch).backward()
    vals = [float((p.detach() * p.grad).abs().sum()) for n, p in model.named_parameters()
            if ".mixer." in n and n.endswith(".weight") and n.split(".")[-2] in _MIXER_PROJ and p.grad is not None]
    zero_grads(model)
    if not vals:
        raise ValueError(NO_HEADS)
    return sum(vals) / len(vals)


def _maps(model, batch: ProxyBatch) -> list[torch.Tensor]:
    with torch.inference_mode():
        out = forward(model, batch, output_attentions=True)
    return [a for a in out.attentions if a is not None]


@proxy("head_confidence", "higher", families=("bert",))
def head_confidence(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """Head confidence (Voita et al. 2019): the mean over layers, heads, sequences and real query positions of the
    largest attention weight over keys (SA, and DSC's attention heads). Undefined without attention maps (all LT)."""
    maps = _maps(model, batch)
    if not maps:
        raise ValueError(NO_HEADS)
    mask = batch.attention_mask.bool() if batch.attention_mask is not None else None
    vals = []
    for a in maps:  # [B, N, L, K]
        m = a.max(-1).values  # [B, N, L]
        vals.append(float(m.permute(0, 2, 1)[mask].mean()) if mask is not None else float(m.mean()))
    return sum(vals) / len(vals)


@proxy("softmax_confidence", "higher", families=("bert",))
def softmax_confidence(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """The 2023 paper's head softmax confidence: for each attention map, the maximum over heads, then the mean;
    averaged over layers with maps. Undefined without attention maps (all LT)."""
    maps = _maps(model, batch)
    if not maps:
        raise ValueError(NO_HEADS)
    return sum(float(a.max(1).values.mean()) for a in maps) / len(maps)
