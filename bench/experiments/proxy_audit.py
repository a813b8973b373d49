"""Is each proxy a measurement or noise? For every registered proxy, on BERT models of the 2023 grid (both builders;
paper ids whose last layer is SA and LT) and on NAS-Bench-NLP-style RNNs: the relative change float32 -> float64, 1 ->
2 threads, and batch seed 0 -> 1, and the spread across architectures. Verdict: "noise" when float32 and float64
disagree beyond the stability gate's tolerance, "constant" when architectures do not move it (relative spread <
1e-6), "meaningful" otherwise.

    python bench/experiments/proxy_audit.py [--ids 0,6,14,2,45] [--batch 8] [--seq 64] [--loss mlm|paper-2023]
"""

from __future__ import annotations

import argparse
import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import bertbench
from bertbench.proxies import STABILITY_TOL, bert_batch, list_proxies
from bertbench.proxies.registry import get_proxy
from bertbench.proxies.stability import reference_inputs


def _value(fn, model, batch) -> float:
    torch.manual_seed(0)
    try:
        return float(fn(model, batch, seed=0))
    except Exception:  # noqa: BLE001 - reported as NaN
        return math.nan


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300) if math.isfinite(a) and math.isfinite(b) else math.nan


def audit(models: list[tuple[str, torch.nn.Module, object, object]], names: list[str]) -> pd.DataFrame:
    rows = []
    for label, model, batch, batch2 in models:
        twin = copy.deepcopy(model).double().eval()
        for name in names:
            fn = get_proxy(name).fn
            torch.set_num_threads(1)
            v1 = _value(fn, model, batch)
            torch.set_num_threads(2)
            v2 = _value(fn, model, batch)
            rows.append({"model": label, "proxy": name, "value": v2, "f32_f64": _rel(v2, _value(fn, twin, batch)),
                         "threads": _rel(v1, v2), "batch_seed": _rel(v2, _value(fn, model, batch2))})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--ids", default="0,6,14,2,45")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--loss", default="mlm", help="BERT gradient proxies' loss: mlm | paper-2023")
    args = ap.parse_args()
    bench = bertbench.load("nas-bench-bert-2023", path=args.shared / "seed-paper")
    b0, b1 = (bert_batch(batch_size=args.batch, seq_len=args.seq, seed=s, loss=args.loss) for s in (0, 1))
    models = []
    for pid in args.ids.split(","):
        arch = bench.query(pid)["architecture"]
        for variant in ("as_trained_2023", "as_named"):
            last = "SA" if variant == "as_trained_2023" else arch.layers[-1].op_type
            models.append((f"{pid}/{variant}/last {last}", bench.build_model(pid, variant=variant).eval(), b0, b1))
    rnn, rb = reference_inputs("rnn")
    rb1 = type(rb)(torch.randint(0, 100, rb.tokens.shape, generator=torch.Generator().manual_seed(1)), None,
                   "random", 1, "rnn", 100)
    models.append(("rnn reference", rnn, rb, rb1))
    names = list_proxies()
    table = pd.concat([audit([m for m in models if m[0].startswith("rnn") == fam], [
        n for n in names if ("rnn" if fam else "bert") in get_proxy(n).families]) for fam in (False, True)])
    table["family"] = np.where(table["model"].str.startswith("rnn"), "rnn", "bert")
    out = []
    for (fam, name), g in table.groupby(["family", "proxy"], sort=False):
        vals = g["value"].to_numpy(float)
        spread = np.nanstd(vals) / max(np.nanmean(np.abs(vals)), 1e-300) if len(vals) > 1 else math.nan
        worst = g["f32_f64"].max()
        verdict = ("noise" if not worst <= STABILITY_TOL else
                   "constant" if len(vals) > 1 and spread < 1e-6 else "meaningful")
        out.append({"family": fam, "proxy": name, "f32_f64_max": worst, "threads_max": g["threads"].max(),
                    "batch_seed_median": g["batch_seed"].median(), "spread_across_models": spread, "verdict": verdict})
    with pd.option_context("display.width", 200, "display.float_format", "{:.1e}".format):
        print(pd.DataFrame(out).to_string(index=False))  # noqa: T201 - the audit is the output


if __name__ == "__main__":
    main()
