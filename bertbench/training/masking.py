"""Masking of pretraining inputs: which tokens are asked for and what replaces them (BERT and ELECTRA)."""

from __future__ import annotations

from typing import Any

import torch


def mask_tokens(blocks: torch.Tensor, gen: torch.Generator, tokenizer: Any, recipe: Any
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ``mask_prob`` of the non-special tokens (at most ``max_predictions`` per row) with ``gen``.
    ELECTRA: 85 % of them become [MASK], 15 % stay; MLM: 80 % [MASK], 10 % random token, 10 % stay.
    Returns (input_ids, labels) with labels = original ids at chosen positions, -100 elsewhere."""
    special = torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id])
    cand = ~torch.isin(blocks, special)
    n_cand = cand.sum(1)
    max_pred = recipe.max_predictions or int((recipe.mask_prob + 0.005) * blocks.shape[1])
    k = torch.clamp((n_cand.float() * recipe.mask_prob).round().long(), min=1, max=max_pred)
    scores = torch.rand(blocks.shape, generator=gen)
    scores[~cand] = -1.0
    order = scores.argsort(dim=1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(blocks.shape[1]).expand_as(order).contiguous())
    chosen = (rank < k[:, None]) & cand
    labels = torch.where(chosen, blocks, torch.full_like(blocks, -100))
    inputs = blocks.clone()
    u = torch.rand(blocks.shape, generator=gen)
    mask_frac = 0.85 if recipe.objective == "electra" else 0.8
    inputs[chosen & (u < mask_frac)] = tokenizer.mask_token_id
    if recipe.objective == "mlm":
        rand = chosen & (u >= 0.8) & (u < 0.9)
        inputs[rand] = torch.randint(len(tokenizer), blocks.shape, generator=gen)[rand]
    return inputs, labels
