"""Architecture arithmetic, once (no torch needed): FFN widths and the op a layer is built with per variant, and the
analytic parameter and FLOP counts of bertbench encoders (each op's own formulas are registered with it in
``op_costs.py``); ``models/modeling.py`` builds from the same rules and tests check the counts against built models."""

from __future__ import annotations

from bertbench.space import Architecture, LayerSpec
from bertbench.space.op_costs import OP_COSTS


def ffn_widths(layer: LayerSpec, hidden_size: int, variant: str) -> list[int]:
    """Widths of the dense layers of a layer's FFN stack (before the projection back to H). as_named: ``num_ffn``
    layers of ``ffn_dim``; as_trained_2023 (what the 2023 code built): the first is 4H, the others ``ffn_dim``."""
    if variant == "as_trained_2023":
        return [4 * hidden_size] + [layer.ffn_dim] * (layer.num_ffn - 1)
    return [layer.ffn_dim] * layer.num_ffn


def built_op(layer: LayerSpec, variant: str) -> tuple[str, str | int]:
    """The (op_type, op_param) a layer is built with: as named, or SA-SDP for every layer under as_trained_2023
    (the 2023 TF code compared op names with ``is`` and always fell through to self-attention)."""
    return ("SA", "SDP") if variant == "as_trained_2023" else (layer.op_type, layer.op_param)


def count_params(arch: Architecture, variant: str = "as_named", vocab_size: int = 30522, embedding_size: int = 128,
                 max_positions: int = 512, type_vocab: int = 2) -> int:
    """Parameters of BertBenchModel (embeddings included, no task head)."""
    h, e = arch.hidden_size, embedding_size
    total = (vocab_size + max_positions + type_vocab) * e + 2 * e + (e * h + h if e != h else 0)
    for ly in arch.layers:
        op = OP_COSTS.get(built_op(ly, variant))
        out_in = op.out_factor * h
        dims = [h, *ffn_widths(ly, h, variant)]
        ffn = sum(a * b + b for a, b in zip(dims[:-1], dims[1:])) + dims[-1] * h + h + 2 * h
        total += op.params(h, ly.heads) + (out_in * h + h + 2 * h) + ffn
    return total


def count_flops(arch: Architecture, seq_len: int = 128, variant: str = "as_named", embedding_size: int = 128) -> int:
    """Forward FLOPs (2 x multiply-accumulates) of the encoder for one sequence of ``seq_len`` tokens. Transforms
    (LT) are counted as the dense matrix products they equal; softmax, norms and activations are not counted."""
    h, n_tok = arch.hidden_size, seq_len
    macs = embedding_size * h * n_tok if embedding_size != h else 0
    for ly in arch.layers:
        op = OP_COSTS.get(built_op(ly, variant))
        dims = [h, *ffn_widths(ly, h, variant), h]
        ffn = sum(a * b for a, b in zip(dims[:-1], dims[1:])) * n_tok
        macs += op.macs(h, ly.heads, n_tok) + op.out_factor * h * h * n_tok + ffn
    return 2 * macs
