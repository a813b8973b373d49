"""The Hub dataset card of a release, built with ``huggingface_hub.DatasetCard`` / ``DatasetCardData``.

Front matter: license, pretty_name, task_categories, size_categories, language, source_datasets, tags, one
``configs`` entry for every view and table (always the same five, empty or not), and a ``bertbench`` block (name,
version, schema version). Body: what the release is, a "Dataset structure" section generated from the column docs
of ``bertbench.store.schema``, tasks and aggregates, recipe and data, caveats, and the citations of bertbench and of
every source used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bertbench.data.sources import display_name
from bertbench.licenses import BERTBENCH_BIBTEX, GLUE_BIBTEX, LICENSES, SEED_PAPER_BIBTEX  # noqa: F401 (re-exported)
from bertbench.options import is_synthetic

#: The configs of every exported release, in this order (the first is the default).
CONFIGS = ("summary", "architectures", "runs", "curves", "proxies")

CONFIG_WHAT = {
    "summary": "one row per architecture: per-task main metric (mean over ok seeds), its sd, status, aggregates",
    "architectures": "one row per architecture: id, hidden size, layers, parameters, FLOPs",
    "runs": "one row per (architecture, seed, stage): status, every metric as a column, steps, tokens, wall time",
    "curves": "losses and learning rate along training",
    "proxies": "training-free proxy scores with their input configuration, loss and stability status",
}


def size_category(rows: int) -> str:
    """The Hub's size bucket for ``rows``."""
    for limit, name in [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]:
        if rows < limit:
            return name
    return "n>1M"


#: Each real task's source and its terms (the release holds scores only, never text).
TASK_SOURCES = {
    "sst2": "SST-2: Stanford Sentiment Treebank (Socher et al. 2013), under its authors' terms",
    "mrpc": "MRPC: Microsoft Research Paraphrase Corpus (Dolan & Brockett 2005), under Microsoft's license",
    "stsb": "STS-B: STS benchmark (Cer et al. 2017); its scores are CC BY-SA 4.0, the sentences keep their sources' terms",
    "rte": "RTE: the PASCAL/NIST RTE challenges 1, 2, 3 and 5, under their organisers' terms",
    "wnli": "WNLI: the Winograd Schema Challenge collection (Levesque et al. 2012), CC BY 4.0",
    "cola": "CoLA (Warstadt et al. 2019), under its authors' terms",
    "qqp": "QQP: Quora Question Pairs, under Quora's terms",
    "mnli": "MNLI (Williams et al. 2018), mostly OANC text, see its paper for the terms",
    "qnli": "QNLI: derived from SQuAD (Rajpurkar et al. 2016), CC BY-SA 4.0",
}
#: What a local file of the GLUE TSV layout is, when it is not GLUE's own file (the name says it).
FILE_NOTES = {
    "train.reordered.tsv": "the same rows as GLUE's train set in another order (a row cap takes other rows than "
                           "GLUE's first ones)",
    "train.reconstructed.tsv": "GLUE's train set reconstructed from a re-split (same rows, sorted by index)",
    "msr_paraphrase_test.txt": "the raw MSR release: its test set (1,725 pairs) is the evaluation split, not GLUE's "
                               "408-pair dev set",
}
PTB_SOURCE = ("Penn Treebank (Marcus et al. 1993), the language-model text of Mikolov et al.; the Wall Street Journal "
              "text is the LDC's (LDC99T42)")


def _sources(manifest: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(source_datasets, lines describing each source and its license, bibtex entries) of a release."""
    tasks = manifest.get("tasks") or []
    data = manifest.get("data") or {}
    corpus = display_name(str((data.get("corpus") if isinstance(data, dict) else "") or ""))
    source_datasets, lines, bib = ["original"], [], [BERTBENCH_BIBTEX, SEED_PAPER_BIBTEX]
    lines.append("- Search space: NAS-Bench-BERT of Serianni & Kalita (ACL 2023); their data is CC BY 4.0.")
    if any(map(is_synthetic, tasks)) or is_synthetic(corpus):
        lines.append("- The embedded synthetic corpus and tasks of bertbench (generated from a seed; not GLUE).")
    glue = [t for t in tasks if not is_synthetic(t)]
    if glue:
        source_datasets.append("nyu-mll/glue")
        lines.append(f"- GLUE tasks {', '.join(glue)}: each keeps its own license (see the GLUE benchmark's FAQ and "
                     "the nyu-mll/glue card); this release holds only scores derived from them, no text.")
        lines += [f"  - {TASK_SOURCES[t]}." for t in glue if t in TASK_SOURCES]
        files = (data.get("files_sha256") or {}) if isinstance(data, dict) else {}
        notes = {f: FILE_NOTES.get(f.rsplit("/", 1)[-1]) for f in files}
        lines += [f"  - `{f}` (sha256 {files[f][:12]}…): {note}." for f, note in sorted(notes.items()) if note]
        bib.append(GLUE_BIBTEX)
    if corpus and not is_synthetic(corpus):
        what = f" ({PTB_SOURCE})" if "ptb" in corpus.lower() else ""
        lines.append(f"- Pretraining corpus `{corpus}`{what}: its own license applies; no text is included here.")
    return source_datasets, lines, bib


def _structure(bench: Any, columns: dict[str, list[str]]) -> list[str]:
    """The "Dataset structure" section: each config's columns with the meaning they have in that config."""
    from bertbench.store.schema import column_docs, schema_for

    metric_docs = {k: v.get("meaning", "") if isinstance(v, dict) else str(v)
                   for k, v in (bench.metadata.get("metrics") or {}).items()}
    lines = ["## Dataset structure", ""]
    for config in CONFIGS:
        if config == "summary":
            docs = summary_docs(bench, columns[config], metric_docs)
        else:
            docs = {**{k: v for k, v in column_docs(schema_for(config, bench.family)).items() if v}}
            if config == "runs":  # the runs view has one column per metric
                docs = {**{c: metric_docs[c] for c in columns[config] if c in metric_docs}, **docs}
        lines += [f"### `{config}`", "", CONFIG_WHAT[config] + ".", "", "| column | meaning |", "|---|---|"]
        for col in columns[config]:
            lines.append(f"| `{col}` | {docs.get(col) or metric_docs.get(col) or 'metric value of the run'} |")
        lines.append("")
    return lines


def summary_docs(bench: Any, cols: list[str], metric_docs: dict[str, str]) -> dict[str, str]:
    """What each column of the summary view holds (one row per unit, means over seeds)."""
    from bertbench.data.tasks import get_aggregate, get_task
    from bertbench.store.schema import column_docs, schema_for

    docs = {k: v for k, v in column_docs(schema_for("architectures", bench.family)).items() if v}
    docs.update(status="ok if every run of the unit is ok; else diverged if one diverged; else failed",
                n_seeds="pretraining seeds with results", n_runs="runs averaged into the row")

    def stage_doc(stage: str) -> str:
        if stage == "pretrain":
            return metric_docs.get("pretrain", "pretraining target, mean over seeds")
        try:
            task = get_task(stage)
        except KeyError:
            return metric_docs.get(stage, "")
        return f"{task.main_metric} of {stage} (x100), mean over ok fine-tuning seeds, then over pretraining seeds"

    for col in cols:
        if col in docs:
            continue
        if col.endswith("_ft_std"):
            docs[col] = f"sd of {col[:-7]} between fine-tuning seeds (mean over pretraining seeds)"
        elif col.endswith("_std"):
            docs[col] = f"sd of {col[:-4]} between pretraining seeds"
        elif col in (bench.metadata.get("aggregates") or []):
            try:
                docs[col] = get_aggregate(col).description + " (NaN when a part is missing or failed)"
            except KeyError:
                docs[col] = metric_docs.get(col, "")
        elif col in (bench.metadata.get("tasks") or []) or col == "pretrain":
            docs[col] = stage_doc(col)
    return docs


def _compute_lines(manifest: dict[str, Any]) -> list[str]:
    compute = manifest.get("compute")
    if not compute:
        return []
    devices = "; ".join(f"{d}: {v['results']} results, {v['seconds'] / 3600:.2f} h" for d, v in
                        compute["by_device"].items())
    lines = ["## Compute", "", f"{compute['units']} units (architecture x seed), {compute['seconds_total'] / 3600:.2f} h "
             f"of training and evaluation in all (median unit {compute['unit_seconds_median']} s). By device: {devices}."]
    if compute.get("wall_seconds"):
        lines[-1] += (f" Wall time: {compute['wall_seconds'] / 3600:.2f} h with {compute['processes']} "
                      "worker process(es) in all.")
    hardware = manifest.get("hardware") or {}
    for env in hardware.get("environments") or [] if isinstance(hardware, dict) else []:
        lines.append(f"- trained on {env.get('device')}, python {env.get('python')}, torch {env.get('torch')}, "
                     f"{env.get('machine')}")
    return [*lines, ""]


def _reliability_lines(manifest: dict[str, Any], bench: Any) -> list[str]:
    """The reliability section: the table ``commit`` recorded in the manifest (computed from the tables for releases
    committed before it did)."""
    from bertbench.reliability import format_table, reliability_table, table_from_manifest

    records = manifest.get("reliability")
    table = table_from_manifest(records) if records else reliability_table(bench, curves=False, n_boot=500)
    if table.empty:
        return []
    return ["## Reliability", "",
            "Does a target rank the architectures the same way with another seed? Per target: Kendall tau between "
            "pretraining seeds (and within each (hidden size, depth) group) with bootstrap 95 % CIs over "
            "architectures, the intraclass correlation of one run with its CI, the sds between architectures and "
            "between seeds, the reliability of the mean over seeds (no correlation with it can be higher), and the "
            "seeds a mean would need for two such means to agree with tau >= 0.6 (Spearman-Brown). "
            "`bertbench reliability` prints it with the held-out loss at every logged step too.", "",
            format_table(table, curves=False, markdown=True), ""]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _space_phrase(bench: Any, detail: bool = True) -> str:
    """"of the NAS-Bench-BERT space" when every architecture lies in it; otherwise what they are built from."""
    from bertbench.space import SearchSpace

    archs = bench.tables["architectures"]
    hidden = sorted(set(archs.column("hidden_size").to_pylist()))
    depth = sorted(set(archs.column("num_layers").to_pylist()))
    try:
        space = SearchSpace.named("nas-bench-bert-2023")
        inside = all(bench.query(a)["architecture"] in space for a in archs.column("arch_id").to_pylist())
    except Exception:  # a family without Architecture objects (RNN) is never "in" the BERT space
        inside = False
    if inside:
        return "of the NAS-Bench-BERT space"
    if not detail:
        return "built from the NAS-Bench-BERT ops"
    return (f"built from the NAS-Bench-BERT ops (hidden sizes {', '.join(map(str, hidden))}; depths "
            f"{', '.join(map(str, depth))}; outside the 2023 space's sizes)")


def _portable(section: Any) -> Any:
    """A manifest section as the card shows it: local data paths by file name (``_local_name``)."""
    if not isinstance(section, dict):
        return section
    out = {}
    for k, v in section.items():
        if isinstance(v, dict):
            out[k] = _portable(v)
        elif k in ("corpus", "task_source", "tokenizer") and isinstance(v, str) and "/" in v \
                and not v.startswith(("hf://", "http://", "https://")):
            out[k] = display_name(v) if "::" in v or Path(v).suffix else f"(local folder) {Path(v).name}"
        else:
            out[k] = v
    return out


def _eval_split_lines(manifest: dict[str, Any]) -> list[str]:
    """Which examples each task is scored on, where that is not GLUE's dev split (MRPC from the raw MSR files)."""
    files = ((manifest.get("data") or {}).get("files_sha256") or {}) if isinstance(manifest.get("data"), dict) else {}
    lines = []
    if "mrpc" in (manifest.get("tasks") or []) and any(f.endswith("msr_paraphrase_test.txt") for f in files):
        lines.append("- MRPC is scored on `msr_paraphrase_test.txt` (1,725 labelled pairs: GLUE's test split), not on "
                     "GLUE's dev split, which the raw MSR files cannot rebuild; it trains on `msr_paraphrase_train.txt` "
                     "(GLUE's train + dev). Other tasks are scored on their dev split.")
    return [*lines, ""] if lines else []


def build_card(manifest: dict[str, Any], bench: Any, columns: dict[str, list[str]], rows: dict[str, int],
               data_files: dict[str, str], repo_id: str | None = None) -> Any:
    """The release's ``DatasetCard``: ``columns``/``rows``/``data_files`` per config name; ``repo_id``: the Hub
    repository it is published to (None: an exported folder, loaded by its path)."""
    from huggingface_hub import DatasetCard

    from bertbench.data.tasks import AGGREGATES, get_aggregate

    tasks = manifest.get("tasks") or []
    synthetic = any(map(is_synthetic, tasks))
    _, source_lines, bib = _sources(manifest)
    n_arch = rows["architectures"]
    seeds = manifest.get("seeds") or []
    corpus = _corpus(manifest)
    space = _space_phrase(bench)
    pretty = (f"{n_arch} trained architectures {_space_phrase(bench, detail=False)} x {_count(len(seeds), 'seed')}, "
              f"{'synthetic' if synthetic else 'GLUE'} tasks ({manifest['name']} {manifest['version']})")
    data = _card_data(manifest, pretty, rows, data_files)
    aggs = [get_aggregate(a) for a in bench.metadata.get("aggregates") or [] if a in AGGREGATES]
    if repo_id:
        where = (f"`bertbench.load(\"hf://{repo_id}@v{manifest['version']}\")` or "
                 f"`datasets.load_dataset(\"{repo_id}\", name=\"summary\")` (configs below)")
    else:
        where = ("`bertbench.load(FOLDER)` or `datasets.load_dataset(FOLDER, name=\"summary\")` (configs below), "
                 "FOLDER being this folder; once published with `bertbench publish`, by its Hub repository id")
    body = [
        f"# {pretty}", "",
        f"Built by bertbench {manifest.get('bertbench_version')} on {manifest.get('created')}: {n_arch} architectures "
        f"{space}, every op trained as named, pretrained on `{corpus}` and fine-tuned on "
        f"{_count(len(tasks), 'task')}, seeds {seeds}. Schema version {manifest['schema_version']}. Load with "
        f"{where}.", "",
        "## Configs", "", "| config | rows | what |", "|---|---|---|",
        *[f"| {c} | {rows[c]} | {CONFIG_WHAT[c]} |" for c in CONFIGS], "",
        *_structure(bench, columns),
        "## Tasks and aggregates", "",
        f"Tasks: {', '.join(tasks) or '-'}. Failed or diverged runs have NaN metrics, never 0; an aggregate with a "
        "missing or failed part is NaN.", "", *_eval_split_lines(manifest),
        *[f"- `{a.name}`: {a.description}" for a in aggs], "",
        "## Recipe and data", "", "```json",
        json.dumps({"recipe": _portable(manifest.get("recipe")), "data": _portable(manifest.get("data"))}, indent=1,
                   default=str)[:6000],
        "```", "",
        "## Sources and licenses", "", f"This release: {manifest['license']}.", *source_lines, "",
        *_compute_lines(manifest),
        *_reliability_lines(manifest, bench),
        "## Caveats", "", *[f"- {c}" for c in manifest.get("caveats") or ["none recorded"]], "",
        "## Citation", "", "```bibtex", "\n\n".join(bib), "```", "",
    ]
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))


def _corpus(manifest: dict[str, Any]) -> str:
    data_spec = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
    return display_name(data_spec.get("corpus", "?"))


def _card_data(manifest: dict[str, Any], pretty: str, rows: dict[str, int], data_files: dict[str, str]) -> Any:
    """The card's YAML header: license, sizes, sources, tags and one config per table."""
    from huggingface_hub import DatasetCardData

    synthetic = any(map(is_synthetic, manifest.get("tasks") or []))
    configs = [{"config_name": c, "data_files": [{"split": "train", "path": data_files[c]}], **(
        {"default": True} if c == "summary" else {})} for c in CONFIGS]
    return DatasetCardData(
        license=str(manifest["license"]).lower(),
        pretty_name=pretty,
        task_categories=None if synthetic else ["text-classification"],  # synthetic tasks: no natural-language task
        size_categories=[size_category(max(rows.values()))],
        language=None if synthetic and is_synthetic(_corpus(manifest)) else ["en"],
        source_datasets=_sources(manifest)[0],
        tags=["neural-architecture-search", "nas-benchmark", "bert", "training-free-nas", "benchmark"],
        configs=configs,
        bertbench={"name": manifest["name"], "version": manifest["version"],
                   "schema_version": manifest["schema_version"]},
    )
