"""The data a run reads, as its identity holds it: by content, not by where it lies on this machine.

A Hub or synthetic source is its description (with revision). A local corpus, tokenizer or GLUE folder is its name
and a sha256 of its files (relative names and bytes): ``ptb.train.txt@sha256:3c1f...``. The same files at another
path (a copied run folder, a cluster with other mount points) are the same run; an edited file is another run, and
the RunMismatch names the field that changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bertbench.options import SYNTHETIC

LOCAL_FIELDS = ("corpus", "tokenizer", "task_source")  # the DataSpec fields that may name local files


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, hashed once per file state (``file_io.remembered_sha256``): a run's identity
    and its run.json ``files_sha256`` hash the same (possibly large) corpus files."""
    from bertbench.file_io import remembered_sha256

    return remembered_sha256(path)


def content_name(name: str, root: Path, files: Iterable[Path]) -> str:
    """``name@sha256:<16 hex>`` over each file's path relative to ``root`` (its name when ``root`` is the file)
    and its bytes, in sorted order."""
    h = hashlib.sha256()
    for f in sorted(files):
        rel = f.name if f == root else f.relative_to(root).as_posix()
        h.update(f"{rel}\0{file_sha256(f)}\n".encode())
    return f"{name}@sha256:{h.hexdigest()[:16]}"


def _tree(p: Path, pattern: str = "*") -> list[Path]:
    return [f for f in p.rglob(pattern) if f.is_file()] if p.is_dir() else [p]


def _local_sources(data: Any, tasks: Iterable[str]) -> dict[str, tuple[str, Path, list[Path]]]:
    """{field: (name, root, files)} of each of a recipe's ``DataSpec`` sources that lies on this machine: the
    corpus's ``.txt`` files or archive, the tokenizer's files, the GLUE folders of ``tasks``. The one walk that both
    the identity (``portable_data``) and run.json's ``files_sha256`` (``run_data_files``) read."""
    from bertbench.data.glue import DIRS
    from bertbench.data.sources import parse_source

    out = {}
    src = parse_source(data.corpus)
    if src.kind in ("text", "zip"):
        p = Path(src.path)
        member = f"::{src.member}" if src.member else ""
        out["corpus"] = (p.name + member, p, _tree(p, "*.txt") if src.kind == "text" else [p])
    tok = Path(data.tokenizer)
    if data.tokenizer not in (SYNTHETIC, "") and tok.exists():
        out["tokenizer"] = (tok.resolve().name, tok, _tree(tok))
    if data.task_source not in ("hub", SYNTHETIC):
        root = Path(data.task_source)
        out["task_source"] = ("glue", root, [f for t in tasks for f in _tree(root / DIRS.get(t, t)) if f.exists()])
    return out


def portable_data(data: Any, tasks: Iterable[str]) -> dict[str, str]:
    """{corpus, tokenizer, task_source} of a recipe's ``DataSpec`` with every local source replaced by its
    :func:`content_name` (GLUE by content only: a renamed copy is the same data); other sources unchanged."""
    out = {k: getattr(data, k) for k in LOCAL_FIELDS}
    for key, (name, root, files) in _local_sources(data, tasks).items():
        out[key] = content_name(name, root, files)
    return out


def run_data_files(data: Any, tasks: Iterable[str], run_dir: Path) -> dict[str, str]:
    """sha256 of every local file a run reads (its run.json ``files_sha256``): the corpus, each task's folder, the
    recipe's tokenizer files and the run's own tokenizer (``run_folder.tokenizer_dir``)."""
    from bertbench.store.run_folder import tokenizer_dir

    out: dict[str, str] = {}
    for key, (_, root, files) in _local_sources(data, tasks).items():
        label = {"task_source": "tasks", "tokenizer": "tokenizer_source"}.get(key, key)
        for f in sorted(files):
            out[f"{label}/{f.name if f == root else f.relative_to(root).as_posix()}"] = file_sha256(f)
    tok = tokenizer_dir(run_dir)
    for f in sorted(tok.iterdir()) if tok.is_dir() else []:
        out[f"tokenizer/{f.name}"] = file_sha256(f)
    return out
