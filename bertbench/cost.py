"""Analytic parameter and FLOP counts of bertbench encoders (no torch needed); tests check them against built models."""

from __future__ import annotations

from bertbench.space import Architecture


def _ffn_widths(ffn_dim: int, num_ffn: int, hidden: int, variant: str) -> list[int]:
    if variant == "as_trained_2023":
        return [4 * hidden] + [ffn_dim] * (num_ffn - 1)
    return [ffn_dim] * num_ffn


def count_params(arch: Architecture, variant: str = "as_named", vocab_size: int = 30522, embedding_size: int = 128,
                 max_positions: int = 512, type_vocab: int = 2) -> int:
    """Parameters of BertBenchModel (embeddings included, no task head)."""
    h, e = arch.hidden_size, embedding_size
    total = (vocab_size + max_positions + type_vocab) * e + 2 * e + (e * h + h if e != h else 0)
    for ly in arch.layers:
        op, param = (("SA", "SDP") if variant == "as_trained_2023" else (ly.op_type, ly.op_param))
        if op == "SA":
            mixer = 3 * (h * h + h) + (h * h if param == "WMA" else 0)
        elif op == "LT":
            mixer = 0
        else:  # DSC: attention q, k, v + conv heads (separable key conv, dynamic kernel, values); output 2H -> H
            k = int(param)
            mixer = 5 * (h * h + h) + h * k + h * ly.heads * k + ly.heads * k
        out_in = 2 * h if op == "DSC" else h
        dims = [h, *_ffn_widths(ly.ffn_dim, ly.num_ffn, h, variant)]
        ffn = sum(a * b + b for a, b in zip(dims[:-1], dims[1:])) + dims[-1] * h + h + 2 * h
        total += mixer + (out_in * h + h + 2 * h) + ffn
    return total


def count_flops(arch: Architecture, seq_len: int = 128, variant: str = "as_named", embedding_size: int = 128) -> int:
    """Forward FLOPs (2 x multiply-accumulates) of the encoder for one sequence of ``seq_len`` tokens. Transforms
    (LT) are counted as the dense matrix products they equal; softmax, norms and activations are not counted."""
    h, n_tok = arch.hidden_size, seq_len
    macs = embedding_size * h * n_tok if embedding_size != h else 0
    for ly in arch.layers:
        op, param = (("SA", "SDP") if variant == "as_trained_2023" else (ly.op_type, ly.op_param))
        d = h // ly.heads
        if op == "SA":
            mixer = 3 * h * h * n_tok + 2 * n_tok * n_tok * h + (h * h * n_tok if param == "WMA" else 0)
        elif op == "LT":
            mixer = n_tok * n_tok * h + n_tok * d * h
        else:  # DSC: attention heads as SA; conv heads: pointwise + values (H x H), depthwise, kernel, window sum
            k = int(param)
            mixer = (3 * h * h * n_tok + 2 * n_tok * n_tok * h
                     + 2 * h * h * n_tok + h * k * n_tok + h * ly.heads * k * n_tok + h * k * n_tok)
        out_in = 2 * h if op == "DSC" else h
        dims = [h, *_ffn_widths(ly.ffn_dim, ly.num_ffn, h, variant), h]
        ffn = sum(a * b for a, b in zip(dims[:-1], dims[1:])) * n_tok
        macs += mixer + out_in * h * n_tok + ffn
    return 2 * macs
