"""Models: transformers config and model classes for bertbench architectures (registered with the Auto classes)."""

from __future__ import annotations

from typing import Any

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
)

from bertbench.models.configuration import VARIANTS, BertBenchConfig
from bertbench.models.modeling import (
    BertBenchForMaskedLM,
    BertBenchForPreTraining,
    BertBenchForSequenceClassification,
    BertBenchModel,
    ElectraPretrainingOutput,
)
from bertbench.models.ops import MIXERS
from bertbench.space import Architecture

AutoConfig.register("bertbench", BertBenchConfig, exist_ok=True)
AutoModel.register(BertBenchConfig, BertBenchModel, exist_ok=True)
AutoModelForMaskedLM.register(BertBenchConfig, BertBenchForMaskedLM, exist_ok=True)
AutoModelForPreTraining.register(BertBenchConfig, BertBenchForPreTraining, exist_ok=True)
AutoModelForSequenceClassification.register(BertBenchConfig, BertBenchForSequenceClassification, exist_ok=True)

MODEL_HEADS = {  # task heads on top of the encoder (not attention heads)
    "base": BertBenchModel,
    "mlm": BertBenchForMaskedLM,
    "electra": BertBenchForPreTraining,
    "classification": BertBenchForSequenceClassification,
}


def build_model(
    arch: Architecture, variant: str = "as_named", head: str = "base", seed: int | None = None, **config: Any
) -> BertBenchModel:
    """Build an untrained model of ``arch``. ``head``: base | mlm | electra | classification. With ``seed`` the
    initialisation is a pure function of (arch, variant, config, seed)."""
    import torch

    if head not in MODEL_HEADS:
        raise ValueError(f"head={head!r} is not known; allowed: {sorted(MODEL_HEADS)}")
    cfg = BertBenchConfig.from_architecture(arch, variant=variant, **config)
    if seed is None:
        return MODEL_HEADS[head](cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODEL_HEADS[head](cfg)


__all__ = [
    "MIXERS",
    "VARIANTS",
    "BertBenchConfig",
    "BertBenchForMaskedLM",
    "BertBenchForPreTraining",
    "BertBenchForSequenceClassification",
    "BertBenchModel",
    "ElectraPretrainingOutput",
    "build_model",
]
