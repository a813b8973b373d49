"""How bertbench writes and fingerprints files: every write that others may read is atomic (built beside the
destination under a temporary name and renamed into place on success, so a reader sees the whole thing or nothing,
and a failure leaves nothing), and every whole-file sha256 goes through one memo.

- ``atomic_dir(dest)`` / ``atomic_file(dest)``: context managers yielding the temporary folder / path; a folder that
  another process created first wins (its content is the same by construction: caches are keyed by content) unless
  ``exist_ok=False``. ``atomic_write_bytes`` and ``atomic_write_table`` (Parquet, zstd) for the common cases.
- ``sha256_file(path)``; ``remembered_sha256(path)``: the same, computed once per file state (path, inode, size,
  mtime) and remembered in the cache; ``json_sha256(obj)``: the digest of canonical (sorted-key) JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bertbench.env import cache_root

if TYPE_CHECKING:
    import pyarrow as pa


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write ``table`` as Parquet (zstd) to ``path`` via temp file + rename."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_REMEMBERED: dict[str, str] = {}  # file state -> sha256, in this process (the cache keeps it across processes)


def remembered_sha256(path: Path) -> str:
    """``sha256_file``, computed once per file state: remembered in the cache (``checksums/``) under the file's
    absolute path, inode, size and mtime, so loading a release verifies it without re-reading unchanged files. An
    unwritable cache only means hashing again."""
    st = path.stat()
    state = f"{path.resolve()}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"
    if state in _REMEMBERED:
        return _REMEMBERED[state]
    memo = cache_root("checksums") / hashlib.sha256(state.encode()).hexdigest()[:32]
    try:
        known = memo.read_text().strip()
        if len(known) == 64:
            _REMEMBERED[state] = known
            return known
    except OSError:
        pass
    digest = _REMEMBERED[state] = sha256_file(path)
    try:
        atomic_write_bytes(memo, digest.encode())
    except OSError:
        pass
    return digest


def json_sha256(obj: Any) -> str:
    """The sha256 of ``obj`` as canonical JSON (sorted keys, default separators)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
