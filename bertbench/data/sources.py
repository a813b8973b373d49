"""Corpus sources: what a pretraining corpus or a tokenizer's training text is read from, and its documents.

``parse_source(spec)``:
- ``synthetic`` or ``synthetic:seed=0,docs=20000``: the embedded synthetic corpus (bertbench.data.synthetic);
- a text file or folder of ``.txt`` files: one document per line (``doc_sep="line"``) or blank-line separated
  (``doc_sep="blank"``); ``ARCHIVE.zip`` (every ``.txt`` member) or ``ARCHIVE.zip::member/path.txt``;
- ``hf:NAME[#CONFIG][:SPLIT][@REVISION]``, e.g. ``hf:Skylion007/openwebtext:train`` or
  ``hf:Salesforce/wikitext#wikitext-103-raw-v1:train@REV``: a Hugging Face dataset's ``text`` column, streamed.

``iter_documents(source)`` yields its documents; ``source_fingerprint(source)`` hashes a local source's content.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import bertbench.env as env
from bertbench.errors import DataSourceError
from bertbench.options import SYNTHETIC


@dataclass(frozen=True)
class CorpusSource:
    """Where documents come from (see the module docstring)."""

    kind: str  # synthetic | text | zip | hub
    path: str = ""
    member: str = ""
    name: str = ""
    config: str = ""
    split: str = "train"
    revision: str = ""
    doc_sep: str = "line"
    seed: int = 0
    docs: int = 20_000

    def describe(self) -> str:
        if self.kind == SYNTHETIC:
            return f"{SYNTHETIC}:seed={self.seed},docs={self.docs}"
        if self.kind == "hub":
            cfg = f"#{self.config}" if self.config else ""
            rev = f"@{self.revision}" if self.revision else ""
            return f"hf:{self.name}{cfg}:{self.split}{rev}"
        return f"{self.path}::{self.member}" if self.member else self.path


def display_name(source: str) -> str:
    """A corpus source as cards show it: a local file by its name (and archive member), not the builder's path (the
    manifest keeps the full source and the files' sha256); Hub and URL sources as given."""
    path, sep, member = str(source).partition("::")
    if "/" in path and not path.startswith(("hf://", "http://", "https://")) and Path(path).suffix:
        path = Path(path).name
    return f"{path}{sep}{member}"


def parse_source(spec: str | CorpusSource, doc_sep: str = "line") -> CorpusSource:
    """A source from its string form; a local path that does not exist fails at once."""
    if isinstance(spec, CorpusSource):
        return spec
    if doc_sep not in ("line", "blank"):
        raise ValueError(f"doc_sep={doc_sep!r} is not known; allowed: 'line', 'blank'")
    if spec == SYNTHETIC or spec.startswith(f"{SYNTHETIC}:"):
        opts = dict(kv.split("=", 1) for kv in spec.split(":", 1)[1].split(",")) if ":" in spec else {}
        unknown = set(opts) - {"seed", "docs"}
        if unknown:
            raise ValueError(f"synthetic corpus options {sorted(unknown)} are not known; allowed: seed, docs")
        return CorpusSource(SYNTHETIC, seed=int(opts.get("seed", 0)), docs=int(opts.get("docs", 20_000)))
    if spec.startswith("hf:"):
        rest = spec[3:]
        revision = ""
        if "@" in rest:
            rest, revision = rest.rsplit("@", 1)
        split = "train"
        if ":" in rest:
            rest, split = rest.split(":", 1)
        name, _, config = rest.partition("#")
        return CorpusSource("hub", name=name, config=config, split=split, revision=revision)
    path, _, member = spec.partition("::")
    p = Path(path)
    if not p.exists():
        raise DataSourceError(f"corpus path {path!r} does not exist")
    if p.suffix == ".zip":
        return CorpusSource("zip", path=str(p.resolve()), member=member, doc_sep=doc_sep)
    return CorpusSource("text", path=str(p.resolve()), doc_sep=doc_sep)


def _split_docs(text: str, doc_sep: str) -> Iterator[str]:
    if doc_sep == "line":
        for line in text.splitlines():
            if line.strip():
                yield line.strip()
    else:
        for block in text.split("\n\n"):
            if block.strip():
                yield " ".join(block.split())


def iter_documents(source: CorpusSource) -> Iterator[str]:
    """Documents of ``source`` in a fixed order."""
    if source.kind == SYNTHETIC:
        from bertbench.data.synthetic import iter_corpus

        yield from iter_corpus(source.seed, source.docs)
    elif source.kind == "text":
        p = Path(source.path)
        files = sorted(p.rglob("*.txt")) if p.is_dir() else [p]
        for f in files:
            with open(f, encoding="utf-8", errors="replace") as fh:
                if source.doc_sep == "line":
                    for line in fh:
                        if line.strip():
                            yield line.strip()
                else:
                    yield from _split_docs(fh.read(), "blank")
    elif source.kind == "zip":
        try:
            zf = zipfile.ZipFile(source.path)
        except (zipfile.BadZipFile, OSError) as err:
            raise DataSourceError(f"{source.path}: not a readable zip ({err})") from err
        with zf:
            names = [source.member] if source.member else sorted(n for n in zf.namelist() if n.endswith(".txt"))
            for n in names:
                if n not in zf.namelist():
                    raise DataSourceError(f"{source.path}: member {n!r} not found; members: {zf.namelist()[:10]}")
                yield from _split_docs(zf.read(n).decode("utf-8", errors="replace"), source.doc_sep)
    elif source.kind == "hub":
        yield from _hub_documents(source)
    else:
        raise ValueError(f"source kind {source.kind!r} is not known")


def _hub_documents(source: CorpusSource) -> Iterator[str]:
    hint = "pass a local text file, folder or zip instead (e.g. --corpus data/owt.txt)"
    if env.is_offline():
        raise DataSourceError(f"corpus {source.describe()} is unreachable: offline mode is on; {hint}")
    from datasets import load_dataset

    try:
        ds = load_dataset(source.name, source.config or None, split=source.split, revision=source.revision or None,
                          streaming=True)
    except Exception as err:  # network, auth, missing config
        raise DataSourceError(f"corpus {source.describe()} could not be opened ({err}); {hint}") from err
    for ex in ds:
        text = ex.get("text")
        if text and text.strip():
            yield text


def source_fingerprint(source: CorpusSource) -> str:
    """Content hash of a local source; the description (with revision) for the Hub and synthetic sources."""
    h = hashlib.sha256(json.dumps(asdict(source), sort_keys=True).encode())
    if source.kind in ("text", "zip"):
        p = Path(source.path)
        for f in sorted(p.rglob("*.txt")) if p.is_dir() else [p]:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
    return h.hexdigest()[:24]
