"""Tokenizers: any Hugging Face tokenizer by name or path, WordPiece training, and the shipped synthetic vocabulary.

``load_tokenizer("synthetic")`` (the default) reads ``bertbench/resources/synthetic-tokenizer/vocab.txt``, a lower-cased
WordPiece vocabulary trained once from the embedded synthetic corpus and tasks and shipped (with the tokenizers
trainer, before ``data/wordpiece.py`` made training deterministic; it is kept as released). The paper used the uncased BERT vocabulary:
``load_tokenizer("bert-base-uncased")`` (30,522 tokens; needs the Hub or a local copy).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bertbench.errors import DataSourceError
from bertbench.options import SYNTHETIC

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SYNTHETIC_TOKENIZER = RESOURCES / "synthetic-tokenizer"  # vocab.txt (759 tokens)
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def load_tokenizer(name_or_path: str | os.PathLike[str] = SYNTHETIC) -> Any:
    """A fast tokenizer: "synthetic" (shipped), a vocab.txt file, a saved tokenizer folder, or a Hub name."""
    from transformers import AutoTokenizer, BertTokenizerFast

    s = str(name_or_path)
    if s == SYNTHETIC:
        return BertTokenizerFast.from_pretrained(str(SYNTHETIC_TOKENIZER), do_lower_case=True)
    p = Path(s)
    if p.is_file() and p.name == "vocab.txt":
        return BertTokenizerFast.from_pretrained(str(p.parent), do_lower_case=True)
    try:
        return AutoTokenizer.from_pretrained(s, use_fast=True)
    except (OSError, ValueError) as err:
        raise DataSourceError(
            f"tokenizer {s!r} could not be loaded ({err.__class__.__name__}: {str(err).splitlines()[0]}); pass a local "
            "folder saved with save_pretrained, a vocab.txt, or 'synthetic'"
        ) from err


def train_wordpiece(texts: Iterable[str], vocab_size: int, out_dir: str | os.PathLike[str] | None = None,
                    lowercase: bool = True) -> Any:
    """A BERT-style WordPiece tokenizer whose vocabulary is learned from ``texts`` (``data/wordpiece.py``:
    deterministic, the same tokens and ids in any process); saved in transformers format when ``out_dir`` is given."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from bertbench.data.wordpiece import learn_vocabulary

    vocab = learn_vocabulary(texts, vocab_size, SPECIAL, min_frequency=2, lowercase=lowercase)
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    if out_dir is not None:
        fast.save_pretrained(str(out_dir))
    return fast


def wordpiece_size(spec: str) -> int | None:
    """N of a "wordpiece:N" tokenizer spec (a vocabulary trained on the run's corpus), None for any other spec."""
    if not spec.startswith("wordpiece:"):
        return None
    size = spec.split(":", 1)[1]
    if not size.isdigit() or int(size) < 100:
        raise ValueError(f"tokenizer={spec!r} is not valid; allowed: 'wordpiece:N' with N an integer >= 100")
    return int(size)


def run_tokenizer(spec: str, corpus: str, folder: str | os.PathLike[str]) -> Any:
    """The tokenizer of a run whose recipe says ``tokenizer: wordpiece:N``: trained once on ``corpus`` into
    ``folder`` (built beside it and renamed into place), then always loaded from there, so that every worker, every
    resume and the release use the one saved vocabulary file (which training would also give again: it is deterministic)."""
    from bertbench.data.sources import iter_documents, parse_source
    from bertbench.file_io import atomic_dir

    size = wordpiece_size(spec)
    if size is None:
        return load_tokenizer(spec)
    folder = Path(folder)
    if not (folder / "tokenizer.json").exists():
        with atomic_dir(folder) as tmp:  # another worker may win the race: then its vocabulary is the run's
            train_wordpiece(iter_documents(parse_source(corpus)), size, out_dir=tmp)
    return load_tokenizer(folder)


def fingerprint(tokenizer: Any) -> str:
    """sha256[:16] of the tokenizer's vocabulary and normalisation: a cache key part."""
    vocab = tokenizer.get_vocab()
    h = hashlib.sha256()
    for token, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        h.update(f"{i}\t{token}\n".encode())
    h.update(repr(getattr(tokenizer, "do_lower_case", None)).encode())
    return h.hexdigest()[:16]
