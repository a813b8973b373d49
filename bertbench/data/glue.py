"""GLUE task sources: the Hub (``nyu-mll/glue`` at a revision), a local folder in the original GLUE TSV layout
(``TASK/train.tsv``, ``TASK/dev.tsv``; MRPC's raw MSR files too) and a local folder of Parquet in the Hub's layout
(``TASK/SPLIT-*.parquet``). Each returns a ``datasets.DatasetDict`` with the Hub version's splits, columns and
features (``label`` a ClassLabel, or float32 for STS-B; ``idx`` int32).

The registry, metrics and aggregates live in ``bertbench.data.tasks`` (re-exported here).

TSV quirks handled: no quoting at all (``csv.QUOTE_NONE``: quotes are text), a UTF-8 BOM in MRPC's header, CoLA's
header-less files, text labels in RTE/QNLI/MNLI, and alternative file names (``train.*.tsv`` when ``train.tsv`` is
absent, e.g. a reordered or reconstructed copy). With MRPC's raw MSR files and no ``dev_ids.tsv``, GLUE's dev split
cannot be rebuilt: train = msr_paraphrase_train.txt (4,076 pairs, GLUE's train + dev) and validation =
msr_paraphrase_test.txt (1,725 labelled pairs, GLUE's test) -- recorded in ``DatasetDict.info`` as a caveat.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from bertbench.data.tasks import AGGREGATES, GLUE_TASKS, METRICS, TASKS, TaskSpec, get_task
from bertbench.errors import DataSourceError

__all__ = ["AGGREGATES", "GLUE_TASKS", "METRICS", "TASKS", "TaskSpec", "get_task", "hub_features", "load_glue"]

HUB_REPO = "nyu-mll/glue"
DIRS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP", "mnli": "MNLI",
        "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}
SPLIT_FILES = {"train": "train", "validation": "dev", "validation_matched": "dev_matched",
               "validation_mismatched": "dev_mismatched"}


def hub_features(task: TaskSpec) -> Any:
    """The ``datasets.Features`` of the Hub's ``nyu-mll/glue`` config for ``task``."""
    from datasets import ClassLabel, Features, Value

    cols = {c: Value("string") for c in task.text_columns}
    label = Value("float32") if task.is_regression else ClassLabel(names=list(task.label_names))
    return Features({**cols, "label": label, "idx": Value("int32")})


def _train_split_names(task: TaskSpec) -> list[str]:
    return ["train", *task.eval_splits.values()]


def _read_tsv(path: Path, header: bool = True) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if header:
        if not rows:
            raise DataSourceError(f"{path}: empty file (expected a header row)")
        return rows[0], rows[1:]
    return [], rows


def _find(folder: Path, stem: str) -> Path | None:
    exact = folder / f"{stem}.tsv"
    if exact.exists():
        return exact
    alts = sorted(folder.glob(f"{stem}.*.tsv"))
    return alts[0] if len(alts) == 1 else None


def _convert_rows(task: TaskSpec, path: Path, header: list[str], rows: list[list[str]]) -> dict[str, list]:
    """Rows of an original GLUE TSV -> Hub columns; a malformed row raises naming file and line."""
    out: dict[str, list] = {c: [] for c in (*task.text_columns, "label", "idx")}
    names = list(task.label_names)
    width = len(header) if header else None

    def col(name: str) -> int:
        if name not in header:
            raise DataSourceError(f"{path}: header has no column {name!r}; header: {header}")
        return header.index(name)

    if task.name == "cola":
        spec = {"sentence": 3}
        label_at = 1
        width = 4
    elif task.name == "sst2":
        spec, label_at = {"sentence": col("sentence")}, col("label")
    elif task.name == "stsb":
        spec, label_at = {"sentence1": col("sentence1"), "sentence2": col("sentence2")}, col("score")
    elif task.name == "qqp":
        spec, label_at = {"question1": col("question1"), "question2": col("question2")}, col("is_duplicate")
    elif task.name == "mnli":
        spec, label_at = {"premise": col("sentence1"), "hypothesis": col("sentence2")}, col("gold_label")
    elif task.name == "mrpc" and "Quality" in header:
        spec, label_at = {"sentence1": col("#1 String"), "sentence2": col("#2 String")}, col("Quality")
    else:  # rte, qnli, wnli, mrpc (GLUE's tsv)
        a, b = task.text_columns
        spec, label_at = {a: col(a), b: col(b)}, col("label")
    for line, row in enumerate(rows, start=2 if header else 1):
        if width is not None and len(row) != width:
            raise DataSourceError(f"{path}: line {line} has {len(row)} fields, expected {width} (malformed row)")
        raw = row[label_at].strip()
        try:
            if task.is_regression:
                label: Any = float(raw)
            elif raw in names:
                label = names.index(raw)
            else:
                label = int(raw)
                if not 0 <= label < len(names):
                    raise ValueError
        except ValueError:
            raise DataSourceError(
                f"{path}: line {line}: label {raw!r} is not valid for {task.name}; allowed: {names or 'a number'}"
            ) from None
        for c, i in spec.items():
            out[c].append(row[i])
        out["label"].append(label)
        out["idx"].append(len(out["idx"]))
    return out


def _from_tsv_folder(task: TaskSpec, root: Path) -> Any:
    from datasets import Dataset, DatasetDict

    folder = root / DIRS[task.name]
    if not folder.is_dir():
        raise DataSourceError(f"GLUE folder {root} has no {DIRS[task.name]}/ folder for task {task.name!r}")
    splits: dict[str, Any] = {}
    caveats = []
    if task.name == "mrpc" and not _find(folder, "train") and (folder / "msr_paraphrase_train.txt").exists():
        pairs = {"train": folder / "msr_paraphrase_train.txt", "validation": folder / "msr_paraphrase_test.txt"}
        caveats.append("MRPC from raw MSR files: validation = msr_paraphrase_test.txt (GLUE's dev needs dev_ids.tsv)")
    else:
        pairs = {}
        for split in _train_split_names(task):
            path = _find(folder, SPLIT_FILES[split])
            if path is None:
                raise DataSourceError(
                    f"{folder}: split {split!r} is missing (expected {SPLIT_FILES[split]}.tsv)"
                )
            pairs[split] = path
    for split, path in pairs.items():
        if not path.exists():
            raise DataSourceError(f"{folder}: split {split!r} is missing ({path.name})")
        header, rows = _read_tsv(path, header=task.name != "cola")
        splits[split] = Dataset.from_dict(_convert_rows(task, path, header, rows), features=hub_features(task))
    dd = DatasetDict(splits)
    for split in dd.values():
        split.info.description = "; ".join(caveats)
    return dd


def _from_parquet_folder(task: TaskSpec, root: Path) -> Any:
    from datasets import DatasetDict, load_dataset

    folder = root / task.hub_config
    files = {}
    for split in _train_split_names(task):
        found = sorted(folder.glob(f"{split}-*.parquet"))
        if not found:
            raise DataSourceError(f"{folder}: split {split!r} is missing (expected {split}-*.parquet)")
        files[split] = [str(p) for p in found]
    dd = load_dataset("parquet", data_files=files)
    return DatasetDict({k: v.cast(hub_features(task)) for k, v in dd.items()})


def _from_hub(task: TaskSpec, revision: str | None) -> Any:
    from datasets import load_dataset

    hint = "pass a local copy instead: load_glue(task, source='/path/to/glue_data') (TSV or Hub-layout Parquet)"
    from bertbench.env import is_offline

    if is_offline():
        raise DataSourceError(f"GLUE {task.name!r} from the Hub ({HUB_REPO}) is unreachable: offline mode is on; {hint}")
    try:
        dd = load_dataset(HUB_REPO, task.hub_config, revision=revision)
    except Exception as err:  # datasets raises many types for network failures
        raise DataSourceError(f"GLUE {task.name!r} from the Hub ({HUB_REPO}) failed: {err}; {hint}") from err
    return dd


def load_glue(task: str, source: str | os.PathLike[str] = "hub", revision: str | None = None) -> Any:
    """A GLUE task's splits as a ``datasets.DatasetDict`` with the Hub's columns and features.

    ``source``: "hub" (``nyu-mll/glue`` at ``revision``), or a folder in the original TSV layout, or a folder of
    Hub-layout Parquet files."""
    spec = get_task(task)
    if spec.suite != "glue":
        raise DataSourceError(f"task={task!r} is not a GLUE task; use bertbench.data.synthetic for synthetic tasks")
    if str(source) == "hub":
        return _from_hub(spec, revision)
    root = Path(source)
    if not root.is_dir():
        raise DataSourceError(f"GLUE source {str(source)!r} is not a folder (nor 'hub')")
    if (root / spec.hub_config).is_dir() and list((root / spec.hub_config).glob("*.parquet")):
        return _from_parquet_folder(spec, root)
    return _from_tsv_folder(spec, root)
