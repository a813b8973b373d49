"""`Benchmark`: one query API over every benchmark bertbench loads (our releases, NAS-Bench-BERT 2023, NAS-Bench-NLP).

Tables are pyarrow Tables with the schemas of `bertbench.store.schema`. Views:
- ``summary``: one row per unit (``id_column``: an architecture for our releases, a paper id for the 2023 data, a log or a
  recipe for NAS-Bench-NLP): architecture columns, ``status``, per stage the main metric (mean over ok seeds) and its
  standard deviation ``<stage>_std``, ``n_seeds``, and every aggregate that applies (NaN when a part is missing).
- ``runs``: one row per run with every metric as its own column; ``curves``; ``proxies``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bertbench.env import cache_root
from bertbench.families import get_family
from bertbench.file_io import atomic_file
from bertbench.loaders.metadata import BenchmarkMetadata
from bertbench.loaders.nas_api import NasQueries
from bertbench.loaders.tables import (
    coerce_value,
    group_slices,
    rows_where,
)
from bertbench.options import View, parse

log = logging.getLogger(__name__)
SUMMARY_VERSION = "4"  # bump when build_summary changes what it returns: cached summaries are then rebuilt

VIEWS = tuple(View)


@dataclass(repr=False)
class Benchmark(NasQueries):
    """A loaded benchmark; see the module docstring for its views."""

    name: str
    version: str
    family: str  # a registered model family (bertbench.families): "bert" | "rnn"
    tables: Mapping[str, pa.Table]  # a dict, or LazyTables (read on first access)
    metadata: BenchmarkMetadata = field(default_factory=BenchmarkMetadata)  # a dict is converted
    id_column: str = "arch_id"
    _summary: pd.DataFrame | None = field(default=None, repr=False)
    _idx: Any = field(default=None, repr=False)
    _rows: Any = field(default=None, repr=False)
    _archs: Any = field(default=None, repr=False)
    _groups: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, BenchmarkMetadata):
            self.metadata = BenchmarkMetadata.from_dict(
                {"name": self.name, "version": self.version, "family": self.family, **dict(self.metadata)})

    # -- views ------------------------------------------------------------------------------------------------------
    def to_pandas(self, view: str = "summary") -> pd.DataFrame:
        """A DataFrame (pyarrow dtypes) of ``view``: summary | runs | curves | proxies."""
        view = parse(View, view, "view").value
        if view == "summary":
            return self._summary_frame().copy()
        if view == "runs":
            return self._runs_frame()
        return self.tables[view].to_pandas(types_mapper=pd.ArrowDtype)

    def _runs_frame(self) -> pd.DataFrame:
        runs = self.tables["runs"]
        df = runs.drop_columns(["metrics"]).to_pandas(types_mapper=pd.ArrowDtype)
        from bertbench.loaders.summary import metric_matrix

        names, wide = metric_matrix(runs)
        for j, n in enumerate(names):
            df[n] = pd.arrays.ArrowExtensionArray(pa.array(wide[:, j], pa.float64()))  # NaN stays NaN
        return df

    def _summary_frame(self) -> pd.DataFrame:
        """The summary view, built once per object; with ``metadata["cache_key"]`` (a digest of everything it is
        derived from) also kept as Parquet in the cache, so a new process reads it instead of building it."""
        if self._summary is None:
            key = self.metadata.get("cache_key")
            path = cache_root("summaries") / f"{key}-{SUMMARY_VERSION}.parquet" if key else None
            if path is not None and path.exists():
                self._summary = pq.read_table(path).to_pandas(types_mapper=pd.ArrowDtype)
            else:
                from bertbench.loaders.summary import build_summary

                self._summary = build_summary(self)
                if path is not None:
                    try:
                        with atomic_file(path) as tmp:
                            pq.write_table(pa.Table.from_pandas(self._summary, preserve_index=False), tmp)
                    except OSError as err:  # a cache that cannot be written only costs time
                        log.warning("summary cache not written (%s): %s", path, err)
        return self._summary

    # -- queries ----------------------------------------------------------------------------------------------------
    @property
    def architectures(self) -> list[Any]:
        """The architectures (Architecture or RnnArchitecture), one per row of the architectures table."""
        return [self._arch_from_row(r) for r in self.tables["architectures"].to_pylist()]

    def _arch_from_row(self, row: dict[str, Any]) -> Any:
        return get_family(self.family).arch_from_row(row)

    def _index(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        if self._idx is None:
            summary = self._summary_frame()
            units = summary[self.id_column].astype(str).tolist()
            by_arch: dict[str, list[str]] = {}
            for u, a in zip(units, summary["arch_id"].astype(str).tolist()):
                by_arch.setdefault(a, []).append(u)
            self._idx = ({u: i for i, u in enumerate(units)}, by_arch)
        return self._idx

    def _resolve_ids(self, arch_or_id: Any) -> list[str]:
        """Units (values of id_column) that match an architecture object, an arch_id or a unit id."""
        pos, by_arch = self._index()
        key = arch_or_id.arch_id if hasattr(arch_or_id, "arch_id") else str(arch_or_id)
        if isinstance(arch_or_id, str) and key.lstrip().startswith("{") and self.family == "bert":
            from bertbench.space import Architecture

            key = Architecture.from_json(key).arch_id  # an architecture given as its JSON string
        if not hasattr(arch_or_id, "arch_id") and key in pos:
            return [key]
        hits = by_arch.get(key)
        if not hits:
            by = "arch_id" if self.id_column == "arch_id" else f"{self.id_column} and arch_id"
            raise KeyError(f"{arch_or_id!r} is not in benchmark {self.name} (looked up by {by})")
        return hits

    def query(self, arch_or_id: Any, seed: int | str | None = None, stage: str | None = None, step: int | None = None,
              rng: Any = None) -> dict[str, Any]:
        """One record: architecture, summary metrics, runs (every metric) and curves of the first matching unit.
        ``duplicates`` lists every unit with the same architecture (the 2023 grid has 9 duplicated pairs).
        ``seed`` (an int, or "random" drawn with the numpy Generator ``rng``) adds ``seed`` and ``seed_metrics``
        ({stage: score} of that run; the runs and curves are then that seed's); ``stage`` with ``step`` adds
        ``at_step``: every curve of that stage at the last logged step <= ``step``."""
        unit = self._resolve_ids(arch_or_id)[0]
        pos, by_arch = self._index()
        row = self._summary_rows()[pos[unit]]
        arch_id = str(row["arch_id"])
        arch_row = self._arch_rows()[arch_id]
        runs, curves = self._rows_of("runs", unit), self._rows_of("curves", unit)
        record = {
            self.id_column: unit,
            "arch_id": arch_id,
            "architecture": self._arch_from_row(arch_row),
            "metrics": row,
            "duplicates": by_arch[arch_id],
            "weights": self.weights(arch_id),
        }
        if seed == "random":
            seed = int((rng or np.random.default_rng(0)).choice(sorted(set(runs.column("seed").to_pylist()))))
        if seed is not None:
            runs, curves = (t.filter(pc.equal(t["seed"], int(seed))) for t in (runs, curves))
            record.update(seed=int(seed), seed_metrics=self.query_seed(unit, int(seed)))
        if step is not None:
            if stage is None:
                raise ValueError("step= needs stage= (the stage whose curves to read)")
            names = sorted(set(curves.filter(pc.equal(curves["stage"], stage)).column("name").to_pylist()))
            record["at_step"] = {n: self.metric_at(unit, stage, n, step, seed) for n in names}
        record.update(runs=runs.to_pylist(), curves=curves)
        return record

    def weights(self, arch_id: str) -> dict[int, str]:
        """{seed: folder} of the trained encoders this benchmark holds for ``arch_id`` (transformers folders, see
        ``bertbench export-model``); empty when it has none (the 2023 data, NAS-Bench-NLP, releases without
        ``--models``)."""
        from bertbench.store.run_folder import available_units, parse_unit_name, unit_dir

        source = Path(str(self.metadata.get("source", "")))
        found = {}
        for name in available_units(source):
            parsed = parse_unit_name(name)
            if parsed and parsed[0] == arch_id and (unit_dir(source, *parsed) / "model.safetensors").exists():
                found[parsed[1]] = str(unit_dir(source, *parsed))
        return dict(sorted(found.items()))

    def _rows_of(self, table: str, unit: str) -> pa.Table:
        """Rows of ``table`` whose run_key is ``unit``: a slice when rows are grouped by run_key (built once)."""
        if table not in self._groups:
            self._groups[table] = group_slices(self.tables[table])
        groups = self._groups[table]
        if groups is None:
            return rows_where(self.tables[table], "run_key", unit)
        start, length = groups.get(unit, (0, 0))
        return self.tables[table].slice(start, length)

    def _summary_rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = pa.Table.from_pandas(self._summary_frame(), preserve_index=False).to_pylist()
        return self._rows

    def _arch_rows(self) -> dict[str, dict[str, Any]]:
        if self._archs is None:
            self._archs = {r["arch_id"]: r for r in self.tables["architectures"].to_pylist()}
        return self._archs

    def filter(self, **conditions: Any) -> Benchmark:
        """Keep the units whose summary row meets every condition: ``column=value``, ``column=[values]`` or
        ``column=callable(series) -> bool mask``. E.g. ``filter(hidden_size=256, status="ok")``."""
        summary = self._summary_frame()
        mask = pd.Series(True, index=summary.index)
        for column, cond in conditions.items():
            if column not in summary.columns:
                raise KeyError(f"filter field {column!r} is not a summary column; allowed: {list(summary.columns)}")
            series = summary[column]
            if callable(cond):
                m = cond(series)
            elif isinstance(cond, (list, tuple, set, frozenset)):
                m = series.isin([coerce_value(series, column, c) for c in cond])
            else:
                m = series == coerce_value(series, column, cond)
            mask &= pd.Series(m, index=summary.index).fillna(False).astype(bool)
        return self._subset(summary.loc[mask, self.id_column].astype(str).tolist())

    def sample(self, n: int, seed: int = 0) -> Benchmark:
        """``n`` units drawn without replacement with ``random.Random(seed)`` (in table order)."""
        units = self._summary_frame()[self.id_column].astype(str).tolist()
        if n > len(units):
            raise ValueError(f"n={n} exceeds the {len(units)} units of {self.name}")
        chosen = set(random.Random(seed).sample(units, n))
        return self._subset([u for u in units if u in chosen])

    def _subset(self, units: Iterable[str]) -> Benchmark:
        units = list(units)
        summary = self._summary_frame()
        sub = summary.loc[summary[self.id_column].astype(str).isin(units)]
        arch_ids = pa.array(sorted(set(sub["arch_id"].astype(str))), pa.string())
        unit_arr = pa.array(units, pa.string())
        tables = {
            "architectures": self.tables["architectures"].filter(pc.is_in(self.tables["architectures"]["arch_id"], arch_ids)),
            "runs": self.tables["runs"].filter(pc.is_in(self.tables["runs"]["run_key"], unit_arr)),
            "curves": self.tables["curves"].filter(pc.is_in(self.tables["curves"]["run_key"], unit_arr)),
            "proxies": self.tables["proxies"].filter(pc.is_in(self.tables["proxies"]["arch_id"], arch_ids)),
        }
        meta = {k: v for k, v in self.metadata.items() if k != "cache_key"}  # a subset is not the cached whole
        out = Benchmark(self.name, self.version, self.family, tables, meta, self.id_column)
        out._summary = sub.reset_index(drop=True)
        return out

    def __len__(self) -> int:
        return len(self._summary_frame())

    def __iter__(self) -> Iterator[str]:
        """The units (values of ``id_column``), in summary order: ``for unit in bench: bench.query(unit)``."""
        return iter(self._summary_frame()[self.id_column].astype(str).tolist())

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``bench[i]``: the record (``query``) of the i-th unit of the summary (negative indices count back)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index={index!r} must be an int position; look units up by id with query()")
        units = self._summary_frame()[self.id_column].astype(str)
        if not -len(units) <= index < len(units):
            raise IndexError(f"index={index} is out of range for {len(units)} units of {self.name}")
        return self.query(units.iloc[int(index)])

    def __repr__(self) -> str:
        n_arch = self.tables["architectures"].num_rows
        return (f"Benchmark({self.name!r}, version={self.version!r}, family={self.family!r}, {len(self)} units "
                f"(len) of {n_arch} architectures, unit={self.id_column!r}; views: {', '.join(VIEWS)})")

    # -- models -----------------------------------------------------------------------------------------------------
    def build_model(self, arch: Any, variant: str | None = None, **kwargs: Any) -> Any:
        """An untrained torch model of ``arch`` (an architecture or an id of this benchmark).

        BERT: ``variant`` "as_named" (every op as named) or "as_trained_2023" (what the 2023 code trained; the default
        for the 2023 benchmark). RNN: the NAS-Bench-NLP language model of the recipe."""
        if not hasattr(arch, "arch_id"):
            arch = self.query(arch)["architecture"]
        return get_family(self.family).build(arch, variant or self.default_variant, **kwargs)

    @property
    def default_variant(self) -> str:
        """The build variant of this benchmark's models when none is asked for (``metadata["default_variant"]``,
        else the family's first)."""
        return self.metadata.get("default_variant") or get_family(self.family).variants[0]
