"""Score every BERT proxy on the untrained architectures of the grid `mini` into its run folder, so the release
`bertbench-mini-ptb-glue` carries its proxies table (scores on untrained models do not depend on the training).

The input batch is what the benchmark's models read: 16 blocks of 128 tokens of the PTB training text, tokenized
with the run's own WordPiece vocabulary (RUN/tokenizer), drawn with seed 0; models are built as named with that
vocabulary and initialised from seed 0; every score passes the float64 stability gate. The rows go to
RUN/shards/proxies/mini-proxies-seed0.parquet, which `bertbench commit` copies into the release.

    python bench/mini_proxies.py --run runs/mini --corpus PTB.zip::ptb/ptb.train.txt [--processes 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="the run folder of the grid `mini` (holds tokenizer/)")
    ap.add_argument("--corpus", required=True, help="the PTB training text: ptb.zip::ptb/ptb.train.txt")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=128)
    args = ap.parse_args()

    import pyarrow as pa

    from bertbench.data.tokenizer import load_tokenizer
    from bertbench.loaders.base import Benchmark
    from bertbench.proxies import bert_batch
    from bertbench.proxies.evaluate import score_benchmark
    from bertbench.proxies.registry import list_proxies
    from bertbench.space.grids import load_grid
    from bertbench.store.schema import architecture_row, schema_for
    from bertbench.store.writer import ResultWriter

    tok = load_tokenizer(args.run / "tokenizer")
    grid = load_grid("mini")
    archs = list({a.arch_id: a for a in grid.architectures}.values())
    table = pa.Table.from_pylist([architecture_row(a, len(tok)) for a in archs],
                                 schema=schema_for("architectures"))
    empty = {t: schema_for(t).empty_table() for t in ("runs", "curves", "proxies")}
    bench = Benchmark("grid:mini", "0.0.0", "bert", {"architectures": table, **empty},
                      {"default_variant": "as_named", "vocab_size": len(tok)})
    batch = bert_batch(source=args.corpus, tokenizer=tok, batch_size=args.batch_size, seq_len=args.seq_len, seed=0)
    t0 = time.time()
    proxies = score_benchmark(bench, list_proxies("bert"), seed=0, variant="as_named", batch=batch,
                              processes=args.processes, vocab_size=len(tok))
    ResultWriter(args.run).write_proxies("mini-proxies-seed0", proxies.to_pylist())
    statuses: dict[str, int] = {}
    for s in proxies.column("status").to_pylist():
        statuses[s] = statuses.get(s, 0) + 1
    print(f"{len(archs)} architectures x {len(list_proxies('bert'))} proxies in {time.time() - t0:.0f} s: {statuses}; "
          f"written to {args.run}/shards/proxies/mini-proxies-seed0.parquet")


if __name__ == "__main__":
    main()
