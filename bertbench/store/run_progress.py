"""How far a run folder is: the results written for each stage against what ``run.json`` plans, the units in
flight (live claims), and the work left, predicted from the seconds the folder's own results took.

The prediction: a unit's pretraining costs the median pretraining seconds of its (hidden size, depth) group
(the median of all pretrainings while its group has none); a result of a fine-tuning task costs that times the
task's ratio, the seconds its written results took over the pretraining cost of their units. Seconds are each
result's own wall time, so with N workers on the machine that measured them the wall time left is about the
work left / N. Nothing here is known before a stage has written one result: its time left is then NaN."""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from bertbench.options import RunStatus
from bertbench.store.claims import claim_held
from bertbench.store.release import planned_results
from bertbench.store.run_folder import CLAIMS, planned_units, read_run_info, unit_name
from bertbench.store.writer import SHARDS

PRETRAIN = "pretrain"


@dataclass(frozen=True)
class StageProgress:
    """One stage (pretraining, or one task over every fine-tuning seed) of a run folder."""

    stage: str
    planned: int
    written: int
    failed: int  # written with a status other than ok
    seconds_spent: float
    seconds_left: float  # predicted; NaN until the stage has a result to predict from

    @property
    def left(self) -> int:
        return self.planned - self.written


@dataclass(frozen=True)
class InFlight:
    """A unit a live worker holds: its name, the claimant and how long ago it claimed it."""

    unit: str
    owner: str
    seconds: float


@dataclass(frozen=True)
class RunProgress:
    run_dir: Path
    units: int
    stages: tuple[StageProgress, ...]
    in_flight: tuple[InFlight, ...]

    @property
    def seconds_left(self) -> float:
        """The work left in seconds of one worker (NaN when a stage's share cannot be predicted yet)."""
        return sum(s.seconds_left for s in self.stages)

    @property
    def done(self) -> bool:
        return all(s.left == 0 for s in self.stages)


def run_progress(run_dir: str | os.PathLike[str], now: float | None = None) -> RunProgress:
    """The progress of the run folder ``run_dir`` (read only; safe while workers train)."""
    run_dir = Path(run_dir)
    units = planned_units(run_dir)
    group = {unit_name(a.arch_id, s): (a.hidden_size, a.num_layers) for a, s in units}
    by_stage: dict[str, dict[str, str]] = {}  # {stage: {result key: unit}}
    for key, (arch_id, seed, stage) in planned_results(read_run_info(run_dir)).items():
        by_stage.setdefault(stage, {})[key] = unit_name(arch_id, seed)
    written = _written(run_dir)
    cost = _pretrain_cost(group, {u: written.get(k) for k, u in by_stage.get(PRETRAIN, {}).items()})
    stages = []
    for stage, keys in by_stage.items():
        ok = [(u, written[k][1]) for k, u in keys.items() if written.get(k, ("",))[0] == RunStatus.OK]
        ratio = 1.0 if stage == PRETRAIN else (sum(s for _, s in ok) / sum(cost[u] for u, _ in ok) if ok else math.nan)
        stages.append(_stage(stage, keys, written, cost, ratio))
    return RunProgress(run_dir, len(units), tuple(stages), _in_flight(run_dir, group, now or time.time()))


def _written(run_dir: Path) -> dict[str, tuple[str, float]]:
    """{result name: (status, wall seconds)} of every finished result."""
    folder = run_dir / SHARDS / "runs"
    out = {}
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        row = pq.read_table(path, columns=["status", "wall_seconds"]).to_pylist()[0]
        out[path.stem] = (row["status"], math.nan if row["wall_seconds"] is None else float(row["wall_seconds"]))
    return out


def _pretrain_cost(group: dict[str, tuple[int, int]], pretrained: dict[str, tuple[str, float] | None]
                   ) -> dict[str, float]:
    """The predicted pretraining seconds of every unit: the median of its (hidden size, depth) group's pretrainings
    written ok, else of all of them (NaN when there are none)."""
    finite = {u: r[1] for u, r in pretrained.items() if r is not None and r[0] == RunStatus.OK and math.isfinite(r[1])}
    overall = statistics.median(finite.values()) if finite else math.nan
    by_group: dict[tuple[int, int], list[float]] = {}
    for u, s in finite.items():
        by_group.setdefault(group[u], []).append(s)
    return {u: statistics.median(by_group[g]) if g in by_group else overall for u, g in group.items()}


def _stage(stage: str, keys: dict[str, str], written: dict[str, tuple[str, float]], cost: dict[str, float],
           ratio: float) -> StageProgress:
    """The progress of one stage; ``keys``: {result key: unit}."""
    done = [written[k] for k in keys if k in written]
    left = [u for k, u in keys.items() if k not in written]
    return StageProgress(stage, len(keys), len(done), sum(st != RunStatus.OK for st, _ in done),
                         sum(s for _, s in done if math.isfinite(s)), ratio * sum(cost[u] for u in left) if left else 0.0)


def _in_flight(run_dir: Path, units: Iterable[str], now: float) -> tuple[InFlight, ...]:
    out = []
    for u in units:
        owner = claim_held(run_dir / CLAIMS / u)
        if owner is not None:
            out.append(InFlight(u, f"{owner.get('host')}:{owner.get('pid')}", now - float(owner.get("since", now))))
    return tuple(out)


def format_progress(p: RunProgress) -> str:
    """The progress as a table, the units in flight and the time left at the number of workers now in flight."""
    lines = [f"{p.run_dir}: {p.units} units", f"{'stage':<10} {'planned':>7} {'written':>7} {'failed':>6} "
             f"{'hours spent':>11} {'hours left':>10}"]
    for s in p.stages:
        left = "unknown" if math.isnan(s.seconds_left) else f"{s.seconds_left / 3600:.1f}"
        lines.append(f"{s.stage:<10} {s.planned:>7} {s.written:>7} {s.failed:>6} {s.seconds_spent / 3600:>11.1f} "
                     f"{left:>10}")
    for f in p.in_flight:
        lines.append(f"in flight: {f.unit} ({f.owner}, {f.seconds / 60:.0f} min)")
    if p.done:
        lines.append("every planned result is written: `bertbench commit` it")
    elif math.isnan(p.seconds_left):
        lines.append("time left: unknown until every stage has written a result")
    else:
        n = len(p.in_flight)
        at = f"; about {p.seconds_left / 3600 / n:.1f} h of wall time at the {n} worker(s) in flight" if n else ""
        lines.append(f"work left: {p.seconds_left / 3600:.1f} h of one worker{at}")
    return "\n".join(lines)
