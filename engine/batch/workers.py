"""One item of batch work and the worker that does it: the same class runs in this process and
inside a Ray actor, so a cluster runs exactly the code the desktop runs.

A worker loads its model once, through the model registry, when it is made; ``run`` does one
item and returns an ``Outcome`` — an item that fails for its own reasons (a corrupt file, a
model that fails on it at run time: torch's RuntimeError) comes back as an error, not an
exception, so the batch goes on. ``Cancelled`` is not caught: a stop ends the batch.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.models.whisper.options import TranscribeOptions


@dataclass(frozen=True)
class Piece:
    """A stretch of one audio file to transcribe (``end`` None: to the file's end)."""

    key: str
    index: int
    path: str
    start: float
    end: float | None
    seconds: float  # its length, for progress


@dataclass(frozen=True)
class Render:
    """One prompt to render (``variations`` pieces in one batch, from ``seed``)."""

    key: str
    prompt: str
    seed: int
    seconds: float


@dataclass
class Outcome:
    item: Piece | Render
    value: object = None  # a TranscriptionResult, or (audio (variations, channels, N), rate, model name, notes)
    error: str | None = None
    compute_seconds: float = 0.0
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


def _device(device: str | None):
    from engine.device import choose_device, choose_dtype

    chosen = choose_device(device)
    return str(chosen.torch_device), choose_dtype(chosen)


class TranscribeWorker:
    """Whisper on pieces of files. ``model`` is a name or folder resolved on the worker's own
    machine (a cluster node has its own model store)."""

    def __init__(self, model: str | None, options: TranscribeOptions, device: str | None = "auto",
                 compute_type: str | None = None) -> None:
        from engine.models.catalog import resolve_model
        from engine.tasks.transcribe import get_pipeline

        if compute_type == "int8" and device in (None, "auto"):
            device = "cpu"  # int8 runs on the CPU
        torch_device, dtype = _device(device)
        self.pipeline = get_pipeline(resolve_model(model), torch_device, dtype, compute_type)
        self.options = options

    def run(self, piece: Piece, should_stop: Callable[[], bool] | None = None) -> Outcome:
        from engine.audio.dsp import WHISPER_SAMPLE_RATE
        from engine.audio.files import AudioFileError, load_audio

        started = time.perf_counter()
        try:
            samples, _ = load_audio(piece.path, WHISPER_SAMPLE_RATE, mono=True, start=piece.start, end=piece.end)
            result = self.pipeline.transcribe(samples[:, 0], self.options, should_stop=should_stop)
        except (AudioFileError, OSError, ValueError) as exc:
            return Outcome(piece, error=str(exc), compute_seconds=time.perf_counter() - started)
        except RuntimeError as exc:  # torch's (non-finite values, out of memory): this item, not the batch
            return Outcome(piece, error=_model_failed("Whisper", exc), compute_seconds=time.perf_counter() - started)
        return Outcome(piece, result, compute_seconds=time.perf_counter() - started)


def _model_failed(model: str, exc: RuntimeError) -> str:
    """One line for a model that failed at run time (its first line: torch's messages run on)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "inf" in text and "nan" in text:
        return f"{model} failed on it: {text} (the model's weights may be damaged)"
    if "out of memory" in text.lower():
        return f"{model} ran out of memory on it: {text}"
    return f"{model} failed on it: {text}"


@dataclass(frozen=True)
class RenderSettings:
    """The Generate options a batch of prompts shares."""

    seconds: float = 10.0
    guidance: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    variations: int = 1
    compute_type: str = "float32"


class GenerateWorker:
    """MusicGen on prompts; ``model`` resolved on the worker's machine like Whisper's."""

    def __init__(self, model: str | None, settings: RenderSettings, device: str | None = "auto") -> None:
        from engine.models.catalog import resolve_model
        from engine.tasks.generate import musicgen

        if settings.compute_type == "int8" and device in (None, "auto"):
            device = "cpu"
        torch_device, dtype = _device(device)
        self.model = musicgen(resolve_model(model, family_name="musicgen"), torch_device, dtype, settings.compute_type)
        self.settings = settings

    def run(self, render: Render, should_stop: Callable[[], bool] | None = None) -> Outcome:
        from engine.models.t5.tokenizer import MAX_LENGTH as TOKEN_LIMIT

        s, started = self.settings, time.perf_counter()
        notes = {} if render.prompt.strip() else {"unconditional": True}
        try:
            if int(self.model.tokenizer.encode([render.prompt], max_length=None)[1].sum()) > TOKEN_LIMIT:
                notes["prompt_truncated_to_tokens"] = TOKEN_LIMIT
            audio = self.model.generate([render.prompt] * s.variations, s.seconds, s.guidance, s.temperature, s.top_k,
                                        s.top_p, render.seed, should_stop=should_stop)
        except ValueError as exc:
            return Outcome(render, error=str(exc), compute_seconds=time.perf_counter() - started)
        except RuntimeError as exc:  # torch's (non-finite weights, out of memory): this prompt, not the batch
            return Outcome(render, error=_model_failed("MusicGen", exc), compute_seconds=time.perf_counter() - started)
        return Outcome(render, (audio, self.model.sample_rate, self.model.name, notes),
                       compute_seconds=time.perf_counter() - started)
