"""What NAS algorithms ask of a benchmark (NATS-Bench / NASLib style), mixed into ``Benchmark``:

- ``query_seed(id, seed=None | int | "random", rng=)``: one seed's per-stage scores (or the mean over seeds);
  ``metric_at(id, stage, name, step, seed=)``: a curve's value at a step;
- ``train_cost(id)``: what "training" that unit costs on a simulated clock, in ``cost_unit`` (see below);
- ``find_best(metric, max_params=, max_flops=, **filters)``: the best unit under constraints;
- ``encode(arch, kind)``: a fixed-length numpy vector (``onehot`` / ``features`` for BERT, ``adjacency`` /
  ``features`` for NAS-Bench-NLP cells);
- ``neighbours(arch)`` / ``mutate(arch, rng)``: moves that stay on the architectures the benchmark holds (the
  nearest ones by one-hot Hamming distance: a search on a benchmark can only "train" what it holds);
  ``space_neighbours(arch)``: every one-choice change in the BERT search space itself;
- ``to_hf_dataset(view)``: a ``datasets.Dataset`` of a view.

Training cost, per benchmark (``cost_unit``): the 2023 data records ``time_to_train`` (pretraining seconds on a TPU
v2-8, fine-tuning excluded): "tpu-v2-8 seconds"; NAS-Bench-NLP logs record per-epoch wall times: "gpu seconds" (the
sum of a log's epochs); our releases record every stage's wall seconds: "seconds" on the recorded device (sum of
the unit's stages, mean over seeds). A unit without a recorded time costs 3 x the forward FLOPs of a 128-token
sequence x the 12.8M sequences of the paper recipe's pretraining (100k steps of 128), in FLOPs.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from bertbench.families import encode_bert, get_family
from bertbench.options import SYNTHETIC

log = logging.getLogger(__name__)


class NasQueries:
    """Mixin of ``Benchmark`` (uses its tables, summary, ``filter``, ``query`` and ``_resolve_ids``)."""

    # -- per-seed and per-step queries --------------------------------------------------------------------------------
    def query_seed(self, arch_or_id: Any, seed: int | str | None = None, rng: np.random.Generator | None = None
                   ) -> dict[str, float]:
        """{stage: score} of one seed (an int), of a seed drawn with ``rng`` ("random": noise sampling, as one
        training run would give), or the mean over ok seeds (None). NaN where the stage did not end ok."""
        unit = self._resolve_ids(arch_or_id)[0]
        runs = self._rows_of("runs", unit).select(["seed", "stage", "status", "score"]).to_pandas()
        if seed == "random":
            seeds = sorted(runs["seed"].unique())
            seed = int((rng or np.random.default_rng(0)).choice(seeds))
        if seed is not None:
            runs = runs[runs["seed"] == int(seed)]
            if runs.empty:
                raise KeyError(f"unit {unit} of {self.name} has no seed {seed}")
        runs = runs.assign(score=np.where(runs["status"] == "ok", runs["score"], np.nan))
        return {str(k): float(v) for k, v in runs.groupby("stage", sort=False)["score"].mean().items()}

    def metric_at(self, arch_or_id: Any, stage: str, name: str, step: int, seed: int | None = None) -> float:
        """The curve ``name`` of ``stage`` at the last logged step <= ``step`` (mean over seeds when None); NaN when
        no point is logged at or before ``step``. An unknown stage or curve name raises KeyError naming those held."""
        unit = self._resolve_ids(arch_or_id)[0]
        c = self._rows_of("curves", unit).to_pandas()
        stages = sorted(c["stage"].unique())
        if stage not in stages:
            raise KeyError(f"stage={stage!r} has no curves for unit {unit} of {self.name}; allowed: {stages}")
        names = sorted(c.loc[c["stage"] == stage, "name"].unique())
        if name not in names:
            raise KeyError(f"curve name={name!r} is not logged for stage {stage!r} of {self.name}; allowed: {names}")
        c = c[(c["stage"] == stage) & (c["name"] == name) & (c["step"] <= step)]
        if seed is not None:
            c = c[c["seed"] == seed]
        if c.empty:
            return math.nan
        last = c.loc[c.groupby("seed")["step"].idxmax()]
        return float(last["value"].mean())

    def direction(self, column: str) -> str:
        """"lower" or "higher": which way ``column`` (a summary, runs or metric column) is better. The one source:
        the benchmark's metric docs, then the name (losses, perplexities and ``pretrain`` are lower-is-better)."""
        base = column.removesuffix("_std").removesuffix("_ft")
        doc = (self.metadata.get("metrics", {}) or {}).get(base, {})
        if doc.get("direction") in ("lower", "higher"):
            return doc["direction"]
        lower = base == "pretrain" or base.endswith(("loss", "perplexity", "bits_per_word", "ppl"))
        return "lower" if lower else "higher"

    def target_warning(self, column: str) -> str | None:
        """A one-line warning when ``column``'s reliability over seeds is below 0.5 or unknown (once per column;
        ``bertbench.reliability``); None for columns that are not seed-measured targets."""
        key = f"_warned:{column}"
        if key not in self._groups:
            from bertbench.reliability import reliability_warning

            self._groups[key] = reliability_warning(self, column) if self.id_column == "arch_id" else None
        return self._groups[key]

    def default_target(self) -> tuple[str, str]:
        """(summary column, direction) that ranks this benchmark: the final test loss for RNN logs, else the first
        aggregate with values (glue_2023, glue, glue_mini, synthetic), else the first task, else pretraining."""
        if get_family(self.family).target is not None:
            return get_family(self.family).target
        summary = self.to_pandas()
        for name in ("glue_2023", "glue", "glue_mini", SYNTHETIC):
            if name in summary.columns and summary[name].notna().any():
                return name, "higher"
        tasks = [t for t in self.metadata.get("tasks", []) if t in summary.columns]
        return (tasks[0], "higher") if tasks else ("pretrain", "lower")

    # -- costs and constraints ----------------------------------------------------------------------------------------
    @property
    def cost_unit(self) -> str:
        """The unit of ``train_cost``: ``metadata["cost_unit"]``, else the family's."""
        return self.metadata.get("cost_unit") or get_family(self.family).cost_unit

    def train_costs(self) -> pd.Series:
        """Cost of training each unit (index: the id column), in ``cost_unit``; see the module docstring."""
        if "_train_costs" not in self._groups:
            runs = self.tables["runs"].select(["run_key", "arch_id", "seed", "stage", "wall_seconds"]).to_pandas()
            key = "run_key" if self.id_column != "arch_id" else "arch_id"
            if self.metadata.get("cost_stages"):  # the stages whose time is recorded as the training cost
                runs = runs[runs["stage"].isin(self.metadata["cost_stages"])]
            per_seed = runs.groupby([key, "seed"])["wall_seconds"].sum(min_count=1)
            cost = per_seed.groupby(level=0).mean()
            cost.index = cost.index.astype(str)
            summary = self._summary_frame().set_index(self.id_column)
            flops = pd.to_numeric(summary.get("flops", pd.Series(np.nan, index=summary.index)), errors="coerce")
            fallback = 3.0 * flops.astype(float) * 128 * 100_000  # forward + backward, 100k steps of 128 sequences
            cost = cost.reindex(summary.index.astype(str)).astype(float)
            self._groups["_train_costs"] = cost.fillna(fallback.set_axis(cost.index))
        return self._groups["_train_costs"]

    def train_cost(self, arch_or_id: Any) -> float:
        """What training this unit costs, in ``cost_unit``."""
        return float(self.train_costs()[self._resolve_ids(arch_or_id)[0]])

    # -- the simulated clock (NATS-Bench's simulate_train_eval / used_time / reset_time) -----------------------------
    def simulate_train_eval(self, arch_or_id: Any, metric: str | None = None, seed: int | str | None = "random",
                            rng: np.random.Generator | None = None) -> tuple[float, float, float]:
        """Train a unit on the simulated clock: (its ``metric`` as one training gives it, what this training cost
        in ``cost_unit``, the clock's total so far). ``seed``: "random" draws one of the unit's seeds with ``rng``
        (noise as a real training would have), an int picks one, None takes the mean over seeds; a metric that is
        not a stage (an aggregate, a summary column) is the summary's mean. Every call pays the unit's cost;
        ``used_time`` is the total, ``reset_time()`` sets it to 0."""
        unit = self._resolve_ids(arch_or_id)[0]
        metric = metric or self.default_target()[0]
        per_seed = self.query_seed(unit, seed, rng)
        if metric in per_seed:
            value = per_seed[metric]
        else:
            row = self._summary_frame().set_index(self._summary_frame()[self.id_column].astype(str)).loc[unit]
            if metric not in row.index:
                raise KeyError(f"metric {metric!r} is not a stage or summary column of {self.name}; allowed: "
                               f"{sorted(per_seed)} or {sorted(map(str, row.index))}")
            value = float(pd.to_numeric(pd.Series([row[metric]]), errors="coerce").astype(float).iloc[0])
        cost = self.train_cost(unit)
        clock = self._groups.setdefault("_clock", {"used": 0.0})
        clock["used"] += cost
        return value, cost, clock["used"]

    @property
    def used_time(self) -> float:
        """Simulated training time spent by ``simulate_train_eval`` since the last ``reset_time`` (``cost_unit``)."""
        return float(self._groups.get("_clock", {}).get("used", 0.0))

    def reset_time(self) -> None:
        """Set the simulated clock back to 0."""
        self._groups["_clock"] = {"used": 0.0}

    def find_best(self, metric: str, max_params: float | None = None, max_flops: float | None = None,
                  **filters: Any) -> dict[str, Any]:
        """The summary row with the best ``metric`` (its documented direction) among units with ``params <=
        max_params``, ``flops <= max_flops`` and the ``filter`` conditions; NaN metrics never win."""
        sub = self.filter(**filters) if filters else self
        s = sub.to_pandas()
        if metric not in s.columns:
            raise KeyError(f"metric {metric!r} is not a summary column; allowed: {list(s.columns)}")
        mask = pd.Series(True, index=s.index)
        for col, limit in (("params", max_params), ("flops", max_flops)):
            if limit is not None:
                mask &= pd.to_numeric(s[col], errors="coerce").astype(float) <= limit
        values = pd.to_numeric(s[metric], errors="coerce").astype(float).where(mask)
        if values.notna().sum() == 0:
            raise ValueError(f"no unit of {self.name} meets the constraints with a value of {metric!r}")
        lower = self.direction(metric) == "lower"
        idx = values.idxmin() if lower else values.idxmax()
        warning = self.target_warning(metric)
        if warning:
            log.warning("%s", warning)
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in s.loc[idx].to_dict().items()}

    # -- encodings and moves ------------------------------------------------------------------------------------------
    def search_space(self) -> Any:
        """BERT: the benchmark's ``SearchSpace`` (``metadata["space_name"]``, default nas-bench-bert-2023)."""
        if "_space" not in self._groups:
            from bertbench.space import SearchSpace

            self._groups["_space"] = SearchSpace.named(self.metadata.get("space_name", "nas-bench-bert-2023"))
        return self._groups["_space"]

    def encode(self, arch: Any, kind: str = "onehot") -> np.ndarray:
        """A fixed-length vector of ``arch`` (an architecture or an id). BERT: "onehot" (hidden size, then per layer
        slot up to the space's max depth: present, op, heads, FFN width, FFN depth) or "features" (the same as
        numbers, padded with 0). RNN: "adjacency" (the cell DAG's adjacency matrix, padded to the benchmark's
        largest cell, then a one-hot of each node's op) or "features" (node count, op counts)."""
        if not hasattr(arch, "arch_id"):
            arch = self.query(arch)["architecture"]
        fam = get_family(self.family)
        return fam.encode(arch, kind, fam.encode_context(self))

    @staticmethod
    def _encode_static(arch: Any, space: Any, kind: str = "onehot") -> np.ndarray:
        """``encode`` of a BERT architecture in ``space`` without a benchmark."""
        return encode_bert(arch, kind, space)

    def max_nodes(self) -> int:
        """NAS-Bench-NLP: the node count of the largest cell the benchmark holds (what ``adjacency`` pads to)."""
        if "_max_nodes" not in self._groups:
            self._groups["_max_nodes"] = int(max(self.tables["architectures"].column("num_nodes").to_pylist()))
        return self._groups["_max_nodes"]

    def encodings(self, kind: str = "onehot") -> tuple[list[str], np.ndarray]:
        """(units, matrix): ``encode`` of every unit's architecture, in summary order (cached)."""
        key = f"_enc_{kind}"
        if key not in self._groups:
            s = self._summary_frame()
            arch_rows = self._arch_rows()
            units = s[self.id_column].astype(str).tolist()
            mat = np.stack([self.encode(self._arch_from_row(arch_rows[str(a)]), kind) for a in s["arch_id"]])
            self._groups[key] = (units, mat)
        return self._groups[key]

    def neighbours(self, arch_or_id: Any) -> list[str]:
        """Units of this benchmark nearest to ``arch_or_id`` by one-hot Hamming distance (all ties, distance > 0):
        a move that stays on what the benchmark holds."""
        units, mat = self.encodings(get_family(self.family).encodings[0])
        unit = self._resolve_ids(arch_or_id)[0]
        if "_unit_pos" not in self._groups:
            self._groups["_unit_pos"] = {u: k for k, u in enumerate(units)}
        i = self._groups["_unit_pos"][unit]
        d = np.abs(mat - mat[i]).sum(axis=1)
        d[d == 0] = np.inf  # itself, and duplicated architectures
        if not np.isfinite(d).any():
            return []
        return [units[j] for j in np.flatnonzero(d == d.min())]

    def mutate(self, arch_or_id: Any, rng: np.random.Generator) -> str:
        """A random neighbour (``neighbours``) of the unit: one step of a search on this benchmark."""
        options = self.neighbours(arch_or_id)
        if not options:
            raise ValueError(f"{arch_or_id!r} has no neighbour in {self.name}")
        return options[int(rng.integers(len(options)))]

    def space_neighbours(self, arch: Any) -> list[Any]:
        """BERT: every architecture of the search space that differs from ``arch`` in one choice (the hidden size,
        or one layer's op, heads, FFN width or FFN depth)."""
        from bertbench.space import Architecture, LayerSpec

        if self.family != "bert":
            raise ValueError("space_neighbours is defined for the BERT space; NAS-Bench-NLP moves use neighbours()")
        if not hasattr(arch, "arch_id"):
            arch = self.query(arch)["architecture"]
        space = self.search_space()
        out = [Architecture(h, arch.layers) for h in space.hidden_sizes if h != arch.hidden_size]
        ops = [(t, p) for t, params in space.op_params for p in params]
        for i, ly in enumerate(arch.layers):
            options = ([LayerSpec(t, p, ly.heads, ly.ffn_dim, ly.num_ffn) for t, p in ops if (t, p) != (ly.op_type, ly.op_param)]
                       + [LayerSpec(ly.op_type, ly.op_param, n, ly.ffn_dim, ly.num_ffn) for n in space.heads if n != ly.heads]
                       + [LayerSpec(ly.op_type, ly.op_param, ly.heads, f, ly.num_ffn) for f in space.ffn_dims if f != ly.ffn_dim]
                       + [LayerSpec(ly.op_type, ly.op_param, ly.heads, ly.ffn_dim, k) for k in space.num_ffns if k != ly.num_ffn])
            out += [Architecture(arch.hidden_size, (*arch.layers[:i], new, *arch.layers[i + 1:])) for new in options]
        return out

    def to_hf_dataset(self, view: str = "summary") -> Any:
        """The view as a ``datasets.Dataset``."""
        import pyarrow as pa
        from datasets import Dataset

        return Dataset(pa.Table.from_pandas(self.to_pandas(view), preserve_index=False))
