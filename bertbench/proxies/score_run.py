"""Scoring proxies into a run folder: the proxies of the run's family on its untrained architectures, written as
one proxies result file (``shards/proxies/<key>.parquet``) that ``commit`` copies into the release. Scores of
untrained models do not depend on the training, so a run can be scored before, while or after it trains.

The input batch is the default (synthetic blocks) or, with ``corpus``, ``batch_size`` blocks of ``seq_len`` tokens
of that text tokenized with the run's own vocabulary: what the benchmark's models read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from bertbench.options import SYNTHETIC
from bertbench.proxies.inputs import bert_batch
from bertbench.proxies.registry import list_proxies
from bertbench.proxies.scoring import score_benchmark


def score_run(run_dir: str | os.PathLike[str], names: list[str] | None = None, seed: int = 0, batch_size: int = 16,
              seq_len: int = 128, corpus: str | None = None, processes: int = 1, progress: bool = True,
              key: str | None = None) -> tuple[Path, pa.Table]:
    """Score ``names`` (default: every proxy of the family) on the architectures ``run_dir`` plans with models and
    batch drawn from ``seed``; write them as the run's proxies result ``key`` (default ``proxies-seed<seed>``).
    Returns (the file written, the table)."""
    from bertbench.data.tokenizer import load_tokenizer
    from bertbench.store.run_folder import tokenizer_dir
    from bertbench.store.writer import ResultWriter

    bench = planned_architectures(run_dir)
    batch = vocab_size = None
    if corpus is not None:
        folder = tokenizer_dir(run_dir)
        tok = load_tokenizer(folder if folder.is_dir() else SYNTHETIC)
        batch = bert_batch(source=corpus, tokenizer=tok, batch_size=batch_size, seq_len=seq_len, seed=seed)
        vocab_size = len(tok)
    table = score_benchmark(bench, names or list_proxies(bench.family), seed=seed, batch=batch,
                            batch_size=batch_size, seq_len=seq_len, processes=processes, progress=progress,
                            vocab_size=vocab_size)
    writer = ResultWriter(run_dir)
    key = key or f"proxies-seed{seed}"
    writer.write_proxies(key, table.to_pylist())
    return writer.path("proxies", key), table


def planned_architectures(run_dir: str | os.PathLike[str]) -> Any:
    """The architectures a run folder plans (run.json's grid and units), trained or not, as a Benchmark without
    results; the vocabulary size is the run's tokenizer's."""
    from bertbench.data.tokenizer import load_tokenizer
    from bertbench.loaders.base import Benchmark
    from bertbench.store.run_folder import planned_units, tokenizer_dir
    from bertbench.store.schema import architecture_row, schema_for

    archs = {a.arch_id: a for a, _ in planned_units(run_dir)}
    folder = tokenizer_dir(run_dir)
    vocab = len(load_tokenizer(folder if folder.is_dir() else SYNTHETIC))
    table = pa.Table.from_pylist([architecture_row(a, vocab) for a in archs.values()], schema=schema_for("architectures"))
    empty = {t: schema_for(t).empty_table() for t in ("runs", "curves", "proxies")}
    return Benchmark(f"run:{Path(run_dir).name}", "0.0.0", "bert", {"architectures": table, **empty},
                     {"default_variant": "as_named", "vocab_size": vocab})
