"""Job bodies behind the views that show a whole recording (cpu lane): a file's or a generated
result's samples, mono mix and max-pooled spectrogram, computed off the GUI thread so that a long
file never freezes the window. The views pass how many spectrogram columns they draw."""

from __future__ import annotations

import numpy as np

from engine.audio.dsp import pooled_spectrogram
from engine.audio.files import audio_info, load_audio
from engine.audio.generations import GenerationLibrary
from engine.jobs import JobContext


def load_for_display(ctx: JobContext, path: str, scale: str, max_columns: int):
    """A file's info, samples (frames, channels), rate, mono mix and pooled spectrogram."""
    info = audio_info(path)
    ctx.progress(0.3, "reading")
    audio, sr = load_audio(path)
    ctx.checkpoint()
    ctx.progress(0.7, "spectrogram")
    mono = audio.mean(axis=1, dtype=np.float32)
    return info, audio, sr, mono, pooled_spectrogram(mono, sr, scale, max_columns)


def load_generation_preview(ctx: JobContext, library: GenerationLibrary, generation_id: str, scale: str,
                            max_columns: int):
    """A generated result's audio (frames, channels), rate, mono mix and pooled spectrogram."""
    audio, rate = library.audio(generation_id)
    ctx.checkpoint()
    mono = audio.mean(axis=0, dtype=np.float32)
    return np.ascontiguousarray(audio.T), rate, mono, pooled_spectrogram(mono, rate, scale, max_columns)
