"""Several grid workers on one machine (the CPU cores, or processes sharing one GPU): the run folder is prepared
once, then N ``bertbench regenerate`` worker processes share its units through claims (``store/claims.py``), each
``--worker-index i --num-workers N`` with its own thread count and, optionally, a lower scheduling priority. A
deadline stops them: every result is written atomically, a pretraining resumes from its last checkpoint and a
unit whose worker was stopped is trained again by the next invocation, so nothing is lost or counted twice."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from bertbench.store.run_folder import worker_log

log = logging.getLogger(__name__)
GRACE_SECONDS = 30  # after SIGTERM at the deadline, then SIGKILL


@dataclass(frozen=True)
class WorkersOutcome:
    """What the worker processes did: their exit codes (None: stopped at the deadline) and the seconds it took."""

    exit_codes: tuple[int | None, ...]
    stopped_at_deadline: bool
    seconds: float


def run_workers(run_dir: str | os.PathLike[str], regenerate_args: list[str], workers: int, threads: int = 1,
                deadline: float | None = None, nice: int = 0) -> WorkersOutcome:
    """Start ``workers`` processes of ``bertbench -v regenerate REGENERATE_ARGS --worker-index i --num-workers N
    --threads THREADS`` (stdout and stderr to ``run_folder.worker_log``), wait for them, and stop those still running
    after ``deadline`` seconds. ``nice``: added to the workers' scheduling niceness (a background build)."""
    if workers < 1 or threads < 1:
        raise ValueError(f"workers={workers} and threads={threads} must be >= 1")
    if deadline is not None and deadline <= 0:
        raise ValueError(f"deadline={deadline} must be > 0 seconds")
    t0 = time.monotonic()
    procs = []
    for i in range(workers):
        path = worker_log(run_dir, i)
        path.parent.mkdir(parents=True, exist_ok=True)
        # -v: one line per result and per unit in the log (progress bars are off: the output is not a terminal)
        cmd = [sys.executable, "-m", "bertbench.cli", "-v", "regenerate", *regenerate_args, "--worker-index", str(i),
               "--num-workers", str(workers), "--threads", str(threads)]
        with open(path, "ab") as out:
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                          env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                                          preexec_fn=(lambda: os.nice(nice)) if nice else None))  # noqa: PLW1509
    log.info("%d workers x %d thread(s) started on %s; logs in %s", workers, threads, run_dir,
             worker_log(run_dir, 0).parent)
    stopped = _wait(procs, None if deadline is None else t0 + deadline)
    codes = tuple(None if stopped and p.returncode in (-signal.SIGTERM, -signal.SIGKILL) else p.returncode
                  for p in procs)
    return WorkersOutcome(codes, stopped, time.monotonic() - t0)


def _wait(procs: list[subprocess.Popen], end: float | None) -> bool:
    """Wait for every process; at ``end`` (monotonic) stop the running ones (SIGTERM, then SIGKILL after
    ``GRACE_SECONDS``). True when the deadline stopped any."""
    try:
        while any(p.poll() is None for p in procs):
            if end is not None and time.monotonic() > end:
                running = [p for p in procs if p.poll() is None]
                log.warning("deadline reached: stopping %d worker(s); the next invocation resumes", len(running))
                _stop(running)
                return True
            time.sleep(1)
        return False
    except KeyboardInterrupt:
        _stop([p for p in procs if p.poll() is None])
        raise


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    limit = time.monotonic() + GRACE_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.1, limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

