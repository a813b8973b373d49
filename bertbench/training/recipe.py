"""Training recipes: frozen dataclasses read from YAML (``manifests/recipes/NAME.yaml``); every field validated, an
unknown key is an error that lists the allowed keys."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from bertbench.errors import InvalidRecipe
from bertbench.manifest_files import find
from bertbench.options import SYNTHETIC
from bertbench.yaml_io import load_file

FINETUNE_LRS = {"paper": 5e-4, "electra": 1e-4}


@dataclass(frozen=True)
class PretrainRecipe:
    """Pretraining. ``objective``: "electra" (replaced-token detection, generator at ``generator_size`` x H with tied
    embeddings; loss = MLM + ``disc_weight`` x detection) or "mlm" (BERT masked LM, 80/10/10 replacement).
    ``steps`` optimizer steps of ``batch_size`` sequences (global, over accumulation and processes) of ``seq_len``
    tokens. AdamW (no weight decay on LayerNorm and biases), linear warm-up for ``warmup_steps`` then linear decay to 0,
    global-norm clipping at ``clip``. ``max_predictions``: masked positions per sequence at most (ELECTRA:
    int((mask_prob + 0.005) x seq_len)). ``diverge_factor``: a run whose final loss is above this multiple of its
    first step's loss is recorded ``diverged`` (NaN scores), like a NaN/inf loss; 0 disables the check.
    ``heldout_tokens``: size of the fixed held-out evaluation set (``training/heldout.py``; the corpus's validation
    split, or a slice held out of it), 0 for none; it is scored every ``heldout_every`` steps (None: at each
    ``log_every``) and at the end, and its loss is the pretraining target (lower is better)."""

    objective: str = "electra"
    steps: int = 100_000
    batch_size: int = 128
    seq_len: int = 128
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    weight_decay: float = 0.01
    warmup_steps: int = 10_000
    clip: float = 1.0
    mask_prob: float = 0.15
    max_predictions: int | None = None
    disc_weight: float = 50.0
    generator_size: float = 0.25
    grad_accum: int = 1
    checkpoint_every: int = 1000
    log_every: int = 100
    dropout: float = 0.1
    diverge_factor: float = 2.0
    heldout_tokens: int = 131_072
    heldout_every: int | None = None

    @property
    def heldout_interval(self) -> int:
        return self.heldout_every or self.log_every


@dataclass(frozen=True)
class FinetuneRecipe:
    """Fine-tuning of each task from the pretrained discriminator. ``lr``: a number or a named option ("paper" = 5e-4,
    the 2023 setting inherited from pretraining; "electra" = 1e-4). Layer-wise LR decay ``layer_decay``: the head gets
    lr, encoder layer k (0-based) lr x decay^(depth - k), embeddings lr x decay^(depth + 1); ``layer_decay_depth``
    "real" uses the architecture's depth, an int (the paper: 12) fixes it. ``epochs_by_task`` overrides ``epochs``
    (the paper: 10 for RTE and STS-B). ``double_unordered``: tasks also trained on swapped sentence pairs.
    ``max_train_examples``: cap per task (None: all). ``seeds``: fine-tuning seeds; each pretrained encoder is
    fine-tuned once per seed (seed 0 draws what fine-tuning drew before this field existed)."""

    batch_size: int = 32
    epochs: float = 3
    epochs_by_task: dict[str, float] = field(default_factory=lambda: {"rte": 10, "stsb": 10})
    lr: float | str = "paper"
    warmup_ratio: float = 0.1
    layer_decay: float = 0.8
    layer_decay_depth: int | str = 12
    weight_decay: float = 0.01
    max_seq_len: int = 128
    double_unordered: tuple[str, ...] = ("mrpc", "stsb")
    max_train_examples: int | None = None
    eval_batch_size: int = 128
    clip: float = 1.0
    seeds: tuple[int, ...] = (0,)

    @property
    def learning_rate(self) -> float:
        return FINETUNE_LRS[self.lr] if isinstance(self.lr, str) else float(self.lr)

    def epochs_for(self, task: str) -> float:
        return float(self.epochs_by_task.get(task.removeprefix("synthetic-"), self.epochs))


@dataclass(frozen=True)
class DataSpec:
    """Where text comes from: ``corpus`` (a bertbench.data.corpus source), ``tokenizer`` (name or path),
    ``task_source`` ("synthetic", "hub" or a local GLUE folder) and ``tasks`` (task names)."""

    corpus: str = SYNTHETIC
    tokenizer: str = SYNTHETIC
    task_source: str = SYNTHETIC
    tasks: tuple[str, ...] = ()
    task_revision: str | None = None
    synthetic_train_size: int | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    pretrain: PretrainRecipe
    finetune: FinetuneRecipe
    data: DataSpec
    mixed_precision: str = "auto"  # auto (training.common.resolve_precision) | no | bf16 | fp16
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Recipe:
        """A copy with nested changes, e.g. ``replace(pretrain={"lr": 1e4})``."""
        d = self.to_dict()
        for k, v in changes.items():
            if isinstance(v, dict) and isinstance(d.get(k), dict):
                d[k] = {**d[k], **v}
            else:
                d[k] = v
        return recipe_from_dict(d)


_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
                                       "None": (type(None),), "tuple": (tuple,), "dict": (dict,)}


def _allowed_types(annotation: str) -> tuple[type, ...] | None:
    """Python types a field annotated ``annotation`` (e.g. "float | str", "tuple[str, ...]") accepts; None if unknown."""
    out: list[type] = []
    for part in annotation.split("|"):
        base = part.strip().split("[")[0]
        if base not in _TYPES:
            return None
        out += _TYPES[base]
    return tuple(out)


def _check_section(cls: type, name: str, values: Any) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InvalidRecipe(f"recipe section {name!r} must be a mapping")
    allowed = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise InvalidRecipe(f"unknown key(s) {unknown} in recipe section {name!r}; allowed: {sorted(allowed)}")
    out = {}
    for k, v in values.items():
        if isinstance(v, list):
            v = tuple(v)
        types = _allowed_types(str(allowed[k].type))
        if types is not None and (not isinstance(v, types) or (isinstance(v, bool) and bool not in types)):
            raise InvalidRecipe(f"{name}.{k}={v!r} has the wrong type; allowed: {allowed[k].type}")
        out[k] = v
    obj = cls(**out)
    _validate(obj, name)
    return obj


def _validate(obj: Any, section: str) -> None:
    """Raise InvalidRecipe naming the first field of ``obj`` (a recipe section) outside its allowed values."""
    def bad(f: str, allowed: str) -> InvalidRecipe:
        return InvalidRecipe(f"{section}.{f}={getattr(obj, f)!r} is not valid; allowed: {allowed}")

    if isinstance(obj, PretrainRecipe):
        _validate_pretrain(obj, bad)
    elif isinstance(obj, FinetuneRecipe):
        _validate_finetune(obj, bad)
    elif isinstance(obj, DataSpec):
        _validate_data(obj, section)


def _validate_pretrain(obj: PretrainRecipe, bad: Callable[[str, str], InvalidRecipe]) -> None:
    if obj.objective not in ("electra", "mlm"):
        raise bad("objective", "'electra', 'mlm'")
    for f in ("steps", "batch_size", "seq_len", "grad_accum", "checkpoint_every", "log_every"):
        if not isinstance(getattr(obj, f), int) or getattr(obj, f) < 1:
            raise bad(f, "an integer >= 1")
    if obj.warmup_steps < 0 or obj.warmup_steps > obj.steps:
        raise bad("warmup_steps", f"0..steps ({obj.steps})")
    if obj.batch_size % obj.grad_accum:
        raise bad("grad_accum", f"a divisor of batch_size ({obj.batch_size})")
    for f in ("lr", "eps", "clip", "disc_weight"):
        if not isinstance(getattr(obj, f), (int, float)) or getattr(obj, f) <= 0:
            raise bad(f, "a number > 0")
    if not 0 < obj.mask_prob < 1:
        raise bad("mask_prob", "a number in (0, 1)")
    if not 0 < obj.generator_size <= 1:
        raise bad("generator_size", "a number in (0, 1]")
    if len(obj.betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in obj.betas):
        raise bad("betas", "two numbers in [0, 1)")
    if not 0 <= obj.weight_decay < 1 or not 0 <= obj.dropout < 1:
        raise bad("weight_decay" if not 0 <= obj.weight_decay < 1 else "dropout", "a number in [0, 1)")
    if not isinstance(obj.heldout_tokens, int) or obj.heldout_tokens < 0:
        raise bad("heldout_tokens", "an integer >= 0 (0: no held-out evaluation)")
    if obj.max_predictions is not None and (not isinstance(obj.max_predictions, int) or obj.max_predictions < 1):
        raise bad("max_predictions", "null (from mask_prob) or an integer >= 1")
    if obj.heldout_every is not None and (not isinstance(obj.heldout_every, int) or obj.heldout_every < 1):
        raise bad("heldout_every", "null (every log_every steps) or an integer >= 1")
    if not isinstance(obj.diverge_factor, (int, float)) or not (obj.diverge_factor == 0 or obj.diverge_factor > 1):
        raise bad("diverge_factor", "0 (off) or a number > 1")


def _validate_finetune(obj: FinetuneRecipe, bad: Callable[[str, str], InvalidRecipe]) -> None:
    if isinstance(obj.lr, str) and obj.lr not in FINETUNE_LRS:
        raise bad("lr", f"a number or one of {sorted(FINETUNE_LRS)}")
    if not isinstance(obj.lr, str) and (not isinstance(obj.lr, (int, float)) or obj.lr <= 0):
        raise bad("lr", f"a number > 0 or one of {sorted(FINETUNE_LRS)}")
    for f in ("batch_size", "eval_batch_size"):
        if not isinstance(getattr(obj, f), int) or getattr(obj, f) < 1:
            raise bad(f, "an integer >= 1")
    if obj.max_train_examples is not None and (not isinstance(obj.max_train_examples, int)
                                               or obj.max_train_examples < 1):
        raise bad("max_train_examples", "null (every row) or an integer >= 1")
    if obj.epochs <= 0 or any(not isinstance(v, (int, float)) or v <= 0 for v in obj.epochs_by_task.values()):
        raise bad("epochs", "a number > 0 (also in epochs_by_task)")
    if not 0 <= obj.warmup_ratio < 1:
        raise bad("warmup_ratio", "a number in [0, 1)")
    if not 0 < obj.layer_decay <= 1:
        raise bad("layer_decay", "a number in (0, 1]")
    if obj.layer_decay_depth != "real" and (not isinstance(obj.layer_decay_depth, int) or obj.layer_decay_depth < 1):
        raise bad("layer_decay_depth", "'real' or an integer >= 1")
    if obj.max_seq_len < 8:
        raise bad("max_seq_len", "an integer >= 8")
    if (not obj.seeds or len(set(obj.seeds)) != len(obj.seeds)
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in obj.seeds)):
        raise bad("seeds", "a non-empty list of distinct integers >= 0")


def _validate_data(obj: DataSpec, section: str) -> None:
    from bertbench.data.tasks import get_task
    from bertbench.data.tokenizer import wordpiece_size

    try:
        wordpiece_size(obj.tokenizer)
    except ValueError as err:
        raise InvalidRecipe(f"{section}.{err}") from None

    for t in obj.tasks:
        get_task(t)


def recipe_from_dict(d: dict[str, Any]) -> Recipe:
    allowed = {"name", "description", "pretrain", "finetune", "data", "mixed_precision"}
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise InvalidRecipe(f"unknown key(s) {unknown} in recipe; allowed: {sorted(allowed)}")
    if "name" not in d:
        raise InvalidRecipe("recipe is missing field 'name'")
    mp = d.get("mixed_precision", "auto")
    if mp not in ("auto", "no", "bf16", "fp16"):
        raise InvalidRecipe(f"mixed_precision={mp!r} is not valid; allowed: 'auto', 'no', 'bf16', 'fp16'")
    return Recipe(
        name=str(d["name"]),
        pretrain=_check_section(PretrainRecipe, "pretrain", d.get("pretrain")),
        finetune=_check_section(FinetuneRecipe, "finetune", d.get("finetune")),
        data=_check_section(DataSpec, "data", d.get("data")),
        mixed_precision=mp,
        description=str(d.get("description", "")),
    )


def load_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """A recipe by name (``recipes/NAME.yaml`` on the manifest search path) or YAML path."""
    path = find("recipes", name_or_path, InvalidRecipe, "recipe")
    d = load_file(path, InvalidRecipe) or {}
    if not isinstance(d, dict):
        raise InvalidRecipe(f"{path}: a recipe must be a mapping of sections (pretrain, finetune, data), got {type(d).__name__}")
    return recipe_from_dict(d)
