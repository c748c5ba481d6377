"""EnCodec's hyper-parameters, read from a Hugging Face config: a standalone ``facebook/encodec_*``
config.json, or the ``audio_encoder`` part of a MusicGen one.

Supported: weight-norm or time-group-norm convolutions, causal or not, ``reflect`` / ``constant`` /
``replicate`` padding, any ratios, residual layers, LSTM depth, bandwidths (``facebook/encodec_32khz``,
MusicGen's codec, and ``facebook/encodec_24khz``). Not yet: ``normalize`` and ``chunk_length_s``
(``facebook/encodec_48khz`` encodes 1 s chunks, each with its own scale) are a CheckpointError.
Every value is checked before anything is built from it: a damaged or crafted config is a
one-line CheckpointError naming the file and the field, never a torch traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.models.common.errors import CheckpointError, shown

# transformers' EncodecConfig defaults, for a field a config leaves out (as transformers reads it)
_DEFAULTS = {
    "target_bandwidths": [1.5, 3.0, 6.0, 12.0, 24.0], "sampling_rate": 24_000, "audio_channels": 1,
    "normalize": False, "chunk_length_s": None, "overlap": None, "hidden_size": 128, "num_filters": 32,
    "num_residual_layers": 1, "upsampling_ratios": [8, 5, 4, 2], "norm_type": "weight_norm", "kernel_size": 7,
    "last_kernel_size": 7, "residual_kernel_size": 3, "dilation_growth_rate": 2, "use_causal_conv": True,
    "pad_mode": "reflect", "compress": 2, "num_lstm_layers": 2, "trim_right_ratio": 1.0, "codebook_size": 1024,
    "codebook_dim": None, "use_conv_shortcut": True,
}
# far above every published EnCodec (32 kHz: 64 filters, ratios 8 5 4 4, hidden 128, 4 x 2048
# codebooks; 24 kHz: 32 codebooks of 1024), low enough that nothing absurd is ever allocated
_LIMITS = {
    "sampling_rate": (1, 768_000), "audio_channels": (1, 2), "hidden_size": (1, 8192), "num_filters": (1, 1024),
    "num_residual_layers": (0, 16), "kernel_size": (1, 255), "last_kernel_size": (1, 255),
    "residual_kernel_size": (1, 255), "dilation_growth_rate": (1, 64), "compress": (1, 1024),
    "num_lstm_layers": (1, 16), "codebook_size": (2, 65_536),
}
MAX_WIDTH = 16_384  # channels of the widest layer, num_filters * 2 ** len(upsampling_ratios)
MAX_QUANTIZERS = 256
# Derived sizes, checked when the config is read, before anything is allocated (DESIGN.md §8).
# Published EnCodecs make 50 (32 kHz), 75 (24 kHz) or 150 (48 kHz) frames of codes a second; each
# frame is a step of MusicGen's language model, so the frame rate sets the steps and the cache.
MAX_FRAME_RATE = 1000
LONGEST_SECONDS = 300  # the longest piece Generate asks for (musicgen/options.py SECONDS)
# the largest tensor decoding LONGEST_SECONDS makes: 61 MB for the 32 kHz model
MAX_DECODE_BYTES = 4 * 2**30
NORM_TYPES = ("weight_norm", "time_group_norm")
PAD_MODES = ("reflect", "constant", "replicate")


def _whole(value) -> int | None:
    """``value`` as an int when it is a whole number (``4`` or ``4.0``, not ``True``), else None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


@dataclass(frozen=True)
class EncodecConfig:
    sampling_rate: int
    audio_channels: int
    hidden_size: int
    num_filters: int
    num_residual_layers: int
    upsampling_ratios: tuple[int, ...]
    norm_type: str
    kernel_size: int
    last_kernel_size: int
    residual_kernel_size: int
    dilation_growth_rate: int
    use_causal_conv: bool
    pad_mode: str
    compress: int
    num_lstm_layers: int
    trim_right_ratio: float
    codebook_size: int
    use_conv_shortcut: bool
    target_bandwidths: tuple[float, ...]

    @property
    def hop_length(self) -> int:
        """Audio samples per frame of codes."""
        return math.prod(self.upsampling_ratios)

    @property
    def frame_rate(self) -> int:
        """Frames of codes per second (50 for the 32 kHz model), rounded up as transformers does."""
        return math.ceil(self.sampling_rate / self.hop_length)

    @property
    def num_quantizers(self) -> int:
        """Codebooks the checkpoint holds: those of the last (largest) target bandwidth."""
        bits = math.ceil(math.log2(self.codebook_size))
        return int(1000 * self.target_bandwidths[-1] // (self.frame_rate * bits))

    def codebooks_for(self, bandwidth: float) -> int:
        """Codebooks ``encode`` uses at ``bandwidth`` (kbps): as many as fit, at least one."""
        fit = math.floor(bandwidth * 1000 / (math.log2(self.codebook_size) * self.frame_rate))
        return min(max(1, fit), self.num_quantizers)

    @property
    def num_codebooks(self) -> int:
        """Codebooks ``encode`` gives by default, at the first target bandwidth (4 for the 32 kHz model)."""
        return self.codebooks_for(self.target_bandwidths[0])

    @property
    def widest(self) -> int:
        return self.num_filters * 2 ** len(self.upsampling_ratios)

    def decode_bytes(self, seconds: float) -> int:
        """Bytes (float32) of the largest tensor that decoding ``seconds`` of audio makes: the
        audio itself, and the layers that run on the whole of it (the first convolution and the
        LSTM at the frame rate; every layer with a time group norm; the others go in pieces)."""
        frames = math.ceil(seconds * self.frame_rate)
        largest = max(self.hidden_size, self.widest) * frames
        channels, length = self.widest, frames
        for ratio in self.upsampling_ratios:
            channels, length = max(1, channels // 2), length * ratio
            if self.norm_type == "time_group_norm":
                largest = max(largest, channels * length)
        return 4 * max(largest, self.audio_channels * length)

    def describe(self) -> str:
        """The config in a few words, for error messages."""
        return (f"{self.sampling_rate} Hz, {self.audio_channels} channel(s), {self.num_filters} filters, ratios "
                f"{list(self.upsampling_ratios)}, hidden size {self.hidden_size}, {self.num_quantizers} codebooks "
                f"of {self.codebook_size}, {self.norm_type}")

    @classmethod
    def from_hf(cls, data: dict, source: str) -> EncodecConfig:
        """Our config from a transformers ``EncodecConfig`` dictionary; CheckpointError naming
        ``source`` and the field for any value that is wrong, absurd or not supported yet."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: an EnCodec config should be a JSON object, found {type(data).__name__}")
        if data.get("model_type", "encodec") != "encodec":
            raise CheckpointError(f"{source} describes a {shown(data['model_type'])} model; expected model_type 'encodec'")
        c = {**_DEFAULTS, **{k: v for k, v in data.items() if k in _DEFAULTS}}

        def bad(field: str, expected: str) -> CheckpointError:
            return CheckpointError(f"{source}: {field} is {shown(c[field])}; {expected}")

        ints = {}
        for field, (low, high) in _LIMITS.items():
            ints[field] = _whole(c[field])
            if ints[field] is None or not low <= ints[field] <= high:
                raise bad(field, f"it must be a whole number from {low} to {high}")
        for field in ("use_causal_conv", "use_conv_shortcut", "normalize"):
            if not isinstance(c[field], bool):
                raise bad(field, "it must be true or false")
        if c["norm_type"] not in NORM_TYPES:
            raise bad("norm_type", f"expected one of {', '.join(NORM_TYPES)}")
        if c["pad_mode"] not in PAD_MODES:
            raise bad("pad_mode", f"expected one of {', '.join(PAD_MODES)}")
        ratios = c["upsampling_ratios"]
        ratios = [_whole(r) for r in ratios] if isinstance(ratios, list) and 1 <= len(ratios) <= 8 else [None]
        if any(r is None or not 1 <= r <= 64 for r in ratios):
            raise bad("upsampling_ratios", "it must be a list of 1 to 8 whole numbers from 1 to 64")
        bands = c["target_bandwidths"]
        bands = [_number(b) for b in bands] if isinstance(bands, list) and 1 <= len(bands) <= 32 else [None]
        if any(b is None or not 0 < b <= 10_000 for b in bands):
            raise bad("target_bandwidths", "it must be a list of 1 to 32 bandwidths in kbps, each above 0")
        trim = _number(c["trim_right_ratio"])
        if trim is None or not 0 <= trim <= 1 or (trim != 1 and not c["use_causal_conv"]):
            raise bad("trim_right_ratio", "it must be from 0 to 1, and 1 unless use_causal_conv is true")
        if ints["codebook_size"] & (ints["codebook_size"] - 1):
            raise bad("codebook_size", "it must be a power of 2")
        if c["codebook_dim"] is not None and _whole(c["codebook_dim"]) != ints["hidden_size"]:
            raise bad("codebook_dim", f"EnCodec's codebooks have the hidden size ({ints['hidden_size']}): "
                                      "its checkpoints hold no projection to another width")
        if ints["compress"] > ints["num_filters"]:
            raise bad("compress", f"it must be at most num_filters ({ints['num_filters']})")
        dilation = ints["dilation_growth_rate"] ** max(0, ints["num_residual_layers"] - 1)
        if (ints["residual_kernel_size"] - 1) * dilation + 1 > 65_536:
            raise bad("dilation_growth_rate", "with residual_kernel_size and num_residual_layers it makes a "
                                              "kernel longer than 65536 samples")
        overlap = c["overlap"]
        if overlap is not None and (_number(overlap) is None or not 0 <= overlap < 1):
            raise bad("overlap", "it must be null or from 0 to 1")
        if c["normalize"]:
            raise bad("normalize", "normalised encoding (a scale per chunk, facebook/encodec_48khz) is not "
                                   "supported yet")
        if c["chunk_length_s"] is not None:
            raise bad("chunk_length_s", "chunked encoding (facebook/encodec_48khz) is not supported yet; "
                                        "expected null")
        config = cls(**ints, upsampling_ratios=tuple(ratios), norm_type=c["norm_type"],
                     use_causal_conv=c["use_causal_conv"], pad_mode=c["pad_mode"], trim_right_ratio=trim,
                     use_conv_shortcut=c["use_conv_shortcut"], target_bandwidths=tuple(bands))
        if config.widest > MAX_WIDTH:
            raise bad("num_filters", f"with {len(ratios)} upsampling ratios it makes {config.widest} channels "
                                     f"(at most {MAX_WIDTH})")
        if config.frame_rate > MAX_FRAME_RATE:
            raise CheckpointError(f"{source}: sampling_rate {config.sampling_rate} over upsampling_ratios "
                                  f"{list(config.upsampling_ratios)} (a hop of {config.hop_length} samples) makes "
                                  f"{config.frame_rate} frames of codes a second; at most {MAX_FRAME_RATE} (published "
                                  f"EnCodecs make 50 to 150)")
        if config.decode_bytes(LONGEST_SECONDS) > MAX_DECODE_BYTES:
            raise CheckpointError(f"{source}: sampling_rate, upsampling_ratios, num_filters and hidden_size "
                                  f"({config.describe()}) make decoding {LONGEST_SECONDS} s take "
                                  f"{config.decode_bytes(LONGEST_SECONDS) / 2**30:.1f} GB in one tensor; at most "
                                  f"{MAX_DECODE_BYTES / 2**30:.0f} GB")
        if not 1 <= config.num_quantizers <= MAX_QUANTIZERS:
            raise bad("target_bandwidths", f"its last bandwidth makes {config.num_quantizers} codebooks "
                                           f"(expected 1 to {MAX_QUANTIZERS})")
        return config
