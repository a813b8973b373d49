"""Training-free proxies: one registry (``@proxy``), one module per family, and their evaluation (``evaluate``)."""

from __future__ import annotations

import time
from typing import Any

from bertbench.proxies.inputs import ProxyBatch, bert_batch, rnn_batch
from bertbench.proxies.registry import PROXIES, family_of, get_proxy, list_proxies, proxy


def score(model: Any, batch: ProxyBatch, names: list[str], seed: int = 0) -> dict[str, dict[str, Any]]:
    """Every named proxy on ``model`` (reset to the same RNG state before each): {name: {value, seconds, status,
    error}}. A proxy that raises gives status "failed" and NaN, and the others still run."""
    import math

    import torch

    fam = family_of(model)
    out: dict[str, dict[str, Any]] = {}
    model.eval()
    for name in names:
        spec = get_proxy(name)
        if fam not in spec.families:
            out[name] = {"value": math.nan, "seconds": 0.0, "status": "failed",
                         "error": f"proxy {name} does not apply to {fam} models"}
            continue
        torch.manual_seed(seed)
        t = time.perf_counter()
        try:
            value = float(spec.fn(model, batch, seed=seed))
            status, error = ("ok", None) if value == value else ("failed", "NaN score")
        except Exception as err:  # noqa: BLE001 - one failing proxy must not stop the others
            value, status, error = math.nan, "failed", f"{type(err).__name__}: {err}"
        out[name] = {"value": value, "seconds": time.perf_counter() - t, "status": status, "error": error}
    return out


__all__ = ["PROXIES", "ProxyBatch", "bert_batch", "family_of", "get_proxy", "list_proxies", "proxy", "rnn_batch",
           "score"]
