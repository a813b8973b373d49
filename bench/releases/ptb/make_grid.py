"""Writes the ``ptb`` grid (``bertbench/manifests/grids/ptb.yaml``): 40 architectures for the first release whose
rankings are meant to reproduce (issue 29).

Each of the four (hidden size, depth) cells, H in {128, 256} x L in {2, 4}, holds the six homogeneous op types
(SA-SDP, SA-WMA, LT-DFT, LT-DCT, DSC-5, DSC-9) and four mixed-op architectures whose layers draw their op type
uniformly (seeded, at least two different op types each), so op type, size and mixing are not confounded. Heads H/64,
one FFN of 4H in every layer: the release asks about op types and size, not about FFN shape. The order interleaves
the cells and op types, so a grid that is half trained already spans them all (workers train units in grid order).

    python bench/releases/ptb/make_grid.py          # rewrites the YAML; the output is deterministic
"""

from __future__ import annotations

import random
from pathlib import Path

OPS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]
CELLS = [(128, 2), (256, 4), (128, 4), (256, 2)]
OUT = Path(__file__).resolve().parents[3] / "bertbench" / "manifests" / "grids" / "ptb.yaml"
HEADER = """\
# The ptb release grid (bertbench-ptb): 40 architectures = 4 (hidden size, depth) cells (H 128/256 x L 2/4) x (6
# homogeneous op types + 4 mixed-op architectures). Heads H/64, one FFN of 4H per layer. Written by
# bench/releases/ptb/make_grid.py (seeded; do not edit by hand); the order interleaves cells and op types so a
# partly trained grid spans them all. Two pretraining seeds per architecture.
name: ptb
seeds: [0, 1]
architectures:
"""


def layer(hidden: int, op: tuple[str, object]) -> str:
    kind, param = op
    return f"{{op_type: {kind}, op_param: {param}, heads: {hidden // 64}, ffn_dim: {4 * hidden}, num_ffn: 1}}"


def cell_archs(hidden: int, depth: int, index: int, rng: random.Random) -> list[list[tuple[str, object]]]:
    homo = OPS[index:] + OPS[:index]  # rotated, so each cell starts with a different op type
    mixed = []
    while len(mixed) < 4:
        ops = [rng.choice(OPS) for _ in range(depth)]
        if len(set(ops)) >= 2 and ops not in mixed:
            mixed.append(ops)
    homo_layers = [[op] * depth for op in homo]
    order = [homo_layers[0], homo_layers[1], mixed[0], homo_layers[2], homo_layers[3], mixed[1], homo_layers[4],
             homo_layers[5], mixed[2], mixed[3]]
    return order


def main() -> None:
    rng = random.Random(2029)
    per_cell = [cell_archs(h, d, 2 * i, rng) for i, (h, d) in enumerate(CELLS)]
    lines = []
    for k in range(10):
        for (hidden, _), archs in zip(CELLS, per_cell):
            layers = ", ".join(layer(hidden, op) for op in archs[k])
            lines.append(f"  - {{hidden_size: {hidden}, layers: [{layers}]}}\n")
    OUT.write_text(HEADER + "".join(lines))
    print(f"wrote {OUT} ({len(lines)} architectures)")


if __name__ == "__main__":
    main()
