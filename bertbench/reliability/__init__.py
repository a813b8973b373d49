"""Does a benchmark rank its architectures reproducibly? Seed-to-seed agreement of every target of a benchmark.

Targets: each stage's main score (named by the stage: ``sst2``, ``pretrain``), each of its other metrics
(``stage.metric``), each aggregate of the summary (``glue_mini``), and each logged held-out loss point
(``pretrain@STEP.heldout_...``; the training-batch loss curve for releases without a held-out set). A run's value
is first averaged over its fine-tuning seeds; seeds below are pretraining seeds.

For each target (``bertbench.stats``):
- ``seed_tau``: Kendall tau between the seeds with the most architectures in common (the mean over such seed pairs),
  with a bootstrap CI over architectures; ``group_tau``: the same with pairs only inside a (hidden size, depth) group;
- ``icc``: ICC(1) of one run with its CI; ``arch_sd`` and ``seed_sd`` (between architectures, between pretraining
  seeds), and ``pretrain_seed_sd`` / ``finetune_seed_sd`` when fine-tuning seeds vary too;
- ``reliability``: the reliability of the summary value (the mean over ``seeds`` seeds; Spearman-Brown), the ceiling
  for any correlation with it; ``seeds_for_tau_0.6``: seeds a mean would need for two such means to agree with
  tau >= 0.6;
- ``verdict``: one sentence (``VERDICTS``): "does not rank architectures above seed noise" when the seed tau's CI
  reaches 0 (or most runs tie at one value), "ranks groups only" when only the within-group tau's CI does, "ranks
  architectures reproducibly" when seed tau >= 0.7 and the ICC's CI starts at 0.5 or above, else "above seed noise,
  not reproducibly".
"""

from bertbench.reliability.measure import (
    FEW,
    GATE_ICC_LOW,
    GATE_TAU,
    GROUPS_ONLY,
    NOISE,
    ONE_SEED,
    REPRODUCIBLE,
    TIE_SHARE,
    VERDICTS,
    WARN_BELOW,
    WEAK,
    TargetReliability,
    column_reliability,
    reliability_table,
    reliability_warning,
    run_values,
    target_reliability,
)
from bertbench.reliability.report import format_table, manifest_entry, manifest_extra, table_from_manifest

__all__ = [
    "GATE_ICC_LOW", "GATE_TAU", "FEW", "GROUPS_ONLY", "NOISE", "ONE_SEED", "REPRODUCIBLE", "TIE_SHARE",
    "TargetReliability", "VERDICTS", "WARN_BELOW", "WEAK", "column_reliability", "format_table", "manifest_entry",
    "manifest_extra", "reliability_table", "reliability_warning", "run_values", "table_from_manifest",
    "target_reliability",
]
