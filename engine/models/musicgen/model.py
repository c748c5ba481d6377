"""MusicGen's language model (Copet et al. 2023): a Transformer decoder over EnCodec codes,
conditioned on text states by cross-attention, written for fast inference.

Input: K codebooks per step, each with its own embedding (vocabulary + 1 rows: the last is the
start token), summed, plus fixed sinusoidal positions ([cos | sin]). Pre-norm layers: causal
self-attention, cross-attention to the text states, a GELU feed-forward; no biases in attention
or the feed-forward (as published). A final LayerNorm, then one linear head per codebook.
The text states pass through ``proj`` (transformers' ``enc_to_dec_proj``) when the text encoder's
width differs from the decoder's, and are zeroed where the text mask is 0.

Speed: attention goes through ``scaled_dot_product_attention``; the self-attention keys and values
live in a ``KVCache`` written in place, so a step costs one token's work; the cross-attention keys
and values are computed once per generation and kept in ``LMCache``. A step is a few hundred small
calls, so on a GPU the loaders fuse the self-attention's query, key and value into one weight
(``fuse_on_gpu``: one kernel instead of three; int8 quantizes it as one), and the cross-attention
runs only for the rows that have text (the unconditional rows of guidance have none: their
cross-attention reads exactly zero, see ``cross_kv``). For a short prompt the cross-attention's
query and output projections are folded into the text's keys and values once per generation
(``Attention.fold``, ``folds_text``): a step then reads a few numbers per text token instead of
two width x width weights in every layer (musicgen-small, 11 tokens: 0.17 GB less a step, +8 %;
float32 1.28-1.33x transformers' steps/s on 2 CPU threads). On a GPU the steps run in fixed
shapes (``step_at``) replayed as a CUDA graph (``generate``). Parameter names are ours;
``loading.py`` maps transformers' names onto them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.common.attention import attention, split_heads
from engine.models.common.kv_cache import KVCache
from engine.models.common.positions import sinusoids
from engine.models.musicgen.config import MusicgenDecoderConfig
from engine.models.musicgen.delay import codebook_delays

INITIAL_POSITIONS = 2048  # rows of the position table built with the model; it grows on demand


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the model dtype (steadier in float16)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(),
                            self.eps).type(x.dtype)


class Attention(nn.Module):
    def __init__(self, width: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.q = nn.Linear(width, width, bias=False)
        self.k = nn.Linear(width, width, bias=False)
        self.v = nn.Linear(width, width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        # query, key and value as one projection once fused (``fuse``: on a GPU; int8: quantize.py)
        self.qkv: nn.Module | None = None

    def fuse(self) -> None:
        """Replace ``q``, ``k`` and ``v`` by one projection ``qkv`` (self-attention: they read the same
        input). The three weights are freed as the fused one is made: no second copy of the model."""
        if self.qkv is None:
            weight = torch.cat([self.q.weight, self.k.weight, self.v.weight]).detach()
            del self.q, self.k, self.v
            self.qkv = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device="meta")
            self.qkv.weight = nn.Parameter(weight, requires_grad=False)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Self-attention's queries, keys and values of x, each (B, H, T, D/H)."""
        if self.qkv is not None:
            return tuple(split_heads(y, self.n_head) for y in self.qkv(x).chunk(3, dim=-1))
        return self.query(x), *self.kv(x)

    def kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return split_heads(self.k(x), self.n_head), split_heads(self.v(x), self.n_head)

    def query(self, x: Tensor) -> Tensor:
        return split_heads(self.q(x), self.n_head)

    def fold(self, k: Tensor, v: Tensor) -> FoldedText:
        """The query and output projections folded into the text's keys and values (n, H, S, D/H),
        computed in at least float32: the same sums in another order (q·k = x·(Wqᵀk),
        Wo(Vᵀp) = (WoVᵀ)p)."""
        n, h, s, d = k.shape
        wide = torch.promote_types(k.dtype, torch.float32)
        weight = self.q.weight.to(wide)
        width = weight.shape[1]
        scores = (k.to(wide) @ weight.view(h, d, width)) * d ** -0.5  # (n, H, S, width)
        out = self.out.weight.to(wide).view(width, h, d).transpose(0, 1)  # (H, width, D/H): Wo per head
        reads = (out @ v.to(wide).transpose(-1, -2)).transpose(-1, -2)  # (n, H, S, width)
        return FoldedText(scores.reshape(n, h * s, width).to(k.dtype), reads.reshape(n, h * s, width).to(v.dtype))

    def attend_folded(self, x: Tensor, text: FoldedText, mask: Tensor | None) -> Tensor:
        """Cross-attention of normed x (n, T, width) through ``fold``'s matrices: the output
        projection included, (n, T, width)."""
        n, t, _ = x.shape
        scores = (x @ text.scores.transpose(-1, -2)).view(n, t, self.n_head, -1)  # (n, T, H, S)
        scores = scores.to(torch.promote_types(scores.dtype, torch.float32))
        if mask is not None:  # (n, 1, 1, S): True where attended
            scores = scores.masked_fill(~mask.view(n, 1, 1, -1), float("-inf"))
        weights = scores.softmax(-1).to(x.dtype).view(n, t, -1)
        return weights @ text.reads


class FoldedText(NamedTuple):
    """One layer's cross-attention to the text with its query and output projections folded in
    (``Attention.fold``): per text row, ``scores`` (H*S, width) gives a step's attention scores
    (scaled) of its normed input, ``reads`` (H*S, width) what each head's attention to each text
    position adds to the output. A step then reads 2·H·S·width numbers instead of the projections'
    2·width²: for a prompt of S tokens, S·H/width of them (MusicGen: S / 64)."""

    scores: Tensor  # (n, H*S, width)
    reads: Tensor  # (n, H*S, width)


class Layer(nn.Module):
    """Pre-norm causal self-attention, cross-attention to the text (MusicGen's; the melody model's
    layers have none: ``cross=False``), a GELU feed-forward."""

    def __init__(self, width: int, n_head: int, ffn: int, cross: bool = True) -> None:
        super().__init__()
        self.self_norm = LayerNorm(width)
        self.self_attn = Attention(width, n_head)
        if cross:
            self.cross_norm = LayerNorm(width)
            self.cross_attn = Attention(width, n_head)
        self.ffn_norm = LayerNorm(width)
        self.fc1 = nn.Linear(width, ffn, bias=False)
        self.fc2 = nn.Linear(ffn, width, bias=False)

    def forward(self, x: Tensor, index: int, cache: KVCache | None, mask: Tensor | None,
                cross: tuple[Tensor, Tensor] | None = None, cross_mask: Tensor | None = None,
                position: Tensor | None = None) -> Tensor:
        """``position`` (a one-element tensor): write this step's keys and values there and attend
        over the whole cache with ``mask`` (``MusicgenLM.step_at``); None: after what is cached."""
        q, k, v = self.self_attn.project(self.self_norm(x))
        if cache is not None:  # its keys and values may be stored narrower (``cache_dtype``)
            k, v = cache.append(index, k, v) if position is None else cache.write_at(index, position, k, v)
        x = x + self.self_attn.out(attention(q.to(k.dtype), k, v, mask)[0].to(x.dtype))
        if cross is not None and cross[0].shape[0]:
            # the text's keys and values cover the first n rows; the others have no text, and
            # their cross-attention reads exactly zero (``MusicgenLM.cross_kv``)
            n = cross[0].shape[0]
            y = self.cross_norm(x[:n])
            if isinstance(cross, FoldedText):
                update = self.cross_attn.attend_folded(y, cross, cross_mask)
            else:
                update = self.cross_attn.out(attention(self.cross_attn.query(y), *cross, cross_mask)[0])
            x = x + update if n == x.shape[0] else torch.cat([x[:n] + update, x[n:]])
        return x + self.fc2(F.gelu(self.fc1(self.ffn_norm(x))))


@dataclass
class LMCache:
    """What a generation keeps between steps: the self-attention cache and the cross-attention
    keys and values of every layer (computed on the first call), with their mask."""

    kv: KVCache
    cross: list[tuple[Tensor, Tensor] | FoldedText] | None = None
    cross_mask: Tensor | None = None


class MusicgenLM(nn.Module):
    cross_attention = True  # the melody model (melody.py) conditions through a prefix instead
    # The self-attention cache's dtype (None: the model's). int8 compute stores it in bfloat16
    # (quantize.py): late in a piece the cache is read from memory at every step like the weights.
    cache_dtype: torch.dtype | None = None
    # Cross-attention with the query and output projections folded into the text's keys and
    # values (``Attention.fold``): None: where that reads at most half the numbers (``folds_text``);
    # True or False: always or never (the tests check both ways)
    fold_text: bool | None = None

    def __init__(self, config: MusicgenDecoderConfig) -> None:
        super().__init__()
        self.config = config
        width, vocab = config.hidden_size, config.vocab_size
        self.delays = codebook_delays(config.num_codebooks, config.audio_channels)
        self.embed = nn.ModuleList(nn.Embedding(vocab + 1, width) for _ in range(config.num_codebooks))
        rows = min(config.max_position_embeddings, INITIAL_POSITIONS)
        self.register_buffer("positions", sinusoids(rows, width, cos_first=True), persistent=False)
        self.layers = nn.ModuleList(Layer(width, config.num_attention_heads, config.ffn_dim, self.cross_attention)
                                    for _ in range(config.num_hidden_layers))
        self.norm = LayerNorm(width)
        self.heads = nn.ModuleList(nn.Linear(width, vocab, bias=False) for _ in range(config.num_codebooks))
        self.proj = nn.Linear(config.encoder_width, width) if config.has_projection else None

    @property
    def dtype(self) -> torch.dtype:
        return self.norm.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.norm.weight.device

    def new_cache(self, batch: int, capacity: int, zeroed: bool = False) -> LMCache:
        """An empty cache for ``batch`` rows of at most ``capacity`` steps, allocated at once
        (``zeroed`` for ``step_at``)."""
        return LMCache(self.new_kv_cache(batch, capacity, zeroed))

    def new_kv_cache(self, batch: int, capacity: int, zeroed: bool = False) -> KVCache:
        c = self.config
        self._ensure_positions(capacity)
        return KVCache(len(self.layers), batch, c.num_attention_heads, capacity, c.head_dim,
                       self.cache_dtype or self.dtype, self.device, zeroed=zeroed)

    def _ensure_positions(self, length: int) -> None:
        """Positions go on past the table (as in transformers): a longer one, computed as the first."""
        if length > self.positions.shape[0]:
            table = sinusoids(max(length, 2 * self.positions.shape[0]), self.config.hidden_size, cos_first=True)
            self.positions = table.to(device=self.positions.device, dtype=self.positions.dtype)

    def cross_kv(self, encoder_states: Tensor, encoder_mask: Tensor | None = None
                 ) -> tuple[list[tuple[Tensor, Tensor]], Tensor | None]:
        """Every layer's cross-attention keys and values of the text states (B, S, D_text), and the
        mask to attend with (n, 1, 1, S), None when every position counts.

        The states are projected, then zeroed where ``encoder_mask`` is 0 (transformers'
        ``MusicgenForConditionalGeneration``). A row with no position at all (the unconditional
        branch of guidance, an empty prompt) then has zero keys and values: it attends to all of
        them evenly and reads exactly zero (no projection has a bias), as transformers computes.
        So when such rows come last, as guidance lays them out, the keys and values cover only
        the first n rows, the ones with text (n may be 0), and ``Layer`` skips the others: half
        the cross-attention of a guided step, and no mask when those rows have no padding."""
        if encoder_states.ndim != 3 or encoder_states.shape[-1] != self.config.encoder_width:
            raise ValueError(f"text states should be (batch, length, {self.config.encoder_width}), "
                             f"got {tuple(encoder_states.shape)}")
        x = encoder_states.to(device=self.device, dtype=self.dtype)
        mask = None
        if encoder_mask is not None:
            if encoder_mask.shape != encoder_states.shape[:2]:
                raise ValueError(f"the text mask is {tuple(encoder_mask.shape)}, the states "
                                 f"{tuple(encoder_states.shape)}")
            keep = encoder_mask.to(self.device) != 0
            has_text = keep.any(-1)
            n = int(has_text.sum())
            if bool(has_text[:n].all()):  # the rows without text come last: leave them out
                x, keep, has_text = x[:n], keep[:n], has_text[:n]
            if self.proj is not None:
                x = self.proj(x)
            x = x * keep[..., None].to(x.dtype)
            attend = keep | ~has_text[:, None]  # a row without text attends evenly to its zeros
            mask = None if bool(attend.all()) else attend[:, None, None, :]
        elif self.proj is not None:
            x = self.proj(x)
        kv = [layer.cross_attn.kv(x) for layer in self.layers]
        rows, _, length, _ = kv[0][0].shape if kv else (0, 0, 0, 0)
        if self.folds_text(rows, length):
            kv = [layer.cross_attn.fold(k, v) for layer, (k, v) in zip(self.layers, kv)]
        return kv, mask

    def folds_text(self, rows: int, length: int) -> bool:
        """Whether a generation's cross-attention to ``rows`` texts of ``length`` tokens runs folded
        (``Attention.fold``): by default when that reads at most half of what the query and output
        projections hold (rows x length <= head_dim / 2: a prompt of up to 32 tokens for every
        published MusicGen, a step of musicgen-small reading 0.17 GB less for an 11-token prompt),
        and the projections are plain weights (int8's stay as they are)."""
        first = self.layers[0].cross_attn
        if rows == 0 or not all(type(p) is nn.Linear for p in (first.q, first.out)):
            return False
        return rows * length <= self.config.head_dim // 2 if self.fold_text is None else self.fold_text

    def hidden(self, codes: Tensor, encoder_states: Tensor | None = None, encoder_mask: Tensor | None = None,
               cache: LMCache | None = None) -> Tensor:
        """``forward`` without the heads: the final hidden states (B, T, D), so that generation
        projects only the last step."""
        b, k, t = codes.shape
        if k != self.config.num_codebooks:
            raise ValueError(f"codes should be (batch, {self.config.num_codebooks}, steps), got {tuple(codes.shape)}")
        if cache is not None and cache.cross is not None:
            cross, cross_mask = cache.cross, cache.cross_mask
        elif encoder_states is None:
            raise ValueError("the text states are needed (on a cache's first call, or without a cache)")
        else:
            cross, cross_mask = self.cross_kv(encoder_states, encoder_mask)
            if cache is not None:
                cache.cross, cache.cross_mask = cross, cross_mask
        return self.run_layers(self.embed_codes(codes), cache.kv if cache is not None else None, cross, cross_mask)

    def embed_codes(self, codes: Tensor) -> Tensor:
        """Codes (B, K, T) -> (B, T, D): every codebook's embedding, summed."""
        return sum(embed(codes[:, i]) for i, embed in enumerate(self.embed))

    def run_layers(self, x: Tensor, kv: KVCache | None, cross: list | None = None,
                   cross_mask: Tensor | None = None) -> Tensor:
        """Inputs (B, T, D) after the cached positions: positions added, causal layers (with the
        text's keys and values when ``cross`` is given), the cache advanced; the normed output."""
        t = x.shape[1]
        offset = kv.length if kv is not None else 0
        self._ensure_positions(offset + t)
        x = x + self.positions[offset:offset + t].to(x.dtype)
        if kv is not None:
            kv.reserve(offset + t)
        mask = None  # one new step sees everything before it
        if t > 1:
            mask = torch.ones(t, offset + t, dtype=torch.bool, device=x.device).tril(diagonal=offset)
        for index, layer in enumerate(self.layers):
            x = layer(x, index, kv, mask, None if cross is None else cross[index], cross_mask)
        if kv is not None:
            kv.length += t
        return self.norm(x)

    def step_at(self, codes: Tensor, position: Tensor, kv: KVCache, cross: list | None = None,
                cross_mask: Tensor | None = None) -> Tensor:
        """Logits (B, K, V) of one new step (codes (B, K, 1)) at ``position`` (a one-element long
        tensor on the model's device), in shapes that never change from step to step: the keys and
        values are written at that position and the attention reads the whole cache, masked after
        it. A CUDA graph can capture this once and replay it for every step (``generate``), since
        the position is read from the tensor, not from Python. ``kv`` must have been made zeroed
        (a masked position weighs 0, but 0 times the NaN that uninitialised memory may hold is NaN)
        and at its full capacity; ``kv.length`` is not advanced (the caller counts)."""
        x = self.embed_codes(codes) + self.positions.index_select(0, position).to(self.dtype)
        mask = (torch.arange(kv.capacity, device=position.device) <= position)[None, None, None, :]
        for index, layer in enumerate(self.layers):
            x = layer(x, index, kv, mask, None if cross is None else cross[index], cross_mask, position)
        return self.logits(self.norm(x))[:, :, 0]

    def fuse_self_attention(self) -> MusicgenLM:
        """Every layer's self-attention query, key and value as one weight (``Attention.fuse``).
        Returns the model."""
        for layer in self.layers:
            layer.self_attn.fuse()
        return self

    def fuse_on_gpu(self) -> MusicgenLM:
        """What the loaders do once the weights are in place: on a GPU, fuse the self-attention
        (one kernel instead of three a layer and a step). On a CPU the float32 weights stay as
        read, pages of the memory-mapped file: fused copies would add 288 MB of resident memory
        for musicgen-small, for no speed measured on a step bound by memory bandwidth (the same
        1.3 GB read either way). int8 fuses as it quantizes (quantize.py)."""
        return self.fuse_self_attention() if self.device.type == "cuda" else self

    def logits(self, x: Tensor) -> Tensor:
        """Hidden states (B, T, D) -> float32 logits (B, K, T, vocab), one head per codebook."""
        return torch.stack([head(x) for head in self.heads], dim=1).float()

    def forward(self, codes: Tensor, encoder_states: Tensor | None = None, encoder_mask: Tensor | None = None,
                cache: LMCache | None = None) -> Tensor:
        """codes (B, K, T) -> logits (B, K, T, vocab) in float32.

        ``encoder_states`` (B, S, D_text) are the text encoder's output, ``encoder_mask`` (B, S) its
        attention mask (1: a token, 0: padding). With a cache the codes continue the cached steps,
        and the states are read on the first call only (later calls may pass None)."""
        return self.logits(self.hidden(codes, encoder_states, encoder_mask, cache))
