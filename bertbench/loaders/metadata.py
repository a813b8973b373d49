"""`BenchmarkMetadata`: what a loaded benchmark says about itself, one documented field each.

It also reads like the dict it replaces (``metadata["tasks"]``, ``metadata.get("vocab_size", 30522)``, ``in``):
a field that is None counts as absent, so ``get`` falls back to its default. Keys that are not fields (a loader's
own, e.g. NAS-Bench-NLP's ``logs``) live in ``extra``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class BenchmarkMetadata(MutableMapping):
    """Fields (None = not recorded):

    - ``name``, ``version``, ``family`` (a registered model family), ``source`` (the folder, file or hf:// source
      it was read from), ``license`` (of its data);
    - ``tasks``: the stages that rank architectures; ``aggregates``: the named means the summary adds (glue_2023, ...);
      ``metrics``: {metric: {meaning, direction}}; ``seeds``; ``reduction``: how units and seeds were reduced;
    - ``caveats``: what a user must know before trusting a number;
    - ``default_variant``: how its architectures are built when no variant is asked for; ``vocab_size``: the
      vocabulary its models were built with (the proxies build untrained models with it); ``space_name``: its search
      space; ``hparams``: model settings shared by every unit (NAS-Bench-NLP);
    - ``cost_unit`` / ``cost_stages``: the unit of ``train_cost`` and the stages whose time it sums;
    - ``unit_columns``: {column: {unit: value}} added to the summary; ``n_runs``: {unit: runs averaged into it};
    - ``cache_key``: a digest of everything its summary is derived from (the summary is cached under it);
    - ``schema_version`` and ``manifest``: our releases' own; ``dataset``: NAS-Bench-NLP's dataset(s);
    - ``extra``: anything else a loader records.
    """

    name: str = ""
    version: str = ""
    family: str = "bert"
    source: str | None = None
    license: str | None = None
    tasks: list[str] = field(default_factory=list)
    aggregates: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, str]] = field(default_factory=dict)
    seeds: list[int] | None = None
    reduction: str | None = None
    caveats: list[str] = field(default_factory=list)
    default_variant: str | None = None
    vocab_size: int | None = None
    space_name: str | None = None
    hparams: dict[str, Any] | None = None
    cost_unit: str | None = None
    cost_stages: list[str] | None = None
    unit_columns: dict[str, dict[str, Any]] | None = None
    n_runs: dict[str, int] | None = None
    cache_key: str | None = None
    schema_version: str | None = None
    manifest: dict[str, Any] | None = None
    dataset: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BenchmarkMetadata:
        """Known keys become fields, the others ``extra``."""
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in values.items() if k in names}
        return cls(**known, extra={k: v for k, v in values.items() if k not in names})

    # -- the dict interface -------------------------------------------------------------------------------------------
    def _field_names(self) -> list[str]:
        return [f.name for f in fields(self) if f.name != "extra"]

    def __getitem__(self, key: str) -> Any:
        if key in self._field_names():
            value = getattr(self, key)
            if value is None:
                raise KeyError(key)
            return value
        return self.extra[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self._field_names():
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._field_names():
            setattr(self, key, None)
        else:
            del self.extra[key]

    def __iter__(self) -> Iterator[str]:
        yield from (n for n in self._field_names() if getattr(self, n) is not None)
        yield from self.extra

    def __len__(self) -> int:
        return sum(1 for _ in self)


def metric_docs() -> dict[str, dict[str, str]]:
    """Meaning and direction of every metric name bertbench writes."""
    return {
        "matthews": {"meaning": "Matthews correlation x100 (CoLA)", "direction": "higher"},
        "accuracy": {"meaning": "accuracy x100 on the task's evaluation split (its dev split; MRPC from the raw MSR files: their test file)", "direction": "higher"},
        "accuracy_matched": {"meaning": "MNLI dev-matched accuracy x100", "direction": "higher"},
        "accuracy_mismatched": {"meaning": "MNLI dev-mismatched accuracy x100", "direction": "higher"},
        "f1": {"meaning": "F1 x100 of the positive class", "direction": "higher"},
        "pearson": {"meaning": "Pearson r x100 (STS-B)", "direction": "higher"},
        "spearman": {"meaning": "Spearman rho x100 (STS-B)", "direction": "higher"},
        "glue_2023": {"meaning": "the 2023 paper's GLUE mean of 8 tasks", "direction": "higher"},
        "glue": {"meaning": "leaderboard-style GLUE mean of 9 tasks", "direction": "higher"},
        "test_loss": {"meaning": "final-epoch test cross-entropy (nats per token)", "direction": "lower"},
        "val_loss": {"meaning": "final-epoch validation cross-entropy (nats per token)", "direction": "lower"},
        "train_loss": {"meaning": "final-epoch training cross-entropy (nats per token)", "direction": "lower"},
        "test_perplexity": {"meaning": "exp(test_loss)", "direction": "lower"},
        "loss": {"meaning": "pretraining loss of the last training batch (ELECTRA: generator MLM + disc_weight x "
                          "discriminator)", "direction": "lower"},
        "pretrain": {"meaning": "the pretraining target: the held-out loss (heldout_mlm_loss for MLM, "
                              "heldout_disc_loss for ELECTRA; releases before held-out evaluation: the last batch's "
                              "loss), mean over seeds", "direction": "lower"},
        "heldout_mlm_loss": {"meaning": "masked-LM loss (nats) on the fixed held-out set", "direction": "lower"},
        "heldout_disc_loss": {"meaning": "replaced-token-detection loss (nats) on the fixed held-out corruptions",
                              "direction": "lower"},
        "heldout_disc_accuracy": {"meaning": "replaced-token-detection accuracy x100 on the fixed held-out "
                                             "corruptions", "direction": "higher"},
        "heldout_gen_mlm_loss": {"meaning": "the ELECTRA generator's masked-LM loss (nats) on the fixed held-out set",
                                 "direction": "lower"},
        "mlm_loss": {"meaning": "generator masked-LM loss of the last training batch", "direction": "lower"},
        "disc_loss": {"meaning": "discriminator loss of the last training batch", "direction": "lower"},
        "disc_accuracy": {"meaning": "replaced-token-detection accuracy x100 at the end of pretraining", "direction": "higher"},
    }
