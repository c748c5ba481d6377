"""Whisper (Radford et al. 2022) exactly as published, written for fast inference.

Encoder: two 1-D convolutions (the second with stride 2) with GELU, fixed sinusoidal positions,
pre-norm residual attention blocks, a final LayerNorm. Decoder: token embedding and learned
positions, blocks with causal self-attention and cross-attention to the audio, a final
LayerNorm, logits tied to the token embedding.

Speed: attention goes through ``scaled_dot_product_attention``; the decoder's self-attention keys
and values live in a cache (``common.kv_cache.KVCache``) written in place, so a decoding step costs one
token's worth of work; the cross-attention keys and values are computed once per audio window
(``TextDecoder.cross_kv``) and read once per step for all the hypotheses of that window
(``MultiHeadAttention.attend_grouped``). Several windows decode together as one batch: prompts
of different lengths are left-padded (``KVCache.pad``). Parameter names follow
openai/whisper; the loaders map the Hugging Face and CTranslate2 names onto them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.common.attention import attend_grouped, attention, split_heads
from engine.models.common.kv_cache import KVCache
from engine.models.common.positions import sinusoids
from engine.models.whisper.config import WhisperConfig


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the model dtype (as the published model does)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(),
                            None if self.bias is None else self.bias.float(), self.eps).type(x.dtype)


class MultiHeadAttention(nn.Module):
    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)
        # query, key and value as one projection, when a compute type builds one (quantize.py)
        self.qkv: nn.Module | None = None

    def split(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, H, T, D/H)"""
        return split_heads(x, self.n_head)

    def kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.split(self.key(x)), self.split(self.value(x))

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Self-attention's queries, keys and values of x, each (B, H, T, D/H)."""
        if self.qkv is not None:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            return self.split(q), self.split(k), self.split(v)
        return self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
               need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        out, scores = attention(q, k, v, mask, need_scores=need_weights)
        return self.out(out), scores

    def attend_grouped(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """``common.attention.attend_grouped`` then the output projection: q (N*G, T, D)
        projected, k and v (N, H, S, D/H), the G hypotheses of a window reading its keys once."""
        return self.out(attend_grouped(q, k, v))


class EncoderBlock(nn.Module):
    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = LayerNorm(n_state)

    def forward(self, x: Tensor) -> Tensor:
        h = self.attn_ln(x)
        a = self.attn
        x = x + a.attend(*a.project(h))[0]
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    def __init__(self, n_mels: int, n_ctx: int, n_state: int, n_head: int, n_layer: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state), persistent=False)
        self.blocks = nn.ModuleList(EncoderBlock(n_state, n_head) for _ in range(n_layer))
        self.ln_post = LayerNorm(n_state)

    def forward(self, mel: Tensor) -> Tensor:
        """mel (B, n_mels, 2 * T) -> audio features (B, T, n_state).

        Published use is T = n_ctx (a 30 s window, zero-padded). A shorter window (T < n_ctx,
        the first T positions) costs proportionally less; live hypotheses use it (see
        engine/live/transcriber.py for what it does to accuracy)."""
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)
        if x.shape[1] > self.positional_embedding.shape[0]:
            raise ValueError(f"the encoder takes at most {2 * self.positional_embedding.shape[0]} mel frames "
                             f"(30 s), got {mel.shape[-1]}")
        x = x + self.positional_embedding[:x.shape[1]].to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)


class DecoderBlock(nn.Module):
    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = LayerNorm(n_state)
        self.cross_attn = MultiHeadAttention(n_state, n_head)
        self.cross_attn_ln = LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = LayerNorm(n_state)


CrossKV = list[tuple[Tensor, Tensor]]


class TextDecoder(nn.Module):
    def __init__(self, n_vocab: int, n_ctx: int, n_state: int, n_head: int, n_layer: int) -> None:
        super().__init__()
        self.n_ctx, self.n_head, self.n_state = n_ctx, n_head, n_state
        self.token_embedding = nn.Embedding(n_vocab, n_state)
        self.positional_embedding = nn.Parameter(torch.empty(n_ctx, n_state))
        self.blocks = nn.ModuleList(DecoderBlock(n_state, n_head) for _ in range(n_layer))
        self.ln = LayerNorm(n_state)
        # logits = x @ token_embedding.T unless this is set (int8 compute: quantize.py)
        self.output_projection: nn.Module | None = None

    def new_cache(self, batch: int, dtype: torch.dtype | None = None, device=None, capacity: int | None = None,
                  max_length: int | None = None, pad: Tensor | None = None) -> KVCache:
        """A cache for ``batch`` rows; by default the whole text context, allocated at once."""
        w = self.token_embedding.weight
        capacity = capacity or self.n_ctx
        return KVCache(len(self.blocks), batch, self.n_head, capacity, self.n_state // self.n_head,
                            dtype or w.dtype, device or w.device, max_length=max_length, pad=pad)

    def cross_kv(self, audio_features: Tensor) -> CrossKV:
        """Keys and values of the audio for every layer's cross-attention: once per window."""
        return [block.cross_attn.kv(audio_features) for block in self.blocks]

    def forward(self, tokens: Tensor, cross: CrossKV, cache: KVCache | None = None,
                need_cross_weights: bool = False) -> tuple[Tensor, list[Tensor] | None]:
        """tokens (B, T) -> logits (B, T, n_vocab) in float32.

        With a cache, ``tokens`` continue the cached sequence and the cache grows by T. Cross keys
        and values may have batch 1 (shared by every hypothesis), B, or B / G (G consecutive rows
        per audio window: the hypotheses of one window). With ``need_cross_weights`` the
        cross-attention scores of every layer (scaled q·k before the softmax, (B, H, T, S) each)
        are returned too, for word timestamps.
        """
        x, weights = self.hidden(tokens, cross, cache, need_cross_weights)
        return self.logits(x), weights

    def logits(self, x: Tensor) -> Tensor:
        """Final hidden states (..., D) -> float32 logits (..., n_vocab): the tied embedding."""
        if self.output_projection is not None:
            return self.output_projection(x).float()
        return (x @ self.token_embedding.weight.to(x.dtype).T).float()

    def hidden(self, tokens: Tensor, cross: CrossKV, cache: KVCache | None = None,
               need_cross_weights: bool = False) -> tuple[Tensor, list[Tensor] | None]:
        """``forward`` without the logits: the final (layer-normed) hidden states (B, T, D), so a
        caller can project only the positions it needs (the logits are the costliest matmul)."""
        b, t = tokens.shape
        offset = cache.length if cache is not None else 0
        pad = cache.pad if cache is not None else None
        device = tokens.device
        last = offset + t - (cache.min_pad if cache is not None else 0)
        if last > self.n_ctx:
            raise ValueError(f"the decoder holds at most {self.n_ctx} tokens, asked for {last}")
        if cache is not None:
            cache.reserve(offset + t)
        if pad is None:
            x = self.token_embedding(tokens) + self.positional_embedding[offset:offset + t]
            mask = None
            if t > 1:  # causal within the new tokens; everything cached before them is visible
                mask = torch.ones(t, offset + t, dtype=torch.bool, device=device).tril(diagonal=offset)
        else:
            query = torch.arange(offset, offset + t, device=device)
            positions = (query[None, :] - pad[:, None]).clamp(min=0)
            x = self.token_embedding(tokens) + self.positional_embedding[positions]
            key = torch.arange(offset + t, device=device)
            # a row sees its own earlier positions after its padding; a padding position sees
            # itself (so that no row of the softmax is empty)
            mask = ((key[None, None, :] >= pad[:, None, None]) | (key[None, None, :] == query[None, :, None])) \
                & (key[None, None, :] <= query[None, :, None])
            mask = mask[:, None]  # (B, 1, T, offset + T)
        weights: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            a = block.attn
            h = block.attn_ln(x)
            q, k, v = a.project(h)
            if cache is not None:
                k, v = cache.append(i, k, v)
            x = x + a.attend(q, k, v, mask)[0]

            c = block.cross_attn
            ck, cv = cross[i]
            h = block.cross_attn_ln(x)
            if need_cross_weights or ck.shape[0] == b or b % ck.shape[0]:
                if ck.shape[0] != b:
                    ck, cv = ck.expand(b, -1, -1, -1), cv.expand(b, -1, -1, -1)
                out, w = c.attend(c.split(c.query(h)), ck, cv, need_weights=need_cross_weights)
                if w is not None:
                    weights.append(w)
            else:
                out = c.attend_grouped(c.query(h), ck, cv)
            x = x + out
            x = x + block.mlp(block.mlp_ln(x))
        if cache is not None:
            cache.length = offset + t
        return self.ln(x), (weights if need_cross_weights else None)


class Whisper(nn.Module):
    def __init__(self, config: WhisperConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = AudioEncoder(c.n_mels, c.n_audio_ctx, c.n_audio_state, c.n_audio_head, c.n_audio_layer)
        self.decoder = TextDecoder(c.n_vocab, c.n_text_ctx, c.n_text_state, c.n_text_head, c.n_text_layer)

    @property
    def device(self) -> torch.device:
        return self.decoder.token_embedding.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder.token_embedding.weight.dtype

    @property
    def compute_type(self) -> str:
        """``int8`` once quantized (quantize.py), else the weights' dtype (``float32``, ...)."""
        if self.decoder.output_projection is not None:
            return "int8"
        return str(self.dtype).removeprefix("torch.")

    def forward(self, mel: Tensor, tokens: Tensor) -> Tensor:
        """Full forward without cache (for tests and parity): logits (B, T, n_vocab)."""
        features = self.encoder(mel)
        return self.decoder(tokens, self.decoder.cross_kv(features))[0]
