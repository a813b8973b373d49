"""Exceptions raised by bertbench. Every message names the offending field and, where it applies, the allowed values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager


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


_ERRNO_IN_TEXT = re.compile(r"\(os error (\d+)\)|\[errno (\d+)\]", re.IGNORECASE)
#: What writers that do not raise OSError (torch's zip writer, safetensors' Rust I/O) say when the disk fails them.
_WRITE_FAILURES = ("file write failed", "no space left on device", "file too large", "disk quota exceeded",
                   "read-only file system")


def environment_failure(err: BaseException, memory_errors: tuple[type[BaseException], ...] = ()) -> bool:
    """True when ``err`` (or an exception it was raised from) is a failure of the machine: an OSError or
    MemoryError (or one of ``memory_errors``, e.g. torch.OutOfMemoryError), or a library error whose text carries an
    operating-system error ("(os error 27)", "[Errno 28]": an OSError that a library re-raised as its own type) or
    a known disk-write failure. Such an error must stop a run
    (EnvironmentFault), never become a result row about an architecture."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (OSError, MemoryError, *memory_errors)):
            return True
        text = str(e)
        if _ERRNO_IN_TEXT.search(text) or any(w in text.lower() for w in _WRITE_FAILURES):
            return True
        e = e.__cause__ or e.__context__
    return False


@contextmanager
def machine_io(what: str) -> Iterator[None]:
    """Classify by where an error happens: file I/O of a run (writing or reading a checkpoint, an encoder, a result,
    a cache) is the machine's, whatever a library makes of the OS error (torch's zip writer says "unexpected pos",
    with no errno). Any exception inside the block becomes an EnvironmentFault naming ``what``; only errors of the
    architecture's own steps (forward, backward, optimizer) and divergence are left to become result rows."""
    try:
        yield
    except EnvironmentFault:
        raise
    except Exception as err:
        raise EnvironmentFault(f"{what}: {type(err).__name__}: {' '.join(str(err).split())[:300]}") from err


class IncompleteRun(BertbenchError, ValueError):
    """A run folder lacks results its plan (run.json) promises; committing it would publish a partial benchmark."""
