"""Pretraining corpora: documents from a source, tokenized and packed into fixed-length blocks, cached on disk.

Sources: see ``bertbench.data.sources`` (``parse_source``; re-exported here).

Packing: each document is tokenized without special tokens; documents are joined with [SEP] into one stream cut into
blocks of ``length - 2`` tokens, each wrapped as [CLS] ... [SEP] (the remainder shorter than a block is dropped).
Blocks are written in source order in shards of at most ``SHARD_BLOCKS`` blocks (memory stays bounded) under
``$BERTBENCH_CACHE/corpus/<key>/`` where key = sha256(source content, tokenizer vocabulary, length). The folder is
built under a temporary name and renamed: it is complete or absent. ``PackedCorpus.order(seed)`` gives the
deterministic training order for a seed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

import bertbench.env as env
import bertbench.file_io as file_io
from bertbench.data.sources import CorpusSource, iter_documents, parse_source, source_fingerprint
from bertbench.errors import DataSourceError
from bertbench.options import SYNTHETIC

SHARD_BLOCKS = 16384
PACKER_VERSION = "1"
BATCH_DOCS = 512


class PackedCorpus:
    """Fixed-length token blocks [N, length] (int32), memory-mapped from cache shards."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.length = int(self.meta["length"])
        self._shards = [np.load(folder / f, mmap_mode="r") for f in self.meta["shards"]]
        self._starts = np.cumsum([0] + [len(s) for s in self._shards])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(f"block {i} out of range [0, {len(self)})")
        k = int(np.searchsorted(self._starts, i, side="right") - 1)
        return np.asarray(self._shards[k][i - self._starts[k]])

    def blocks(self, indices: np.ndarray) -> np.ndarray:
        return np.stack([self[int(i)] for i in indices])

    def order(self, seed: int) -> np.ndarray:
        """The deterministic permutation of block indices for ``seed``."""
        return np.random.default_rng(seed).permutation(len(self))

    @property
    def num_tokens(self) -> int:
        return len(self) * self.length


def cache_root() -> Path:
    return env.cache_root("corpus")


def pack(source: str | CorpusSource, tokenizer: Any = None, length: int = 128, max_blocks: int | None = None,
         progress: bool = False) -> PackedCorpus:
    """Tokenize and pack ``source`` into blocks of ``length`` tokens (cached; see the module docstring)."""
    from bertbench.data.tokenizer import fingerprint, load_tokenizer

    if length < 8:
        raise ValueError(f"length={length} must be >= 8")
    src = parse_source(source)
    tok = tokenizer if tokenizer is not None else load_tokenizer(SYNTHETIC)
    key_obj = {"source": source_fingerprint(src), "tokenizer": fingerprint(tok), "length": length,
               "max_blocks": max_blocks, "packer": PACKER_VERSION}
    key = hashlib.sha256(json.dumps(key_obj, sort_keys=True).encode()).hexdigest()[:24]
    folder = cache_root() / key
    if (folder / "meta.json").exists():
        return PackedCorpus(folder)
    with file_io.atomic_dir(folder) as tmp:  # another process may finish first: its result is identical
        _pack_into(tmp, src, tok, length, max_blocks, progress, key_obj)
    return PackedCorpus(folder)


def _pack_into(tmp: Path, src: CorpusSource, tok: Any, length: int, max_blocks: int | None, progress: bool,
               key_obj: dict[str, Any]) -> None:
    cls, sep = tok.cls_token_id, tok.sep_token_id
    body = length - 2
    shards: list[str] = []
    buf: list[int] = []
    current: list[np.ndarray] = []
    n_blocks = n_docs = 0
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=f"pack {src.describe()}", unit="doc", disable=None)

    def flush() -> None:
        if current:
            name = f"blocks-{len(shards):05d}.npy"
            np.save(tmp / name, np.stack(current).astype(np.int32))
            shards.append(name)
            current.clear()

    def emit_blocks() -> bool:
        nonlocal buf, n_blocks
        while len(buf) >= body:
            current.append(np.array([cls, *buf[:body], sep], dtype=np.int32))
            buf = buf[body:]
            n_blocks += 1
            if len(current) >= SHARD_BLOCKS:
                flush()
            if max_blocks is not None and n_blocks >= max_blocks:
                return True
        return False

    docs = iter_documents(src)
    done = False
    while not done:
        batch = [d for _, d in zip(range(BATCH_DOCS), docs)]
        if not batch:
            break
        for ids in tok(batch, add_special_tokens=False)["input_ids"]:
            buf.extend(ids)
            buf.append(sep)
            if emit_blocks():
                done = True
                break
        n_docs += len(batch)
        if bar is not None:
            bar.update(len(batch))
    flush()
    if bar is not None:
        bar.close()
    if n_blocks == 0:
        raise DataSourceError(f"corpus {src.describe()} gave no complete block of {length} tokens")
    seconds = time.perf_counter() - t0
    meta = {"source": src.describe(), "length": length, "blocks": n_blocks, "docs": n_docs, "shards": shards,
            "tokens": n_blocks * length, "seconds": seconds, "tokens_per_second": n_blocks * length / max(seconds, 1e-9),
            "key": key_obj, "vocab_size": len(tok)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))


# ------------------------------------------------------------------------------------------- word-level LM batches
def _ptb_files(path: str | os.PathLike[str]) -> dict[str, str]:
    """Texts of ptb.train/valid/test.txt from a zip (any folder inside) or a folder."""
    p = Path(path)
    out = {}
    if p.suffix == ".zip":
        with zipfile.ZipFile(p) as zf:
            for split in ("train", "valid", "test"):
                name = next((n for n in zf.namelist() if n.endswith(f"ptb.{split}.txt")), None)
                if name is None:
                    raise DataSourceError(f"{p}: no ptb.{split}.txt inside")
                out[split] = zf.read(name).decode("utf-8")
    else:
        for split in ("train", "valid", "test"):
            f = p / f"ptb.{split}.txt"
            if not f.exists():
                raise DataSourceError(f"{p}: no ptb.{split}.txt")
            out[split] = f.read_text(encoding="utf-8")
    return out


def word_lm_batch(path: str | os.PathLike[str], split: str = "test", batch_size: int = 50, bptt: int = 70,
                  offset: int = 0) -> tuple[Any, dict[str, int]]:
    """A [bptt, batch_size] LongTensor window of a word-level corpus, the AWD-LSTM / NAS-Bench-NLP way: the vocabulary
    is the words of train, then valid, then test in order of first appearance, with ``<eos>`` at each line end; the
    split is batchified into ``batch_size`` columns; rows ``offset`` .. ``offset + bptt`` are returned."""
    import torch

    texts = _ptb_files(path)
    vocab: dict[str, int] = {}
    ids: dict[str, list[int]] = {}
    for s in ("train", "valid", "test"):
        seq = []
        for line in texts[s].splitlines(keepends=True):
            for w in line.split() + ["<eos>"]:
                if w not in vocab:
                    vocab[w] = len(vocab)
                seq.append(vocab[w])
        ids[s] = seq
    data = torch.tensor(ids[split], dtype=torch.long)
    nbatch = data.numel() // batch_size
    data = data[: nbatch * batch_size].view(batch_size, -1).t().contiguous()
    if offset + bptt > data.shape[0]:
        raise ValueError(f"offset={offset} + bptt={bptt} exceeds the {data.shape[0]} rows of {split}")
    return data[offset: offset + bptt], vocab
