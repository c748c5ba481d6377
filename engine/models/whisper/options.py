"""What a transcription can be asked for, and the limits of each option, in one place.

The CLI's parser (engine/cli/transcribe.py) and the GUI's widgets (gui/transcribe_view.py) take
their ranges from here, so a value one accepts the other accepts too (DESIGN.md §8). No torch
here: building the command line's parser must stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BEAM_SIZE = 10  # beams (and sampled candidates) per window: memory and time grow with it
MAX_BATCH = 32  # windows decoded together at most (memory caps it further: transcribe.batch_limit)
DEFAULT_BATCH = 8  # measured: see benchmarks/transcribe.py and README
COMPUTE_TYPES = ("float32", "int8")  # besides the device's default precision


@dataclass
class TranscribeOptions:
    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 5
    best_of: int = 5
    patience: float = 1.0
    length_penalty: float | None = None
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    initial_prompt: str | None = None
    word_timestamps: bool = False
    prepend_punctuations: str = "\"'“¿([{-"
    append_punctuations: str = "\"'.。,，!！?？:：”)]}、"
    suppress_tokens: str = "-1"
    without_timestamps: bool = False
    silence_gate_db: float | None = 40.0  # skip windows this far below the file's loudest moment

    def __post_init__(self) -> None:
        """Whoever builds the options (CLI, GUI, a script), a beam outside the limits is refused."""
        for name in ("beam_size", "best_of"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BEAM_SIZE:
                raise ValueError(f"{name} must be a whole number from 1 to {MAX_BEAM_SIZE}, not {value!r}")
        if self.task not in ("transcribe", "translate"):
            raise ValueError(f"task must be transcribe or translate, not {self.task!r}")
