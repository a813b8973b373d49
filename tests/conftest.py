"""Shared fixtures. Tests run offline; real data comes from ../shared/data through `shared_data` (skips if absent)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never read or fill the user's caches: bertbench's and the datasets library's go to one temporary folder per
# session (a stale entry there once hid a changed summary from a test).
_CACHES = tempfile.mkdtemp(prefix="bertbench-tests-")
os.environ["BERTBENCH_CACHE"] = os.path.join(_CACHES, "bertbench")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHES, "datasets")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BERTBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data folder (../shared/data); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield
