"""Claims on units of a run folder, so that independent workers (two `regenerate` commands, or more machines on a
shared filesystem) train each unit once between them.

A claim is a file created with O_CREAT | O_EXCL holding the claimant's host, pid and start time. A claim whose
process is dead (same host, pid gone) is stale and taken over; a claim of another host is respected (its process
cannot be checked from here). The claim is removed when the unit is done, whatever happened.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


def _stale(path: Path) -> bool:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):  # vanished, or half-written by a claimant that died at once
        return path.exists() and time.time() - path.stat().st_mtime > 60
    return info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", -1)))


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
        path.unlink(missing_ok=True)
        mine = _try_create(path)
    try:
        yield mine
    finally:
        if mine:
            path.unlink(missing_ok=True)
