"""Train the grid `mini` with the recipe `mini` (the release bertbench-mini-ptb-glue) with N worker processes that
share one machine (one GPU, or the CPU cores): inputs are prepared once (tokenizer, packed corpus, tasks, run.json),
then N independent grid workers claim units from the same run folder (``store/claims.py``), so each unit is
trained once and a killed run resumes where it stopped. A ``--deadline`` stops the workers (they are killed: every
result is written atomically, a unit in flight is trained again on the next call).

    python bench/mini_grid.py --corpus PTB.zip::ptb/ptb.train.txt --glue GLUE_DIR --out runs/mini --workers 12
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path


def runner(args: argparse.Namespace, threads: int | None):
    from bertbench.space.grids import load_grid
    from bertbench.training.grid import GridRunner
    from bertbench.training.recipe import load_recipe

    grid = load_grid(args.grid)
    if args.limit:
        grid = grid.head(args.limit)
    recipe = load_recipe(args.recipe).replace(data={"corpus": args.corpus, "task_source": args.glue})
    changes: dict = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        changes.setdefault(section, {})[name] = type(getattr(getattr(recipe, section), name))(value)
    recipe = recipe.replace(**changes)
    return GridRunner(grid, recipe, args.out, threads=threads, progress=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="mini")
    ap.add_argument("--recipe", default="mini")
    ap.add_argument("--corpus", required=True, help="the PTB training text: ptb.zip::ptb/ptb.train.txt")
    ap.add_argument("--glue", required=True, help="a folder in the GLUE TSV layout")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=None, help="seconds; workers are stopped then")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], help="SECTION.KEY=VALUE (int/float/str fields)")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s w{args.worker} %(message)s")
    if args.worker is not None:
        counts = runner(args, threads=1).run()
        logging.info("worker %d done: %s", args.worker, counts)
        return
    t0 = time.time()
    r = runner(args, threads=None)
    r.prepare()
    units = r.units()
    logging.info("prepared %s: %d units in %.0f s; starting %d workers", args.out, len(units), time.time() - t0,
                 args.workers)
    logs = args.out / "worker-logs"
    logs.mkdir(parents=True, exist_ok=True)
    argv = [a for a in sys.argv[1:]]
    procs = []
    for i in range(args.workers):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with open(logs / f"worker{i}.log", "w") as fh:
            procs.append(subprocess.Popen([sys.executable, __file__, *argv, "--worker", str(i)], stdout=fh,
                                          stderr=subprocess.STDOUT, env=env))
    deadline = None if args.deadline is None else t0 + args.deadline
    while any(p.poll() is None for p in procs):
        if deadline is not None and time.time() > deadline:
            logging.warning("deadline reached: stopping %d workers", sum(p.poll() is None for p in procs))
            for p in procs:
                p.kill()
            break
        time.sleep(2)
    from bertbench.store.release import missing_results
    from bertbench.store.writer import ResultWriter

    runs = ResultWriter(args.out).read("runs")
    missing = missing_results(json.loads((args.out / "run.json").read_text()), runs)
    statuses = {}
    for s in runs.column("status").to_pylist():
        statuses[s] = statuses.get(s, 0) + 1
    logging.info("done in %.0f s: %d results %s, %d missing", time.time() - t0, runs.num_rows, statuses, len(missing))


if __name__ == "__main__":
    main()
