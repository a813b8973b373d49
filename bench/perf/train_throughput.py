"""Pretraining throughput (tokens/s): our loop (bertbench.training.pretrain on Accelerate, ELECTRA) against a plain
transformers loop (ElectraForMaskedLM generator + ElectraForPreTraining discriminator, tied embeddings, AdamW, the
same masking, batch and dims), measured in the same run. Prints the ratio ours / transformers (target >= 1.1).

    python bench/perf/train_throughput.py [--hidden 256 --layers 4 --batch 32 --seq 128 --steps 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from bertbench.data.corpus import pack
from bertbench.data.tokenizer import load_tokenizer
from bertbench.space import Architecture, LayerSpec
from bertbench.training.common import make_accelerator
from bertbench.training.pretrain import mask_tokens, pretrain
from bertbench.training.recipe import PretrainRecipe


def hf_loop(corpus, tok, rec: PretrainRecipe, h: int, layers: int, heads: int, ffn: int, steps: int, v: int) -> float:
    disc = ElectraForPreTraining(ElectraConfig(vocab_size=v, embedding_size=128, hidden_size=h, num_hidden_layers=layers,
                                               num_attention_heads=heads, intermediate_size=ffn))
    gen = ElectraForMaskedLM(ElectraConfig(vocab_size=v, embedding_size=128, hidden_size=h // 4, num_hidden_layers=layers,
                                           num_attention_heads=heads, intermediate_size=ffn // 4))
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    params = list({id(p): p for m in (gen, disc) for p in m.parameters()}.values())
    opt = torch.optim.AdamW(params, lr=rec.lr, eps=rec.eps)
    order = corpus.order(0)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = order[np.arange(step * rec.batch_size, (step + 1) * rec.batch_size) % len(order)]
        blocks = torch.from_numpy(corpus.blocks(idx).astype(np.int64))
        inputs, labels = mask_tokens(blocks, torch.Generator().manual_seed(step), tok, rec)
        g = gen(input_ids=inputs, labels=labels)
        sel = labels != -100
        with torch.no_grad():
            logits = g.logits[sel]
            sampled = (logits - torch.log(-torch.log(torch.rand_like(logits).clamp(1e-9, 1 - 1e-9)))).argmax(-1)
            disc_ids = inputs.clone()
            disc_ids[sel] = sampled
            orig = inputs.clone()
            orig[sel] = labels[sel]
        d = disc(input_ids=disc_ids, labels=(disc_ids != orig).long())
        (g.loss + rec.disc_weight * d.loss).backward()
        torch.nn.utils.clip_grad_norm_(params, rec.clip)
        opt.step()
        opt.zero_grad()
    return steps * rec.batch_size * rec.seq_len / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=30522, help="embedding rows (the paper's uncased BERT vocabulary)")
    args = ap.parse_args()
    os.environ.setdefault("BERTBENCH_CACHE", tempfile.mkdtemp(prefix="bertbench-tp-"))
    tok = load_tokenizer()
    corpus = pack("synthetic", tok, length=args.seq)
    rec = PretrainRecipe(steps=args.steps, batch_size=args.batch, seq_len=args.seq, warmup_steps=1,
                         log_every=args.steps, checkpoint_every=10**9, max_predictions=int(0.155 * args.seq))
    arch = Architecture(args.hidden, tuple(LayerSpec("SA", "SDP", args.heads, args.ffn, 1) for _ in range(args.layers)))
    acc = make_accelerator("no")
    pretrain(arch, PretrainRecipe(**{**rec.__dict__, "steps": 2}), corpus, tok, 0, acc, progress=False,
             vocab_size=args.vocab)  # warm-up
    hf_loop(corpus, tok, rec, args.hidden, args.layers, args.heads, args.ffn, 2, args.vocab)
    ours, base = [], []
    for _ in range(2):  # alternate to share drift
        out = pretrain(arch, rec, corpus, tok, 0, acc, progress=False, vocab_size=args.vocab)
        ours.append(out.tokens / out.seconds)
        base.append(hf_loop(corpus, tok, rec, args.hidden, args.layers, args.heads, args.ffn, args.steps, args.vocab))
    o, b = max(ours), max(base)
    print(f"device {acc.device}, threads {torch.get_num_threads()}, H{args.hidden}/L{args.layers}, batch {args.batch} x "
          f"{args.seq}, vocab {args.vocab}, {args.steps} steps (model build included in ours)")
    print(f"ours {o:,.0f} tokens/s   transformers loop {b:,.0f} tokens/s   ratio {o / b:.2f} (target >= 1.1)")


if __name__ == "__main__":
    main()
