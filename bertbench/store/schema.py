"""Arrow schemas of the benchmark tables, with every column documented, and the schema version.

A release holds ``architectures``, ``runs``, ``curves`` and ``proxies``. Loaders of other benchmarks
(the 2023 JSON, NAS-Bench-NLP logs) produce tables with the same ``runs``/``curves``/``proxies`` schemas and a
family-specific ``architectures`` schema (BERT or RNN).

Scores: GLUE-style metrics are stored x100 (percent, as GLUE reports them); losses are natural-log cross-entropy
(nats per token); perplexity = exp(loss). Failed or diverged runs have status != "ok" and NaN metrics, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from bertbench.options import ProxyStatus, RunStatus

#: Bump the minor version for added columns, the major version for changed or removed ones.
SCHEMA_VERSION = "1.3"  # 1.1: proxies.loss, proxies.status "unstable"; 1.2: runs.run_hash; 1.3: finetune_seed

#: Columns each minor version added (at the end of its table): a release of an older schema lacks them, and
#: reading it gives nulls there.
ADDED_IN = {"1.2": {"runs": ("run_hash",)}, "1.3": {"runs": ("finetune_seed",), "curves": ("finetune_seed",)}}

STATUSES = tuple(s.value for s in RunStatus)

LAYER_TYPE = pa.struct(
    [
        pa.field("op_type", pa.string()),
        pa.field("op_param", pa.string()),  # "SDP" | "WMA" | "DFT" | "DCT" | "5" | "9"
        pa.field("heads", pa.int32()),
        pa.field("ffn_dim", pa.int32()),
        pa.field("num_ffn", pa.int32()),
    ]
)

METRIC_TYPE = pa.struct([pa.field("name", pa.string()), pa.field("value", pa.float64())])


def _schema(fields: list[tuple[str, pa.DataType, str]]) -> pa.Schema:
    return pa.schema([pa.field(n, t, metadata={"doc": d}) for n, t, d in fields])


ARCHITECTURES_BERT = _schema(
    [
        ("arch_id", pa.string(), "sha256[:16] of the canonical architecture JSON (bertbench.space)"),
        ("hidden_size", pa.int32(), "global hidden size H"),
        ("num_layers", pa.int32(), "number of encoder layers"),
        ("layers", pa.list_(LAYER_TYPE), "per layer: op_type, op_param, heads, ffn_dim, num_ffn"),
        ("arch_json", pa.string(), "canonical JSON of the architecture"),
        ("params", pa.int64(), "parameters of the discriminator encoder as built (as_named; embeddings included)"),
        ("flops", pa.int64(), "forward multiply-accumulates x2 for one 128-token sequence (analytic; null if unknown)"),
    ]
)

ARCHITECTURES_RNN = _schema(
    [
        ("arch_id", pa.string(), "sha256[:16] of the canonical recipe JSON (bertbench.space.rnn)"),
        ("recipe_id", pa.int64(), "NAS-Bench-NLP recepie_id"),
        ("recipe_json", pa.string(), "JSON of the cell recipe, nodes in the logged order (arch_id hashes the sorted form)"),
        ("num_nodes", pa.int32(), "nodes of the cell graph"),
        ("params", pa.int64(), "num_params reported by the log (null if absent)"),
    ]
)

RUNS = _schema(
    [
        ("arch_id", pa.string(), "architecture id"),
        ("run_key", pa.string(), "unit of one trained network: arch_id for ours; paper id / log name for imported data"),
        ("seed", pa.int32(), "seed of the run (the trainer derives every RNG from arch_id, seed and stage)"),
        ("stage", pa.string(), "'pretrain' or the task name (fine-tuning) or the LM dataset"),
        ("status", pa.string(), "ok | failed | diverged"),
        ("main_metric", pa.string(), "name of the metric this stage ranks by"),
        ("score", pa.float64(), "value of main_metric (NaN unless status is ok)"),
        ("metrics", pa.list_(METRIC_TYPE), "every metric of the stage: (name, value)"),
        ("steps", pa.int64(), "optimizer steps run"),
        ("tokens", pa.int64(), "tokens seen in training (null if unknown)"),
        ("wall_seconds", pa.float64(), "wall-clock seconds of the stage"),
        ("device", pa.string(), "device summary, e.g. 'cpu x2' or 'cuda:NVIDIA H100'"),
        ("error", pa.string(), "error text for failed / diverged runs, else null"),
        ("run_hash", pa.string(), "identity of the run that trained it (run.json identity_sha256[:16]: recipe, grid, "
                                  "tasks, data): one hash = one recipe; null for benchmarks bertbench did not train"),
        ("finetune_seed", pa.int32(), "fine-tuning seed of a task row (each pretrained encoder is fine-tuned once per "
                                      "recipe finetune.seeds); null for pretraining rows and releases before 1.3"),
    ]
)

CURVES = _schema(
    [
        ("arch_id", pa.string(), "architecture id"),
        ("run_key", pa.string(), "as in runs"),
        ("seed", pa.int32(), "as in runs"),
        ("stage", pa.string(), "as in runs"),
        ("step", pa.int64(), "optimizer step (or epoch for per-epoch logs)"),
        ("name", pa.string(), "curve name, e.g. train_loss, val_loss, test_loss, lr"),
        ("value", pa.float64(), "value at that step (NaN where it was not finite)"),
        ("finetune_seed", pa.int32(), "fine-tuning seed of a task curve; null for pretraining curves"),
    ]
)

PROXIES = _schema(
    [
        ("arch_id", pa.string(), "architecture id"),
        ("proxy", pa.string(), "proxy name (bertbench.proxies registry)"),
        ("variant", pa.string(), "model builder: as_named | as_trained_2023 | rnn"),
        ("seed", pa.int32(), "initialisation and batch seed"),
        ("batch_size", pa.int32(), "sequences in the input batch"),
        ("seq_len", pa.int32(), "tokens per sequence"),
        ("source", pa.string(), "input corpus source"),
        ("loss", pa.string(), "objective of gradient proxies: mlm | paper-2023 (BERT), output-sum (RNN)"),
        ("value", pa.float64(), "score (NaN unless status is ok)"),
        ("seconds", pa.float64(), "wall time of this score (the stability re-score included)"),
        ("status", pa.string(), "ok | failed | unstable (float32 and float64 disagree beyond the tolerance)"),
        ("error", pa.string(), "why, if not ok"),
    ]
)

TABLES = ("architectures", "runs", "curves", "proxies")


ARCHITECTURE_SCHEMAS = {"bert": ARCHITECTURES_BERT, "rnn": ARCHITECTURES_RNN}  # per model family (bertbench.families)


def schema_for(table: str, family: str = "bert", version: str | None = None) -> pa.Schema:
    """The Arrow schema of ``table`` (one of TABLES); the architectures table's depends on the model family. With
    ``version``: the columns a release of that schema version has (later additions left out)."""
    schema = _schema_of(table, family)
    if version is not None:
        later = {c for v, added in ADDED_IN.items() if version_tuple(v) > version_tuple(version) for c in added.get(table, ())}
        schema = pa.schema([f for f in schema if f.name not in later])
    return schema


def _schema_of(table: str, family: str) -> pa.Schema:
    if table == "architectures":
        if family not in ARCHITECTURE_SCHEMAS:
            raise ValueError(f"family={family!r} has no architectures schema; allowed: {sorted(ARCHITECTURE_SCHEMAS)}")
        return ARCHITECTURE_SCHEMAS[family]
    if table not in TABLES:
        raise ValueError(f"table={table!r} is not known; allowed: {list(TABLES)}")
    return {"runs": RUNS, "curves": CURVES, "proxies": PROXIES}[table]


def column_docs(schema: pa.Schema) -> dict[str, str]:
    return {f.name: (f.metadata or {}).get(b"doc", b"").decode() for f in schema}


def architecture_row(arch: Any, vocab_size: int = 30522) -> dict[str, Any]:
    """The ``architectures`` row of a bertbench Architecture (params counted with ``vocab_size`` embeddings)."""
    from bertbench.space.cost import count_flops, count_params

    return {"arch_id": arch.arch_id, "hidden_size": arch.hidden_size, "num_layers": arch.num_layers,
            "layers": [{**ly.to_dict(), "op_param": str(ly.op_param)} for ly in arch.layers],
            "arch_json": arch.to_json(), "params": count_params(arch, vocab_size=vocab_size),
            "flops": count_flops(arch)}


def metrics_list(metrics: dict[str, float]) -> list[dict[str, float]]:
    return [{"name": k, "value": float(v)} for k, v in metrics.items()]


PROXY_STATUSES = tuple(s.value for s in ProxyStatus)


def run_row(arch_id: str, run_key: str, seed: int, stage: str, status: str, main_metric: str,
            metrics: Mapping[str, float], *, steps: int | None = None, tokens: int | None = None,
            wall_seconds: float | None = None, device: str | None = None, error: str | None = None,
            run_hash: str | None = None, finetune_seed: int | None = None) -> dict[str, Any]:
    """One ``runs`` row. ``status`` in STATUSES; unless it is "ok" every metric and the score are NaN (never 0);
    ``score`` is ``metrics[main_metric]`` (NaN when absent, e.g. a stage that ranks nothing: ``main_metric=""``)."""
    if status not in STATUSES:
        raise ValueError(f"status={status!r} is not valid; allowed: {list(STATUSES)}")
    ok = status == "ok"
    values = {k: (float(v) if ok and v is not None else math.nan) for k, v in metrics.items()}
    return {"arch_id": arch_id, "run_key": run_key, "seed": int(seed), "stage": stage, "status": status,
            "main_metric": main_metric, "score": values.get(main_metric, math.nan) if main_metric else math.nan,
            "metrics": metrics_list(values), "steps": steps, "tokens": tokens, "wall_seconds": wall_seconds,
            "device": device, "error": error, "run_hash": run_hash,
            "finetune_seed": None if finetune_seed is None else int(finetune_seed)}


def curve_rows(arch_id: str, run_key: str, seed: int, stage: str,
               points: Iterable[Mapping[str, Any]], finetune_seed: int | None = None) -> list[dict[str, Any]]:
    """``curves`` rows of one run from its points ({step, name, value})."""
    fs = None if finetune_seed is None else int(finetune_seed)
    return [{"arch_id": arch_id, "run_key": run_key, "seed": int(seed), "stage": stage, "step": int(p["step"]),
             "name": p["name"], "value": float(p["value"]) if p["value"] is not None else math.nan,
             "finetune_seed": fs} for p in points]


def proxy_row(arch_id: str, proxy: str, variant: str, seed: int, *, batch_size: int | None, seq_len: int | None,
              source: str | None, loss: str | None, value: float, status: str = "ok", seconds: float | None = None,
              error: str | None = None) -> dict[str, Any]:
    """One ``proxies`` row; ``status`` in PROXY_STATUSES; the value is NaN unless it is "ok"."""
    if status not in PROXY_STATUSES:
        raise ValueError(f"status={status!r} is not valid; allowed: {list(PROXY_STATUSES)}")
    return {"arch_id": arch_id, "proxy": proxy, "variant": variant, "seed": int(seed), "batch_size": batch_size,
            "seq_len": seq_len, "source": source, "loss": loss,
            "value": float(value) if status == "ok" and value is not None else math.nan, "seconds": seconds,
            "status": status, "error": error}


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in str(v).split("."))
