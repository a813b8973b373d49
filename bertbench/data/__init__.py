"""Data: tokenizers, pretraining corpora, the task registry (GLUE and the synthetic suite) and task sources.

Importing the package registers every task: GLUE's in ``tasks``, the synthetic suite's in ``synthetic`` (which
depends on ``tasks``, never the other way round).
"""

from bertbench.data import synthetic as _synthetic  # noqa: F401  (registers the synthetic tasks and aggregate)
