"""``export_model``: hand out a trained encoder of a run folder or a release self-contained: weights and config, the
run's tokenizer, a model card (architecture, recipe, data, the unit's scores) and this package's modeling files (with
``models/standalone.py`` for the rest of bertbench), for ``transformers`` alone. It reads runs and releases, so it
sits above the store (the models layer only saves and loads encoder folders: ``bertbench.models.export``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from bertbench.options import SYNTHETIC
from bertbench.store.run_folder import available_units, tokenizer_dir, unit_dir

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def export_model(source: str | os.PathLike[str], arch_id: str, out: str | os.PathLike[str], seed: int = 0) -> Path:
    """Hand out the trained encoder of (arch_id, seed) of a run folder or a release as a self-contained folder:
    weights and config, the run's tokenizer, a model card (architecture, recipe, data, this unit's scores) and this
    package's modeling code, so that ``AutoTokenizer.from_pretrained(out)`` and ``AutoModel.from_pretrained(out,
    trust_remote_code=True)`` work with ``transformers`` and ``torch`` alone (no bertbench)."""
    import json

    from bertbench.file_io import atomic_dir

    source, src, out = Path(source), unit_dir(source, arch_id, seed), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} exists and is not empty")
    if not (src / "model.safetensors").exists():
        units = available_units(source)
        raise FileNotFoundError(f"no trained encoder for arch_id={arch_id!r} seed={seed} in {source}; "
                                f"available: {units[:10] or 'none'}{' ...' if len(units) > 10 else ''}")
    info = _source_info(source)
    tokenizer = _source_tokenizer(source, info)
    if out.exists():
        out.rmdir()
    with atomic_dir(out, exist_ok=False) as tmp:
        shutil.copyfile(src / "model.safetensors", tmp / "model.safetensors")
        config = json.loads((src / "config.json").read_text())
        config["auto_map"] = dict(STANDALONE_AUTO_MAP)
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        for name in STANDALONE_FILES:
            shutil.copyfile(MODELS_DIR / name, tmp / name)
        tokenizer.save_pretrained(tmp)
        _model_card(source, info, config, arch_id, seed).save(tmp / "README.md")
    return out


#: The modeling code an exported folder carries (``models/standalone.py`` stands in for the rest of bertbench).
STANDALONE_FILES = ("configuration.py", "modeling.py", "ops.py", "standalone.py")
STANDALONE_AUTO_MAP = {"AutoConfig": "configuration.BertBenchConfig", "AutoModel": "modeling.BertBenchModel",
                       "AutoModelForMaskedLM": "modeling.BertBenchForMaskedLM",
                       "AutoModelForSequenceClassification": "modeling.BertBenchForSequenceClassification"}


def _source_info(source: Path) -> dict[str, Any]:
    """The run's identity: ``manifest.json`` of a release or ``run.json`` of a run folder (recipe, data, license)."""

    from bertbench.store.release import read_manifest
    from bertbench.store.run_folder import read_run_info

    if (source / "manifest.json").exists():
        return read_manifest(source)
    info = read_run_info(source)
    if info:
        return info
    raise FileNotFoundError(f"{source} is neither a release (manifest.json) nor a run folder (run.json)")


def _source_tokenizer(source: Path, info: dict[str, Any]) -> Any:
    """The tokenizer the unit was trained with: the run's own (``tokenizer/``, WordPiece trained on its corpus), else
    the one its recipe names."""
    from bertbench.data.tokenizer import load_tokenizer, wordpiece_size

    if (tokenizer_dir(source) / "tokenizer.json").exists():
        return load_tokenizer(tokenizer_dir(source))
    spec = str(((info.get("recipe") or {}).get("data") or {}).get("tokenizer") or SYNTHETIC)
    if wordpiece_size(spec) is not None:
        raise FileNotFoundError(f"{source} has no tokenizer/ folder, and its tokenizer ({spec}) was trained for the "
                                "run: export from the run folder, or from a release committed with --models")
    return load_tokenizer(spec)


def _model_card(source: Path, info: dict[str, Any], config: dict[str, Any], arch_id: str, seed: int) -> Any:
    """The exported encoder's model card: what it is, how it was trained, and its scores in the benchmark."""
    from huggingface_hub import ModelCard, ModelCardData

    from bertbench.data.sources import display_name

    recipe = info.get("recipe") or {}
    pre, data = recipe.get("pretrain") or {}, recipe.get("data") or {}
    layers = config.get("layers") or []
    rows = ["| layer | op | heads | FFN |", "|---|---|---|---|"]
    rows += [f"| {i} | {ly['op_type']}-{ly['op_param']} | {ly['heads']} | {ly['num_ffn']} x {ly['ffn_dim']} |"
             for i, ly in enumerate(layers)]
    scores = _unit_scores(source, arch_id, seed)
    name = info.get("name") or source.name
    card_data = ModelCardData(library_name="transformers", license=str(info["license"]).lower()
                              if info.get("license") else None, tags=["bertbench", "nas-benchmark", "bert"])
    body = [
        f"# bertbench encoder {arch_id} (seed {seed}) of {name} {info.get('version', '')}".rstrip(), "",
        f"One trained architecture of a bertbench benchmark: hidden size {config.get('hidden_size')}, "
        f"{len(layers)} layers, built variant `{config.get('variant')}`, vocabulary {config.get('vocab_size')}. "
        "The encoder only (the ELECTRA discriminator or the MLM encoder without its pretraining head).", "",
        *rows, "",
        "## Use", "", "```python", "from transformers import AutoModel, AutoTokenizer", "",
        'tokenizer = AutoTokenizer.from_pretrained("PATH", trust_remote_code=True)  # reads config.json, whose classes are here',
        'model = AutoModel.from_pretrained("PATH", trust_remote_code=True)  # transformers + torch; bertbench not needed',
        'hidden = model(**tokenizer("a sentence", return_tensors="pt")).last_hidden_state', "```", "",
        "## Training", "",
        f"Pretraining: {pre.get('objective')} for {pre.get('steps')} steps of {pre.get('batch_size')} x "
        f"{pre.get('seq_len')} tokens, lr {pre.get('lr')}, on `{display_name(str(data.get('corpus', '?')))}`; "
        f"tokenizer {_tokenizer_words(str(data.get('tokenizer')))}. Recipe `{recipe.get('name')}`; the benchmark's manifest has the rest.", "",
        "## Scores of this unit in the benchmark", "",
        "| stage | fine-tuning seed | metric | score | status |", "|---|---|---|---|---|",
        *[f"| {r['stage']} | {r['finetune_seed']} | {r['main_metric']} | {r['score']:.4g} | {r['status']} |"
          for r in scores], "",
    ]
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(body))


def _tokenizer_words(spec: str) -> str:
    if spec.startswith("wordpiece:"):
        return f"WordPiece {spec.split(':', 1)[1]} trained on that corpus for the run (its files are in this folder)"
    return f"`{spec}`" if "/" not in spec else "the run's own (its files are in this folder)"


def _unit_scores(source: Path, arch_id: str, seed: int) -> list[dict[str, Any]]:
    """This (architecture, seed)'s result rows in the release or run folder (empty when none are recorded)."""
    import pyarrow.compute as pc

    from bertbench.loaders.release import load_release, load_run

    bench = load_release(source) if (source / "manifest.json").exists() else load_run(source)
    runs = bench.tables["runs"]
    runs = runs.filter(pc.and_(pc.equal(runs["arch_id"], arch_id), pc.equal(runs["seed"], seed)))
    cols = ["stage", "main_metric", "score", "status"]
    out = runs.select(cols).to_pylist()
    ft = runs.column("finetune_seed").to_pylist() if "finetune_seed" in runs.column_names else [None] * len(out)
    for row, f in zip(out, ft):
        row["finetune_seed"] = "-" if f is None or row["stage"] == "pretrain" else f
        row["score"] = float("nan") if row["score"] is None else row["score"]
    return out
