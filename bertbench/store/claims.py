"""Claims on units of a run folder, so that independent workers (two `regenerate` commands, or more machines on a
shared filesystem) train each unit once between them.

A claim is a file created with O_CREAT | O_EXCL holding the claimant's host, pid and start time, and it is a
lease: while the unit trains, a heartbeat thread touches the file every quarter of the lease
(``BERTBENCH_LEASE_SECONDS``, default 900 s). A claim is stale, and any worker on any host takes it over, when its
process is dead (same host, pid gone) or its heartbeat is older than the lease (a preempted Slurm task, a dead
machine). Taking over renames the stale file away first, so of two workers that see it stale only one wins. The
claim is removed when the unit is done, whatever happened.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return True


def _owner() -> dict[str, object]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump(_owner(), fh)
    return True


def write_owner(path: Path) -> None:
    """Mark a temp file or folder as this process's (``path`` is the marker file), for :func:`is_stale`."""
    path.write_text(json.dumps(_owner()))


def is_stale(path: Path) -> bool:
    """True when the owner recorded at ``path`` is a dead process of this host."""
    return path.exists() and _stale(path)


def claim_held(path: Path) -> dict[str, object] | None:
    """The owner (host, pid, since) of a live claim at ``path``; None when there is none or it is stale."""
    try:
        return None if _stale(path) else json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def lease_seconds() -> float:
    """How long a claim lives without a heartbeat (``BERTBENCH_LEASE_SECONDS``, default 900)."""
    return float(os.environ.get("BERTBENCH_LEASE_SECONDS", "900"))


def _stale(path: Path) -> bool:
    try:
        info = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):  # vanished, or half-written by a claimant that died at once
        try:
            return time.time() - path.stat().st_mtime > 60
        except OSError:
            return False
    if info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", -1))):
        return True
    return age > lease_seconds()  # no heartbeat within the lease: its worker is gone, on whatever host


def _take_over(path: Path) -> bool:
    """Remove a stale claim so that exactly one of the workers that saw it stale can create its own."""
    grave = path.with_name(f".{path.name}.taken-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, grave)
    except FileNotFoundError:  # another worker took it over first
        return False
    grave.unlink(missing_ok=True)
    return _try_create(path)


def _heartbeat(path: Path, stop: threading.Event) -> None:
    while not stop.wait(lease_seconds() / 4):
        try:
            os.utime(path)
        except OSError:
            return


@contextmanager
def claim(path: Path, enabled: bool = True) -> Iterator[bool]:
    """Yield True when this process holds the claim at ``path`` (taking over a stale one), False when a live worker
    holds it. ``enabled=False`` always yields True (DDP mode: all ranks train each unit together)."""
    if not enabled:
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = _try_create(path)
    if not mine and _stale(path):
        mine = _take_over(path)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, stop), daemon=True) if mine else None
    if beat is not None:
        beat.start()
    try:
        yield mine
    finally:
        stop.set()
        if beat is not None:
            beat.join()
        if mine:
            path.unlink(missing_ok=True)


def finish(pending: list[T], done: Callable[[T], bool], path_of: Callable[[T], Path], train: Callable[[T], None]
           ) -> int:
    """What a worker does once its own share is done: wait for the ``pending`` units other workers hold, claiming
    and training each whose claim goes stale (a dead process, or a lease without heartbeat), until all are
    ``done``; returns 0. With ``BERTBENCH_WAIT_FOR_OTHERS=0`` it returns at once the number left to others."""
    if os.environ.get("BERTBENCH_WAIT_FOR_OTHERS", "1") == "0":
        return len(pending)
    if pending:
        log.info("waiting for %d unit(s) claimed by other workers", len(pending))
    while pending:
        time.sleep(min(30.0, lease_seconds() / 4))
        for unit in pending:
            with claim(path_of(unit)) as mine:
                if mine and not done(unit):
                    train(unit)
        pending = [u for u in pending if not done(u)]
    return 0
