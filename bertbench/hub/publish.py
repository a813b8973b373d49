"""The Hugging Face Hub: export a release as a Hub dataset folder, publish it as one commit plus a tag, and read
``hf://ID@vX.Y.Z`` sources back.

Exported folder: ``README.md`` (the dataset card of ``bertbench.hub.card``: five ``configs``, license, sources, column
docs, caveats, citations), ``tables/<table>.parquet`` and ``manifest.json`` (the release itself: the folder loads
with ``bertbench.load``), and ``data/summary.parquet`` / ``data/runs.parquet`` (flat views: every metric a column,
the same columns as ``Benchmark.to_pandas(view)``). ``datasets.load_dataset(folder, name=CONFIG)`` loads every config
offline.

Publishing uses a client timeout (``huggingface_hub.set_client_factory``), reads the token from the usual places
(``HF_TOKEN`` or the cached login) and never prints it, keeps the ``configs`` entries an existing card already has,
uploads the folder as a single commit and tags it. Failures (offline, no token, an endpoint that stalls) raise
``HubError`` before anything is committed. Reading ``hf://`` sources lives in ``bertbench.loaders.hub_source``
(loaders never import this module).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bertbench.errors import HubError
from bertbench.file_io import atomic_dir
from bertbench.loaders.hub_source import client_timeout as _client_timeout
from bertbench.loaders.hub_source import load_hub, parse_hf  # noqa: F401  (re-exported: hub.load_hub)

log = logging.getLogger(__name__)


def merge_configs(existing: list[dict[str, Any]], ours: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our configs replace same-named ones; every other existing config is kept (in its place)."""
    names = {c["config_name"] for c in ours}
    kept = [c for c in existing if c.get("config_name") not in names]
    return ours + kept


def export(release: str | os.PathLike[str], out: str | os.PathLike[str], repo_id: str | None = None) -> Path:
    """Write the Hub dataset folder of ``release`` to ``out`` (built in a temp folder, then moved into place);
    ``repo_id``: the Hub repository the card names for loading (None: the card says to load the folder)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bertbench.file_io import sha256_file
    from bertbench.hub.card import build_card
    from bertbench.loaders.release import load_release
    from bertbench.store.schema import TABLES

    release, out = Path(release), Path(out)
    bench = load_release(release, verify=True)
    manifest = dict(bench.metadata["manifest"])
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"export folder {out} exists and is not empty")
    with atomic_dir(out, exist_ok=False) as tmp:  # built beside it, renamed over an empty `out`: complete or absent
        (tmp / "data").mkdir()
        (tmp / "tables").mkdir()
        tables = dict(manifest["tables"])
        columns, rows, data_files = {}, {}, {}
        for name in TABLES:  # the release's own tables: the folder stays a loadable release
            shutil.copyfile(release / manifest["tables"][name]["file"], tmp / "tables" / f"{name}.parquet")
            tables[name] = {**manifest["tables"][name], "file": f"tables/{name}.parquet"}
            columns[name] = list(bench.tables[name].column_names)
            rows[name] = manifest["tables"][name]["rows"]
            data_files[name] = f"tables/{name}.parquet"
        views = {}
        for name in ("summary", "runs"):  # flat views for datasets users: every metric a column
            frame = pa.Table.from_pandas(bench.to_pandas(name), preserve_index=False)
            pq.write_table(frame, tmp / "data" / f"{name}.parquet", compression="zstd")
            views[name] = {"file": f"data/{name}.parquet", "rows": frame.num_rows,
                           "sha256": sha256_file(tmp / "data" / f"{name}.parquet")}
            columns[name], rows[name], data_files[name] = frame.column_names, frame.num_rows, f"data/{name}.parquet"
        manifest["tables"] = tables
        manifest["views"] = views
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        build_card(manifest, bench, columns, rows, data_files, repo_id).save(tmp / "README.md")
    return out


# --------------------------------------------------------------------------------------------------------- publish
def _existing_configs(repo_id: str, endpoint: str | None, token: str, cache: Path) -> list[dict[str, Any]]:
    """The ``configs`` of the dataset card already on the Hub (none when the repository has no card yet)."""
    from huggingface_hub import DatasetCard, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        path = hf_hub_download(repo_id, "README.md", repo_type="dataset", endpoint=endpoint, token=token,
                               cache_dir=cache)
    except (EntryNotFoundError, RevisionNotFoundError):
        return []
    return list(DatasetCard.load(path).data.to_dict().get("configs") or [])


def publish(release: str | os.PathLike[str], repo_id: str, tag: str, private: bool = False, token: str | None = None,
            endpoint: str | None = None, timeout: float = 30.0, record: str | os.PathLike[str] | None = None,
            tries: int = 3) -> dict[str, Any]:
    """Create the dataset repo if needed, upload the exported release as one commit, tag it; return
    {repo_id, tag, commit, url, name, version, action}. ``record``: a releases index JSON to append the publication to.

    Idempotent, so a rerun finishes what a failed call left: before every try the remote is read. A ``tag`` that
    already points at this release's manifest means it is published (nothing is sent; action "already published");
    a tag holding another release is refused. A head commit that holds this manifest (a commit whose response was
    lost, or a call stopped before its tag) is only tagged (action "tagged"). Otherwise the folder is committed with
    ``parent_commit`` = the head just read, so a retried commit can never land twice (action "committed").
    ``timeout`` bounds the whole call, tries included; each failed try is logged as one line."""
    import huggingface_hub
    from huggingface_hub import HfApi, constants

    from bertbench.file_io import sha256_file

    if constants.HF_HUB_OFFLINE:
        raise HubError("cannot publish: offline mode is on (HF_HUB_OFFLINE=1); unset it to publish")
    token = token or huggingface_hub.get_token()
    if not token:
        raise HubError("no Hugging Face token found: set HF_TOKEN or run `hf auth login` (the token is never printed)")
    deadline = time.monotonic() + timeout
    work = Path(tempfile.mkdtemp(prefix="bertbench-publish-"))
    try:
        folder = export(release, work / "export", repo_id)
        manifest = json.loads((folder / "manifest.json").read_text())
        digest = sha256_file(folder / "manifest.json")
        api = HfApi(endpoint=endpoint, token=token)
        outcome, errors = None, []
        for attempt in range(1, tries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                with _client_timeout(left):
                    outcome = _publish_once(api, repo_id, tag, folder, digest, manifest, private, work / f"try{attempt}")
                break
            except HubError:
                raise
            except Exception as err:  # network, HTTP errors: one line each, no token in it
                errors.append(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
                log.warning("publishing %s: try %d of %d failed (%s)", repo_id, attempt, tries, errors[-1])
        if outcome is None:
            raise HubError(f"publishing {repo_id} failed after {len(errors)} tries within {timeout:g} s "
                           f"({errors[-1] if errors else 'no time left'}); run it again: it resumes")
        commit, action = outcome
        result = {"repo_id": repo_id, "tag": tag, "commit": commit, "url": f"{api.endpoint}/datasets/{repo_id}",
                  "name": manifest["name"], "version": manifest["version"], "action": action}
        if record is not None and action != "already published":
            _record(Path(record), result, folder)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _remote_manifest_sha(api: Any, repo_id: str, revision: str, cache: Path) -> str | None:
    """sha256 of manifest.json at ``revision`` of the dataset repo, None when it has none."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    from bertbench.file_io import sha256_file

    try:
        path = hf_hub_download(repo_id, "manifest.json", repo_type="dataset", revision=revision,
                               endpoint=api.endpoint, token=api.token, cache_dir=cache)
    except (EntryNotFoundError, RevisionNotFoundError):
        return None
    return sha256_file(Path(path))


def _publish_once(api: Any, repo_id: str, tag: str, folder: Path, digest: str, manifest: dict[str, Any],
                  private: bool, cache: Path) -> tuple[str, str]:
    """One try of ``publish``: read the remote, then send only what is missing; (commit, action)."""
    from huggingface_hub import CommitOperationAdd, DatasetCard

    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    tags = {t.name: t.target_commit for t in refs.tags}
    head = next((b.target_commit for b in refs.branches if b.name == "main"), None)
    if tag in tags:
        if _remote_manifest_sha(api, repo_id, tags[tag], cache) == digest:
            return tags[tag], "already published"
        raise HubError(f"tag {tag!r} already exists on {repo_id} and holds another release; choose a new tag")
    label = f"bertbench {manifest['name']} {manifest['version']}"
    if head is not None and _remote_manifest_sha(api, repo_id, head, cache) == digest:
        commit, action = head, "tagged"
    else:
        existing = _existing_configs(repo_id, api.endpoint, api.token, cache)
        if existing:
            card = DatasetCard.load(folder / "README.md")
            card.data["configs"] = merge_configs(existing, card.data.to_dict()["configs"])
            card.save(folder / "README.md")
        # create_commit sends the commit once (upload_folder retries it on its own clock); parent_commit makes the
        # Hub refuse it if the branch moved, so a retry of ours can never add a second commit.
        ops = [CommitOperationAdd(path_in_repo=f.relative_to(folder).as_posix(), path_or_fileobj=str(f))
               for f in sorted(folder.rglob("*")) if f.is_file()]
        info = api.create_commit(repo_id, ops, commit_message=label, repo_type="dataset", parent_commit=head)
        commit, action = info.oid, "committed"
    api.create_tag(repo_id, tag=tag, revision=commit, repo_type="dataset", tag_message=label)
    return commit, action


def _record(index: Path, result: dict[str, Any], folder: Path) -> None:
    import datetime as dt

    from bertbench.file_io import atomic_write_bytes, sha256_file

    data = json.loads(index.read_text()) if index.exists() else {"releases": []}
    data["releases"].append({**result, "manifest_sha256": sha256_file(folder / "manifest.json"),
                             "published": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    atomic_write_bytes(index, (json.dumps(data, indent=2) + "\n").encode())


# ------------------------------------------------------------------------------------------------------------ load
