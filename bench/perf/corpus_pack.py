"""Tokenize-and-pack throughput (tokens/s) on PTB train, against a naive one-document-at-a-time loop in the same run.

    python bench/perf/corpus_pack.py [--ptb ../shared/data/ptb/ptb.zip]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zipfile
from pathlib import Path

from bertbench.data.corpus import pack
from bertbench.data.tokenizer import load_tokenizer, train_wordpiece


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptb", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared/data/ptb/ptb.zip")
    args = ap.parse_args()
    os.environ["BERTBENCH_CACHE"] = tempfile.mkdtemp(prefix="bertbench-pack-")
    with zipfile.ZipFile(args.ptb) as zf:
        lines = [ln for ln in zf.read("ptb/ptb.train.txt").decode().splitlines() if ln.strip()]
    t = time.perf_counter()
    ptb_tok = train_wordpiece(lines, 10000)
    print(f"WordPiece 10k trained on PTB train in {time.perf_counter() - t:.1f} s")
    for name, tok in [("synthetic vocab (759)", load_tokenizer()), ("PTB WordPiece (10k)", ptb_tok)]:
        t = time.perf_counter()
        corpus = pack(f"{args.ptb}::ptb/ptb.train.txt", tok, length=128)
        ours = corpus.num_tokens / (time.perf_counter() - t)
        t = time.perf_counter()
        n = 0
        for line in lines[:5000]:
            n += len(tok(line)["input_ids"])
        naive = n / (time.perf_counter() - t)
        print(f"{name:<22} pack: {len(corpus):,} blocks, {ours / 1e6:.2f} M tokens/s   "
              f"naive per-line loop: {naive / 1e6:.2f} M tokens/s   ratio x{ours / naive:.1f}")


if __name__ == "__main__":
    main()
