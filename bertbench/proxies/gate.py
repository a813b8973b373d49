"""The stability gate: a proxy value is a result only if it is above numerical noise.

Two ways to check it, chosen per proxy and family by ``@proxy(..., self_checked=...)``:
- the float64 gate (default): the value is scored again on a float64 copy of the network with the same batch and RNG
  state, and the two must agree within ``STABILITY_TOL`` (relative);
- the proxy's own check (``self_checked``): the proxy computes what loses precision in float64 itself and raises
  ``UnstableScore`` when its value is not determined to ``STABILITY_TOL`` (synflow: a second scaling; the RNN hidden
  covariance: a re-score from states perturbed at float32 rounding), which avoids scoring the network twice.
"""

from __future__ import annotations

import math
from typing import Any

#: Largest relative difference between a proxy's float32 value and its float64 re-score that still counts as a result:
#: meaningful proxies move by <= 4e-6 (the RNN layer-3 hidden covariance; most by ~1e-8), rounding noise by 0.2 to 1.
STABILITY_TOL = 1e-5


def relative_gap(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|) (NaN when either is not finite)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def float64_check(fn: Any, twin: Any, batch: Any, seed: int, value: float, tol: float = STABILITY_TOL,
                  **options: Any) -> str | None:
    """Score ``fn`` on ``twin`` (the float64 copy) with the RNG reset to ``seed`` (``options``: the proxy's, e.g.
    ``passes``); None when it agrees with ``value`` within ``tol``, else the reason (both numbers and their gap)."""
    import torch

    torch.manual_seed(seed)
    ref = float(fn(twin, batch, seed=seed, **options))
    rel = relative_gap(value, ref)
    if rel <= tol:
        return None
    return f"float32 {value:.6g} vs float64 {ref:.6g}: relative difference {rel:.2g} > {tol:g}"
