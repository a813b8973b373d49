"""A deterministic WordPiece vocabulary: the same corpus gives the same tokens with the same ids, in any process.

The ``tokenizers`` WordPiece trainer breaks ties between equally frequent pairs by hash-map order, which changes from
process to process: two run folders of one recipe got different vocabularies (and so different scores). This learns
the vocabulary the way that trainer does -- BPE merges over the corpus's words, characters after the first of a word
carrying the ``##`` prefix, pairs seen fewer than ``min_frequency`` times never merged -- but takes the most frequent
pair with ties broken by the pair's text, and numbers the result canonically (the special tokens, then the
alphabet, then the merged tokens in the order they were learned). The words are those of BERT's normaliser and
pre-tokeniser (``tokenizers``), so tokenization matches what the trained vocabulary is used with.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable

PREFIX = "##"


def _words(texts: Iterable[str], lowercase: bool) -> Counter[str]:
    from tokenizers import normalizers, pre_tokenizers

    norm = normalizers.BertNormalizer(lowercase=lowercase)
    pre = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)))
    return counts


def _join(a: str, b: str) -> str:
    return a + b.removeprefix(PREFIX)


def learn_vocabulary(texts: Iterable[str], vocab_size: int, special: list[str], min_frequency: int = 2,
                     lowercase: bool = True) -> list[str]:
    """The vocabulary (index = id) of at most ``vocab_size`` tokens: ``special``, every character, then merges."""
    counts = _words(texts, lowercase)
    words = sorted(counts)  # a fixed order of word types
    symbols = [[w[0], *(PREFIX + c for c in w[1:])] for w in words]
    freq = [counts[w] for w in words]
    alphabet = sorted({s for syms in symbols for s in syms})
    vocab = [*special, *(a for a in alphabet if a not in special)]
    known = set(vocab)
    pairs: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, syms in enumerate(symbols):
        for p in zip(syms, syms[1:]):
            pairs[p] += freq[i]
            where[p].add(i)
    heap = [(-c, p) for p, c in pairs.items()]
    heapq.heapify(heap)  # most frequent first; among equals the smallest (left, right) text
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if pairs.get(pair, 0) != -neg:
            continue  # a stale entry: the pair's count changed since it was pushed
        if -neg < min_frequency:
            break
        merged = _join(*pair)
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        touched: Counter[tuple[str, str]] = Counter()
        for i in sorted(where.pop(pair, ())):
            syms, f, out, j = symbols[i], freq[i], [], 0
            for p in zip(syms, syms[1:]):
                pairs[p] -= f
                touched[p] += 0
            while j < len(syms):
                if j + 1 < len(syms) and (syms[j], syms[j + 1]) == pair:
                    out.append(merged)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            symbols[i] = out
            for p in zip(out, out[1:]):
                pairs[p] += f
                where[p].add(i)
                touched[p] += 0
        pairs.pop(pair, None)
        for p in sorted(touched):
            if pairs.get(p, 0) > 0:
                heapq.heappush(heap, (-pairs[p], p))
            else:
                pairs.pop(p, None)
    return vocab
