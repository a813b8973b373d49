"""Atomic result files in a run folder.

Layout: ``RUN_DIR/shards/<table>/<name>.parquet`` (the folder keeps its first name so older run folders resume);
``name`` (``result_name``) names one result: ``<arch_id>__s<seed>__<stage>``. Each file is written to a temporary
file in the same folder and renamed into place (atomic on POSIX), so readers and other writer processes never see
half a file; the ``runs`` file is written last and marks the result done.
Writing the same key twice replaces the file with identical content: a result can never appear twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bertbench.file_io import atomic_write_table
from bertbench.store.schema import schema_for

SHARDS = "shards"  # RUN_DIR/shards/<table>/<name>.parquet


def result_name(arch_id: str, seed: int, stage: str, finetune_seed: int | None = None) -> str:
    """``<arch_id>__s<seed>__<stage>``, and ``__f<k>`` after it for a fine-tuning seed k > 0 (seed 0 keeps the name
    results had before fine-tuning seeds existed, so older run folders resume)."""
    if "__" in stage or "/" in stage:
        raise ValueError(f"stage={stage!r} must not contain '__' or '/'")
    from bertbench.store.run_folder import unit_name

    return f"{unit_name(arch_id, seed)}__{stage}" + (f"__f{finetune_seed}" if finetune_seed else "")


def result_stage(name: str) -> str:
    """The stage of a result file name (``result_name``'s third part)."""
    return name.split("__")[2]


class ResultWriter:
    """Writes and reads the result files of one run folder (safe with many writer processes)."""

    def __init__(self, run_dir: str | os.PathLike[str], family: str = "bert") -> None:
        self.run_dir = Path(run_dir)
        self.family = family

    def path(self, table: str, key: str) -> Path:
        return self.run_dir / SHARDS / table / f"{key}.parquet"

    def done(self, key: str) -> bool:
        return self.path("runs", key).exists()

    def write_architecture(self, arch_id: str, rows: list[dict]) -> None:
        path = self.path("architectures", arch_id)
        if not path.exists():
            atomic_write_table(path, pa.Table.from_pylist(rows, schema=schema_for("architectures", self.family)))

    def write_result(self, key: str, runs: list[dict], curves: list[dict] | None = None,
                     proxies: list[dict] | None = None) -> None:
        """Write one result's rows; the runs file goes last and marks the result complete."""
        if curves:
            atomic_write_table(self.path("curves", key), pa.Table.from_pylist(curves, schema=schema_for("curves")))
        if proxies:
            atomic_write_table(self.path("proxies", key), pa.Table.from_pylist(proxies, schema=schema_for("proxies")))
        atomic_write_table(self.path("runs", key), pa.Table.from_pylist(runs, schema=schema_for("runs")))

    def remove_temp_files(self, prefix: str) -> None:
        """Temp files of result writes killed before their rename, for result names starting with ``prefix``."""
        for table in ("runs", "curves", "proxies"):
            for tmp in (self.run_dir / SHARDS / table).glob(f".{prefix}*.tmp"):
                tmp.unlink(missing_ok=True)

    def remove_result(self, key: str) -> None:
        """Forget one result (its runs file first, so it is never seen half-removed)."""
        for table in ("runs", "curves", "proxies"):
            self.path(table, key).unlink(missing_ok=True)

    def write_proxies(self, key: str, rows: list[dict]) -> None:
        atomic_write_table(self.path("proxies", key), pa.Table.from_pylist(rows, schema=schema_for("proxies")))

    def keys(self, table: str = "runs") -> list[str]:
        folder = self.run_dir / SHARDS / table
        return sorted(p.stem for p in folder.glob("*.parquet")) if folder.exists() else []

    def finetuning_keys(self) -> list[str]:
        """The finished results of every stage but pretraining."""
        return [k for k in self.keys("runs") if result_stage(k) != "pretrain"]

    def read(self, table: str) -> pa.Table:
        """All result files of ``table`` concatenated in key order (curves/proxies only of completed results)."""
        schema = schema_for(table, self.family)
        keys = self.keys(table)
        if table in ("curves",):
            done = set(self.keys("runs"))
            keys = [k for k in keys if k in done]
        parts = [pq.read_table(self.path(table, k), schema=schema) for k in keys]
        return pa.concat_tables(parts) if parts else schema.empty_table()
