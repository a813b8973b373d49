"""Tables behind a Benchmark: read lazily from Parquet, converted once from published data and cached, and the
row lookups the query API uses."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bertbench.file_io import atomic_dir

log = logging.getLogger(__name__)


class LazyTables(Mapping):
    """Tables read from Parquet on first access (a summary view does not wait for millions of curve points)."""

    def __init__(self, files: dict[str, Path], schemas: dict[str, pa.Schema] | None = None) -> None:
        self._files, self._schemas, self._loaded = dict(files), schemas or {}, {}

    def __getitem__(self, name: str) -> pa.Table:
        if name not in self._loaded:
            if name not in self._files:
                raise KeyError(name)
            try:
                self._loaded[name] = pq.read_table(self._files[name], schema=self._schemas.get(name))
            except (pa.ArrowInvalid, OSError) as err:
                if isinstance(err, OSError) and not isinstance(err, pa.ArrowException) and err.errno is not None:
                    raise  # the machine's (permissions, disk): not a corrupt release
                from bertbench.errors import CorruptRelease

                raise CorruptRelease(f"{self._files[name]}: table {name!r} cannot be read ({' '.join(str(err).split())[:200]}); "
                                     "the file is truncated or corrupt") from err
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def cached_conversion(folder: Path, convert: Any) -> tuple[Mapping[str, pa.Table], dict[str, Any]]:
    """The tables and info of a conversion of published data, kept as Parquet in ``folder`` (named by the sources'
    content and the converter version): read lazily when there, else ``convert()`` -> (tables, info), written
    atomically. A cache that cannot be written only costs time: the fresh tables are returned (one warning)."""
    if (folder / "info.json").exists():
        info = json.loads((folder / "info.json").read_text())
        return LazyTables({n: folder / f"{n}.parquet" for n in info["tables"]}), info
    tables, info = convert()
    info = {**info, "tables": list(tables)}
    try:
        with atomic_dir(folder) as tmp:  # another process may win the race: theirs is identical
            for name, table in tables.items():
                pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
            (tmp / "info.json").write_text(json.dumps(info, default=str))
    except OSError as err:
        log.warning("conversion cache not written (%s): %s", folder, err)
    return tables, info


def coerce_value(series: pd.Series, column: str, value: Any) -> Any:
    """``value`` in the type of ``series`` (``paper_id="47"`` means 47, ``arch_id`` is a string); a value that cannot be
    compared raises, naming the field, instead of silently matching nothing."""
    if pd.api.types.is_string_dtype(series.dtype) or pd.api.types.is_object_dtype(series.dtype):
        if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
            raise ValueError(f"filter field {column!r} holds strings; got {value!r} ({type(value).__name__})")
        return str(value)
    if pd.api.types.is_numeric_dtype(series.dtype) and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"filter field {column!r} holds numbers; got the string {value!r}") from None
    if pd.api.types.is_integer_dtype(series.dtype) and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"filter field {column!r} holds integers; got {value!r}")
    return value


def rows_where(table: pa.Table, column: str, value: str) -> pa.Table:
    return table.filter(pc.equal(table[column], pa.scalar(value, pa.string())))


def group_slices(table: pa.Table) -> dict[str, tuple[int, int]] | None:
    """run_key -> (offset, length) when equal run_keys are contiguous; None otherwise."""
    if table.num_rows == 0:
        return {}
    enc = pc.dictionary_encode(table["run_key"]).combine_chunks()
    idx = enc.indices.to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(idx)) + 1])
    codes = idx[starts]
    if len(np.unique(codes)) != len(codes):
        return None
    lengths = np.diff(np.append(starts, len(idx)))
    names = enc.dictionary.to_pylist()
    return {names[c]: (int(s), int(n)) for c, s, n in zip(codes, starts, lengths)}
