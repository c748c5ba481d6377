"""Multi-head attention through ``scaled_dot_product_attention``: heads split and merged, the
scores returned when a caller needs them (Whisper's word timestamps), and keys read once for
many query rows (``attend_grouped``). Each family keeps its own projections (their names are
its checkpoint's) and calls these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def split_heads(x: Tensor, n_head: int) -> Tensor:
    """(B, T, D) -> (B, H, T, D/H)"""
    b, t, d = x.shape
    return x.view(b, t, n_head, d // n_head).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D/H) -> (B, T, D)"""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
              need_scores: bool = False) -> tuple[Tensor, Tensor | None]:
    """Softmax(q·kᵀ/√d + mask)·v, heads merged: (B, T, D), and with ``need_scores`` the scaled
    scores before the softmax (B, H, T, S), computed in float32. A boolean mask marks what may
    be attended; a float mask is added."""
    if not need_scores:
        return merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)), None
    scale = q.shape[-1] ** -0.5
    scores = (q.float() @ k.float().transpose(-1, -2)) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = scores.softmax(dim=-1)
    return merge_heads((weights @ v.float()).to(q.dtype)), scores


def attend_grouped(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Attention without a mask for G consecutive query rows per key/value row: q (N*G, T, D)
    projected, k and v (N, H, S, D/H) → (N*G, T, D). The G rows' queries are folded into one
    sequence per key row, so the keys and values are read once (never copied G times). Exact:
    without a mask every query attends independently."""
    n, h, _, dh = k.shape
    b, t, d = q.shape
    g = b // n
    q = q.view(n, g, t, h, dh).permute(0, 3, 1, 2, 4).reshape(n, h, g * t, dh)
    out = F.scaled_dot_product_attention(q, k, v)  # (N, H, G*T, D/H)
    return out.view(n, h, g, t, dh).permute(0, 2, 3, 1, 4).reshape(b, t, d)
