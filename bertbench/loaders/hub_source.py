"""Reading published releases back: ``hf://ORG/NAME@vX.Y.Z`` sources, downloaded (or reused from the
``huggingface_hub`` cache) and loaded as release folders. Publishing is ``bertbench.hub``, which builds on this."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bertbench.errors import HubError
from bertbench.loaders.release import load_release


@contextmanager
def client_timeout(timeout: float) -> Iterator[None]:
    """A deadline of ``timeout`` seconds for every ``huggingface_hub`` call in the block, retries included: each
    request of its shared HTTP session (public ``get_session``) gets ``timeout`` seconds, and a back-off sleep of
    its retry loop that would end past the deadline raises ``TimeoutError`` instead of sleeping (huggingface_hub
    retries 5xx answers 5 times with sleeps of 1, 2, 4, 8 and 8 s and has no setting for a total time). Both are
    restored after the block."""
    import huggingface_hub.utils._http as hf_http
    from huggingface_hub import get_session

    end = time.monotonic() + timeout

    class _DeadlineTime:
        """The ``time`` module as huggingface_hub's retry loop sees it, with a bounded ``sleep``."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            if time.monotonic() + seconds > end:
                raise TimeoutError(f"the deadline of {timeout:g} s ends before the Hub's next retry")
            time.sleep(seconds)

    session = get_session()
    previous, previous_time = session.timeout, getattr(hf_http, "time", time)
    session.timeout = timeout
    hf_http.time = _DeadlineTime()
    try:
        yield
    finally:
        session.timeout = previous
        hf_http.time = previous_time


def parse_hf(source: str) -> tuple[str, str | None]:
    """``hf://ORG/NAME@REVISION`` -> (repo_id, revision)."""
    rest = source.removeprefix("hf://")
    repo_id, _, revision = rest.partition("@")
    if repo_id.count("/") != 1:
        raise ValueError(f"source={source!r} must look like hf://ORG/NAME@vX.Y.Z")
    return repo_id, revision or None


def load_hub(source: str, endpoint: str | None = None, token: str | None = None, timeout: float = 30.0,
             verify: bool = True) -> Any:
    """Download (or reuse the cached) snapshot of a published release and load it."""
    from huggingface_hub import snapshot_download

    repo_id, revision = parse_hf(source)
    try:
        with client_timeout(timeout):
            path = snapshot_download(repo_id, repo_type="dataset", revision=revision, endpoint=endpoint, token=token)
    except Exception as err:
        raise HubError(f"could not fetch {source} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                       "offline, pass the local release folder instead") from err
    bench = load_release(path, verify=verify)
    bench.metadata["source"] = source
    return bench
