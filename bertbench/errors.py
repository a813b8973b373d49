"""Exceptions raised by bertbench. Every message names the offending field and, where it applies, the allowed values."""

from __future__ import annotations


class BertbenchError(Exception):
    """Base class of every error bertbench raises on purpose."""


class InvalidArchitecture(BertbenchError, ValueError):
    """An architecture or layer spec is malformed or outside its search space."""


class InvalidSearchSpace(BertbenchError, ValueError):
    """A search-space definition (YAML) is malformed."""


class InvalidRecipe(BertbenchError, ValueError):
    """A training recipe has an unknown key or a value out of range."""


class DataSourceError(BertbenchError):
    """A corpus or task source is missing, malformed or unreachable."""


class CorruptRelease(BertbenchError):
    """A release folder or benchmark file fails its checksum, schema or row-count checks."""


class ReleaseExists(BertbenchError, FileExistsError):
    """A release version that already exists would be overwritten."""


class UnknownBenchmark(BertbenchError, KeyError):
    """`bertbench.load` got a source name it does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class InvalidRnnRecipe(BertbenchError, ValueError):
    """A NAS-Bench-NLP cell recipe is malformed (unknown op, missing input, cycle)."""


class HubError(BertbenchError):
    """Publishing to or reading from the Hugging Face Hub failed."""


class RunMismatch(BertbenchError, ValueError):
    """A run folder was started with another recipe, grid, tasks or data: its rows would mean different things."""


class EnvironmentFault(BertbenchError):
    """A failure of the machine (disk, permissions, memory, a missing file), not of an architecture: the run stops
    and records nothing for the unit."""


class IncompleteRun(BertbenchError, ValueError):
    """A run folder lacks results its plan (run.json) promises; committing it would publish a partial benchmark."""
