"""Where a pretraining step's time goes on this CPU, and what makes it cheaper: fp32 against bf16 autocast, and one
worker with 2 threads against 2 workers with 1 thread each, for every op type at the pilot's shapes, measured in the
same run. Prints steps/s and the ratio against the fp32 / 1-thread baseline; the CPU flags that decide bf16 (AMX).

    python bench/perf/unit_cost.py [--steps 20 --batch 32 --seq 64]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

OPS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]


def steps_per_second(op: tuple[str, object], hidden: int, layers: int, batch: int, seq: int, steps: int,
                     precision: str, threads: int) -> float:
    """MLM fwd+bwd+AdamW steps per second of a homogeneous architecture (random tokens, vocab 8000)."""
    import torch

    from bertbench.models import build_model
    from bertbench.space import Architecture, LayerSpec

    torch.set_num_threads(threads)
    arch = Architecture(hidden, tuple(LayerSpec(op[0], op[1], hidden // 64, 4 * hidden, 1) for _ in range(layers)))
    model = build_model(arch, head="mlm", seed=0, vocab_size=8000, pad_token_id=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 8000, (batch, seq), generator=gen)
    labels = torch.where(torch.rand(batch, seq, generator=gen) < 0.15, ids, torch.full_like(ids, -100))
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else None

    def step() -> None:
        if ctx is None:
            loss = model(ids, labels=labels).loss
        else:
            with ctx():
                loss = model(ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t)


def _worker(args: tuple) -> float:
    return steps_per_second(*args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--shapes", default="128x2,256x4")
    args = ap.parse_args()
    from bertbench.training.common import cpu_flags

    flags = cpu_flags()
    print(f"CPU: amx_bf16={'amx_bf16' in flags} avx512_bf16={'avx512_bf16' in flags} "  # noqa: T201
          f"avx512f={'avx512f' in flags}")
    print(f"{'op':<8} {'shape':<7} {'fp32 1t':>8} {'bf16 1t':>8} {'bf16/fp32':>9} {'fp32 2t':>8} "  # noqa: T201
          f"{'2x1t total':>10} {'2x1t/2t':>8}")
    for shape in args.shapes.split(","):
        hidden, layers = (int(x) for x in shape.split("x"))
        for op in OPS:
            common = (op, hidden, layers, args.batch, args.seq, args.steps)
            fp32 = steps_per_second(*common, "fp32", 1)
            bf16 = steps_per_second(*common, "bf16", 1)
            two_threads = steps_per_second(*common, "fp32", 2)
            with mp.get_context("spawn").Pool(2) as pool:  # two single-thread workers at once (grid mode)
                pair = sum(pool.map(_worker, [(*common, "fp32", 1)] * 2))
            print(f"{op[0]}-{op[1]:<5} {shape:<7} {fp32:8.2f} {bf16:8.2f} {bf16 / fp32:9.2f} "  # noqa: T201
                  f"{two_threads:8.2f} {pair:10.2f} {pair / two_threads:8.2f}")


if __name__ == "__main__":
    main()
