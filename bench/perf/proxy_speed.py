"""Milliseconds per architecture for `hidden_covariance` (layer 1) on the NAS-Bench-NLP WT2 recipes, on the PTB test
batch (50 x 70), against a naive reference measured in the same run: the same model evaluated node by node with
autograd on (all three layers, as the 2023 notebook does), then float64 numpy.corrcoef + numpy.linalg.eig on the full
matrix. Targets: <= 0.3 s per architecture and >= 2x the reference, with the stability check on (the RNN hidden
covariance checks itself: ``proxies/covariance.py``, PERTURB_ULPS). Also checks both give the same value, and that the
self-check's verdict (ok / unstable) equals the float64 gate's (a float64 copy of the network scored again) on every
architecture (outside the timing).

    python bench/perf/proxy_speed.py [--n 345] [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import bertbench
from bertbench.models.rnn import _ACTS, build_rnn_lm
from bertbench.proxies import rnn_batch, score
from bertbench.proxies.covariance import rnn_hidden_covariance
from bertbench.proxies.gate import float64_check


def naive_hidden_covariance(model, tokens: torch.Tensor) -> float:
    x = model.encoder(tokens)
    states = []
    for li, layer in enumerate(model.rnns):
        batch = x.shape[1]
        hidden = tuple(x.new_zeros(batch, layer.hidden_size) for _ in range(layer.num_hidden))
        outs = []
        for t in range(x.shape[0]):
            if li == 0:
                states.append(hidden[0])
            v = {"x": x[t], **{f"h_prev_{i}": h for i, h in enumerate(hidden)}}
            for name in layer.order:
                node = layer.recipe[name]
                ins = [v[i] for i in node["input"]]
                if node["op"] == "linear":
                    comp = layer.components[name]
                    y = F.linear(ins[0], comp.weights[0], comp.bias)
                    for w, inp in zip(list(comp.weights)[1:], ins[1:]):
                        y = y + F.linear(inp, w)
                    v[name] = y
                elif node["op"] == "blend":
                    v[name] = ins[0] * ins[1] + (1 - ins[0]) * ins[2]
                elif node["op"] == "elementwise_prod":
                    v[name] = ins[0] * ins[1] if len(ins) == 2 else torch.stack(ins).prod(0)
                elif node["op"] == "elementwise_sum":
                    v[name] = sum(ins)
                else:
                    v[name] = _ACTS[node["op"]](ins[0])
            hidden = tuple(v[f"h_new_{i}"] for i in range(layer.num_hidden))
            outs.append(hidden[0])
        x = torch.stack(outs)
    m = torch.stack(states).reshape(-1, states[0].shape[-1]).T.detach().numpy().astype(np.float64)
    c = np.corrcoef(m)
    lam = np.linalg.eig(c)[0].real
    return float(-(np.log(lam + 1e-5) + 1 / (lam + 1e-5)).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=345)
    args = ap.parse_args()
    torch.set_num_threads(2)
    bench = bertbench.load("nas-bench-nlp", path=args.shared / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    batch = rnn_batch(str(args.shared / "ptb" / "ptb.zip"))
    keys = bench.to_pandas()["run_key"].tolist()[: args.n]
    ours_t, ref_t, rel, verdicts = [], [], [], []
    for k in keys:
        arch = bench.query(k)["architecture"]
        t = time.perf_counter()
        model = build_rnn_lm(arch, seed=0, ntoken=batch.vocab_size)
        res = score(model, batch, ["hidden_covariance"])["hidden_covariance"]
        value = res["value"]
        ours_t.append(time.perf_counter() - t)
        if res["status"] != "failed":
            torch.manual_seed(0)
            raw = rnn_hidden_covariance(model, batch, 1)[0]  # the float32 states' value, without the self-check
            gate = float64_check(lambda m, b, seed: rnn_hidden_covariance(m, b, 1)[0], copy.deepcopy(model).double(),
                                 batch, 0, raw)
            verdicts.append((res["status"], "ok" if gate is None else "unstable"))
        t = time.perf_counter()
        model = build_rnn_lm(arch, seed=0, ntoken=batch.vocab_size)
        try:  # as in the 2023 notebook, a failure (NaN correlations from constant units) is a NaN score
            ref = naive_hidden_covariance(model, batch.tokens)
        except np.linalg.LinAlgError:
            ref = float("nan")
        ref_t.append(time.perf_counter() - t)
        if np.isfinite(value) and np.isfinite(ref):
            rel.append(abs(value - ref) / abs(ref))
    o, r = statistics.median(ours_t), statistics.median(ref_t)
    print(f"{len(keys)} WT2 recipes, PTB test batch 50 x 70, {torch.get_num_threads()} threads")
    print(f"hidden_covariance: ours median {1000 * o:.0f} ms/arch (mean {1000 * statistics.mean(ours_t):.0f}), "
          f"naive reference {1000 * r:.0f} ms/arch; speed-up x{r / o:.2f} (targets: <= 300 ms, >= 2x)")
    print(f"agreement with the reference: max relative difference {max(rel):.2e} over {len(rel)} finite scores")
    same = sum(a == b for a, b in verdicts)
    print(f"self-check verdicts equal to the float64 gate's: {same} of {len(verdicts)} "
          f"(self-check unstable: {sum(a == 'unstable' for a, _ in verdicts)}, float64 gate unstable: "
          f"{sum(b == 'unstable' for _, b in verdicts)})")



if __name__ == "__main__":
    main()
