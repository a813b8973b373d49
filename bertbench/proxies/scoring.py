"""Scoring proxies on a benchmark's untrained architectures: one model per architecture, built from its seed (in a
spawn pool of 1-thread workers when asked), every named proxy through ``proxies.score``, one ``proxies`` row each;
resumable through a results folder of one Parquet file per architecture."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from bertbench.families import get_family
from bertbench.file_io import atomic_write_table
from bertbench.proxies.inputs import ProxySeeds, default_batch
from bertbench.store.schema import proxy_row, schema_for


def _worker_init(threads: int) -> None:
    """A pool worker: ``threads`` torch threads, and Ctrl-C / a deadline's SIGINT left to the parent, which closes
    the pool (finished architectures are already written), so no worker prints a traceback of its own."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)


def _score_one(args: tuple) -> list[dict[str, Any]]:
    from bertbench.proxies import score

    arch, build, names, batch, seeds, variant = args
    model = build(arch)
    res = score(model, batch.to(build.device), names, seed=seeds.proxy)
    return [proxy_row(arch.arch_id, k, variant, seeds.init, batch_size=batch.batch_size, seq_len=batch.seq_len,
                      source=batch.source, loss=batch.loss_name, **v) for k, v in res.items()]


class _Builder:
    """Picklable model factory for worker processes."""

    def __init__(self, family: str, variant: str, seed: int, vocab_size: int, hyper: dict | None = None,
                 shape: tuple[int, int] | None = None, device: str = "cpu") -> None:
        self.family, self.variant, self.seed, self.vocab_size = family, variant, seed, vocab_size
        self.hyper = hyper or {}
        self.shape = shape
        self.device = device

    def __call__(self, arch: Any) -> Any:
        if self.shape is not None:
            arch = arch.reshaped(*self.shape)
        model = get_family(self.family).build(arch, self.variant, seed=self.seed, vocab_size=self.vocab_size,
                                              **self.hyper)
        return model.to(self.device).eval()  # built (seeded) on the CPU, then moved: the same weights anywhere


def score_benchmark(bench: Any, names: list[str], n: int | None = None, seed: int | ProxySeeds = 0,
                    variant: str | None = None, batch: Any = None, ptb: str | None = None,
                    batch_size: int | None = None, seq_len: int = 128, processes: int = 1, progress: bool = True,
                    vocab_size: int | None = None, results_dir: str | os.PathLike[str] | None = None,
                    shape: tuple[int, int] | None = None, device: str = "cpu") -> pa.Table:
    """Score ``names`` on ``n`` architectures of ``bench`` (all when None; a sample drawn with ``seeds.sample``
    otherwise); returns the ``proxies`` table. ``seed``: an int for every seed, or ``ProxySeeds`` (models from
    ``init``, the BERT batch from ``batch``, each proxy's RNG from ``proxy``). ``shape=(H, F)`` (BERT) scores every
    architecture rebuilt at hidden size H and FFN width F (``Architecture.reshaped``); rows keep the true ``arch_id``.
    ``device`` (e.g. "cuda"): where models are scored (built on the CPU from their seed, then moved; the float64
    gate runs there too). Values on another device agree to rounding, not bit for bit: keep one per results folder.

    ``results_dir`` makes long runs resumable: each architecture's rows are written there as they finish
    (``<arch_id>.parquet``, atomically) and architectures already there are not scored again. Use one folder per
    configuration (proxies, variant, seeds, batch): the folder is trusted, not checked against the arguments."""
    seeds = ProxySeeds.of(seed)
    family = bench.family
    sub = bench.sample(n, seeds.sample) if n is not None and n < len(bench) else bench
    archs = list({a.arch_id: a for a in sub.architectures}.values())
    if batch is None:
        batch = default_batch(family, seed=seeds.batch, batch_size=batch_size, seq_len=seq_len, ptb=ptb)
    if vocab_size is None:  # the 2023 models had the uncased BERT vocabulary; ours that of their tokenizer
        vocab_size = bench.metadata.get("vocab_size") or batch.vocab_size or 30522
    variant = variant or bench.default_variant
    hyper = {k: v for k, v in bench.metadata.get("hparams", {}).items()  # the logs' model shape, when shared
             if k in ("emsize", "nhid", "nlayers") and isinstance(v, int)}
    build = _Builder(family, variant, seeds.init, vocab_size, hyper, shape, device)
    results = Path(results_dir) if results_dir is not None else None
    rows, archs = _resumed(results, archs)
    jobs = [(a, build, names, batch, seeds, variant) for a in archs]
    for res in _run_jobs(jobs, processes, progress, f"proxies {bench.name} ({variant})"):
        rows.extend(res)
        if results is not None and res:
            atomic_write_table(results / f"{res[0]['arch_id']}.parquet",
                               pa.Table.from_pylist(res, schema=schema_for("proxies")))
    rows.sort(key=lambda r: (r["arch_id"], r["proxy"]))  # the same table whatever the order of work
    return pa.Table.from_pylist(rows, schema=schema_for("proxies"))


def read_scored(results: Path, arch_ids: set[str] | None = None) -> pa.Table:
    """The rows already written to a ``results_dir`` of :func:`score_benchmark` (one Parquet file per architecture),
    of ``arch_ids`` only when given, sorted by (arch_id, proxy): a partial run's table."""
    import pyarrow.parquet as pq

    files = sorted(results.glob("*.parquet")) if results.is_dir() else []
    rows = [r for f in files if arch_ids is None or f.stem in arch_ids for r in pq.read_table(f).to_pylist()]
    rows.sort(key=lambda r: (r["arch_id"], r["proxy"]))
    return pa.Table.from_pylist(rows, schema=schema_for("proxies"))


def _resumed(results: Path | None, archs: list[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """(rows already in ``results``, the architectures still to score)."""
    if results is None:
        return [], archs
    rows = read_scored(results, {a.arch_id for a in archs}).to_pylist()
    done = {r["arch_id"] for r in rows}
    return rows, [a for a in archs if a.arch_id not in done]


def _run_jobs(jobs: list[tuple], processes: int, progress: bool, desc: str) -> Any:
    """Yield ``_score_one`` of each job (in a spawn pool of 1-thread workers when ``processes`` > 1)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=desc, unit="arch", disable=None)
    try:
        if processes > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(processes, initializer=_worker_init, initargs=(1,)) as pool:
                for res in pool.imap_unordered(_score_one, jobs):
                    yield res
                    if bar is not None:
                        bar.update(1)
        else:
            for job in jobs:
                yield _score_one(job)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
