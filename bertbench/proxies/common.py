"""Helpers shared by the proxy modules: the covariance and cosine scores, forward passes, hooks."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from bertbench.proxies.inputs import ProxyBatch

EPS = 1e-5


def s_cov(m: torch.Tensor, drop_smallest: int = 0) -> float:
    """S_cov(M) = -sum_i [ln(lambda_i + k) + 1 / (lambda_i + k)], k = 1e-5, over the eigenvalues of the correlation
    matrix of the rows of M (float64, symmetric solver), leaving out the ``drop_smallest`` smallest (a known null
    space). NaN when a row is constant."""
    m = m.detach().double()
    c = torch.corrcoef(m)
    if not torch.isfinite(c).all():
        return math.nan
    lam = torch.linalg.eigvalsh(c)[drop_smallest:]  # ascending
    return float(-(torch.log(lam + EPS) + 1.0 / (lam + EPS)).sum())


def s_cos(m: torch.Tensor) -> float:
    """1 - mean over pairs i != j of |cos(row_i, row_j)|^(1/20): 1 = orthogonal rows, 0 = parallel rows.
    (The 2023 code also halved the sum, giving [0.5, 1]; we do not.)"""
    m = m.detach().double()
    m = m / m.norm(dim=1, keepdim=True).clamp_min(1e-30)
    c = (m @ m.T).abs()
    n = c.shape[0]
    off = c.masked_select(~torch.eye(n, dtype=torch.bool, device=c.device))
    return float(1.0 - off.pow(1 / 20).sum() / (n * n - n))


def is_rnn(model: Any) -> bool:
    """Whether the recurrent family built ``model`` (``families.family_of_model``)."""
    from bertbench.families import family_of_model

    return family_of_model(model) == "rnn"


MLM_PROB = 0.15


def mlm_inputs(batch: ProxyBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(input ids with [MASK] at the selected positions, labels: the original ids there, -100 elsewhere). 15 % of
    the real tokens (at least one per sequence) chosen with a generator seeded by ``batch.seed``: the same for
    every architecture scored on this batch."""
    if batch.mask_token_id is None:
        raise ValueError("loss='mlm' needs the batch's mask_token_id (bert_batch sets it from the tokenizer)")
    ids = batch.tokens
    real = torch.ones_like(ids, dtype=torch.bool) if batch.attention_mask is None else batch.attention_mask.bool()
    g = torch.Generator().manual_seed(int(batch.seed) + 7_919)
    noise = torch.rand(ids.shape, generator=g).to(ids.device).masked_fill(~real, 2.0)  # drawn on the CPU: any device
    k = (real.sum(1, keepdim=True).float() * MLM_PROB).round().clamp_min(1).long()  # [B, 1]
    rank = noise.argsort(1).argsort(1)
    chosen = (rank < k) & real
    return ids.masked_fill(chosen, batch.mask_token_id), torch.where(chosen, ids, torch.full_like(ids, -100))


def _mlm_head(model: Any) -> nn.Module:
    """A fresh ELECTRA generator head (dense H -> E, GELU, LayerNorm, decoder tied to the word embeddings), with the
    standard initialisation N(0, 0.02) drawn from a fixed generator: the same head for every call."""
    from bertbench.models.modeling import GeneratorHead

    head = GeneratorHead(model.config)
    g = torch.Generator().manual_seed(104_729)
    with torch.no_grad():
        head.dense.weight.normal_(0.0, model.config.initializer_range, generator=g)
        head.dense.bias.zero_()
    first = next(model.parameters())
    return head.to(device=first.device, dtype=first.dtype)


def objective(model: Any, batch: ProxyBatch, inputs_embeds: torch.Tensor | None = None,
              **kw: Any) -> tuple[torch.Tensor, Any]:
    """(the scalar the gradient proxies differentiate, the forward's output).

    BERT, ``batch.loss == "mlm"``: masked-LM cross-entropy (mean over the masked tokens) of a fresh fixed MLM head
    on the encoder's last hidden state, the input masked by :func:`mlm_inputs`; the decoder's tie to the word
    embeddings is detached, so gradients flow only through the encoder's own computation.
    BERT, ``"paper-2023"``: the sum of the last hidden state (zero at initialisation: reproduction only).
    RNN: the sum of the last layer's outputs (the paper's)."""
    if is_rnn(model) or batch.loss == "paper-2023":
        out = forward(model, batch, inputs_embeds=inputs_embeds, **kw)
        return output_tensor(out).sum(), out
    ids, labels = mlm_inputs(batch)
    if inputs_embeds is None:
        out = model(ids, attention_mask=batch.attention_mask, **kw)
    else:
        out = model(inputs_embeds=inputs_embeds, attention_mask=batch.attention_mask, **kw)
    sel = labels != -100
    head = _mlm_head(model)
    logits = head(out.last_hidden_state[sel], model.embeddings.word_embeddings.weight.detach())
    return torch.nn.functional.cross_entropy(logits, labels[sel]), out


def embeddings(model: Any, batch: ProxyBatch) -> torch.Tensor:
    """The input embeddings the objective sees (BERT MLM: of the masked ids), detached, as a leaf with grad."""
    with torch.no_grad():
        if is_rnn(model):
            e = model.encoder(batch.tokens)
        else:
            ids = mlm_inputs(batch)[0] if batch.loss == "mlm" else batch.tokens
            e = model.embeddings.word_embeddings(ids)
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
    """The gradient proxies' loss (see :func:`objective`)."""
    return objective(model, batch)[0]


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


class SharedPasses:
    """The passes that several proxies of one ``score`` call read (the backward pass of grad_norm, snip,
    synaptic_diversity and fisher), each computed once per model object and batch object. ``score`` creates one per
    call, hands it to the proxies registered with ``shares_passes`` and clears it before any other proxy runs (one
    that may change the model); the values are those of separate passes, bit for bit."""

    def __init__(self) -> None:
        self._values: dict[tuple[int, int, str], tuple[Any, Any, Any]] = {}

    def get(self, model: nn.Module, batch: ProxyBatch, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, or its value from earlier for this model and batch (both held, so ids are not reused)."""
        key = (id(model), id(batch), name)
        hit = self._values.get(key)
        if hit is not None and hit[0] is model and hit[1] is batch:
            return hit[2]
        value = compute()
        self._values[key] = (model, batch, value)
        return value

    def clear(self) -> None:
        self._values.clear()
