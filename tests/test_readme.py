"""Every Python snippet of README.md runs as written, in a folder laid out as the README assumes (``data/`` holds the
2023 paper's files, ``train_logs_wikitext-2/`` the NAS-Bench-NLP logs), offline. Two snippets are left out, each for
a stated reason, and each of those is checked elsewhere."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
ELSEWHERE = {
    "my-encoder": "needs an exported encoder: tests/test_training.py::test_trained_encoders_round_trip_through_transformers",
    "load_dataset(\"ORG/": "needs the network (a published Hub repo): tests/test_hub.py publishes to a local fake Hub",
}


def snippets() -> list[tuple[int, str]]:
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


def test_the_readme_has_the_snippets_this_test_knows():
    blocks = snippets()
    assert len(blocks) >= 5
    assert sum(any(k in code for k in ELSEWHERE) for _, code in blocks) == 2


@pytest.mark.parametrize("line,code", snippets(), ids=lambda v: f"line{v}" if isinstance(v, int) else "")
def test_readme_snippet_runs(line, code, shared_data, tmp_path, monkeypatch):
    reason = next((why for key, why in ELSEWHERE.items() if key in code), None)
    if reason:
        pytest.skip(f"README line {line}: {reason}")
    (tmp_path / "data").symlink_to(shared_data / "seed-paper")
    (tmp_path / "train_logs_wikitext-2").symlink_to(shared_data / "nas-bench-nlp" / "train_logs_wikitext-2")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
