"""Pieces shared by the pretraining and fine-tuning loops: seeds, the Accelerator, optimizer groups, LR schedules,
and what a stage produced (``StageResult``)."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from bertbench.options import RunStatus


class Diverged(RuntimeError):
    """A loss became NaN or infinite."""


def derive_seed(arch_id: str, seed: int, stage: str, *extra: Any) -> int:
    """A 31-bit seed that depends only on (arch_id, seed, stage, extra): never on rank, order or process count."""
    text = ":".join(str(x) for x in (arch_id, seed, stage, *extra))
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class StageResult:
    """What one stage of a unit produced (pretraining or one fine-tuning), as its ``runs`` and ``curves`` rows record
    it; a pretraining also hands over its encoder's state dict (not recorded in rows)."""

    status: str  # a RunStatus
    metrics: dict[str, float]
    curves: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    tokens: int | None = None
    seconds: float = 0.0
    error: str | None = None
    encoder_state: dict[str, torch.Tensor] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def failed(cls, metric_names: list[str], error: str) -> StageResult:
        return cls(RunStatus.FAILED, {m: math.nan for m in metric_names}, error=error)


@dataclass(frozen=True)
class RankSlice:
    """This process's slice of a data-parallel batch (rank, world); (0, 1) when a process trains alone."""

    rank: int = 0
    world: int = 1


def make_accelerator(mixed_precision: str = "auto", cpu: bool | None = None) -> Any:
    """An ``accelerate.Accelerator``: ``cpu=True`` when no GPU is present (so multi-process CPU runs are synchronised
    over gloo); ``mixed_precision="auto"`` picks bf16 on GPUs that support it, else fp32."""
    from accelerate import Accelerator

    has_cuda = torch.cuda.is_available()
    if cpu is None:
        cpu = not has_cuda
    if mixed_precision == "auto":
        mixed_precision = "bf16" if (not cpu and has_cuda and torch.cuda.is_bf16_supported()) else "no"
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision)


def device_summary(accelerator: Any) -> str:
    dev = accelerator.device
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)} x{accelerator.num_processes}"
    return f"cpu ({torch.get_num_threads()} threads) x{accelerator.num_processes}"


def param_groups(named: list[tuple[str, torch.nn.Parameter]], weight_decay: float, lr: float,
                 scale: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on LayerNorm weights and biases; optional per-parameter LR multipliers."""
    groups: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    for name, p in named:
        if not p.requires_grad:
            continue
        no_decay = name.endswith("bias") or "LayerNorm" in name or p.ndim == 1
        mult = (scale or {}).get(name, 1.0)
        groups.setdefault((no_decay, mult), []).append(p)
    return [{"params": ps, "weight_decay": 0.0 if nd else weight_decay, "lr": lr * mult}
            for (nd, mult), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1]))]


def linear_schedule(warmup: int, total: int):
    """LR multiplier: linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``."""

    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


def set_threads(n: int | None) -> None:
    """Fix intra-op threads (results are bitwise reproducible for a fixed thread count on CPU)."""
    if n:
        torch.set_num_threads(n)
        os.environ["OMP_NUM_THREADS"] = str(n)
