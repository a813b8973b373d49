"""GPU check (one short run): paper-recipe steps/s and tokens/s for an H256/L4 architecture in bf16, the projected
hours for 100k steps, and `--parallel grid` throughput with 1, 2 and 4 architectures per GPU (processes sharing it).

    bash bench/gpu/gpu_check.sh      (or: python bench/gpu/gpu_check.py --steps 30)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

from bertbench.data.corpus import pack
from bertbench.data.tokenizer import load_tokenizer
from bertbench.space import Architecture, LayerSpec
from bertbench.training.common import make_accelerator
from bertbench.training.pretrain import pretrain
from bertbench.training.recipe import load_recipe

ARCH = Architecture(256, (LayerSpec("SA", "SDP", 4, 1024, 1), LayerSpec("DSC", 9, 4, 1024, 1),
                          LayerSpec("LT", "DFT", 4, 512, 3), LayerSpec("SA", "WMA", 4, 1024, 1)))


def one(steps: int, vocab: int, batch: int = 128) -> dict:
    rec = load_recipe("paper-2023").pretrain
    rec = type(rec)(**{**rec.__dict__, "steps": steps, "warmup_steps": 1, "checkpoint_every": 10**9,
                       "log_every": steps, "batch_size": batch})
    tok = load_tokenizer()
    corpus = pack("synthetic", tok, length=rec.seq_len)
    acc = make_accelerator("auto")
    pretrain(ARCH, type(rec)(**{**rec.__dict__, "steps": 3}), corpus, tok, 0, acc, progress=False, vocab_size=vocab)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = pretrain(ARCH, rec, corpus, tok, 0, acc, progress=False, vocab_size=vocab)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    return {"steps_per_s": steps / dt, "tokens_per_s": out.tokens / dt, "mixed_precision": acc.mixed_precision,
            "hours_100k": 100_000 / (steps / dt) / 3600, "status": out.status}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--batch", type=int, default=128, help="the paper's batch (smaller only for a smoke run)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("BERTBENCH_CACHE", tempfile.mkdtemp(prefix="bertbench-gpu-"))
    if args.worker:
        print(json.dumps(one(args.steps, args.vocab, args.batch)))
        return
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    r = one(args.steps, args.vocab, args.batch)
    print(f"device {dev}; paper recipe, {ARCH.short()}, batch {args.batch} x 128, {r['mixed_precision']}:")
    print(f"  {r['steps_per_s']:.2f} steps/s, {r['tokens_per_s']:,.0f} tokens/s, projected {r['hours_100k']:.2f} h "
          f"for 100k steps")
    for k in (1, 2, 4):
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--steps", str(args.steps), "--vocab",
                                   str(args.vocab), "--batch", str(args.batch)], stdout=subprocess.PIPE, text=True)
                 for _ in range(k)]
        outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        total = sum(o["tokens_per_s"] for o in outs)
        print(f"  --parallel grid, {k} architecture(s) per GPU: {total:,.0f} tokens/s together "
              f"({total / r['tokens_per_s']:.2f}x one), wall {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
