"""Pretraining loop (ELECTRA replaced-token detection, or BERT masked LM) on ``accelerate.Accelerator``.

Every random draw is a function of (arch_id, seed, step): the batch is ``order[step * batch ...]`` of the packed
corpus's permutation for the derived seed, masking uses a generator seeded per (step, micro-batch), and torch's
global RNG (dropout, generator sampling) is re-seeded per step. Resuming from a checkpoint (``accelerator.save_state``
every ``checkpoint_every`` steps, written under a temporary name and renamed) therefore continues exactly as an
uninterrupted run: the data position is the step counter.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bertbench.errors import machine_io
from bertbench.models import build_model
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
from bertbench.training.heldout import HeldoutSet, heldout_scores
from bertbench.training.masking import mask_tokens
from bertbench.training.recipe import PretrainRecipe

log = logging.getLogger(__name__)


def _latest_checkpoint(ckpt_dir: Path) -> tuple[Path, int] | None:
    found = []
    for p in ckpt_dir.glob("step-*"):
        if (p / "bertbench_step.json").exists():
            found.append((int(p.name.split("-")[1]), p))
    if not found:
        return None
    step, path = max(found)
    return path, step


def pretrain(arch: Architecture, recipe: PretrainRecipe, corpus: Any, tokenizer: Any, seed: int, accelerator: Any,
             ckpt_dir: Path | None = None, ranks: RankSlice = RankSlice(), progress: bool = True,
             stop_after: int | None = None, vocab_size: int | None = None, heldout: HeldoutSet | None = None
             ) -> StageResult:
    """Pretrain ``arch``; returns status, final metrics, curves and the discriminator (encoder) state dict.
    ``stop_after``: stop (as if killed) after that many steps -- for tests of resume. ``vocab_size``: embedding rows
    when larger than the tokenizer's (e.g. the paper's 30,522). ``heldout``: the fixed evaluation set, scored every
    ``recipe.heldout_interval`` steps and at the end (curves and final metrics ``heldout_*``; ``training/heldout.py``)."""
    t0 = time.perf_counter()
    s = derive_seed(arch.arch_id, seed, "pretrain")
    head = "electra" if recipe.objective == "electra" else "mlm"
    model, opt, sched = _build(arch, recipe, tokenizer, s, head, vocab_size, accelerator)
    start, history = _resume(accelerator, ckpt_dir, arch, seed)
    micro = recipe.batch_size // recipe.grad_accum
    if micro % ranks.world:
        raise ValueError(f"batch_size / grad_accum = {micro} is not divisible by {ranks.world} processes")
    batches = _Batches(corpus, corpus.order(s), tokenizer, recipe, arch.arch_id, seed, micro, ranks, accelerator.device)
    curves: list[dict[str, Any]] = list(history["curves"])  # the points logged before the checkpoint
    first_loss: float | None = history["first_loss"]
    last: dict[str, float] = {}
    bar = None
    if progress and accelerator.is_local_main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=recipe.steps, initial=start, desc=f"pretrain {arch.arch_id}", unit="step", leave=False, disable=None)
    model.train()
    status, error = RunStatus.OK, None
    done = start
    try:
        for step in range(start, recipe.steps):
            if stop_after is not None and step >= stop_after:
                break
            last = _train_step(model, opt, sched, accelerator, batches, recipe, step, head, ranks.world)
            done = step + 1
            if first_loss is None:
                first_loss = last["loss"]
            curves += _logged(model, sched, accelerator, recipe, heldout, ranks, last, done, head)
            if bar is not None:
                if heldout is not None and done % recipe.heldout_interval == 0:
                    bar.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{(done - start) * recipe.batch_size * recipe.seq_len / (time.perf_counter() - t0):.0f}")
                bar.update(1)
            if ckpt_dir is not None and (done % recipe.checkpoint_every == 0) and done < recipe.steps:
                with machine_io(f"saving the checkpoint of step {done} in {ckpt_dir}"):
                    _save_checkpoint(accelerator, ckpt_dir, done, {"curves": curves, "first_loss": first_loss})
        final = last.get("loss", math.nan)
        if recipe.diverge_factor and first_loss is not None and final > recipe.diverge_factor * first_loss:
            raise Diverged(f"pretraining loss ended at {final:.4g}, above diverge_factor {recipe.diverge_factor:g} "
                           f"x its first-step loss {first_loss:.4g}")
    except Diverged as err:
        status, error = RunStatus.DIVERGED, str(err)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    log.info("pretrained %s seed %d: %d steps, loss %.4f, %.0f tokens/s", arch.arch_id, seed, done,
             last.get("loss", math.nan), (done - start) * recipe.batch_size * recipe.seq_len / max(seconds, 1e-9))
    metrics, state = _final(model, accelerator, last, head, status)
    return StageResult(status, metrics, curves, done, done * recipe.batch_size * recipe.seq_len,
                       time.perf_counter() - t0, error, encoder_state=state)


def _build(arch: Architecture, recipe: PretrainRecipe, tokenizer: Any, init_seed: int, head: str,
           vocab_size: int | None, accelerator: Any) -> tuple[Any, Any, Any]:
    """(model, optimizer, LR schedule), prepared by ``accelerator``: the untrained pretraining model (ELECTRA
    generator + discriminator, or an MLM model) of ``arch``, AdamW and the linear warm-up/decay schedule."""
    model = build_model(arch, head=head, seed=init_seed, vocab_size=vocab_size or len(tokenizer),
                        pad_token_id=tokenizer.pad_token_id, generator_size=recipe.generator_size,
                        hidden_dropout_prob=recipe.dropout, attention_probs_dropout_prob=recipe.dropout,
                        max_position_embeddings=max(512, recipe.seq_len))
    if head == "electra":
        model.disc_weight = recipe.disc_weight
    opt = torch.optim.AdamW(param_groups(list(model.named_parameters()), recipe.weight_decay, recipe.lr),
                            lr=recipe.lr, betas=tuple(recipe.betas), eps=recipe.eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(recipe.warmup_steps, recipe.steps))
    model, opt = accelerator.prepare(model, opt)
    accelerator.register_for_checkpointing(sched)
    return model, opt, sched


def _logged(model: Any, sched: Any, accelerator: Any, recipe: PretrainRecipe, heldout: HeldoutSet | None,
            ranks: RankSlice, last: dict[str, float], done: int, head: str) -> list[dict[str, Any]]:
    """The curve points of step ``done``: the batch's losses every ``log_every`` steps, the held-out scores every
    ``heldout_interval`` (at the last step also added to ``last``, the final metrics)."""
    points = []
    if done % recipe.log_every == 0 or done == recipe.steps:
        points += _curve_points(last, sched.get_last_lr()[0], done, head)
    if heldout is not None and (done % recipe.heldout_interval == 0 or done == recipe.steps):
        scores = heldout_scores(accelerator.unwrap_model(model), heldout, recipe.objective, accelerator.device, ranks,
                                accelerator.reduce)
        points += [{"step": done, "name": k, "value": v} for k, v in scores.items()]
        if done == recipe.steps:
            last.update(scores)
    return points


def _resume(accelerator: Any, ckpt_dir: Path | None, arch: Architecture, seed: int) -> tuple[int, dict[str, Any]]:
    """(first step, history) from the latest checkpoint in ``ckpt_dir`` (its state loaded), else (0, empty)."""
    history: dict[str, Any] = {"curves": [], "first_loss": None}
    found = _latest_checkpoint(ckpt_dir) if ckpt_dir is not None else None
    if found is None:
        return 0, history
    with machine_io(f"reading the checkpoint {found[0]}"):
        accelerator.load_state(str(found[0]))
        saved = json.loads((found[0] / "bertbench_step.json").read_text())
    log.info("resumed %s seed %d from step %d", arch.arch_id, seed, found[1])
    return found[1], {**history, **saved}


@dataclass(frozen=True)
class _Batches:
    """The masked micro-batches of a step: a pure function of (arch, seed, step, micro-batch, rank)."""

    corpus: Any
    order: np.ndarray
    tokenizer: Any
    recipe: PretrainRecipe
    arch_id: str
    seed: int
    micro: int
    ranks: RankSlice
    device: Any

    def get(self, step: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        local = self.micro // self.ranks.world
        first = step * self.recipe.batch_size + m * self.micro + self.ranks.rank * local
        idx = self.order[np.arange(first, first + local) % len(self.order)]
        blocks = torch.from_numpy(self.corpus.blocks(idx).astype(np.int64))
        gen = torch.Generator().manual_seed(derive_seed(self.arch_id, self.seed, "mask", step, m))
        inputs, labels = mask_tokens(blocks, gen, self.tokenizer, self.recipe)
        return inputs.to(self.device), labels.to(self.device)


def _train_step(model: Any, opt: Any, sched: Any, accelerator: Any, batches: _Batches, recipe: PretrainRecipe,
                step: int, head: str, world: int) -> dict[str, float]:
    """One optimizer step over ``grad_accum`` micro-batches; the step's mean losses (over ranks too)."""
    torch.manual_seed(derive_seed(batches.arch_id, batches.seed, "pretrain-step", step))
    totals = {"loss": 0.0, "mlm_loss": 0.0, "disc_loss": 0.0, "disc_accuracy": 0.0}
    for m in range(recipe.grad_accum):
        inputs, labels = batches.get(step, m)
        ctx = accelerator.no_sync(model) if m < recipe.grad_accum - 1 else nullcontext()
        with ctx, accelerator.autocast():
            out = model(inputs, labels=labels, attention_mask=torch.ones_like(inputs))
            accelerator.backward(out.loss / recipe.grad_accum)
        totals["loss"] += float(out.loss.detach()) / recipe.grad_accum
        if head == "electra":
            totals["mlm_loss"] += float(out.mlm_loss.detach()) / recipe.grad_accum
            totals["disc_loss"] += float(out.disc_loss.detach()) / recipe.grad_accum
            totals["disc_accuracy"] += 100.0 * float(out.disc_accuracy) / recipe.grad_accum
    if not finite(totals["loss"]):
        raise Diverged(f"pretraining loss is {totals['loss']} at step {step + 1}")
    accelerator.clip_grad_norm_(model.parameters(), recipe.clip)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    if world > 1:
        t = accelerator.reduce(torch.tensor([totals[k] for k in totals], device=batches.device), reduction="mean")
        totals = dict(zip(totals, t.tolist()))
    return totals


def _curve_points(totals: dict[str, float], lr: float, step: int, head: str) -> list[dict[str, Any]]:
    """The logged curve points of one step (``pretrain_<metric>``; an MLM model has no discriminator metrics)."""
    return [{"step": step, "name": f"pretrain_{k}", "value": float(v)} for k, v in {**totals, "lr": lr}.items()
            if not (head == "mlm" and k in ("mlm_loss", "disc_loss", "disc_accuracy"))]


def _final(model: Any, accelerator: Any, last: dict[str, float], head: str, status: str
           ) -> tuple[dict[str, float], dict[str, torch.Tensor] | None]:
    """Final metrics (NaN unless ok) and the encoder's state dict (None unless ok); frees the accelerator's state."""
    metrics = {"loss": last.get("loss", math.nan)}  # timing lives in the run row (tokens, wall_seconds)
    if head == "electra":
        metrics.update(mlm_loss=last.get("mlm_loss", math.nan), disc_loss=last.get("disc_loss", math.nan),
                       disc_accuracy=last.get("disc_accuracy", math.nan))
    metrics.update({k: v for k, v in last.items() if k.startswith("heldout_")})
    if status != RunStatus.OK:
        metrics = {k: math.nan for k in metrics}
    unwrapped = accelerator.unwrap_model(model)
    encoder = unwrapped.discriminator if head == "electra" else unwrapped.bertbench
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()} if status == RunStatus.OK else None
    accelerator.free_memory()
    getattr(accelerator, "_custom_objects", []).clear()  # the scheduler registered for checkpointing
    return metrics, state


def _save_checkpoint(accelerator: Any, ckpt_dir: Path, step: int, history: dict[str, Any]) -> None:
    """save_state into a temp folder, then rename to step-N (a crash never leaves a half checkpoint); keep the last 2.
    ``history`` (the curve points so far, the first-step loss) goes with it, so a resumed run ends with the same
    curves as an uninterrupted one."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tmp = ckpt_dir / f".tmp-step-{step}"
    final = ckpt_dir / f"step-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "bertbench_step.json").write_text(json.dumps({"step": step, **history}))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in sorted(ckpt_dir.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))[:-2]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
