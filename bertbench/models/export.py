"""Trained encoders in the ecosystem's format: ``save_pretrained`` folders (``model.safetensors`` + ``config.json``).

``transformers.AutoModel.from_pretrained(DIR)`` loads one once ``bertbench.models`` is imported (it registers the
``bertbench`` model type with the Auto classes; ``import bertbench`` alone stays torch-free and fast), or with
``trust_remote_code=True``. A run folder's unit folder points its ``auto_map`` at two small files that import the
installed bertbench; ``export_model`` hands a unit out self-contained instead: this package's modeling files (with
``models/standalone.py`` for the rest of bertbench), the run's tokenizer and a model card, for ``transformers`` alone.

A run folder keeps ``models/<arch_id>__s<seed>/`` for every pretrained unit (the encoder, i.e. the ELECTRA
discriminator without its head); a release has them when committed with ``--models``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from bertbench.env import temp_dir
from bertbench.store.run_folder import available_units, tokenizer_dir, unit_dir  # noqa: F401 (re-exported)

REMOTE_FILES = {
    "configuration_bertbench.py": '"""bertbench encoder configuration (needs `pip install bertbench`)."""\n\n'
                                  "from bertbench.models.configuration import BertBenchConfig  # noqa: F401\n",
    "modeling_bertbench.py": '"""bertbench encoder (needs `pip install bertbench`)."""\n\n'
                             "from bertbench.models.modeling import BertBenchModel  # noqa: F401\n",
}
AUTO_MAP = {"AutoConfig": "configuration_bertbench.BertBenchConfig", "AutoModel": "modeling_bertbench.BertBenchModel"}


def save_encoder(model_dir: Path, arch: Any, state: dict[str, Any], pad_token_id: int = 0) -> Path:
    """Write ``state`` (a BertBenchModel state dict) as a ``save_pretrained`` folder, atomically (temp + rename)."""
    from bertbench.models import BertBenchConfig, BertBenchModel

    cfg = BertBenchConfig.from_architecture(
        arch, vocab_size=int(state["embeddings.word_embeddings.weight"].shape[0]), pad_token_id=pad_token_id,
        max_position_embeddings=int(state["embeddings.position_embeddings.weight"].shape[0]))
    cfg.auto_map = dict(AUTO_MAP)
    model = BertBenchModel(cfg)
    model.load_state_dict(state)  # strict: a state of another architecture is an error, never half-loaded
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(prefix=f".{model_dir.name}.", dir=model_dir.parent)
    try:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a one-file "Writing model shards" bar per unit is noise in a grid's log
        try:
            model.save_pretrained(tmp, safe_serialization=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        for name, text in REMOTE_FILES.items():
            (tmp / name).write_text(text)
        if model_dir.exists():
            shutil.rmtree(model_dir)
        os.rename(tmp, model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model_dir


def load_encoder_state(model_dir: Path) -> dict[str, Any] | None:
    """The encoder state saved in ``model_dir`` (``model.safetensors``), or None when there is none."""
    if not (model_dir / "model.safetensors").exists():
        return None
    from safetensors.torch import load_file

    return load_file(model_dir / "model.safetensors")


def export_model(source: str | os.PathLike[str], arch_id: str, out: str | os.PathLike[str], seed: int = 0) -> Path:
    """Hand out the trained encoder of (arch_id, seed) of a run folder or a release as a self-contained folder:
    weights and config, the run's tokenizer, a model card (architecture, recipe, data, this unit's scores) and this
    package's modeling code, so that ``AutoTokenizer.from_pretrained(out)`` and ``AutoModel.from_pretrained(out,
    trust_remote_code=True)`` work with ``transformers`` and ``torch`` alone (no bertbench)."""
    import json

    from bertbench.env import atomic_dir

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
        here = Path(__file__).resolve().parent
        for name in STANDALONE_FILES:
            shutil.copyfile(here / name, tmp / name)
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
    spec = str(((info.get("recipe") or {}).get("data") or {}).get("tokenizer") or "synthetic")
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
