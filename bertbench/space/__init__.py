"""The search spaces: what an architecture is and which ones a benchmark may hold.

- ``architecture``: ``LayerSpec`` and ``Architecture`` (canonical JSON, ``arch_id``), ``OP_PARAMS``;
- ``search_space``: ``SearchSpace`` (choices, sampling, membership) and ``paper_2023_grid``;
- ``op_costs``: the op registry's parameter and FLOP formulas; ``cost``: params and FLOPs of an architecture;
- ``rnn``: NAS-Bench-NLP recurrent cells (``RnnArchitecture``);
- ``grids``: named grids of architectures (``bertbench/manifests/grids``).

Nothing here imports torch.
"""

from bertbench.space.architecture import OP_PARAMS, Architecture, LayerSpec
from bertbench.space.search_space import SearchSpace, paper_2023_grid

__all__ = ["OP_PARAMS", "Architecture", "LayerSpec", "SearchSpace", "paper_2023_grid"]
