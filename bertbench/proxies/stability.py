"""How far above numerical noise each proxy is: its float32 value against a float64 re-score on reference models.

The same comparison is the gate inside :func:`bertbench.proxies.score`; this module reports the raw relative gap
for ``bertbench proxies list`` (a BERT model mixing every op type, and a small NAS-Bench-NLP-style RNN).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any


def reference_inputs(family: str) -> tuple[Any, Any]:
    """(model, batch) of the reference check: BERT H64 with SA-WMA, DSC-5, LT-DCT and SA-SDP layers on 4 synthetic
    blocks of 32 tokens; RNN: a gated recurrent cell (sigmoid, tanh, blend) on 12 x 5 random word ids."""
    if family not in REFERENCES:
        raise ValueError(f"family={family!r} has no reference inputs; allowed: {sorted(REFERENCES)}")
    return REFERENCES[family]()


def _bert_reference() -> tuple[Any, Any]:
    from bertbench.models import build_model
    from bertbench.proxies.inputs import bert_batch
    from bertbench.space import Architecture, LayerSpec

    arch = Architecture(64, (LayerSpec("SA", "WMA", 2, 64, 1), LayerSpec("DSC", 5, 2, 64, 3),
                             LayerSpec("LT", "DCT", 2, 64, 1), LayerSpec("SA", "SDP", 4, 64, 1)))
    return build_model(arch, seed=0, vocab_size=759).eval(), bert_batch(batch_size=4, seq_len=32)


def _rnn_reference() -> tuple[Any, Any]:
    import torch

    from bertbench.models.rnn import build_rnn_lm
    from bertbench.proxies.inputs import ProxyBatch

    recipe = {"i": {"op": "linear", "input": ["x", "h_prev_0"]}, "i_act": {"op": "activation_sigm", "input": ["i"]},
              "j": {"op": "linear", "input": ["x", "h_prev_0"]}, "j_act": {"op": "activation_tanh", "input": ["j"]},
              "h_new_0": {"op": "blend", "input": ["i_act", "j_act", "h_prev_0"]}}
    model = build_rnn_lm(recipe, seed=0, ntoken=100, emsize=16, nhid=24)
    tokens = torch.randint(0, 100, (12, 5), generator=torch.Generator().manual_seed(0))
    return model, ProxyBatch(tokens, None, "random", 0, "rnn", 100)


REFERENCES = {"bert": _bert_reference, "rnn": _rnn_reference}  # per model family (bertbench.families)


def cached_precision_gaps(family: str, names: list[str]) -> dict[str, float]:
    """``precision_gaps``, kept in the cache under a key of everything they depend on (the code of the proxies and
    models, torch's version, the family and the names): ``bertbench proxies list`` answers at once when warm."""
    import hashlib
    import json

    import torch

    from bertbench.env import cache_root
    from bertbench.file_io import atomic_file

    h = hashlib.sha256(json.dumps([family, sorted(names), torch.__version__]).encode())
    package = Path(__file__).resolve().parent.parent
    for f in sorted([*package.glob("proxies/*.py"), *package.glob("models/*.py"), *package.glob("families.py")]):
        h.update(f.read_bytes())
    path = cache_root("proxy-gaps") / f"{h.hexdigest()[:24]}.json"
    if path.exists():
        return {k: (math.nan if v is None else v) for k, v in json.loads(path.read_text()).items()}
    gaps = precision_gaps(family, names)
    try:
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps({k: (None if math.isnan(v) else v) for k, v in gaps.items()}))
    except OSError:  # a cache that cannot be written only costs time
        pass
    return gaps


def precision_gaps(family: str, names: list[str]) -> dict[str, float]:
    """{proxy: |float32 - float64| / max(|float32|, |float64|)} on the reference inputs (NaN if it fails there)."""
    import torch

    from bertbench.proxies.gate import relative_gap
    from bertbench.proxies.registry import get_proxy

    model, batch = reference_inputs(family)
    twin = copy.deepcopy(model).double().eval()
    gaps = {}
    for name in names:
        fn = get_proxy(name).fn
        try:
            torch.manual_seed(0)
            a = float(fn(model, batch, seed=0))
            torch.manual_seed(0)
            b = float(fn(twin, batch, seed=0))
            gaps[name] = relative_gap(a, b)
        except Exception:  # noqa: BLE001 - reported as NaN
            gaps[name] = math.nan
    return gaps
