"""The transcription job: load (once) and run Whisper on one file, with progress and cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from engine.jobs import JobContext
from engine.models.whisper.transcribe import TranscribeOptions, TranscriptionResult, WhisperPipeline

_pipelines: dict[tuple[str, str, str], WhisperPipeline] = {}
_lock = threading.Lock()


def get_pipeline(model_path: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> WhisperPipeline:
    """Models stay loaded between jobs (DESIGN.md §4); the last one asked for is kept."""
    key = (str(model_path), str(device), str(dtype))
    with _lock:
        if key not in _pipelines:
            _pipelines.clear()  # one Whisper at a time: free the previous one first
            _pipelines[key] = WhisperPipeline(model_path, device=device, dtype=dtype)
        return _pipelines[key]


def unload() -> None:
    with _lock:
        _pipelines.clear()


def transcribe_file(ctx: JobContext, audio_path: str, model_path: str, options: TranscribeOptions,
                    device: str = "cpu", dtype: torch.dtype = torch.float32) -> TranscriptionResult:
    """Job body (gpu lane): progress is the share of the audio done."""
    ctx.progress(None, "loading the model")
    pipeline = get_pipeline(model_path, device, dtype)
    ctx.progress(0.0, f"transcribing with {pipeline.info['name']}", force=True)

    def should_stop() -> bool:
        ctx.checkpoint()  # raises Cancelled; lets live transcription run first
        return False

    return pipeline.transcribe(audio_path, options, progress=lambda f: ctx.progress(f, "transcribing"),
                               should_stop=should_stop)
