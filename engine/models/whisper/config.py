"""Whisper's dimensions, as published (openai/whisper ``ModelDimensions``), plus what decoding
needs from a checkpoint: alignment heads, suppressed tokens, language and task tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.models.common.errors import shown

# What a config may ask for, checked before anything is built from it (a crafted or damaged
# config.json must not make Motet allocate gigabytes or crash in torch). Far above every
# published Whisper (large-v3: 128 mel bins, d_model 1280, 32 + 32 layers of 20 heads,
# vocabulary 51866, 448 text positions); the audio context is 1500 positions (30 s) by design.
DIMENSION_LIMITS = {
    "n_mels": 512, "n_audio_ctx": 1500, "n_audio_state": 8192, "n_audio_head": 256, "n_audio_layer": 128,
    "n_vocab": 262_144, "n_text_ctx": 4096, "n_text_state": 8192, "n_text_head": 256, "n_text_layer": 128,
}
MAX_PARAMETERS = 4_000_000_000  # about 16 GB in float32; large-v3 has 1.55 G


def dimension_problem(value, high: int) -> bool:
    """Whether ``value`` (as read from a file) is not a whole number from 1 to ``high``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high


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

    def n_parameters(self) -> int:
        """How many parameters a model of this config has (the convolutions, attention, MLP and
        embeddings), computed without building it."""
        d, dt = self.n_audio_state, self.n_text_state
        encoder = 3 * d * (self.n_mels + d) + self.n_audio_layer * 12 * d * d
        decoder = (self.n_vocab + self.n_text_ctx) * dt + self.n_text_layer * 16 * dt * dt
        return encoder + decoder

    def check_alignment_heads(self, source: object) -> None:
        """CheckpointError naming ``source`` when an alignment head lies outside the decoder."""
        bad = [(layer, head) for layer, head in self.alignment_heads
               if not (0 <= layer < self.n_text_layer and 0 <= head < self.n_text_head)]
        if bad:
            from engine.models.common.errors import CheckpointError

            raise CheckpointError(f"{source}: alignment heads {bad[:4]} lie outside the decoder's "
                                  f"{self.n_text_layer} layers x {self.n_text_head} heads")

    def problems(self, names: dict[str, str] | None = None) -> list[str]:
        """What makes this config unbuildable or absurd, each in a few words (empty: fine).

        ``names`` maps our field names onto the file's (``n_audio_state`` -> ``d_model``), so
        the message speaks of what the person can see in their file."""
        names = names or {}
        wrong = [f"{names.get(key, key)} is {shown(getattr(self, key))}; it must be a whole number from 1 to {high}"
                 for key, high in DIMENSION_LIMITS.items() if dimension_problem(getattr(self, key), high)]
        if wrong:
            return list(dict.fromkeys(wrong))  # d_model is both widths in a Hugging Face config
        for state, head in (("n_audio_state", "n_audio_head"), ("n_text_state", "n_text_head")):
            width, heads = getattr(self, state), getattr(self, head)
            if width % 2:
                wrong.append(f"{names.get(state, state)} {width} is odd (the sinusoidal positions need an even width)")
            elif width % heads:
                wrong.append(f"{names.get(state, state)} {width} is not divisible by {names.get(head, head)} {heads}")
        if not wrong and self.n_parameters() > MAX_PARAMETERS:
            wrong.append(f"the model would have about {self.n_parameters() / 1e9:.1f} G parameters, more than "
                         f"the {MAX_PARAMETERS / 1e9:.0f} G Motet loads (the largest Whisper has 1.6 G)")
        return list(dict.fromkeys(wrong))

    def default_alignment_heads(self) -> list[tuple[int, int]]:
        """Without heads from the checkpoint: the upper half of the decoder's layers, every head."""
        return [(layer, head) for layer in range(self.n_text_layer // 2, self.n_text_layer)
                for head in range(self.n_text_head)]


MAX_TOKEN = 2**31 - 1


def _whole_numbers(values, what: str, source: object, low: int = -1) -> list[int]:
    from engine.models.common.errors import CheckpointError

    if values is None:
        return []
    if not isinstance(values, list):
        raise CheckpointError(f"{source}: {what} should be a list, found {shown(values)}")
    out = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None or isinstance(value, bool) or number != value and not isinstance(value, str) \
                or not low <= number <= MAX_TOKEN:
            raise CheckpointError(f"{source}: {what} holds {shown(value)}; expected whole numbers from {low} "
                                  f"to {MAX_TOKEN}")
        out.append(number)
    return out


def token_list(values, what: str, source: object) -> list[int]:
    """Token numbers from a config (``suppress_tokens``); CheckpointError naming ``what`` otherwise."""
    return _whole_numbers(values, what, source)


def head_pairs(values, what: str, source: object) -> list[tuple[int, int]]:
    """(layer, head) pairs from a config (``alignment_heads``); CheckpointError naming ``what`` otherwise."""
    from engine.models.common.errors import CheckpointError

    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, list) and len(v) == 2 for v in values):
        raise CheckpointError(f"{source}: {what} should be [layer, head] pairs, found {shown(values)}")
    flat = _whole_numbers([n for pair in values for n in pair], what, source, low=0)
    return list(zip(flat[0::2], flat[1::2]))
