"""What `make demo` runs: the main job end to end on the embedded default data."""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

TOUR_OPS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]


def model_tour(batch: int = 8, seq_len: int = 128, hidden: int = 256, repeats: int = 3) -> str:
    """One 2-layer model per op at ``hidden``: parameter count and median forward time (eval, no grad)."""
    import torch

    from bertbench.models import build_model
    from bertbench.space import Architecture, LayerSpec, paper_2023_grid

    grid = paper_2023_grid()
    lines = [f"NAS-Bench-BERT 2023 grid: {len(grid)} architectures, {len({a.arch_id for a in grid})} unique",
             f"{'op':<8} {'params':>10} {'forward ms':>11}  (H{hidden}, 2 layers, heads 4, ffn 1024x1, "
             f"batch {batch} x {seq_len})"]
    ids = torch.randint(5, 30000, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    for op_type, op_param in TOUR_OPS:
        arch = Architecture(hidden, (LayerSpec(op_type, op_param, 4, 1024, 1),) * 2)
        model = build_model(arch, seed=0).eval()
        n = sum(p.numel() for p in model.parameters())
        times = []
        with torch.inference_mode():
            model(ids)
            for _ in range(repeats):
                t = time.perf_counter()
                model(ids)
                times.append(time.perf_counter() - t)
        times.sort()
        name = f"{op_type}-{op_param}"
        lines.append(f"{name:<8} {n:>10,} {1000 * times[len(times) // 2]:>11.1f}")
    return "\n".join(lines)


def run_demo(out: Path) -> None:
    """The main job on the embedded default data (grows with the trainer and store issues)."""
    out.mkdir(parents=True, exist_ok=True)
    text = model_tour()
    (out / "models.txt").write_text(text + "\n")
    print(text)  # noqa: T201 - the demo's report is its output
    print(f"\nwrote {out / 'models.txt'}")  # noqa: T201
