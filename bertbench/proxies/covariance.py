"""Covariance- and Jacobian-based proxies."""

from __future__ import annotations

import functools
import math

import torch

from bertbench.proxies.common import embeddings, forward, is_rnn, objective, s_cos, s_cov, zero_grads
from bertbench.proxies.gate import STABILITY_TOL, relative_gap
from bertbench.proxies.inputs import ProxyBatch
from bertbench.proxies.registry import UnstableScore, proxy

#: The RNN hidden covariance checks its own precision (instead of a float64 re-run of the recurrent network): the
#: states are scored again with every entry moved by a random PERTURB_ULPS units of float32 rounding (relative
#: 2^-24 each, normal, a fixed generator), and the two values must agree within ``STABILITY_TOL``. What loses
#: precision is the eigen-spectrum of a near-singular correlation matrix (1 / (lambda + 1e-5) for lambda near 0),
#: which this measures directly; bench/perf/proxy_speed.py compares its verdicts with the float64 gate's.
PERTURB_ULPS = 4.0


def rnn_hidden_states(model, batch: ProxyBatch, layers: int) -> list[torch.Tensor]:
    """Per layer: M_l [H_l x (T * B)], rows = hidden units, columns = the incoming hidden states h_0 (zero),
    h_1, ..., h_{T-1} of every sequence, from one clean forward pass in eval mode (as the 2023 RNN code)."""
    record: dict = {}
    with torch.inference_mode():
        model(batch.tokens, record=record, layers=layers)
    out = []
    for i in range(layers):
        h = torch.stack(record["hidden"][i])  # [T, B, H]
        out.append(h.reshape(-1, h.shape[-1]).T)
    return out


def rnn_hidden_covariance(model, batch: ProxyBatch, layers: int) -> list[float]:
    """Per layer: S_cov(M_l) of ``rnn_hidden_states`` (the 2023 paper's hidden covariance)."""
    return [s_cov(m) for m in rnn_hidden_states(model, batch, layers)]


def checked_s_cov(m: torch.Tensor) -> float:
    """S_cov(m), raising ``UnstableScore`` when states moved by ``PERTURB_ULPS`` float32 rounding units change it by
    more than ``STABILITY_TOL`` (relative)."""
    value = s_cov(m)
    if not math.isfinite(value):
        return value
    other = s_cov(m.double() * _perturbation(tuple(m.shape), str(m.device)))
    gap = relative_gap(value, other)
    if not gap <= STABILITY_TOL:
        raise UnstableScore(f"states moved by {PERTURB_ULPS:g} float32 rounding units change S_cov from {value:.6g} "
                            f"to {other:.6g}: relative difference {gap:.2g} > {STABILITY_TOL:g}")
    return value


@functools.lru_cache(maxsize=4)
def _perturbation(shape: tuple[int, ...], device: str) -> torch.Tensor:
    """1 + PERTURB_ULPS * 2^-24 * N(0, 1) noise of ``shape`` (generator seeded 0): the same for every call, drawn
    once per shape (a pure function, memoised: drawing 2M normals costs as much as the score)."""
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (1 + PERTURB_ULPS * 2.0 ** -24 * noise).to(device)


def _rnn_layer(model, batch: ProxyBatch, layer: int) -> float:
    return checked_s_cov(rnn_hidden_states(model, batch, layer)[layer - 1])


def bert_hidden_covariance(model, batch: ProxyBatch) -> list[float]:
    """Per encoder layer: S_cov over hidden units (rows) of the layer's output at real tokens (columns) on the H - 1
    dimensional subspace the output lives in, divided by H - 1 so that widths compare. Every layer ends in a
    LayerNorm, whose output sums to 0 over units for every token: the correlation matrix always has one exact zero
    eigenvalue, which S_cov (ln(lambda + 1e-5) + 1 / (lambda + 1e-5)) would turn into a constant -1e5 plus rounding
    noise. That eigenvalue (the smallest) is left out."""
    with torch.inference_mode():
        out = forward(model, batch, output_hidden_states=True)
    mask = batch.attention_mask.bool() if batch.attention_mask is not None else None
    scores = []
    for h in out.hidden_states[1:]:
        x = h[mask] if mask is not None else h.reshape(-1, h.shape[-1])
        scores.append(s_cov(x.T, drop_smallest=1) / (h.shape[-1] - 1))
    return scores


@proxy("hidden_covariance", "higher", self_checked=("rnn",))
def hidden_covariance(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """RNN: the 2023 paper's layer-1 hidden covariance S_cov(M_1); higher (less correlated units) is better. BERT:
    the mean over encoder layers of S_cov(layer output, without the LayerNorm's null direction) / (H - 1)."""
    if is_rnn(model):
        return _rnn_layer(model, batch, 1)
    scores = bert_hidden_covariance(model, batch)
    return float(sum(scores) / len(scores))


@proxy("hidden_covariance_l2", "higher", families=("rnn",), self_checked=True)
def hidden_covariance_l2(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """RNN: the paper's layer-2 hidden covariance."""
    return _rnn_layer(model, batch, 2)


@proxy("hidden_covariance_l3", "higher", families=("rnn",), self_checked=True)
def hidden_covariance_l3(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """RNN: the paper's layer-3 hidden covariance (the last layer, 400 units when tied)."""
    return _rnn_layer(model, batch, 3)


def _jacobian_rows(model, batch: ProxyBatch) -> torch.Tensor:
    """J = dL / d(input embeddings), one row per sequence; L = ``common.objective`` (BERT: masked-LM loss; RNN: the
    paper's sum of outputs)."""
    zero_grads(model)
    e = embeddings(model, batch)
    objective(model, batch, inputs_embeds=e)[0].backward()
    g = e.grad.detach()
    zero_grads(model)
    if is_rnn(model):  # [T, B, E] -> [B, T * E]
        return g.transpose(0, 1).reshape(g.shape[1], -1)
    return g.reshape(g.shape[0], -1)


@proxy("jacobian_covariance", "higher")
def jacobian_covariance(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """NASWOT-v1 jacob_cov: S_cov of the input Jacobian with one row per sequence (B x B correlation)."""
    rows = _jacobian_rows(model, batch)
    return s_cov(rows) if rows.shape[0] > 1 else math.nan


@proxy("jacobian_cosine", "higher")
def jacobian_cosine(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """S_cos of the input Jacobian rows (one per sequence): 1 - mean |cos|^(1/20) over pairs."""
    rows = _jacobian_rows(model, batch)
    return s_cos(rows) if rows.shape[0] > 1 else math.nan


W_PCA_ETA = 0.99


def ffn_pca_dims(model, batch: ProxyBatch, eta: float = W_PCA_ETA) -> list[int]:
    """Per FFN dense layer (every ``FeedForwardStack.dense``: the FFN's hidden, before its activation): the fewest
    principal components of H = X W1 + b1 over the batch's real tokens (rows) whose eigenvalues reach ``eta`` of the
    total variance (W-PCA, Wang 2025). The covariance and its eigenvalues are computed in float64."""
    from bertbench.models.modeling import FeedForwardStack

    captured: list[torch.Tensor] = []
    hooks = [dense.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
             for m in model.modules() if isinstance(m, FeedForwardStack) for dense in m.dense]
    try:
        with torch.inference_mode():
            forward(model, batch)
    finally:
        for h in hooks:
            h.remove()
    mask = batch.attention_mask.bool() if batch.attention_mask is not None else None
    dims = []
    for h in captured:
        x = (h[mask] if mask is not None else h.reshape(-1, h.shape[-1])).double()
        x = x - x.mean(dim=0, keepdim=True)
        lam = torch.linalg.eigvalsh(x.T @ x / max(1, x.shape[0] - 1)).flip(0).clamp_min(0)
        share = torch.cumsum(lam, 0) / lam.sum()
        dims.append(int(torch.searchsorted(share, torch.tensor(eta, dtype=share.dtype, device=share.device)).item()) + 1)
    return dims


@proxy("w_pca", "higher", families=("bert",))
def w_pca(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """W-PCA (Wang 2025, "W-PCA Based Gradient-Free Proxy for Efficient Search of Lightweight Language Models"):
    #params x the sum over FFN layers of the number of principal components of the FFN hidden (X W1 + b1, before the
    activation) that reach 99 % of its variance; forward only, no gradient. For every op type (the FFN follows the
    token mixer in every layer)."""
    from bertbench.proxies.cost import params as count

    dims = ffn_pca_dims(model, batch)
    return float(count(model, batch) * sum(dims)) if dims else math.nan
