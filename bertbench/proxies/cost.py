"""Size baselines: parameter count and FLOPs (always reported next to the proxies)."""

from __future__ import annotations

from bertbench.proxies.common import is_rnn
from bertbench.proxies.inputs import ProxyBatch
from bertbench.proxies.registry import proxy


@proxy("params", "higher")
def params(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """Number of parameters (each tied tensor once; BERT: embeddings included)."""
    return float(sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()))


@proxy("flops", "higher")
def flops(model, batch: ProxyBatch, *, seed: int = 0) -> float:
    """Forward FLOPs for one sequence of the batch's length (analytic; BERT: bertbench.space.cost.count_flops; RNN: the
    cell's matrix products per step x steps x layers)."""
    if is_rnn(model):
        total = 0
        for rnn in model.rnns:
            for comp in rnn.components.values():
                total += sum(w.numel() for w in comp.weights)
        return float(2 * total * batch.seq_len)
    from bertbench.space.cost import count_flops

    return float(count_flops(model.config.architecture, batch.seq_len, model.config.variant,
                             model.config.embedding_size))
