"""The live transcription job: read the recording as it is captured, transcribe it as it grows.

It runs on the ``live`` lane (its own worker, for as long as the recording lasts). Model work
never runs here: loading and every decoding pass are LIVE-priority steps on the gpu lane
(``JobQueue.run_step``), so a file transcription running there lets them through at its next
decoding step. The job ends when the recording stops (the ring buffer is closed and drained):
the rest is transcribed and the final transcript returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.audio.dsp import StreamResampler
from engine.audio.ringbuffer import Reader
from engine.audio.vad import SAMPLE_RATE
from engine.jobs import JobContext, JobQueue
from engine.live.transcriber import LiveOptions, LiveUpdate, StreamingTranscriber
from engine.tasks.transcribe import get_pipeline
from engine.transcript import TranscriptionResult, write_transcript


def load_model(model_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32,
               compute_type: str | None = None):
    """The model live transcription uses, loaded (or found loaded). Called before a recording
    starts, so a model that cannot load stops it before anything is recorded; the job then finds
    it loaded (models stay loaded between jobs)."""
    return get_pipeline(model_path, device, dtype, compute_type)


def live_transcribe(ctx: JobContext, queue: JobQueue, reader: Reader, sample_rate: int, model_path: str,
                    options: LiveOptions | None = None, device: str = "cpu", dtype: torch.dtype = torch.float32,
                    on_update: Callable[[LiveUpdate], None] | None = None,
                    save_to: str | Path | None = None, stop: threading.Event | None = None,
                    compute_type: str | None = None) -> TranscriptionResult:
    """Job body. ``reader`` must have been taken before capture started (nothing is missed).

    ``on_update`` gets every new snapshot (from this thread). ``save_to``: the transcript so far
    is written there (JSON, atomically) whenever a segment is finished, so a crash keeps it.
    ``stop``: end early (the transcript so far is flushed and returned, as at the end).
    ``compute_type``: as for file transcription (``"int8"`` on the CPU: cheaper passes); the same
    choice as the Transcribe view's lets both share one loaded model.
    """
    ctx.progress(None, "loading the model", force=True)
    pipeline = queue.run_step(lambda: load_model(model_path, device, dtype, compute_type), title="load model")
    ctx.progress(None, "starting voice activity detection")
    transcriber = StreamingTranscriber(pipeline.model, pipeline.tokenizer, options,
                                       run=lambda fn: queue.run_step(fn, title="live decode"),
                                       model_name=pipeline.info["name"])
    resampler = StreamResampler(sample_rate, SAMPLE_RATE)
    saved = 0

    def publish(update: LiveUpdate) -> None:
        nonlocal saved
        if on_update is not None:
            on_update(update)
        if save_to is not None and (len(update.segments) != saved or update.revised):
            write_transcript(transcriber.result(), save_to, "json")
            saved = len(update.segments)
        n = len(update.segments)
        damaged = transcriber.stats.non_finite  # the input sent NaN/infinity: say so, it is heard as silence
        ctx.progress(None, f"listening · {format_seconds(update.audio_seconds)} · {n} segment{'s' * (n != 1)}"
                     + (f" · {damaged} damaged samples heard as silence" if damaged else ""))

    ctx.progress(None, "listening", force=True)
    while not (stop is not None and stop.is_set()):
        ctx.checkpoint()
        block = reader.read(timeout=0.0 if transcriber.pending() else 0.05)
        if len(block):
            transcriber.feed(resampler.push(mono(block)))
        elif reader.exhausted:
            break
        if reader.closed:
            continue  # recording stopped: take the rest in, then finish() transcribes it in one go
        if transcriber.pending():
            update = transcriber.step()
            if update is not None:
                publish(update)
    ctx.progress(None, "finishing the transcript", force=True)
    transcriber.feed(resampler.flush())
    publish(transcriber.finish())
    result = transcriber.result()
    if save_to is not None:
        write_transcript(result, save_to, "json")
    return result


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def mono(block: np.ndarray) -> np.ndarray:
    return block.mean(axis=1) if block.ndim == 2 and block.shape[1] > 1 else block.reshape(-1)
