"""Whisper's dimensions, as published (openai/whisper ``ModelDimensions``), plus what decoding
needs from a checkpoint: alignment heads, suppressed tokens, language and task tokens."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WhisperConfig:
    n_mels: int = 80
    n_audio_ctx: int = 1500
    n_audio_state: int = 384
    n_audio_head: int = 6
    n_audio_layer: int = 4
    n_vocab: int = 51864
    n_text_ctx: int = 448
    n_text_state: int = 384
    n_text_head: int = 6
    n_text_layer: int = 4
    # (layer, head) pairs of the decoder's cross-attention that follow the audio timing
    alignment_heads: list[tuple[int, int]] = field(default_factory=list)
    suppress_tokens: list[int] = field(default_factory=list)
    begin_suppress_tokens: list[int] = field(default_factory=list)
    name: str = "whisper"

    @property
    def is_multilingual(self) -> bool:
        return self.n_vocab >= 51865

    @property
    def num_languages(self) -> int:
        """99 languages up to large-v2, 100 from large-v3 (vocab 51866, adds Cantonese)."""
        return self.n_vocab - 51765 - int(self.is_multilingual)

    def default_alignment_heads(self) -> list[tuple[int, int]]:
        """Without heads from the checkpoint: the upper half of the decoder's layers, every head."""
        return [(layer, head) for layer in range(self.n_text_layer // 2, self.n_text_layer)
                for head in range(self.n_text_head)]
