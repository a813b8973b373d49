"""Training-free proxies: one registry (``@proxy``), one module per family, and their evaluation (``evaluate``)."""

from __future__ import annotations

import time
from typing import Any

from bertbench.options import Stability, parse
from bertbench.proxies.gate import STABILITY_TOL, float64_check
from bertbench.proxies.inputs import ProxyBatch, ProxySeeds, bert_batch, rnn_batch
from bertbench.proxies.registry import PROXIES, UnstableScore, family_of, get_proxy, list_proxies, proxy


def score(model: Any, batch: ProxyBatch, names: list[str], seed: int = 0, stability: str = "float64",
          tol: float = STABILITY_TOL) -> dict[str, dict[str, Any]]:
    """Every named proxy on ``model`` (reset to the same RNG state before each): {name: {value, seconds, status,
    error}}. A proxy that raises gives status "failed" and NaN, and the others still run. Proxies that read the same
    backward pass (grad_norm, snip, synaptic_diversity, fisher) share it within the call: the values are those of
    separate passes, bit for bit, and the pass's time is in the ``seconds`` of the first of them that runs.

    Stability gate (``stability="float64"``, the default): each value is scored again on a float64 copy of the
    model with the same batch and RNG state. A value is a result only if the two agree within ``tol`` (relative):
    a proxy whose value is rounding noise (e.g. gradients of a loss that is identically zero) changes completely
    with the precision, while a meaningful one moves by ~1e-6. Otherwise the value is NaN with status "unstable"
    and both numbers in ``error``. ``stability="off"`` skips the second score (twice as fast, unchecked)."""
    import copy
    import math

    import torch

    from bertbench.proxies.common import SharedPasses

    stability = parse(Stability, stability, "stability").value
    fam = family_of(model)
    out: dict[str, dict[str, Any]] = {}
    model.eval()
    twin = None
    passes = SharedPasses()  # proxies reading one backward pass of a model compute it once, with the same values
    for name in names:
        spec = get_proxy(name)
        if fam not in spec.families:
            out[name] = {"value": math.nan, "seconds": 0.0, "status": "failed",
                         "error": f"proxy {name} does not apply to {fam} models"}
            continue
        if not spec.shares_passes:
            passes.clear()  # this proxy may change the model: what was shared before it is not reused after it
        extra = {"passes": passes} if spec.shares_passes else {}
        torch.manual_seed(seed)
        t = time.perf_counter()
        try:
            value = float(spec.fn(model, batch, seed=seed, **extra))
            status, error = ("ok", None) if math.isfinite(value) else ("failed", f"non-finite score {value}")
            if status == "ok" and stability == "float64" and fam not in spec.self_checked:
                twin = twin if twin is not None else copy.deepcopy(model).double().eval()
                error = float64_check(spec.fn, twin, batch, seed, value, tol, **extra)
                status = "ok" if error is None else "unstable"
            if status != "ok":
                value = math.nan
        except UnstableScore as err:
            value, status, error = math.nan, "unstable", str(err)
        except Exception as err:  # noqa: BLE001 - one failing proxy must not stop the others
            value, status, error = math.nan, "failed", f"{type(err).__name__}: {err}"
        out[name] = {"value": value, "seconds": time.perf_counter() - t, "status": status, "error": error}
    return out


__all__ = ["PROXIES", "STABILITY_TOL", "ProxyBatch", "ProxySeeds", "bert_batch", "family_of", "get_proxy", "list_proxies", "proxy", "rnn_batch",
           "score", "UnstableScore"]

# every proxy module registers its proxies on import (after the registry and score above exist)
from bertbench.proxies import activation, cost, covariance, heads, saliency  # noqa: E402, F401
