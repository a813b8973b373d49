"""Where bertbench keeps things and how it writes them: the cache folder, offline mode, atomic files and folders.

- ``cache_root(sub)``: ``$BERTBENCH_CACHE/sub``, else ``$XDG_CACHE_HOME/bertbench/sub``, else ``~/.cache/bertbench/sub``.
- ``is_offline()``: true when any of ``HF_HUB_OFFLINE``, ``HF_DATASETS_OFFLINE`` or ``BERTBENCH_OFFLINE`` is set to
  1/true/yes/on: bertbench then makes no network call (corpora, GLUE, the 2023 JSON, the Hub).
- ``atomic_dir(dest)`` / ``atomic_file(dest)``: build beside the destination under a temporary name and rename into
  place on success, so readers see the whole thing or nothing; a folder that another process created first wins
  (its content is the same by construction: caches are keyed by content) unless ``exist_ok=False``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "BERTBENCH_OFFLINE")


def cache_root(sub: str = "") -> Path:
    """The cache folder (see the module docstring), or its subfolder ``sub``; not created."""
    base = os.environ.get("BERTBENCH_CACHE")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "bertbench"
    return root / sub if sub else root


def is_offline() -> bool:
    """True when offline mode is on (any of OFFLINE_VARIABLES is 1/true/yes/on)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARIABLES)


def temp_dir(prefix: str, dir: Path) -> Path:
    """``tempfile.mkdtemp`` with the permissions a plain ``mkdir`` gets under the user's umask (mkdtemp's 0700
    would make a release on a shared filesystem unreadable by the group once renamed into place)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


@contextmanager
def atomic_dir(dest: str | os.PathLike[str], exist_ok: bool = True) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; on success it is renamed to ``dest``. If ``dest`` appeared
    meanwhile: with ``exist_ok`` the temporary folder is dropped, else FileExistsError. On error nothing is left."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        yield tmp
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.exists():
                raise
            if not exist_ok:
                raise FileExistsError(f"{dest} already exists") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it replaces ``dest`` (os.replace). On error it is removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written); "0.0.0+unknown" for a
    source tree that is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bertbench")
    except PackageNotFoundError:
        return "0.0.0+unknown"
