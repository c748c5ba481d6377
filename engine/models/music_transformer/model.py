"""The Music Transformer (Huang et al. 2018, "Music Transformer: Generating Music with Long-Term
Structure"): a decoder-only Transformer whose self-attention adds a learned term for the relative
distance between query and key.

Relative global attention (§3.4): S_rel = skew(Q·Erᵀ), where Er holds one learned vector per
distance 0..L-1 (shared by the heads of a layer). Skewing (pad a column, reshape, drop a row)
moves each entry to its key position without the O(L²·D) tensor of the original formulation.
Relative local attention (§3.5): blocks of M queries attend to their own block and the one
before, with the relative term over the 2M distances, O(L·M) memory.
Incremental decoding keeps keys and values in a preallocated cache; a new query's relative
term is its dot product with the embeddings of the distances back to every cached key, O(L·D).
``position="absolute"`` gives the paper's baseline: sinusoidal positions, no relative term.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.common.attention import split_heads
from engine.models.common.errors import CheckpointError, shown
from engine.models.common.files import read_json
from engine.models.common.kv_cache import KVCache
from engine.models.common.positions import sinusoids
from engine.models.music_transformer.events import PAD, VOCAB_SIZE
from engine.models.music_transformer.options import DEFAULT_MAX_LEN, MAX_PARAMETERS, PERFORMANCE_EVENTS, SIZE_LIMITS


@dataclass
class MusicTransformerConfig:
    vocab_size: int = VOCAB_SIZE
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    d_ff: int = 1024
    max_len: int = DEFAULT_MAX_LEN  # longest sequence (and the relative distances learned)
    dropout: float = 0.1
    position: str = "relative"  # or "absolute" (the baseline)
    local_block: int | None = None  # relative local attention with blocks of this many tokens
    # The token vocabulary: the performance events (events.py), or another family's that trains
    # the same architecture (the composer's "remi-controls"); its padding token.
    vocabulary: str = PERFORMANCE_EVENTS
    pad_id: int = PAD

    def __post_init__(self) -> None:
        """Refuse sizes that are impossible or would exhaust the memory (ValueError naming the field)."""
        for name, (low, high) in SIZE_LIMITS.items():
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                bound = f"{low}" if low == high else f"a whole number from {low} to {high}"
                raise ValueError(f"{name} must be {bound}, not {shown(value)}")
        if self.vocabulary == PERFORMANCE_EVENTS and (self.vocab_size, self.pad_id) != (VOCAB_SIZE, PAD):
            raise ValueError(f"vocab_size must be {VOCAB_SIZE} for the performance events, not {self.vocab_size}")
        if type(self.pad_id) is not int or not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id must be a token below vocab_size, not {shown(self.pad_id)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.local_block is not None and (type(self.local_block) is not int
                                             or not 1 <= self.local_block <= self.max_len):
            raise ValueError(f"local_block must be empty or a whole number from 1 to max_len, not {shown(self.local_block)}")
        if type(self.dropout) not in (int, float) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number from 0 to below 1, not {shown(self.dropout)}")
        if self.position not in ("relative", "absolute"):
            raise ValueError(f"position must be 'relative' or 'absolute', not {shown(self.position)}")
        if self.parameter_estimate() > MAX_PARAMETERS:
            raise ValueError(f"these sizes make {self.parameter_estimate() / 1e6:.0f} million parameters, "
                             f"more than the {MAX_PARAMETERS / 1e6:.0f} million Motet allows")

    def parameter_estimate(self) -> int:
        """The parameter count of the model this config builds, computed without building it."""
        d, f, v = self.d_model, self.d_ff, self.vocab_size
        rel = self.max_len * (d // self.n_heads) if self.position == "relative" else 0
        layer = (3 * d * d + 3 * d) + (d * d + d) + rel + 4 * d + (d * f + f) + (f * d + d)
        return self.n_layers * layer + v * d + 2 * d + d * v + v

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MusicTransformerConfig:
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object of sizes")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def read_config(folder: str | Path) -> MusicTransformerConfig:
    """The config of a Music Transformer (or composer) folder's config.json, read as data from
    anyone (a regular file, bounded); CheckpointError naming the file when it cannot be used."""
    path = Path(folder) / "config.json"
    try:
        return MusicTransformerConfig.from_dict(read_json(path))
    except (ValueError, TypeError) as exc:  # sizes out of bounds, values of the wrong kind
        raise CheckpointError(f"{path} is not a usable Music Transformer config: {exc}") from None


def skew(rel: Tensor) -> Tensor:
    """(..., L, L) with column r for distance L-1-r (r = 0: the farthest) → (..., L, L) with entry
    [i, j] = rel[i, L-1-(i-j)] for j <= i (entries above the diagonal are garbage, masked later)."""
    *batch, length, _ = rel.shape
    padded = F.pad(rel, (1, 0))  # (..., L, L+1)
    return padded.reshape(*batch, length + 1, length)[..., 1:, :]


def _shift_rows(rel: Tensor) -> Tensor:
    """(..., M, K) → out[i, j] = rel[i, j + M-1-i]: row i shifted left by M-1-i, with one
    reshape instead of a gather (pad a column, flatten, start M-1 in, view as rows of K).
    Entries that would read past a row's end are garbage and must be masked."""
    *batch, m, k = rel.shape
    padded = F.pad(rel, (0, 1))  # (..., M, K+1): a zero after each row
    flat = padded.reshape(*batch, m * (k + 1))[..., m - 1: m - 1 + m * k]
    return flat.reshape(*batch, m, k)


class RelativeSelfAttention(nn.Module):
    def __init__(self, cfg: MusicTransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.max_len, self.local_block = cfg.max_len, cfg.local_block
        self.relative = cfg.position == "relative"
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)
        if self.relative:
            # E[r] is the embedding of distance max_len-1-r: the last row is distance 0
            self.rel = nn.Parameter(torch.randn(cfg.max_len, self.d_head) * self.d_head ** -0.5)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        b, t, d = x.shape
        q, k, v = (split_heads(y, self.n_heads) for y in self.qkv(x).chunk(3, dim=-1))
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.append(layer, k, v)
        if cache is None and self.local_block and t > self.local_block:
            out = self._local(q, k, v)
        else:
            out = self._global(q, k, v, past)
        return self.out(out.transpose(1, 2).reshape(b, t, d))

    def relative_logits(self, q: Tensor, past: int) -> Tensor:
        """The relative term for queries at positions past..past+T-1 against keys 0..past+T-1."""
        t = q.shape[-2]
        total = past + t
        er = self.rel[self.max_len - total:]  # distances total-1 .. 0
        rel = q @ er.transpose(0, 1)  # (B, H, T, total): column c = distance total-1-c
        if past == 0:
            return skew(rel)
        if t == 1:  # one new token: column c is key c already (distance total-1-c = past-c)
            return rel
        # a few new tokens after a cache: row i (position past+i) reads column t-1-i+j for key j
        return self._gather_rows(rel)

    @staticmethod
    def _gather_rows(rel: Tensor) -> Tensor:
        t, total = rel.shape[-2], rel.shape[-1]
        i = torch.arange(t, device=rel.device)[:, None]
        j = torch.arange(total, device=rel.device)[None, :]
        index = (t - 1 - i + j).clamp(max=total - 1)
        return rel.gather(-1, index.expand(*rel.shape[:-2], t, total))

    def _global(self, q: Tensor, k: Tensor, v: Tensor, past: int) -> Tensor:
        t, total = q.shape[-2], k.shape[-2]
        logits = q @ k.transpose(-2, -1)
        if self.relative:
            logits = logits + self.relative_logits(q, past)
        logits = logits / math.sqrt(self.d_head)
        if t > 1:
            causal = torch.ones(t, total, dtype=torch.bool, device=q.device).tril(past)
            logits = logits.masked_fill(~causal, float("-inf"))
        weights = self.dropout(logits.softmax(-1))
        return weights @ v

    def _local(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """§3.5: blocks of M queries see their block and the previous one (2M keys)."""
        b, h, t, dh = q.shape
        m = self.local_block
        n_blocks = -(-t // m)
        pad = n_blocks * m - t
        q, k, v = (F.pad(y, (0, 0, 0, pad)) for y in (q, k, v))
        qb = q.view(b, h, n_blocks, m, dh)
        kb, vb = (F.pad(y, (0, 0, m, 0)).view(b, h, n_blocks + 1, m, dh) for y in (k, v))
        kw = torch.cat([kb[:, :, :-1], kb[:, :, 1:]], dim=3)  # (B, H, N, 2M, dh): previous block + own
        vw = torch.cat([vb[:, :, :-1], vb[:, :, 1:]], dim=3)
        logits = qb @ kw.transpose(-2, -1)  # (B, H, N, M, 2M)
        if self.relative:
            er = self.rel[self.max_len - 2 * m:]  # distances 2M-1 .. 0
            rel = qb @ er.transpose(0, 1)  # column c = distance 2M-1-c
            logits = logits + _shift_rows(rel)
        logits = logits / math.sqrt(dh)
        i = torch.arange(m, device=q.device)[:, None]
        j = torch.arange(2 * m, device=q.device)[None, :]
        allowed = j <= m + i  # causal: the window is the previous block and this one up to the query
        block_index = torch.arange(n_blocks, device=q.device)[:, None, None]
        allowed = allowed[None] & ((block_index > 0) | (j >= m)[None])  # block 0 has no previous block
        logits = logits.masked_fill(~allowed, float("-inf"))
        out = self.dropout(logits.softmax(-1)) @ vw  # (B, H, N, M, dh)
        return out.reshape(b, h, n_blocks * m, dh)[:, :, :t]


class Block(nn.Module):
    def __init__(self, cfg: MusicTransformerConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = RelativeSelfAttention(cfg)
        self.ff = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, cache: KVCache | None, layer: int) -> Tensor:
        x = x + self.dropout(self.attn(self.ln1(x), cache, layer))
        return x + self.dropout(self.ff(self.ln2(x)))


class MusicTransformer(nn.Module):
    def __init__(self, cfg: MusicTransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        if cfg.position == "absolute":
            self.register_buffer("positions", sinusoids(cfg.max_len, cfg.d_model, endpoint=False, interleave=True), persistent=False)
        self.dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def _cache_sizes(self, batch: int) -> tuple[int, int, int, int, int]:
        c = self.cfg
        return c.n_layers, batch, c.n_heads, c.max_len, c.d_model // c.n_heads

    def cache_bytes(self, batch: int = 1) -> int:
        """What ``new_cache(batch)`` allocates: keys and values of every layer at full length."""
        return KVCache.bytes_needed(*self._cache_sizes(batch), self.head.weight.dtype)

    def new_cache(self, batch: int = 1) -> KVCache:
        """A cache for the whole context, allocated at once (it never grows)."""
        w = self.head.weight
        return KVCache(*self._cache_sizes(batch), w.dtype, w.device)

    def forward(self, tokens: Tensor, cache: KVCache | None = None) -> Tensor:
        """Logits (B, T, vocab). With a cache, ``tokens`` continue the cached sequence."""
        past = cache.length if cache is not None else 0
        t = tokens.shape[1]
        if past + t > self.cfg.max_len:
            raise ValueError(f"sequence of {past + t} tokens is longer than the model's {self.cfg.max_len}")
        x = self.embed(tokens) * math.sqrt(self.cfg.d_model)
        if self.cfg.position == "absolute":
            x = x + self.positions[past:past + t]
        x = self.dropout(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length = past + t
        return self.head(self.ln(x))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
