"""Helpers shared by the proxy modules: the covariance and cosine scores, forward passes, hooks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from bertbench.proxies.inputs import ProxyBatch

EPS = 1e-5


def s_cov(m: torch.Tensor) -> float:
    """S_cov(M) = -sum_i [ln(lambda_i + k) + 1 / (lambda_i + k)], k = 1e-5, over the eigenvalues of the correlation
    matrix of the rows of M (float64, symmetric solver). NaN when a row is constant."""
    m = m.detach().double()
    c = torch.corrcoef(m)
    if not torch.isfinite(c).all():
        return math.nan
    lam = torch.linalg.eigvalsh(c)
    return float(-(torch.log(lam + EPS) + 1.0 / (lam + EPS)).sum())


def s_cos(m: torch.Tensor) -> float:
    """1 - mean over pairs i != j of |cos(row_i, row_j)|^(1/20): 1 = orthogonal rows, 0 = parallel rows.
    (The 2023 code also halved the sum, giving [0.5, 1]; we do not.)"""
    m = m.detach().double()
    m = m / m.norm(dim=1, keepdim=True).clamp_min(1e-30)
    c = (m @ m.T).abs()
    n = c.shape[0]
    off = c.masked_select(~torch.eye(n, dtype=torch.bool))
    return float(1.0 - off.pow(1 / 20).sum() / (n * n - n))


def is_rnn(model: Any) -> bool:
    from bertbench.models.rnn import RnnLM

    return isinstance(model, RnnLM)


def embeddings(model: Any, batch: ProxyBatch) -> torch.Tensor:
    """The input embeddings (before LayerNorm / recurrent layers), detached, as a leaf that requires grad."""
    with torch.no_grad():
        if is_rnn(model):
            e = model.encoder(batch.tokens)
        else:
            e = model.embeddings.word_embeddings(batch.tokens)
    return e.clone().requires_grad_(True)


def forward(model: Any, batch: ProxyBatch, inputs_embeds: torch.Tensor | None = None, **kw: Any) -> Any:
    """BERT: the BaseModelOutput; RNN: the last layer's output [T, B, H]."""
    if is_rnn(model):
        return model(batch.tokens, inputs_embeds=inputs_embeds, **kw)
    if inputs_embeds is not None:
        return model(inputs_embeds=inputs_embeds, attention_mask=batch.attention_mask, **kw)
    return model(batch.tokens, attention_mask=batch.attention_mask, **kw)


def output_tensor(out: Any) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out.last_hidden_state


def loss_of(model: Any, batch: ProxyBatch) -> torch.Tensor:
    """The paper's proxy loss: the sum of every entry of the network output."""
    return output_tensor(forward(model, batch)).sum()


@contextmanager
def hooks(modules: list[nn.Module], fn: Any) -> Iterator[None]:
    """Forward hooks attached for the duration of the block only."""
    handles = [m.register_forward_hook(fn) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def zero_grads(model: nn.Module) -> None:
    for p in model.parameters():
        p.grad = None


def weight_matrices(model: Any) -> list[tuple[str, torch.Tensor]]:
    """Every 2-D weight of the network body (Linear / MultiLinear), excluding the embeddings (BERT: word, position,
    token type; RNN: the encoder, tied to the decoder)."""
    rnn = is_rnn(model)
    out = []
    for name, p in model.named_parameters():
        if p.ndim != 2:
            continue
        if rnn and name.startswith(("encoder.", "decoder.")):
            continue
        if not rnn and name.startswith("embeddings."):
            continue
        out.append((name, p))
    return out
