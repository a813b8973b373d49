"""The held-out pretraining evaluation: one fixed set of masked token blocks that every architecture, seed and process
count is scored on, and the scoring.

Where the text comes from (``heldout_source``): the corpus's own validation split when it has one (a ``*train*``
file or zip member whose ``valid``/``validation``/``dev`` sibling exists; the synthetic corpus -> the same generator
with another seed), else the last blocks of the packed training corpus, which training then never sees
(``TrainBlocks``; so for Hub corpora, whose splits cannot be checked offline). At most ``pretrain.heldout_tokens`` tokens are used.

Masks are drawn once from a fixed seed (``HELDOUT_SEED``), never from the architecture or the run's seed, with the
recipe's own masking (``mask_tokens``). For ELECTRA the discriminator is scored on fixed corruptions: the masked
positions replaced by draws from the held-out text's unigram distribution (not by each architecture's own
generator, whose quality would change the question). The set's sha256 (``HeldoutSet.sha256``) is recorded in
``run.json`` and the release manifest.

Scores (token-weighted means over the whole set, nats): ``heldout_mlm_loss`` (MLM objective), or for ELECTRA
``heldout_disc_loss`` (replaced-token detection, the pretraining target), ``heldout_disc_accuracy`` (x100) and
``heldout_gen_mlm_loss`` (the generator's masked-LM loss). Every block is scored in fixed batches of
``EVAL_BLOCKS``; with several processes each scores whole batches and the per-block sums are added exactly, so the
result does not depend on the number of processes.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bertbench.data.sources import CorpusSource, parse_source
from bertbench.options import SYNTHETIC
from bertbench.training.common import RankSlice
from bertbench.training.masking import mask_tokens

HELDOUT_SEED = 2023
EVAL_BLOCKS = 32
SPLIT_NAMES = ("valid", "validation", "dev")
#: The pretraining target of each objective (lower is better): the main metric of a ``pretrain`` row.
TARGET = {"mlm": "heldout_mlm_loss", "electra": "heldout_disc_loss"}


def heldout_source(corpus: str | CorpusSource) -> CorpusSource | None:
    """The validation split of ``corpus`` (see the module docstring), or None when it has none (a slice of the
    training corpus is held out instead)."""
    src = parse_source(corpus)
    if src.kind == SYNTHETIC:
        return CorpusSource(SYNTHETIC, seed=src.seed + 1, docs=max(500, src.docs // 10))
    if src.kind == "zip" and "train" in src.member:
        with zipfile.ZipFile(src.path) as zf:
            names = set(zf.namelist())
        for alt in SPLIT_NAMES:
            member = src.member.replace("train", alt)
            if member in names:
                return CorpusSource("zip", path=src.path, member=member, doc_sep=src.doc_sep)
    if src.kind == "text" and Path(src.path).is_file() and "train" in Path(src.path).name:
        p = Path(src.path)
        for alt in SPLIT_NAMES:
            sibling = p.with_name(p.name.replace("train", alt))
            if sibling.is_file():
                return CorpusSource("text", path=str(sibling), doc_sep=src.doc_sep)
    return None


class TrainBlocks:
    """The training corpus less its last ``held`` blocks (held out for evaluation): ``order``/``blocks``/``len`` as
    ``PackedCorpus``."""

    def __init__(self, corpus: Any, held: int) -> None:
        self.corpus, self.held = corpus, held

    def __len__(self) -> int:
        return len(self.corpus) - self.held

    def order(self, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).permutation(len(self))

    def blocks(self, indices: np.ndarray) -> np.ndarray:
        return self.corpus.blocks(indices)


@dataclass(frozen=True)
class HeldoutSet:
    """Fixed masked blocks (see the module docstring). ``inputs``/``labels``: the masked-LM view (labels -100 where
    nothing is asked); ``disc_ids``/``disc_labels``: the corrupted view for a discriminator (1.0 = replaced)."""

    source: str
    inputs: torch.Tensor
    labels: torch.Tensor
    disc_ids: torch.Tensor
    disc_labels: torch.Tensor
    sha256: str

    @property
    def tokens(self) -> int:
        return int(self.inputs.numel())

    def describe(self) -> dict[str, Any]:
        """What run.json and the manifest record of the set."""
        return {"source": self.source, "blocks": int(self.inputs.shape[0]), "tokens": self.tokens,
                "masked": int((self.labels != -100).sum()), "seed": HELDOUT_SEED, "sha256": self.sha256}


def build_heldout(blocks: np.ndarray, source: str, tokenizer: Any, recipe: Any) -> HeldoutSet:
    """The held-out set of ``blocks`` ([N, L] token ids) masked with ``recipe``'s masking from ``HELDOUT_SEED``."""
    original = torch.from_numpy(np.asarray(blocks).astype(np.int64))
    gen = torch.Generator().manual_seed(HELDOUT_SEED)
    inputs, labels = mask_tokens(original, gen, tokenizer, recipe)
    chosen = labels != -100
    counts = torch.bincount(original.flatten(), minlength=len(tokenizer)).double()
    for special in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id, tokenizer.mask_token_id):
        counts[special] = 0
    draws = torch.multinomial(counts / counts.sum(), int(chosen.sum()), replacement=True, generator=gen)
    disc_ids = original.clone()
    disc_ids[chosen] = draws
    disc_labels = (disc_ids != original).float()
    h = hashlib.sha256()
    for t in (inputs, labels, disc_ids):
        h.update(t.numpy().astype(np.int64).tobytes())
    return HeldoutSet(source, inputs, labels, disc_ids, disc_labels, h.hexdigest())


def max_blocks(recipe: Any) -> int:
    """How many blocks of ``recipe.seq_len`` the held-out set takes at most."""
    return max(1, recipe.heldout_tokens // recipe.seq_len)


@torch.no_grad()
def heldout_scores(model: Any, heldout: HeldoutSet, objective: str, device: Any = "cpu", ranks: RankSlice = RankSlice(),
                   reduce: Any = None) -> dict[str, float]:
    """The held-out scores of a pretraining model (``BertBenchForMaskedLM`` or ``BertBenchForPreTraining``, unwrapped)
    in eval mode (see the module docstring). ``reduce``: sums a tensor over processes (``accelerator.reduce``), needed
    when ``ranks.world > 1``."""
    n = heldout.inputs.shape[0]
    names = ("mlm", "mlm_n") if objective == "mlm" else ("mlm", "mlm_n", "disc", "disc_correct", "disc_n")
    sums = torch.zeros(len(names), n, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        for b, first in enumerate(range(0, n, EVAL_BLOCKS)):
            if b % ranks.world != ranks.rank:
                continue
            rows = slice(first, min(n, first + EVAL_BLOCKS))
            sums[:, rows] = _batch_sums(model, heldout, rows, objective, device)
    finally:
        model.train(was_training)
    if ranks.world > 1:
        sums = reduce(sums.to(device), reduction="sum").cpu()  # each block is non-zero on one rank only: exact
    totals = dict(zip(names, sums.sum(dim=1).tolist()))
    if objective == "mlm":
        return {"heldout_mlm_loss": totals["mlm"] / max(totals["mlm_n"], 1.0)}
    return {"heldout_disc_loss": totals["disc"] / max(totals["disc_n"], 1.0),
            "heldout_disc_accuracy": 100.0 * totals["disc_correct"] / max(totals["disc_n"], 1.0),
            "heldout_gen_mlm_loss": totals["mlm"] / max(totals["mlm_n"], 1.0)}


def _batch_sums(model: Any, heldout: HeldoutSet, rows: slice, objective: str, device: Any) -> torch.Tensor:
    """Per block of ``rows``: masked-LM loss sum and count (and for ELECTRA detection loss sum, correct, count)."""
    inputs, labels = heldout.inputs[rows].to(device), heldout.labels[rows].to(device)
    mask = torch.ones_like(inputs)
    sel = labels != -100
    row_of = sel.nonzero()[:, 0].cpu()
    k = inputs.shape[0]
    if objective == "mlm":
        h = model.bertbench(inputs, mask).last_hidden_state
        logits = model.head(h[sel], model.bertbench.embeddings.word_embeddings.weight).float()
    else:
        logits, _ = model.generator_mlm(inputs, labels, mask)
    ce = F.cross_entropy(logits, labels[sel], reduction="none").double().cpu()
    out = [torch.zeros(k, dtype=torch.float64).index_add_(0, row_of, ce), sel.sum(1).double().cpu()]
    if objective != "mlm":
        d_ids, d_labels = heldout.disc_ids[rows].to(device), heldout.disc_labels[rows].to(device)
        d_logits, _, _ = model.discriminate(d_ids, d_labels, mask)
        bce = F.binary_cross_entropy_with_logits(d_logits, d_labels, reduction="none").double().cpu()
        correct = ((d_logits > 0).float() == d_labels).double().cpu()
        out += [bce.sum(1), correct.sum(1), torch.full((k,), float(inputs.shape[1]), dtype=torch.float64)]
    return torch.stack(out)


def prepare_heldout(corpus_spec: str, packed: Any, tokenizer: Any, recipe: Any, progress: bool = False
                    ) -> tuple[Any, HeldoutSet | None]:
    """(the blocks training may use, the held-out set) for a run: the validation split of ``corpus_spec`` packed
    like the training corpus when it has one, else the last blocks of ``packed`` (then excluded from training, at most
    a tenth of it). ``recipe.heldout_tokens == 0``: (``packed``, None)."""
    from bertbench.data.corpus import pack
    from bertbench.errors import DataSourceError

    if not recipe.heldout_tokens:
        return packed, None
    limit = max_blocks(recipe)
    src = heldout_source(corpus_spec)
    if src is not None:
        held = pack(src, tokenizer, recipe.seq_len, max_blocks=limit, progress=progress)
        return packed, build_heldout(held.blocks(np.arange(len(held))), src.describe(), tokenizer, recipe)
    n = min(limit, len(packed) // 10)
    if n < 1:
        raise DataSourceError(f"corpus {corpus_spec} has {len(packed)} blocks of {recipe.seq_len} tokens and no "
                              "validation split: too small to hold out an evaluation slice (set pretrain.heldout_tokens: 0)")
    blocks = packed.blocks(np.arange(len(packed) - n, len(packed)))
    return TrainBlocks(packed, n), build_heldout(blocks, f"last {n} blocks of {corpus_spec} (not trained on)",
                                                 tokenizer, recipe)
