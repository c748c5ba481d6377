"""MusicGen melody (``facebook/musicgen-melody``, ``musicgen-stereo-melody``): text and a reference
melody's chromagram to EnCodec codes.

Unlike MusicGen, the decoder has no cross-attention: the conditions are a prefix of its input.
The prefix is ``chroma_length`` (235) rows of the chromagram projected by ``audio_enc_to_dec_proj``
(a chromagram of fewer frames is tiled, one of more cut), then the text states projected by
``enc_to_dec_proj`` and zeroed where the text mask is 0; no attention mask, so the model sees the
zeroed rows too (as transformers' ``MusicgenMelodyForConditionalGeneration`` does). Positions count
from the first prefix row. Without a reference the chromagram is one frame of pitch class 0
(C) — transformers' "null" chroma. Classifier-free guidance's unconditional rows have zero text
states and that null chroma.

The layers are MusicGen's without cross-attention: pre-norm causal self-attention and a GELU
feed-forward, no biases; the prefix goes through the KV cache once, then each step costs one
token's work. Codes, delays, heads and sampling are MusicGen's (``model``, ``delay``,
``generate``).

Hugging Face names -> ours::

    decoder.model.decoder.embed_tokens.N.weight                      -> embed.N.weight
    decoder.model.decoder.embed_positions.weights                    -> (fixed sinusoids, recomputed)
    decoder.model.decoder.layers.N.self_attn.{q,k,v,out}_proj.weight -> layers.N.self_attn.{q,k,v,out}.weight
    decoder.model.decoder.layers.N.self_attn_layer_norm              -> layers.N.self_norm
    decoder.model.decoder.layers.N.fc1 / fc2 / final_layer_norm      -> layers.N.fc1 / fc2 / ffn_norm
    decoder.model.decoder.layer_norm                                 -> norm
    decoder.lm_heads.N.weight                                        -> heads.N.weight
    enc_to_dec_proj.{weight,bias}                                    -> proj.{weight,bias}
    audio_enc_to_dec_proj.{weight,bias}                              -> chroma_proj.{weight,bias}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from engine.models.common.checkpoints import assign_weights, on_meta
from engine.models.common.errors import CheckpointError
from engine.models.common.kv_cache import KVCache
from engine.models.musicgen.config import MusicgenDecoderConfig, whole_number
from engine.models.musicgen.generate import (
    _check_arguments,
    _prompt,
    sample_codes,
    sequence_length,
    static_steps,
    uses_static_steps,
)
from engine.models.musicgen.loading import hf_name, take_decoder
from engine.models.musicgen.model import MusicgenLM

MODEL_TYPE = "musicgen_melody"
CHROMA_LIMIT = 1024
CHROMA_LENGTH_LIMIT = 65_536


@dataclass
class MelodyConfig(MusicgenDecoderConfig):
    """The decoder's dimensions (checked as MusicGen's) and the chroma conditioning's."""

    num_chroma: int = 12
    chroma_length: int = 235  # prefix rows of chroma, whatever the reference's length

    @property
    def has_chroma_projection(self) -> bool:
        return self.num_chroma != self.hidden_size

    def n_parameters(self) -> int:
        d, k, v = self.hidden_size, self.num_codebooks, self.vocab_size
        layers = self.num_hidden_layers * (4 * d * d + 2 * d * self.ffn_dim + 4 * d)
        text = (self.encoder_width + 1) * d if self.has_projection else 0
        chroma = (self.num_chroma + 1) * d if self.has_chroma_projection else 0
        return k * (v + 1) * d + layers + 2 * d + k * v * d + text + chroma

    def describe(self) -> str:
        return f"{super().describe()}, {self.num_chroma} chroma bins over {self.chroma_length} frames"

    @classmethod
    def from_composite(cls, data: dict, source: object) -> MelodyConfig:
        """A whole MusicGen melody config.json (``MusicgenMelodyForConditionalGeneration``)."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{source} should hold a JSON object, found {type(data).__name__}")
        if data.get("model_type") != MODEL_TYPE:
            raise CheckpointError(f"{source} describes a {data.get('model_type')!r} model; expected model_type "
                                  f"{MODEL_TYPE!r} (MusicGen melody)")
        # the decoder and text_encoder sections read (and checked) exactly as MusicGen's; the melody
        # decoder has no cross-attention, so a width for it would mean nothing
        as_musicgen = {**data, "model_type": "musicgen"}
        if isinstance(data.get("decoder"), dict):
            as_musicgen["decoder"] = {k: v for k, v in data["decoder"].items() if k != "cross_attention_hidden_size"}
        base = MusicgenDecoderConfig.from_composite(as_musicgen, source)
        values = {}
        for key, default, high in (("num_chroma", 12, CHROMA_LIMIT), ("chroma_length", 235, CHROMA_LENGTH_LIMIT)):
            values[key] = whole_number(data.get(key, default), high)
            if values[key] is None:
                raise CheckpointError(f"{source}: {key} is {data.get(key)!r}; it must be a whole number "
                                      f"from 1 to {high}")
        config = cls(**{f.name: getattr(base, f.name) for f in fields(base)}, **values)
        config.check_size(source)
        return config


class MusicgenMelodyLM(MusicgenLM):
    """MusicGen's language model without cross-attention, its conditions a prefix of the input."""

    cross_attention = False

    def __init__(self, config: MelodyConfig) -> None:
        super().__init__(config)
        self.chroma_proj = nn.Linear(config.num_chroma, config.hidden_size) if config.has_chroma_projection else None

    def new_cache(self, batch: int, capacity: int, zeroed: bool = False) -> KVCache:
        """An empty self-attention cache for ``batch`` rows of at most ``capacity`` positions
        (the prefix counts)."""
        return self.new_kv_cache(batch, capacity, zeroed)

    def prefix(self, text_states: Tensor, text_mask: Tensor | None = None, chroma: Tensor | None = None) -> Tensor:
        """The conditioning rows (B, chroma_length + S, D): the chroma (``chroma`` (B or 1, F,
        num_chroma), None: the null chroma) projected and tiled, then the text states (B, S,
        D_text) projected and zeroed where ``text_mask`` (B, S) is 0."""
        c = self.config
        if text_states.ndim != 3 or text_states.shape[-1] != c.encoder_width:
            raise ValueError(f"text states should be (batch, length, {c.encoder_width}), "
                             f"got {tuple(text_states.shape)}")
        batch = text_states.shape[0]
        text = text_states.to(device=self.device, dtype=self.dtype)
        if self.proj is not None:
            text = self.proj(text)
        if text_mask is not None:
            if text_mask.shape != text_states.shape[:2]:
                raise ValueError(f"the text mask is {tuple(text_mask.shape)}, the states {tuple(text_states.shape)}")
            text = text * text_mask.to(device=self.device, dtype=self.dtype)[..., None]
        if chroma is None:
            chroma = torch.zeros(1, 1, c.num_chroma, device=self.device, dtype=self.dtype)
            chroma[..., 0] = 1
        elif (chroma.ndim != 3 or chroma.shape[0] not in (1, batch) or chroma.shape[1] < 1
              or chroma.shape[2] != c.num_chroma or not chroma.is_floating_point()):
            raise ValueError(f"chroma should be ({batch} or 1, frames, {c.num_chroma}) floats, "
                             f"got {tuple(chroma.shape)} {chroma.dtype}")
        audio = chroma.to(device=self.device, dtype=self.dtype)
        if self.chroma_proj is not None:
            audio = self.chroma_proj(audio)
        audio = audio.repeat(1, math.ceil(c.chroma_length / audio.shape[1]), 1)[:, :c.chroma_length]
        return torch.cat([audio.expand(batch, -1, -1), text], dim=1)

    def hidden(self, codes: Tensor, prefix: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        """The final hidden states (B, T, D) of the codes (B, K, T), after ``prefix`` (B, P, D) when
        given (with a cache: on its first call), after the cached positions otherwise."""
        b, k, t = codes.shape
        if k != self.config.num_codebooks:
            raise ValueError(f"codes should be (batch, {self.config.num_codebooks}, steps), got {tuple(codes.shape)}")
        x = self.embed_codes(codes)
        if prefix is not None:
            x = torch.cat([prefix.to(x.dtype), x], dim=1)
        return self.run_layers(x, cache)[:, x.shape[1] - t:]

    def forward(self, codes: Tensor, prefix: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        """codes (B, K, T) -> logits (B, K, T, vocab) in float32, for the codes' positions only."""
        return self.logits(self.hidden(codes, prefix, cache))


def _hf_name(ours: str) -> str:
    head, _, rest = ours.partition(".")
    return f"audio_enc_to_dec_proj.{rest}" if head == "chroma_proj" else hf_name(ours)


def build_melody_lm(config: dict, weights: dict[str, Tensor], source: str, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32, config_source: str = "config.json") -> MusicgenMelodyLM:
    """Our MusicGen melody decoder (eval mode, on ``device`` in ``dtype``) from a whole melody
    config.json and every tensor of the folder (``weights``, named as in ``source``).

    Every problem is a one-line CheckpointError in the file's own names. Once the check passes the
    decoder's tensors (with both projections) are taken out of ``weights`` one by one;
    ``text_encoder.*`` and ``audio_encoder.*`` stay for the T5 and EnCodec loaders.
    """
    cfg = MelodyConfig.from_composite(config, config_source)
    model = on_meta(lambda: MusicgenMelodyLM(cfg))
    state_dict = take_decoder(model, _hf_name, weights, source,
                              f"a MusicGen melody decoder of its own config ({cfg.describe()})")
    return assign_weights(model, state_dict, source, device=device, dtype=dtype).fuse_on_gpu()


@torch.inference_mode()
def generate_melody(lm: MusicgenMelodyLM, text_states: Tensor, text_mask: Tensor | None, chroma: Tensor | None,
                    steps: int, guidance_scale: float = 3.0, temperature: float = 1.0, top_k: int = 250,
                    top_p: float = 0.0, seed: int | None = None, progress: Callable[[float], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, prompt_codes: Tensor | None = None,
                    static: bool | None = None) -> Tensor:
    """``steps`` new frames of codes (B, K, steps), aligned, on the model's device; the sampling
    options, ``seed``, ``progress``, ``should_stop``, ``prompt_codes`` (B, K, P: codes to continue)
    and ``static`` mean what they mean in ``generate.generate``.

    ``text_states`` (B, S, D_text) and ``text_mask`` (B, S) are T5's; ``chroma`` (B or 1, F,
    num_chroma) is ``chroma.chroma_features`` of the reference (None: no melody). Guidance above 1
    doubles the batch: the conditional rows, then rows with zero text and the null chroma.
    """
    _check_arguments(lm, text_states, text_mask, steps, guidance_scale, temperature, top_k, top_p, prompt_codes)
    if chroma is not None and not torch.isfinite(chroma).all():
        raise ValueError("chroma holds NaN or infinite values")
    batch = text_states.shape[0]
    prefix = lm.prefix(text_states, text_mask, chroma)
    guided = guidance_scale > 1
    if guided:  # the unconditional rows: zero text states and the null chroma
        null = lm.prefix(torch.zeros_like(text_states), torch.zeros(text_states.shape[:2]), None)
        prefix = torch.cat([prefix, null])
    prompt = _prompt(lm, batch, prompt_codes)
    static = uses_static_steps(lm, static)
    cache = lm.new_cache(prefix.shape[0], capacity=prefix.shape[1] + sequence_length(lm, prompt, steps) - 1,
                         zeroed=static)
    later = None

    def step(codes: Tensor, first: bool) -> Tensor:
        nonlocal later
        if first or not static:
            hidden = lm.hidden(codes, prefix if first else None, cache)
            return lm.logits(hidden[:, -1:])[:, :, 0]
        later = later or static_steps(lm, cache)
        return later(codes)

    return sample_codes(lm, step, prompt, steps, guidance_scale, temperature, top_k, top_p, seed, progress,
                        should_stop)
