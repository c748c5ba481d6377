"""The MusicGen decoder's dimensions, read from the ``decoder`` section of a MusicGen config.json
(transformers' ``MusicgenDecoderConfig``), every value checked before anything is built from it.

A crafted or damaged config must not make Motet allocate gigabytes or crash inside torch: each
problem is a one-line CheckpointError naming the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.models.common.errors import CheckpointError, shown
from engine.models.musicgen.options import WINDOW_SECONDS

# Far above every published MusicGen (large: hidden 2048, 48 layers of 32 heads, ffn 8192,
# 4 codebooks of 2048 codes; stereo: 8 codebooks; 2048 positions; T5 width 768 or 1024).
DIMENSION_LIMITS = {
    "vocab_size": 65_536, "hidden_size": 8192, "num_hidden_layers": 256, "num_attention_heads": 256,
    "ffn_dim": 65_536, "max_position_embeddings": 65_536, "num_codebooks": 64,
}
TEXT_WIDTH_LIMIT = 16_384
MAX_PARAMETERS = 8_000_000_000  # about 32 GB in float32; musicgen-large's decoder has 3.3 G
DEFAULTS = {  # what transformers assumes when config.json leaves a field out
    "max_position_embeddings": 2048, "audio_channels": 1, "activation_function": "gelu",
    "scale_embedding": False, "pad_token_id": 2048, "bos_token_id": 2048, "cross_attention_hidden_size": None,
}
# Sizes derived from the decoder and its codec together, checked when the config is read: the codes
# the model makes a second of audio (published: 50 frames x 4 codebooks, 8 for stereo), and one
# sequence's key-value cache over a window (float32; musicgen-large: 1.2 GB for 30 s)
MAX_CODES_PER_SECOND = 4000
MAX_CACHE_BYTES = 4 * 2**30
REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim", "num_codebooks")


def whole_number(value, high: int) -> int | None:
    """``value`` (as read from JSON) as an int when it is a whole number from 1 to ``high``, else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        return None
    return value


@dataclass
class MusicgenDecoderConfig:
    vocab_size: int = 2048
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    ffn_dim: int = 4096
    max_position_embeddings: int = 2048
    num_codebooks: int = 4
    audio_channels: int = 1
    pad_token_id: int | None = 2048  # for information: generation never reads it
    bos_token_id: int = 2048  # the decoder's start token, also the filler of the delay pattern
    cross_attention_hidden_size: int | None = None
    text_hidden_size: int | None = None  # the text encoder's width (the composite config's text_encoder)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def has_projection(self) -> bool:
        """Whether the text states pass through ``enc_to_dec_proj`` (transformers' rule: the widths
        differ and the decoder does not declare its own cross-attention width)."""
        return (self.text_hidden_size is not None and self.text_hidden_size != self.hidden_size
                and self.cross_attention_hidden_size is None)

    @property
    def encoder_width(self) -> int:
        """The width of the states ``MusicgenLM`` takes (before any projection)."""
        return self.text_hidden_size if self.text_hidden_size is not None else self.hidden_size

    def n_parameters(self) -> int:
        d, k, v = self.hidden_size, self.num_codebooks, self.vocab_size
        layers = self.num_hidden_layers * (8 * d * d + 2 * d * self.ffn_dim + 6 * d)
        projection = (self.encoder_width + 1) * d if self.has_projection else 0
        return k * (v + 1) * d + layers + 2 * d + k * v * d + projection

    def describe(self) -> str:
        """The config in a few words, for error messages."""
        channels = "stereo" if self.audio_channels == 2 else "mono"
        return (f"hidden {self.hidden_size}, {self.num_hidden_layers} layers, {self.num_attention_heads} heads, "
                f"ffn {self.ffn_dim}, {self.num_codebooks} codebooks ({channels}) of {self.vocab_size} codes, "
                f"text width {self.encoder_width}")

    @classmethod
    def from_hf(cls, data: dict, source: object, prefix: str = "decoder.") -> MusicgenDecoderConfig:
        """The decoder section of a MusicGen config.json; ``prefix`` is how the messages name its fields."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: {prefix.rstrip('.') or 'the config'} should be a JSON object, "
                                  f"found {type(data).__name__}")
        missing = [key for key in REQUIRED if key not in data]
        if missing:
            raise CheckpointError(f"{source} lacks {prefix}{missing[0]}, which every MusicGen decoder config has")
        value = {key: data.get(key, DEFAULTS.get(key)) for key in (*REQUIRED, *DEFAULTS)}
        problems = []
        dims = {}
        for key, high in DIMENSION_LIMITS.items():
            dims[key] = whole_number(value[key], high)
            if dims[key] is None:
                problems.append(f"{prefix}{key} is {shown(value[key])}; it must be a whole number from 1 to {high}")
        channels = whole_number(value["audio_channels"], 2)
        if channels is None:
            problems.append(f"{prefix}audio_channels is {shown(value['audio_channels'])}; expected 1 (mono) or 2 (stereo)")
        if value["activation_function"] != "gelu":
            problems.append(f"{prefix}activation_function is {shown(value['activation_function'])}; only 'gelu' "
                            f"(every published MusicGen) is supported")
        # transformers computes an embedding scale from it but never applies it: accepted, ignored
        if not isinstance(value["scale_embedding"], bool):
            problems.append(f"{prefix}scale_embedding is {shown(value['scale_embedding'])}; expected true or false")
        cross = value["cross_attention_hidden_size"]
        if cross is not None and whole_number(cross, TEXT_WIDTH_LIMIT) is None:
            problems.append(f"{prefix}cross_attention_hidden_size is {shown(cross)}; it must be null or a whole number "
                            f"from 1 to {TEXT_WIDTH_LIMIT}")
        if problems:
            raise CheckpointError(f"{source} is not a usable MusicGen decoder config: {'; '.join(problems)}")
        vocab = dims["vocab_size"]
        for key in ("pad_token_id", "bos_token_id"):
            token = value[key]
            if token is None and key == "pad_token_id":
                continue
            if isinstance(token, float) and token.is_integer():
                token = int(token)
            if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token <= vocab:
                problems.append(f"{prefix}{key} is {shown(value[key])}; it must be a code from 0 to {vocab} "
                                f"(the embeddings hold vocab_size + 1 rows)")
            value[key] = token
        width, heads, codebooks = dims["hidden_size"], dims["num_attention_heads"], dims["num_codebooks"]
        if width % heads:
            problems.append(f"{prefix}hidden_size {width} is not divisible by {prefix}num_attention_heads {heads}")
        if width % 2 or width < 4:
            problems.append(f"{prefix}hidden_size {width} must be even and at least 4 (sinusoidal positions)")
        if channels == 2 and codebooks % 2:
            problems.append(f"{prefix}num_codebooks {codebooks} is odd, but stereo interleaves left and right "
                            f"codebooks")
        if problems:
            raise CheckpointError(f"{source} is not a usable MusicGen decoder config: {'; '.join(problems)}")
        config = cls(**dims, audio_channels=channels, pad_token_id=value["pad_token_id"],
                     bos_token_id=value["bos_token_id"],
                     cross_attention_hidden_size=whole_number(cross, TEXT_WIDTH_LIMIT))
        config.check_size(source)
        return config

    def check_size(self, source: object) -> None:
        """CheckpointError when the model would be larger than anything Motet loads."""
        if self.n_parameters() > MAX_PARAMETERS:
            raise CheckpointError(f"{source}: the MusicGen decoder would have about {self.n_parameters() / 1e9:.1f} G "
                                  f"parameters, more than the {MAX_PARAMETERS / 1e9:.0f} G Motet loads "
                                  f"(musicgen-large has 3.3 G)")

    @classmethod
    def from_composite(cls, data: dict, source: object) -> MusicgenDecoderConfig:
        """The decoder of a whole MusicGen config.json (``MusicgenForConditionalGeneration``): its
        ``decoder`` section and the width of its ``text_encoder`` (T5's ``d_model``)."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{source} should hold a JSON object, found {type(data).__name__}")
        if data.get("model_type") not in (None, "musicgen"):
            raise CheckpointError(f"{source} describes a {shown(data.get('model_type'))} model; expected model_type "
                                  f"'musicgen' (MusicGen melody and other variants are not supported)")
        if "decoder" not in data:
            raise CheckpointError(f"{source} has no decoder section; expected a MusicGen config.json")
        config = cls.from_hf(data["decoder"], source)
        text = data.get("text_encoder")
        if not isinstance(text, dict):
            raise CheckpointError(f"{source} has no text_encoder section, which gives the width of the text states")
        key = "d_model" if "d_model" in text else "hidden_size"
        width = whole_number(text.get(key), TEXT_WIDTH_LIMIT)
        if width is None:
            raise CheckpointError(f"{source}: text_encoder.{key} is {shown(text.get(key))}; it must be a whole number "
                                  f"from 1 to {TEXT_WIDTH_LIMIT}")
        config.text_hidden_size = width
        cross = config.cross_attention_hidden_size
        if cross is not None and cross != width:
            raise CheckpointError(f"{source}: decoder.cross_attention_hidden_size {cross} differs from the text "
                                  f"encoder's width text_encoder.{key} {width}")
        if cross is not None and cross != config.hidden_size:
            raise CheckpointError(f"{source}: decoder.cross_attention_hidden_size {cross} differs from "
                                  f"decoder.hidden_size {config.hidden_size}; cross-attention over states of "
                                  f"another width without enc_to_dec_proj is not supported")
        config.check_size(source)  # again: the projection counts too
        if isinstance(data.get("audio_encoder"), dict):
            from engine.models.encodec.config import EncodecConfig

            config.check_generation(EncodecConfig.from_hf(data["audio_encoder"], str(source)).frame_rate, source)
        return config

    def cache_bytes(self, frame_rate: int) -> int:
        """Bytes (float32) of one sequence's key-value cache over a window at ``frame_rate``."""
        positions = math.ceil(WINDOW_SECONDS * frame_rate) + self.num_codebooks
        return positions * self.num_hidden_layers * 2 * self.hidden_size * 4

    def check_generation(self, frame_rate: int, source: object) -> None:
        """CheckpointError naming the fields when this decoder with a codec of ``frame_rate`` frames
        a second would make absurdly many codes a second, or need an absurd cache."""
        codes = frame_rate * self.num_codebooks
        if codes > MAX_CODES_PER_SECOND:
            raise CheckpointError(f"{source}: the codec's {frame_rate} frames a second (audio_encoder.sampling_rate "
                                  f"over its upsampling_ratios) x decoder.num_codebooks {self.num_codebooks} make "
                                  f"{codes} codes a second; at most {MAX_CODES_PER_SECOND} (published MusicGens: "
                                  f"200 to 400)")
        if self.cache_bytes(frame_rate) > MAX_CACHE_BYTES:
            raise CheckpointError(f"{source}: a {WINDOW_SECONDS:g} s window of {frame_rate} frames a second through "
                                  f"decoder.num_hidden_layers {self.num_hidden_layers} of decoder.hidden_size "
                                  f"{self.hidden_size} needs {self.cache_bytes(frame_rate) / 2**30:.1f} GB of "
                                  f"cache per sequence; at most {MAX_CACHE_BYTES / 2**30:.0f} GB (musicgen-large: 1.2 GB)")
