"""Activation-pattern proxies."""

from __future__ import annotations

import math

import torch
from torch import nn

from bertbench.proxies.common import forward, hooks, is_rnn
from bertbench.proxies.inputs import ProxyBatch
from bertbench.proxies.registry import proxy


@proxy("naswot", "higher")
def naswot(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """NASWOT (Mellor et al. 2021): log|det K|, K = sum over activation outputs of c c^T + (1 - c)(1 - c)^T with
    c = 1[activation > 0] flattened per sequence (B x B). BERT: every GELU of the FFN stacks (pad tokens zeroed);
    RNN: every activation node at every step and layer (codes per sequence)."""
    b = batch.batch_size
    k = torch.zeros(b, b, dtype=torch.float64, device=batch.tokens.device)

    def add(codes: torch.Tensor) -> None:
        c = codes.reshape(b, -1).double()
        k.add_(c @ c.T + (1 - c) @ (1 - c).T)

    with torch.inference_mode():
        if is_rnn(model):
            record: dict = {}
            model(batch.tokens, record=record)
            for a in record["codes"]:
                add((a > 0).float())
        else:
            mask = batch.attention_mask
            gelus = [m for m in model.modules() if isinstance(m, nn.GELU)]

            def hook(_m, _i, out):
                c = (out > 0).float()
                if mask is not None:
                    c = c * mask[..., None]
                add(c)

            with hooks(gelus, hook):
                forward(model, batch)
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if sign > 0 else math.nan
