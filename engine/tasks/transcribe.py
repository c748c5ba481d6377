"""The transcription jobs: load (once) and run Whisper on one file, or on many files as one
batched job, with progress and cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.jobs import JobContext
from engine.models.registry import models as registry
from engine.models.whisper.transcribe import DEFAULT_BATCH, TranscribeOptions, WhisperPipeline
from engine.transcript import TranscriptionResult


def get_pipeline(model_path: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32,
                 compute_type: str | None = None) -> WhisperPipeline:
    """Whisper from the model registry (loaded once, kept between jobs: DESIGN.md §4).

    ``compute_type`` (None: ``dtype`` as given, ``"float32"``, ``"int8"`` on the CPU) is part of
    the key: an int8 model is a different model in memory.
    """
    return registry.get("whisper", str(model_path), device=str(device), dtype=dtype,
                        variant=str(compute_type or "default"),
                        load=lambda: WhisperPipeline(model_path, device=device, dtype=dtype, compute_type=compute_type))


def _should_stop(ctx: JobContext):
    def should_stop() -> bool:
        ctx.checkpoint()  # raises Cancelled; lets live transcription run first
        return False

    return should_stop


def transcribe_file(ctx: JobContext, audio_path: str, model_path: str, options: TranscribeOptions,
                    device: str = "cpu", dtype: torch.dtype = torch.float32,
                    compute_type: str | None = None) -> TranscriptionResult:
    """Job body (gpu lane): progress is the share of the audio done."""
    ctx.progress(None, "loading the model")
    pipeline = get_pipeline(model_path, device, dtype, compute_type)
    ctx.progress(0.0, f"transcribing with {pipeline.info['name']}", force=True)
    return pipeline.transcribe(audio_path, options, progress=lambda f: ctx.progress(f, "transcribing"),
                               should_stop=_should_stop(ctx))


@dataclass
class BatchTranscription:
    """What ``transcribe_files`` returns: a result or an error message per input path."""

    results: dict[str, TranscriptionResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def transcribe_files(ctx: JobContext, audio_paths: list[str], model_path: str, options: TranscribeOptions,
                     device: str = "cpu", dtype: torch.dtype = torch.float32, compute_type: str | None = None,
                     batch_size: int = DEFAULT_BATCH) -> BatchTranscription:
    """Job body (gpu lane): many files as one job, their windows encoded and decoded together
    (``WhisperPipeline.transcribe_many``). Progress is the mean of the files' progress; a file
    that cannot be read is reported in ``errors`` and the others go on; Cancel stops them all.
    (The Transcribe view still submits one job per file, for per-file progress and Cancel.)
    """
    ctx.progress(None, "loading the model")
    pipeline = get_pipeline(model_path, device, dtype, compute_type)
    paths = [str(p) for p in audio_paths]
    done = [0.0] * len(paths)
    out = BatchTranscription()

    def progress(index: int, fraction: float) -> None:
        done[index] = fraction
        finished = len(out.results) + len(out.errors)
        ctx.progress(sum(done) / max(len(paths), 1), f"transcribing: {finished} of {len(paths)} files done")

    ctx.progress(0.0, f"transcribing {len(paths)} files with {pipeline.info['name']}", force=True)
    for index, result in pipeline.transcribe_many(paths, options, batch_size, progress, _should_stop(ctx)):
        done[index] = 1.0
        if isinstance(result, Exception):
            out.errors[paths[index]] = str(result)
        else:
            out.results[paths[index]] = result
        progress(index, 1.0)
    return out
