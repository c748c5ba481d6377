"""T5's encoder (Raffel et al. 2020), as MusicGen uses it to turn a text prompt into the states
its decoder attends to.

Token embedding; blocks of [RMS norm, self-attention with a learned relative position bias,
RMS norm, feed-forward], each a residual; a final RMS norm. What is T5's own: no biases, no
mean subtraction in the norms, no 1/√d scaling of the attention scores (the position bias and
the initialisation absorb it), and one bias table (bidirectional buckets, near positions exact,
far ones logarithmic) computed once per forward and shared by every layer.

Precision: the residual stream is kept in float32 whatever the weights' dtype, and in float16
the feed-forward's output projection (``ff.down``) keeps float32 weights (``loading``), as
transformers does with ``_keep_in_fp32_modules = ["wo"]``: T5's activations grow beyond
float16's range in the later layers. Parameter names are ours; ``loading`` maps the Hugging Face
names onto them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.common.attention import merge_heads, split_heads
from engine.models.t5.config import T5Config

_ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}


class RMSNorm(nn.Module):
    """T5's layer norm: x / rms(x) · weight, no mean subtracted, no bias, computed in float32;
    the result in the weight's dtype."""

    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d))
        self.eps = eps
        nn.init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return (x * self.weight.float()).to(self.weight.dtype)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_head: int, d_kv: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.q = nn.Linear(d_model, n_head * d_kv, bias=False)
        self.k = nn.Linear(d_model, n_head * d_kv, bias=False)
        self.v = nn.Linear(d_model, n_head * d_kv, bias=False)
        self.o = nn.Linear(n_head * d_kv, d_model, bias=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        q, k, v = (split_heads(proj(x), self.n_head) for proj in (self.q, self.k, self.v))
        # SDPA called directly with scale=1.0 rather than common.attention.attention, which
        # divides by √d_kv: T5 does not scale its scores, and undoing the division by first
        # multiplying q by √d_kv would round (exact only when √d_kv is a power of two) and costs a pass.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
        return self.o(merge_heads(out))


class FeedForward(nn.Module):
    """act(up(x)) → down, or gated: act(gate(x)) · up(x) → down (T5 v1.1, flan)."""

    def __init__(self, d_model: int, d_ff: int, activation: str, gated: bool) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=False) if gated else None
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)
        self.act = _ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.up(x)) if self.gate is None else self.act(self.gate(x)) * self.up(x)
        return self.down(h.to(self.down.weight.dtype))  # float32 weights in a float16 model


class Block(nn.Module):
    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.attn = SelfAttention(config.d_model, config.num_heads, config.d_kv)
        self.ff_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)
        self.ff = FeedForward(config.d_model, config.d_ff, config.activation, config.is_gated)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x: the float32 residual stream (B, T, D); mask: the float attention mask (B, H, T, T)."""
        x = x + self.attn(self.attn_norm(x), mask).float()
        return x + self.ff(self.ff_norm(x)).float()


def relative_buckets(length: int, num_buckets: int, max_distance: int, device: torch.device) -> Tensor:
    """(T, T) bucket of each key position relative to each query position, bidirectional: half
    the buckets for keys after the query; in each half, distances below a quarter of the buckets
    exactly, the rest logarithmically up to ``max_distance`` (farther ones share the last). The
    float32 operations are Mesh TensorFlow's, in its order, so that the buckets are the same."""
    positions = torch.arange(length, device=device)
    relative = positions[None, :] - positions[:, None]
    half = num_buckets // 2
    exact = half // 2
    distance = relative.abs()
    far = distance.float().clamp(min=exact) / exact  # clamped: no log(0) where the exact bucket is used
    far = exact + (torch.log(far) / math.log(max_distance / exact) * (half - exact)).to(torch.long)
    far = far.clamp(max=half - 1)
    return (relative > 0).to(torch.long) * half + torch.where(distance < exact, distance, far)


class T5Encoder(nn.Module):
    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.relative_bias = nn.Embedding(config.relative_attention_num_buckets, config.num_heads)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.final_norm = RMSNorm(config.d_model, config.layer_norm_epsilon)

    def position_bias(self, length: int) -> Tensor:
        """(1, H, T, T) added to every layer's scores."""
        c = self.config
        buckets = relative_buckets(length, c.relative_attention_num_buckets, c.relative_attention_max_distance,
                                   self.relative_bias.weight.device)
        return self.relative_bias(buckets).permute(2, 0, 1).unsqueeze(0)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """input_ids (B, T) and attention_mask (B, T) of 1 (a token) and 0 (padding) -> hidden
        states (B, T, d_model) in the weights' dtype. Padded positions attend to the tokens too
        (their states are defined, and equal transformers'), but no position attends to them."""
        if input_ids.dim() != 2 or input_ids.shape[1] == 0:
            raise ValueError(f"input_ids should be (batch, length) with length >= 1, got {tuple(input_ids.shape)}")
        if int(input_ids.min()) < 0 or int(input_ids.max()) >= self.config.vocab_size:
            raise ValueError(f"token ids should lie in 0..{self.config.vocab_size - 1}, got "
                             f"{int(input_ids.min())}..{int(input_ids.max())}")
        dtype = self.relative_bias.weight.dtype
        mask = self.position_bias(input_ids.shape[1]).to(dtype)
        if attention_mask is not None:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(f"attention_mask is {tuple(attention_mask.shape)}, input_ids {tuple(input_ids.shape)}")
            padding = ~attention_mask.to(device=mask.device, dtype=torch.bool)[:, None, None, :]
            # the lowest finite value rather than -inf: a row with every key masked stays a
            # (uniform) softmax instead of NaN
            mask = mask.masked_fill(padding, torch.finfo(dtype).min)
        x = self.embed(input_ids).float()
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x)
