"""Fine-tuning loop: one task from the pretrained discriminator, on ``accelerate.Accelerator``, evaluated on every
dev split of the task (MNLI: matched and mismatched) with ``gather_for_metrics`` on every rank.

Training batches are global (``batch_size`` examples, each process takes its slice), in a per-epoch permutation
seeded from (arch_id, seed, task): the result does not depend on the number of processes. Layer-wise LR decay as
ELECTRA: head lr, encoder layer k lr x decay^(depth - k), embeddings lr x decay^(depth + 1).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from bertbench.data.tasks import TaskSpec
from bertbench.models import BertBenchConfig, BertBenchForSequenceClassification
from bertbench.options import RunStatus
from bertbench.space import Architecture
from bertbench.training.common import (
    Diverged,
    RankSlice,
    StageResult,
    derive_seed,
    finite,
    linear_schedule,
    param_groups,
)
from bertbench.training.recipe import FinetuneRecipe


def encode(task: TaskSpec, ds: Any, tokenizer: Any, max_len: int, swap: bool = False) -> dict[str, list]:
    cols = list(task.text_columns)
    if swap:
        cols = cols[::-1]
    texts = [list(ds[c]) for c in cols]
    enc = tokenizer(*texts, truncation=True, max_length=max_len)
    out = {"input_ids": enc["input_ids"], "token_type_ids": enc.get("token_type_ids") or [[0] * len(x) for x in enc["input_ids"]],
           "label": list(ds["label"])}
    return out


def collate(examples: list[dict[str, Any]], pad_id: int, regression: bool) -> dict[str, torch.Tensor]:
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    tt = torch.zeros((len(examples), width), dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n] = torch.tensor(e["input_ids"])
        tt[i, :n] = torch.tensor(e["token_type_ids"])
        mask[i, :n] = 1
    labels = torch.tensor([e["label"] for e in examples], dtype=torch.float32 if regression else torch.long)
    return {"input_ids": ids, "token_type_ids": tt, "attention_mask": mask, "labels": labels}


def _rows(enc: dict[str, list]) -> list[dict[str, Any]]:
    return [{"input_ids": a, "token_type_ids": b, "label": c} for a, b, c in zip(enc["input_ids"], enc["token_type_ids"], enc["label"])]


def layer_scales(model: BertBenchForSequenceClassification, decay: float, depth: int) -> dict[str, float]:
    scales = {}
    for name, _ in model.named_parameters():
        if name.startswith("bertbench.embeddings") or name.startswith("bertbench.embeddings_project"):
            scales[name] = decay ** (depth + 1)
        elif name.startswith("bertbench.encoder.layer."):
            k = int(name.split(".")[3])
            scales[name] = decay ** (depth - k)
        else:
            scales[name] = 1.0
    return scales


def finetune(arch: Architecture, task: TaskSpec, data: Any, tokenizer: Any, recipe: FinetuneRecipe, seed: int,
             accelerator: Any, encoder_state: dict[str, torch.Tensor] | None, config: dict[str, Any] | None = None,
             ranks: RankSlice = RankSlice(), progress: bool = True, finetune_seed: int = 0) -> StageResult:
    """Fine-tune ``arch`` (initialised from ``encoder_state``, or from scratch when None) on ``task``; evaluate.
    ``seed`` is the pretraining seed; ``finetune_seed`` draws the head, the batch order and dropout (0: as before
    fine-tuning seeds existed)."""
    t0 = time.perf_counter()
    key = task.name if not finetune_seed else f"{task.name}#f{finetune_seed}"
    torch.manual_seed(derive_seed(arch.arch_id, seed, key))
    model, opt = _build(arch, task, tokenizer, recipe, encoder_state, config)
    rows = _train_rows(task, data["train"], tokenizer, recipe)
    n, bs = len(rows), recipe.batch_size
    if bs % ranks.world:
        raise ValueError(f"finetune batch_size {bs} is not divisible by {ranks.world} processes")
    steps_per_epoch = math.ceil(n / bs)
    total = max(1, int(math.ceil(steps_per_epoch * recipe.epochs_for(task.name))))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(int(recipe.warmup_ratio * total), total))
    model, opt = accelerator.prepare(model, opt)
    curves: list[dict[str, Any]] = []
    bar = None
    if progress and accelerator.is_local_main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"{key} {arch.arch_id}", unit="step", leave=False, disable=None)
    status, error, step = RunStatus.OK, None, 0
    model.train()
    try:
        while step < total:
            epoch = step // steps_per_epoch
            perm = np.random.default_rng(derive_seed(arch.arch_id, seed, key, "epoch", epoch)).permutation(n)
            for b in range(min(steps_per_epoch, total - step)):
                local = np.array_split(perm[b * bs:(b + 1) * bs], ranks.world)[ranks.rank]
                batch = collate([rows[i] for i in local], tokenizer.pad_token_id, task.is_regression)
                torch.manual_seed(derive_seed(arch.arch_id, seed, key, "step", step))
                loss = _train_step(model, opt, sched, accelerator, batch, recipe.clip, step)
                step += 1
                if step % max(1, total // 10) == 0 or step == total:
                    curves.append({"step": step, "name": "train_loss", "value": loss})
                if bar is not None:
                    bar.update(1)
    except Diverged as err:
        status, error = RunStatus.DIVERGED, str(err)
    finally:
        if bar is not None:
            bar.close()
    metrics = {m: math.nan for m in task.metric_names()}
    if status == RunStatus.OK:
        metrics = {}
        for suffix, split in task.eval_splits.items():
            metrics.update(evaluate(model, task, data[split], tokenizer, recipe, accelerator, suffix))
    accelerator.free_memory()
    return StageResult(status, metrics, curves, step, seconds=time.perf_counter() - t0, error=error)


def _build(arch: Architecture, task: TaskSpec, tokenizer: Any, recipe: FinetuneRecipe,
           encoder_state: dict[str, torch.Tensor] | None, config: dict[str, Any] | None) -> tuple[Any, Any]:
    """The classifier (its encoder from ``encoder_state`` when given) and its AdamW with layer-wise lr decay."""
    cfg = BertBenchConfig.from_architecture(arch, num_labels=task.num_labels, vocab_size=len(tokenizer),
                                            pad_token_id=tokenizer.pad_token_id, **(config or {}))
    model = BertBenchForSequenceClassification(cfg)
    if encoder_state is not None:
        model.bertbench.load_state_dict(encoder_state)
    depth = arch.num_layers if recipe.layer_decay_depth == "real" else int(recipe.layer_decay_depth)
    lr = recipe.learning_rate
    scales = layer_scales(model, recipe.layer_decay, depth)
    opt = torch.optim.AdamW(param_groups(list(model.named_parameters()), recipe.weight_decay, lr, scales), lr=lr,
                            eps=1e-6)
    return model, opt


def _train_rows(task: TaskSpec, train: Any, tokenizer: Any, recipe: FinetuneRecipe) -> list[dict[str, Any]]:
    """The encoded training examples: the first ``max_train_examples``, and each pair swapped too for the tasks in
    ``double_unordered``."""
    if recipe.max_train_examples is not None and train.num_rows > recipe.max_train_examples:
        train = train.select(range(recipe.max_train_examples))
    rows = _rows(encode(task, train, tokenizer, recipe.max_seq_len))
    if task.name.removeprefix("synthetic-") in recipe.double_unordered and len(task.text_columns) == 2:
        rows += _rows(encode(task, train, tokenizer, recipe.max_seq_len, swap=True))
    return rows


def _train_step(model: Any, opt: Any, sched: Any, accelerator: Any, batch: dict[str, torch.Tensor], clip: float,
                step: int) -> float:
    """One optimizer step on ``batch``; its loss (a non-finite loss raises Diverged before any update)."""
    batch = {k: v.to(accelerator.device) for k, v in batch.items()}
    with accelerator.autocast():
        out = model(**batch)
    loss = out.loss
    if not finite(float(loss.detach())):
        raise Diverged(f"fine-tuning loss is {float(loss)} at step {step + 1}")
    accelerator.backward(loss)
    accelerator.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return float(loss.detach())


@torch.no_grad()
def evaluate(model: Any, task: TaskSpec, ds: Any, tokenizer: Any, recipe: FinetuneRecipe, accelerator: Any,
             suffix: str = "") -> dict[str, float]:
    """Every metric of ``task`` on ``ds``; each rank scores its share, ``gather_for_metrics`` collects them."""
    from torch.utils.data import DataLoader

    rows = _rows(encode(task, ds, tokenizer, recipe.max_seq_len))
    loader = DataLoader(rows, batch_size=recipe.eval_batch_size, shuffle=False,
                        collate_fn=lambda ex: collate(ex, tokenizer.pad_token_id, task.is_regression))
    loader = accelerator.prepare_data_loader(loader, device_placement=True)
    model.eval()
    preds, refs = [], []
    for batch in loader:
        labels = batch.pop("labels")
        with accelerator.autocast():
            logits = model(**batch).logits.float()
        pred = logits.squeeze(-1) if task.is_regression else logits.argmax(-1)
        pred, labels = accelerator.gather_for_metrics((pred, labels))
        preds.append(pred.cpu())
        refs.append(labels.cpu())
    model.train()
    p = torch.cat(preds).numpy() if preds else np.array([])
    r = torch.cat(refs).numpy() if refs else np.array([])
    if task.is_regression and not np.isfinite(p).all():
        return {m + suffix: math.nan for m in task.metrics}
    return task.compute(p, r, suffix)
