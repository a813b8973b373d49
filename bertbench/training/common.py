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
    over gloo); ``mixed_precision="auto"`` as :func:`resolve_precision` decides."""
    from accelerate import Accelerator

    if cpu is None:
        cpu = not torch.cuda.is_available()
    return Accelerator(cpu=cpu, mixed_precision=resolve_precision(mixed_precision, cpu))


def resolve_precision(mixed_precision: str, cpu: bool) -> str:
    """The precision a recipe's ``mixed_precision`` trains in here: ``auto`` is bf16 where the hardware runs it
    fast (a CUDA GPU with bf16; a CPU with AMX-BF16 tiles, where a bf16-autocast step measured 1.2-1.8x faster than
    fp32), else "no" (fp32; on CPUs without AMX bf16 autocast measured 0.90-0.95x, ``bench/perf/unit_cost.py``)."""
    if mixed_precision != "auto":
        return mixed_precision
    if not cpu:
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return "bf16" if "amx_bf16" in cpu_flags() else "no"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def device_summary(accelerator: Any) -> str:
    """What trained a result, as its rows record it: the device, threads or GPU name, process count, and the
    precision when it is not fp32 (e.g. ``cpu (1 threads) x2 bf16``)."""
    dev = accelerator.device
    precision = "" if accelerator.mixed_precision == "no" else f" {accelerator.mixed_precision}"
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)} x{accelerator.num_processes}{precision}"
    return f"cpu ({torch.get_num_threads()} threads) x{accelerator.num_processes}{precision}"


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
