"""Trained encoders in the ecosystem's format: ``save_pretrained`` folders (``model.safetensors`` + ``config.json``).

``transformers.AutoModel.from_pretrained(DIR)`` loads one once ``bertbench.models`` is imported (it registers the
``bertbench`` model type with the Auto classes; ``import bertbench`` alone stays torch-free and fast), or with
``trust_remote_code=True``. A run folder's unit folder points its ``auto_map`` at two small files that import the
installed bertbench; ``bertbench.loaders.model_export.export_model`` hands a unit out self-contained instead.

A run folder keeps ``models/<arch_id>__s<seed>/`` for every pretrained unit (the encoder, i.e. the ELECTRA
discriminator without its head); a release has them when committed with ``--models``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from bertbench.file_io import temp_dir

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
