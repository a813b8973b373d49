"""Reading published releases back: ``hf://ORG/NAME@vX.Y.Z`` sources, downloaded (or reused from the
``huggingface_hub`` cache) and loaded as release folders. Publishing is ``bertbench.hub``, which builds on this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bertbench.errors import HubError
from bertbench.loaders.release import load_release


@contextmanager
def client_timeout(timeout: float) -> Iterator[None]:
    """Every request of ``huggingface_hub``'s shared HTTP session (public ``get_session``) gets ``timeout`` seconds
    for the duration of the block; the previous setting is restored after it."""
    from huggingface_hub import get_session

    session = get_session()
    previous = session.timeout
    session.timeout = timeout
    try:
        yield
    finally:
        session.timeout = previous


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
