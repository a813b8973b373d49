"""Gradient-saliency proxies. The loss is ``common.objective``: BERT masked-LM cross-entropy through a fresh fixed
MLM head (default), or the paper's sum of outputs (RNN; BERT with ``loss="paper-2023"``, degenerate there)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from bertbench.proxies.common import (
    SharedPasses,
    forward,
    is_rnn,
    loss_of,
    objective,
    output_tensor,
    weight_matrices,
    zero_grads,
)
from bertbench.proxies.inputs import ProxyBatch
from bertbench.proxies.registry import UnstableScore, proxy


def _backward(model, batch: ProxyBatch, passes: SharedPasses | None
              ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor] | None]:
    """({parameter name: dL/dtheta}, BERT: each layer output's sum over positions of a * dL/da [B, H]) of one
    backward pass of the objective. grad_norm, snip, synaptic_diversity and fisher read the same pass: within one
    ``score`` call (``passes``) it is computed once per model, with the values of separate passes, bit for bit."""
    if passes is None:
        return _backward_pass(model, batch)
    return passes.get(model, batch, "backward", lambda: _backward_pass(model, batch))


def _backward_pass(model, batch: ProxyBatch) -> tuple[dict[str, torch.Tensor], list[torch.Tensor] | None]:
    zero_grads(model)
    per = None
    if is_rnn(model):
        loss_of(model, batch).backward()
    else:
        loss, out = objective(model, batch, output_hidden_states=True)
        hs = out.hidden_states[1:]
        for h in hs:
            h.retain_grad()
        loss.backward()
        per = [(h * h.grad).sum(1).detach() for h in hs]  # [B, H]
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    zero_grads(model)
    return grads, per


def _params(model):
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


@proxy("grad_norm", "higher", shares_passes=True)
def grad_norm(model, batch: ProxyBatch, *, seed: int = 0, passes: SharedPasses | None = None) -> float:
    """||dL/dtheta||_2 over every parameter."""
    grads = _backward(model, batch, passes)[0]
    total = sum(float(grads[n].double().pow(2).sum()) for n, _ in _params(model) if n in grads)
    return math.sqrt(total)


@proxy("snip", "higher", shares_passes=True)
def snip(model, batch: ProxyBatch, *, seed: int = 0, passes: SharedPasses | None = None) -> float:
    """SNIP (Lee et al. 2019): sum |theta * dL/dtheta| over every weight matrix."""
    grads = _backward(model, batch, passes)[0]
    return sum(float((grads[n] * p.detach()).abs().sum()) for n, p in weight_matrices(model) if n in grads)


@proxy("synaptic_diversity", "higher", shares_passes=True)
def synaptic_diversity(model, batch: ProxyBatch, *, seed: int = 0, passes: SharedPasses | None = None) -> float:
    """TF-TAS (Zhou et al. 2022): sum over the token mixers' weight matrices of ||W||_nuc * ||dL/dW||_nuc (BERT:
    every Linear inside each layer's mixer and its output projection; RNN: every cell weight matrix)."""
    grads = _backward(model, batch, passes)[0]
    if is_rnn(model):
        mats = weight_matrices(model)
    else:
        mats = [(n, p) for n, p in model.named_parameters() if p.ndim == 2 and (".mixer." in n or "mixer_output" in n)]
    total = 0.0
    for n, p in mats:
        if n in grads:
            total += float(torch.linalg.matrix_norm(p.detach().double(), "nuc") *
                           torch.linalg.matrix_norm(grads[n].double(), "nuc"))
    return total


@proxy("synflow", "higher", self_checked=True)
def synflow(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """ln SynFlow (Tanaka et al. 2020), language-model aware: a float64 copy with |theta| and every normalisation
    layer removed (as zero-cost-nas removes BatchNorm, ``bn=False``: a LayerNorm at gamma 1 / beta 0 makes the output
    sum exactly 0), input embeddings of ones (no token ids, as LPZero), R = sum of outputs; SynFlow = sum
    |theta * dR/dtheta| over weight matrices, reported as its natural log (same ranking).

    Without normalisation the |theta| networks' outputs grow multiplicatively with depth (R from 1e4 to 1e238 on
    NAS-Bench-NLP cells, SynFlow to 1e295 on the 2023 BERT architectures), so it is computed in log space:
    ln S = ln|R| + ln sum |theta * d(R/|R|)/dtheta|, the backward pass scaled by 1/|R|. A network whose gradients are
    all exactly 0 (saturated tanh/sigmoid paths, RNN) or still overflow float64 has no value: NaN with that reason,
    never 0. The float64 gate of ``score`` cannot check a proxy that is float64 inside, so it checks itself: the same
    backward pass scaled by 1/sqrt|R| must give the same ln S within ``SCALING_TOL``, else status "unstable"."""
    m = copy.deepcopy(model).double()
    _drop_layernorms(m)
    with torch.no_grad():
        for p in m.parameters():
            p.abs_()
    if is_rnn(m):
        r = m(None, inputs_embeds=torch.ones(batch.seq_len, 1, m.hyper.emsize, dtype=torch.float64,
                                                 device=batch.tokens.device)).sum()
    else:
        e = torch.ones(1, batch.seq_len, m.config.embedding_size, dtype=torch.float64, device=batch.tokens.device)
        sub = type(batch)(batch.tokens[:1], None, batch.source, batch.seed, batch.family, batch.vocab_size)
        r = output_tensor(forward(m, sub, inputs_embeds=e)).sum()
    scale = abs(float(r.detach()))
    if not math.isfinite(scale) or scale == 0.0:
        raise ValueError(f"undefined for this network: R = sum of outputs is {scale} in float64")
    mats = [p for _, p in weight_matrices(m)]
    values = []
    for s in (scale, math.sqrt(scale)):  # two scalings of one backward pass: equal unless rounding decides
        grads = torch.autograd.grad(r / s, mats, retain_graph=True, allow_unused=True)
        total = sum(float((g * p.detach()).abs().sum()) for g, p in zip(grads, mats) if g is not None)
        if total == 0.0:
            raise ValueError(SATURATED)
        if not math.isfinite(total):
            raise ValueError(f"undefined for this network: its gradients are not finite in float64 (overflow in the "
                             f"backward pass) even scaled by 1/{s:.3g}")
        values.append(math.log(total) + math.log(s))
    del m
    if abs(values[0] - values[1]) > SCALING_TOL:
        raise UnstableScore(f"ln SynFlow {values[0]:.8g} with the backward pass scaled by 1/|R| vs {values[1]:.8g} "
                            f"by 1/sqrt|R| (|R| = {scale:.3g}): rounding decides the value")
    return values[0]


SCALING_TOL = 1e-5  # on ln S: a relative difference of 1e-5 in S, the stability gate's tolerance
SATURATED = "undefined for this network: its |theta| network saturates, every synflow gradient is exactly 0 in float64"


def _drop_layernorms(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        if isinstance(child, nn.LayerNorm):
            setattr(module, name, nn.Identity())
        else:
            _drop_layernorms(child)


@proxy("grasp", "higher")
def grasp(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """GraSP (Wang et al. 2020): -sum theta * (H g) over weight matrices, with g = dL/dtheta and the
    Hessian-gradient product from a second backward pass. g is read off the first (graph-building) backward pass:
    the same values, bit for bit, as a pass of its own, one forward and backward fewer."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):  # the fused kernels have no second derivative
        return _grasp(model, batch)


def _grasp(model, batch: ProxyBatch) -> float:
    mats = [p for _, p in weight_matrices(model)]
    zero_grads(model)
    grads = torch.autograd.grad(loss_of(model, batch), mats, create_graph=True, allow_unused=True)
    g = [x.detach() if x is not None else torch.zeros_like(p) for x, p in zip(grads, mats)]
    z = sum((gr * gd).sum() for gr, gd in zip(grads, g) if gr is not None)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    hg = torch.autograd.grad(z, mats, allow_unused=True)
    total = -sum(float((p.detach() * h).sum()) for p, h in zip(mats, hg) if h is not None)
    zero_grads(model)
    return total


@proxy("fisher", "higher", shares_passes=True)
def fisher(model, batch: ProxyBatch, *, seed: int = 0, passes: SharedPasses | None = None) -> float:
    """Fisher (Turner et al. 2020) on layer outputs: sum over layers and units of 0.5 * mean over sequences of
    (sum over positions of a * dL/da)^2."""
    zero_grads(model)
    if is_rnn(model):
        acts = []
        x = model.encoder(batch.tokens)
        for rnn in model.rnns:
            x, _ = rnn(x)
            x.retain_grad()
            acts.append(x)
        x.sum().backward()
        per = [(a * a.grad).sum(0) for a in acts]  # [B, H]
    else:
        per = _backward(model, batch, passes)[1]
    total = sum(float(0.5 * v.detach().double().pow(2).mean(0).sum()) for v in per)
    zero_grads(model)
    return total
