"""The task registry (GLUE and the embedded synthetic suite), every metric, and the named GLUE aggregates.

Metrics are computed with scipy / scikit-learn on numpy arrays, in [0, 1] (correlations in [-1, 1]); benchmark tables
store them x100 as GLUE does. No torch import here.

Aggregates (``AGGREGATES``), over scores x100:
- ``glue_2023``: the 2023 paper's: plain mean of 8 tasks: CoLA Matthews, SST-2 accuracy, MRPC accuracy,
  STS-B Pearson, QQP accuracy, MNLI matched accuracy, QNLI accuracy, RTE accuracy (WNLI excluded).
- ``glue``: leaderboard style: mean over the 9 tasks (WNLI included) of each task's score, where a task with two
  metrics scores their mean: MRPC (F1 + accuracy)/2, QQP (F1 + accuracy)/2, STS-B (Pearson + Spearman)/2,
  MNLI (matched + mismatched accuracy)/2.
- ``synthetic``: the same leaderboard-style mean over the 8 tasks of the embedded synthetic suite.
A task that is missing, failed or diverged (NaN) makes every aggregate that uses it NaN, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bertbench.registry import Registry


def accuracy(pred: np.ndarray, ref: np.ndarray) -> float:
    pred, ref = np.asarray(pred), np.asarray(ref)
    return float(np.mean(pred == ref)) if len(ref) else math.nan


def f1(pred: np.ndarray, ref: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(ref), np.asarray(pred), zero_division=0.0)) if len(ref) else math.nan


def matthews(pred: np.ndarray, ref: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(np.asarray(ref), np.asarray(pred))) if len(ref) else math.nan


def pearson(pred: np.ndarray, ref: np.ndarray) -> float:
    from scipy.stats import pearsonr

    pred, ref = np.asarray(pred, dtype=float), np.asarray(ref, dtype=float)
    if len(ref) < 2 or np.std(pred) == 0 or np.std(ref) == 0:
        return math.nan
    return float(pearsonr(pred, ref)[0])


def spearman(pred: np.ndarray, ref: np.ndarray) -> float:
    from scipy.stats import spearmanr

    pred, ref = np.asarray(pred, dtype=float), np.asarray(ref, dtype=float)
    if len(ref) < 2 or np.std(pred) == 0 or np.std(ref) == 0:
        return math.nan
    return float(spearmanr(pred, ref)[0])


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy,
    "f1": f1,
    "matthews": matthews,
    "pearson": pearson,
    "spearman": spearman,
}


@dataclass(frozen=True)
class TaskSpec:
    """A sentence(-pair) classification or regression task.

    ``eval_splits`` maps a metric suffix to a dev split: {"": "validation"}, or for MNLI
    {"_matched": "validation_matched", "_mismatched": "validation_mismatched"}. Metric names in results are
    ``metric + suffix`` (e.g. ``accuracy_matched``). ``main_metric`` is the one a benchmark ranks by.
    """

    name: str
    text_columns: tuple[str, ...]
    num_labels: int
    metrics: tuple[str, ...]
    main_metric: str
    eval_splits: Mapping[str, str] = field(default_factory=lambda: {"": "validation"})
    hub_config: str = ""
    label_names: tuple[str, ...] = ()
    epochs_2023: int = 3
    suite: str = "glue"  # "glue" (real GLUE data) or "synthetic" (generated, see data/synthetic.py)

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    def metric_names(self) -> list[str]:
        return [m + s for s in self.eval_splits for m in self.metrics]

    def compute(self, pred: np.ndarray, ref: np.ndarray, suffix: str = "") -> dict[str, float]:
        """Every metric of this task (x100) for one eval split."""
        return {m + suffix: 100.0 * METRICS[m](pred, ref) for m in self.metrics}


TASKS: Registry[TaskSpec] = Registry("task")

for _t in [
    TaskSpec("cola", ("sentence",), 2, ("matthews",), "matthews", hub_config="cola", label_names=("unacceptable", "acceptable")),
    TaskSpec("sst2", ("sentence",), 2, ("accuracy",), "accuracy", hub_config="sst2", label_names=("negative", "positive")),
    TaskSpec("mrpc", ("sentence1", "sentence2"), 2, ("accuracy", "f1"), "accuracy", hub_config="mrpc",
             label_names=("not_equivalent", "equivalent")),
    TaskSpec("stsb", ("sentence1", "sentence2"), 1, ("pearson", "spearman"), "pearson", hub_config="stsb", epochs_2023=10),
    TaskSpec("qqp", ("question1", "question2"), 2, ("accuracy", "f1"), "accuracy", hub_config="qqp",
             label_names=("not_duplicate", "duplicate")),
    TaskSpec("mnli", ("premise", "hypothesis"), 3, ("accuracy",), "accuracy_matched",
             eval_splits={"_matched": "validation_matched", "_mismatched": "validation_mismatched"}, hub_config="mnli",
             label_names=("entailment", "neutral", "contradiction")),
    TaskSpec("qnli", ("question", "sentence"), 2, ("accuracy",), "accuracy", hub_config="qnli",
             label_names=("entailment", "not_entailment")),
    TaskSpec("rte", ("sentence1", "sentence2"), 2, ("accuracy",), "accuracy", hub_config="rte",
             label_names=("entailment", "not_entailment"), epochs_2023=10),
    TaskSpec("wnli", ("sentence1", "sentence2"), 2, ("accuracy",), "accuracy", hub_config="wnli",
             label_names=("not_entailment", "entailment")),
]:
    TASKS.add(_t.name, _t)

GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def get_task(name: str) -> TaskSpec:
    """The registered task ``name`` (GLUE names, and ``synthetic-*``: registered by bertbench.data.synthetic, which
    the ``bertbench.data`` package imports)."""
    try:
        return TASKS.get(name)
    except KeyError as err:
        raise KeyError(f"task={name!r} is not known; allowed: {sorted(map(str, TASKS.keys()))}") from err


@dataclass(frozen=True)
class Aggregate:
    """A named mean over per-task scores; each part is (task, tuple of metrics averaged for that task)."""

    name: str
    parts: tuple[tuple[str, tuple[str, ...]], ...]
    description: str

    def compute(self, scores: Mapping[str, Mapping[str, float]]) -> float:
        """``scores[task][metric]`` (x100) -> the aggregate; NaN when any part is missing or NaN."""
        values = []
        for task, metrics in self.parts:
            per = scores.get(task)
            if per is None:
                return math.nan
            vals = [per.get(m, math.nan) for m in metrics]
            v = float(np.mean(vals)) if vals else math.nan
            if v is None or math.isnan(v):
                return math.nan
            values.append(v)
        return float(np.mean(values))

    def tasks(self) -> list[str]:
        return [t for t, _ in self.parts]


AGGREGATES: dict[str, Aggregate] = {
    "glue_2023": Aggregate(
        "glue_2023",
        (("cola", ("matthews",)), ("sst2", ("accuracy",)), ("mrpc", ("accuracy",)), ("stsb", ("pearson",)),
         ("qqp", ("accuracy",)), ("mnli", ("accuracy_matched",)), ("qnli", ("accuracy",)), ("rte", ("accuracy",))),
        "The 2023 paper's GLUE: mean of 8 tasks (no WNLI); MRPC and QQP by accuracy, STS-B by Pearson, MNLI matched.",
    ),
    "glue": Aggregate(
        "glue",
        (("cola", ("matthews",)), ("sst2", ("accuracy",)), ("mrpc", ("f1", "accuracy")), ("stsb", ("pearson", "spearman")),
         ("qqp", ("f1", "accuracy")), ("mnli", ("accuracy_matched", "accuracy_mismatched")), ("qnli", ("accuracy",)),
         ("rte", ("accuracy",)), ("wnli", ("accuracy",))),
        "Leaderboard style: mean of 9 tasks (WNLI included); two-metric tasks score the mean of their metrics.",
    ),
    "glue_mini": Aggregate(
        "glue_mini",
        (("sst2", ("accuracy",)), ("mrpc", ("accuracy",)), ("stsb", ("pearson",)), ("rte", ("accuracy",))),
        "The mini benchmark's GLUE: mean of the 4 tasks held locally that are not WNLI (metrics as glue_2023).",
    ),
}


def aggregates_for(tasks: Sequence[str]) -> list[Aggregate]:
    """The aggregates whose tasks are all among ``tasks``: one that needs a task the benchmark lacks would be NaN on
    every architecture, so it is not offered."""
    present = set(tasks)
    return [a for a in AGGREGATES.values() if set(a.tasks()) <= present]


def get_aggregate(name: str) -> Aggregate:
    """A named aggregate (``synthetic`` is registered by bertbench.data.synthetic)."""
    if name not in AGGREGATES:
        raise KeyError(f"aggregate {name!r} is not known; allowed: {sorted(AGGREGATES)}")
    return AGGREGATES[name]
