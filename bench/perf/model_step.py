"""Time of one ELECTRA pretraining step (generator + discriminator, forward + backward).

Ours (BertBenchForPreTraining, all-SDP H256/L4) against transformers' ElectraForMaskedLM + ElectraForPreTraining of
identical dims (generator H64, tied embeddings), same batch, measured alternately in the same run. Prints the ratio
ours / transformers (target <= 0.9) and the step time of one H256/L4 architecture per op type.

    python bench/perf/model_step.py [--batch 32] [--seq 128] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from bertbench.models import build_model
from bertbench.space import Architecture, LayerSpec

VOCAB, MASK_ID = 30522, 103


def make_batch(b: int, length: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, VOCAB, (b, length), generator=g)
    sel = torch.rand(b, length, generator=g) < 0.15
    labels = torch.where(sel, ids, torch.full_like(ids, -100))
    return ids.masked_fill(sel, MASK_ID), labels, torch.ones_like(ids)


def hf_models(h: int, layers: int, heads: int, ffn: int):
    disc_cfg = ElectraConfig(vocab_size=VOCAB, embedding_size=128, hidden_size=h, num_hidden_layers=layers,
                             num_attention_heads=heads, intermediate_size=ffn)
    gen_cfg = ElectraConfig(vocab_size=VOCAB, embedding_size=128, hidden_size=h // 4, num_hidden_layers=layers,
                            num_attention_heads=heads, intermediate_size=ffn // 4)
    gen, disc = ElectraForMaskedLM(gen_cfg), ElectraForPreTraining(disc_cfg)
    gen.electra.embeddings = disc.electra.embeddings  # ELECTRA ties the embedding layer
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    return gen.train(), disc.train()


def hf_step(gen, disc, masked, labels, mask):
    out = gen(input_ids=masked, attention_mask=mask, labels=labels)
    sel = labels != -100
    with torch.no_grad():
        logits = out.logits[sel]
        u = torch.rand_like(logits).clamp_(1e-9, 1 - 1e-9)
        sampled = (logits - torch.log(-torch.log(u))).argmax(-1)
        disc_ids = masked.clone()
        disc_ids[sel] = sampled
        original = masked.clone()
        original[sel] = labels[sel]
        disc_labels = (disc_ids != original).long()
    d = disc(input_ids=disc_ids, attention_mask=mask, labels=disc_labels)
    loss = out.loss + 50 * d.loss
    loss.backward()
    return loss


def ours_step(model, masked, labels, mask):
    loss = model(masked, labels=labels, attention_mask=mask).loss
    loss.backward()
    return loss


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    masked, labels, mask = make_batch(args.batch, args.seq)
    h, layers, heads, ffn = 256, 4, 4, 1024
    arch = Architecture(h, tuple(LayerSpec("SA", "SDP", heads, ffn, 1) for _ in range(layers)))
    ours = build_model(arch, head="electra", seed=0).train()
    gen, disc = hf_models(h, layers, heads, ffn)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_hf = sum(p.numel() for p in {id(p): p for m in (gen, disc) for p in m.parameters()}.values())
    for _ in range(2):  # warm-up
        ours_step(ours, masked, labels, mask)
        hf_step(gen, disc, masked, labels, mask)
    t_ours, t_hf = [], []
    for _ in range(args.repeats):  # alternate so drift hits both
        t_ours += timed(lambda: ours_step(ours, masked, labels, mask), 1)
        t_hf += timed(lambda: hf_step(gen, disc, masked, labels, mask), 1)
    mo, mh = statistics.median(t_ours), statistics.median(t_hf)
    print(f"device cpu, threads {torch.get_num_threads()}, batch {args.batch} x {args.seq}, vocab {VOCAB}")
    print(f"params: ours {n_ours:,}  transformers {n_hf:,}")
    print(f"ELECTRA step H256/L4 all-SDP: ours {1000 * mo:.0f} ms, transformers {1000 * mh:.0f} ms, "
          f"ratio ours/transformers = {mo / mh:.2f} (target <= 0.9)")
    print("per-op step time (H256/L4, heads 4, ffn 1024x1, ELECTRA gen+disc, fwd+bwd):")
    for op_type, op_param in [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]:
        a = Architecture(h, tuple(LayerSpec(op_type, op_param, heads, ffn, 1) for _ in range(layers)))
        m = build_model(a, head="electra", seed=0).train()
        ours_step(m, masked, labels, mask)
        t = statistics.median(timed(lambda m=m: ours_step(m, masked, labels, mask), max(2, args.repeats // 2)))
        print(f"  {op_type}-{op_param!s:<4} {1000 * t:7.0f} ms")


if __name__ == "__main__":
    main()
