"""The take jobs of the Record view: load a take's audio to play it, export it as WAV or FLAC.
Both run on the cpu lane, so a long take never freezes the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.audio.files import load_audio
from engine.audio.takes import TakeLibrary
from engine.jobs import JobContext


def load_take(ctx: JobContext | None, library: TakeLibrary, take_id: str) -> tuple[np.ndarray, int]:
    """Job body: the take's samples (frames, channels) and rate, read and checked as any file."""
    return load_audio(library.get(take_id).path)


def export_take(ctx: JobContext | None, library: TakeLibrary, take_id: str, path: str | Path) -> str:
    """Job body: the take copied out as WAV or FLAC (by the suffix), atomically."""
    return str(library.export(take_id, path))
