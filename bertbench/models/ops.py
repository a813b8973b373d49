"""Token mixers of the NAS-Bench-BERT space, one registry keyed by (op_type, op_param).

Every mixer maps hidden states ``x`` [B, L, H] to mixed states [B, L, ``out_features``] (H for SA and LT, 2H for
DSC, whose attention and convolution heads are concatenated); the encoder layer then applies the output projection
(dense ``out_features`` -> H), dropout, the residual and LayerNorm, the same for every op.

``key_mask`` is a bool tensor [B, L], True at real tokens (None: no padding).

Padding:
- SA-SDP, SA-WMA: pad keys are masked out; outputs at real positions do not depend on padding (to float precision).
- DSC-5, DSC-9: pad keys are masked out of the attention heads; pad positions are zeroed before the key convolution
  and in the conv values, exactly as the zero padding at the end of an unpadded sequence, so outputs at real positions
  equal those of the unpadded sequence.
- LT-DFT, LT-DCT: pad positions are zeroed before mixing, so pad *content* never leaks in. What remains: a transform
  over the sequence axis depends on the padded length L itself (the frequencies are those of length L), so the output
  at real positions changes with the amount of padding. Use fixed-length batches (the trainer packs to a fixed length).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

try:  # inside bertbench; an exported model folder without bertbench uses the copy (models/standalone.py)
    from bertbench.registry import Registry
except ImportError:
    from .standalone import Registry

MIXERS: Registry[type[nn.Module]] = Registry("token mixer")


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, length, h = x.shape
    return x.view(b, length, heads, h // heads).transpose(1, 2)  # [B, N, L, d]


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, n, length, d = x.shape
    return x.transpose(1, 2).reshape(b, length, n * d)


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None, dropout_p: float,
    output_attentions: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q k^T / sqrt(d)) v over heads [B, N, L, d], pad keys masked; the probabilities when asked."""
    mask = None if key_mask is None else key_mask[:, None, None, :]
    if not output_attentions:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    probs = scores.softmax(-1)
    return F.dropout(probs, dropout_p, dropout_p > 0) @ v, probs


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (SA-SDP), as in BERT/ELECTRA: softmax(q k^T / sqrt(d)) v.

    With ``weighted=True`` (SA-WMA, Luong's "general" attention) the queries first go through a bias-free
    ``Linear(H, H)`` ``weight``, so the score is q^T W k / sqrt(d).
    """

    def __init__(self, hidden_size: int, heads: int, dropout: float, weighted: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.weight = nn.Linear(hidden_size, hidden_size, bias=False) if weighted else None
        self.dropout = dropout
        self.out_features = hidden_size

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = self.query(x)
        if self.weight is not None:
            q = self.weight(q)
        out, probs = _attend(
            _split_heads(q, self.heads), _split_heads(self.key(x), self.heads),
            _split_heads(self.value(x), self.heads), key_mask, self.dropout if self.training else 0.0,
            output_attentions,
        )
        return _merge_heads(out), probs


@lru_cache(maxsize=64)
def _dct_matrix(n: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """Orthonormal DCT-II matrix C [n, n]: y = C x transforms along the first axis of x. (Built outside inference
    mode: the cached tensor must also serve autograd.)"""
    with torch.inference_mode(False), torch.no_grad():
        return _dct_build(n, device, dtype)


def _dct_build(n: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    c = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c.to(device=device, dtype=dtype)


class LinearTransform(nn.Module):
    """Parameter-free linear-transform mixing (LT), as in FNet, applied per head.

    The input [B, L, H] is split into ``heads`` heads [B, N, L, d]; each head is transformed over (sequence, head
    features) by the orthonormal 2-D transform: DFT -> Re(FFT2) (``norm="ortho"``), DCT -> orthonormal DCT-II along
    both axes. Orthonormal scaling keeps the output on the scale of the input. Computed in float32 for half
    precision inputs (FFTs do not take bf16), in the input's precision otherwise. The layer's output projection, residual and LayerNorm follow, as for every op.
    """

    def __init__(self, hidden_size: int, heads: int, kind: str) -> None:
        super().__init__()
        if kind not in ("DFT", "DCT"):
            raise ValueError(f"kind={kind!r}; allowed: 'DFT', 'DCT'")
        self.heads = heads
        self.kind = kind
        self.out_features = hidden_size

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, None]:
        dtype = x.dtype
        if key_mask is not None:
            x = x * key_mask[..., None].to(x.dtype)
        work = x if x.dtype in (torch.float32, torch.float64) else x.float()  # FFTs do not take bf16 / fp16
        h = _split_heads(work, self.heads)  # [B, N, L, d]
        if self.kind == "DFT":
            y = torch.fft.fft2(h, dim=(-2, -1), norm="ortho").real
        else:
            length, d = h.shape[-2], h.shape[-1]
            dev = str(h.device)
            c_len = _dct_matrix(length, dev, h.dtype)
            c_d = _dct_matrix(d, dev, h.dtype)
            y = c_len @ h @ c_d.T
        return _merge_heads(y).to(dtype), None


class MixedSpanAttention(nn.Module):
    """DSC-K: ConvBERT's mixed attention (Jiang et al. 2020), as the NAS-Bench-BERT space defines the DSC op.

    N self-attention heads and N dynamic span-based convolution heads, each of size d = H / N, share the queries:
      q = Wq x;  attention heads: softmax(q k^T / sqrt(d)) v with k = Wk x, v = Wv x and the padding mask;
      conv heads: ck = pointwise(depthwise_K(x)) (a separable convolution over the sequence, kernel K),
        kernel = softmax_K(Wc (ck * q)) [B, L, N, K] (a span-dependent dynamic kernel per position and head),
        out[b, l, n] = sum_j kernel[b, l, n, j] * u[b, l + j - (K - 1) / 2, n] with u = Wu x (zero padded).
    Both are concatenated to [B, L, 2H] (``out_features`` = 2H); the layer's output dense maps 2H -> H. The
    attention heads let every position (and [CLS]) see the whole input; the conv heads add local span mixing.
    Parameters: 5 (H^2 + H) + H K + H N K + N K, plus the 2H -> H output dense of the layer.
    """

    def __init__(self, hidden_size: int, heads: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size={kernel_size} must be odd")
        self.heads = heads
        self.kernel_size = kernel_size
        self.out_features = 2 * hidden_size
        self.dropout = dropout
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.key_depthwise = nn.Conv1d(
            hidden_size, hidden_size, kernel_size, padding=kernel_size // 2, groups=hidden_size, bias=False
        )
        self.key_pointwise = nn.Conv1d(hidden_size, hidden_size, 1)
        self.conv_kernel = nn.Linear(hidden_size, heads * kernel_size)
        self.conv_value = nn.Linear(hidden_size, hidden_size)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, length, h = x.shape
        k_size, n = self.kernel_size, self.heads
        keep = None if key_mask is None else key_mask[..., None].to(x.dtype)
        if keep is not None:  # pads zeroed: the convolution sees them as the zero padding past the sequence end
            x = x * keep
        q = self.query(x)
        attended, probs = _attend(
            _split_heads(q, n), _split_heads(self.key(x), n), _split_heads(self.value(x), n),
            key_mask, self.dropout if self.training else 0.0, output_attentions,
        )
        ck = self.key_pointwise(self.key_depthwise(x.transpose(1, 2))).transpose(1, 2)
        kernel = self.conv_kernel(ck * q).view(b, length, n, k_size).softmax(-1)
        u = self.conv_value(x)
        if keep is not None:
            u = u * keep
        padded = F.pad(u, (0, 0, k_size // 2, k_size // 2)).view(b, length + k_size - 1, n, h // n)
        conv = kernel[..., 0, None] * padded[:, :length]  # a sum of K shifted views: ~4x faster than unfold + einsum
        for j in range(1, k_size):
            conv = conv + kernel[..., j, None] * padded[:, j:j + length]
        conv = conv.reshape(b, length, h)
        return torch.cat([_merge_heads(attended), conv], dim=-1), probs


MIXERS.add(("SA", "SDP"), lambda h, n, p: SelfAttention(h, n, p, weighted=False))
MIXERS.add(("SA", "WMA"), lambda h, n, p: SelfAttention(h, n, p, weighted=True))
MIXERS.add(("LT", "DFT"), lambda h, n, p: LinearTransform(h, n, "DFT"))
MIXERS.add(("LT", "DCT"), lambda h, n, p: LinearTransform(h, n, "DCT"))
MIXERS.add(("DSC", 5), lambda h, n, p: MixedSpanAttention(h, n, 5, p))
MIXERS.add(("DSC", 9), lambda h, n, p: MixedSpanAttention(h, n, 9, p))


def build_mixer(op_type: str, op_param: str | int, hidden_size: int, heads: int, attention_dropout: float) -> nn.Module:
    """The token mixer registered for (op_type, op_param)."""
    return MIXERS.get((op_type, op_param))(hidden_size, heads, attention_dropout)
