"""The take jobs of the Record view: load a take's audio to play it, export it as WAV or FLAC
(both on the cpu lane, so a long take never freezes the window), and transcribe a take again
(gpu lane), replacing its stored transcript only once the new one is whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.audio.files import load_audio
from engine.audio.takes import TakeError, TakeLibrary
from engine.jobs import JobContext


def load_take(ctx: JobContext | None, library: TakeLibrary, take_id: str) -> tuple[np.ndarray, int]:
    """Job body: the take's samples (frames, channels) and rate, read and checked as any file."""
    return load_audio(library.get(take_id).path)


def export_take(ctx: JobContext | None, library: TakeLibrary, take_id: str, path: str | Path) -> str:
    """Job body: the take copied out as WAV or FLAC (by the suffix), atomically."""
    return str(library.export(take_id, path))


def retranscribe_take(ctx: JobContext, library: TakeLibrary, take_id: str, model_path: str | Path, options,
                      device: str = "cpu", dtype: torch.dtype = torch.float32, compute_type: str | None = None):
    """Job body (gpu lane): transcribe the take again with ``model_path`` and ``options`` (the
    Transcribe page's, or the CLI's) and store the result as its transcript; the one replaced is
    kept for Undo (``TakeLibrary.replace_transcript``). Anything that fails first (audio that
    cannot be read: TakeError; the model; Cancel) leaves the stored transcript as it was.
    Returns the new TranscriptionResult."""
    from engine.tasks.transcribe import transcribe_file

    take = library.check_audio(take_id)  # KeyError, TakeError: one line, before the model loads
    result = transcribe_file(ctx, take.path, str(model_path), options, device=device, dtype=dtype,
                             compute_type=compute_type)
    ctx.checkpoint()  # cancelled at the very end: still nothing replaced
    ctx.progress(1.0, "storing the transcript with the take", force=True)
    try:
        library.replace_transcript(take_id, result)
    except KeyError:
        raise TakeError(f"'{take.name}' was deleted meanwhile; its new transcript was not stored") from None
    return result
