"""Input batches for proxies. Batch size, length, source and seed travel with every score."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from bertbench.families import get_family
from bertbench.options import SYNTHETIC

#: Objectives the BERT gradient proxies differentiate (see ``bertbench.proxies.common.objective``).
LOSSES = ("mlm", "paper-2023")


@dataclass(frozen=True)
class ProxySeeds:
    """The seeds of a proxy evaluation, one per thing it draws. ``init``: the untrained models' initialisation (the
    proxies table's ``seed`` column); ``batch``: which corpus blocks form the BERT input batch, and its MLM mask;
    ``sample``: which architectures ``n=`` draws from a benchmark; ``proxy``: the RNG state each proxy starts from
    (random projections, noise inputs); ``bootstrap``: the resampling of the correlation CIs.
    ``ProxySeeds.of(s)`` sets every one to ``s`` (what a single ``seed=s`` means)."""

    init: int = 0
    batch: int = 0
    sample: int = 0
    proxy: int = 0
    bootstrap: int = 0

    @classmethod
    def of(cls, seed: int | ProxySeeds) -> ProxySeeds:
        return seed if isinstance(seed, ProxySeeds) else cls(int(seed), int(seed), int(seed), int(seed), int(seed))


@dataclass(frozen=True)
class ProxyBatch:
    """``tokens``: BERT [B, L] input ids (with ``attention_mask``); RNN [T, B] word ids (time first).

    ``loss`` is the objective of the BERT gradient proxies: ``"mlm"`` (default; masked-LM cross-entropy, the
    pretraining objective, needs ``mask_token_id``) or ``"paper-2023"`` (the sum of the last hidden state, as the
    2023 code did: identically zero after a post-LN layer at initialisation, kept for reproduction only). RNN
    proxies always use the paper's sum of outputs (the RNN output has no normalisation, so it is not degenerate).
    """

    tokens: torch.Tensor
    attention_mask: torch.Tensor | None
    source: str
    seed: int
    family: str
    vocab_size: int | None = None
    loss: str = "mlm"
    mask_token_id: int | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} is not known; allowed: {LOSSES}")

    @property
    def loss_name(self) -> str:
        """The objective actually used: ``mlm`` / ``paper-2023`` for BERT, ``output-sum`` for RNN."""
        return get_family(self.family).proxy_loss or self.loss

    @property
    def batch_size(self) -> int:
        return int(self.tokens.shape[0 if get_family(self.family).batch_first else 1])

    @property
    def seq_len(self) -> int:
        return int(self.tokens.shape[1 if get_family(self.family).batch_first else 0])

    def to(self, device: Any) -> ProxyBatch:
        """The same batch on ``device`` (itself when already there)."""
        if self.tokens.device == torch.device(device):
            return self
        mask = None if self.attention_mask is None else self.attention_mask.to(device)
        return replace(self, tokens=self.tokens.to(device), attention_mask=mask)


def bert_batch(source: str = SYNTHETIC, tokenizer: Any = None, batch_size: int = 16, seq_len: int = 128,
               seed: int = 0, loss: str = "mlm") -> ProxyBatch:
    """``batch_size`` packed blocks of ``seq_len`` tokens from a corpus source, drawn with ``seed``; ``loss`` is the
    gradient proxies' objective (see :class:`ProxyBatch`)."""
    from bertbench.data.corpus import pack
    from bertbench.data.tokenizer import load_tokenizer

    tok = tokenizer if tokenizer is not None else load_tokenizer(SYNTHETIC)
    corpus = pack(source, tok, seq_len)
    idx = corpus.order(seed)[:batch_size]
    ids = torch.from_numpy(corpus.blocks(idx).astype("int64"))
    return ProxyBatch(ids, torch.ones_like(ids), f"{source}", seed, "bert", len(tok), loss, tok.mask_token_id)


def rnn_batch(ptb: str, split: str = "test", batch_size: int = 50, bptt: int = 70, offset: int = 0) -> ProxyBatch:
    """The paper's RNN input: the PTB ``split`` batchified into ``batch_size`` columns, rows offset .. offset+bptt."""
    from bertbench.data.corpus import word_lm_batch

    tokens, vocab = word_lm_batch(ptb, split, batch_size, bptt, offset)
    return ProxyBatch(tokens, None, f"ptb.{split}[offset={offset}]", offset, "rnn", len(vocab))


def default_batch(family: str, seed: int = 0, batch_size: int | None = None, seq_len: int = 128,
                  ptb: str | None = None) -> ProxyBatch:
    """The proxies' default input for a model family: BERT ``batch_size`` (16) synthetic blocks of ``seq_len`` drawn
    with ``seed``; RNN the paper's PTB test batch (``ptb`` is required; ``batch_size`` 50)."""
    if family == "rnn":
        if ptb is None:
            raise ValueError("RNN proxies need the PTB text (ptb= / --ptb: ptb.zip or a folder with ptb.test.txt)")
        return rnn_batch(ptb, batch_size=batch_size or 50)
    get_family(family)  # an unknown family raises, naming the known ones
    return bert_batch(batch_size=batch_size or 16, seq_len=seq_len, seed=seed)
