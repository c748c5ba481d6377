"""The Generate job: a prompt (and optionally audio to continue) becomes music with MusicGen, each
variation stored in the generation library with its prompt, model, seed and settings. The Generate
page submits it on the gpu lane; ``motet generate`` calls the same function (``ctx`` None)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.generations import Generation, GenerationLibrary
from engine.jobs import JobContext


@dataclass
class GenerateRequest:
    """Everything a generation needs; the seed is drawn here when None, and kept with the result."""

    prompt: str
    seconds: float = 10.0
    guidance: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    seed: int | None = None
    variations: int = 1
    continue_from: str | None = None  # an audio file (a take or any file) to continue
    continue_start: float = 0.0  # the part of it to use, in seconds
    continue_end: float | None = None
    melody_from: str | None = None  # an audio file whose tune a melody model follows

    def settings(self) -> dict:
        """What the result remembers beside prompt, model and seed."""
        out = {"guidance": self.guidance, "temperature": self.temperature, "top_k": self.top_k,
               "top_p": self.top_p}
        if self.continue_from:
            out["continued_from"] = Path(self.continue_from).name
        if self.melody_from:
            out["melody_from"] = Path(self.melody_from).name
        return out


def musicgen(folder: str | Path, device: str = "cpu", dtype=None):
    """The MusicGen in ``folder``, from the model registry (loaded once, kept between jobs)."""
    import torch

    from engine.models.musicgen.pipeline import MusicGen
    from engine.models.registry import models

    dtype = dtype or torch.float32
    return models.get("musicgen", str(Path(folder).resolve()), load=lambda: MusicGen(folder, device, dtype),
                      device=device, dtype=dtype)


def _continuation(request: GenerateRequest) -> tuple[np.ndarray, int] | None:
    if not request.continue_from:
        return None
    from engine.audio.files import load_audio

    audio, rate = load_audio(request.continue_from)  # AudioFileError names a damaged file
    start = round(max(0.0, request.continue_start) * rate)
    end = audio.shape[0] if request.continue_end is None else min(audio.shape[0], round(request.continue_end * rate))
    if end - start < rate // 10:
        raise ValueError(f"the part of '{Path(request.continue_from).name}' to continue is shorter than 0.1 s "
                         f"(the file has {audio.shape[0] / rate:.1f} s)")
    return audio[start:end].T, rate


def generate_music(ctx: JobContext | None, folder: str | Path, request: GenerateRequest, device: str = "cpu",
                   dtype=None, library: GenerationLibrary | None = None,
                   report: Callable[[float | None, str], None] | None = None) -> list[Generation]:
    """Job body (gpu lane): ``request.variations`` pieces in one batch, stored in ``library``
    (default: the data folder's); the stored results, one per variation. Progress goes to the
    job (``ctx``) or, without one (the CLI), to ``report(fraction, message)``."""
    from engine.models.musicgen.options import SEED_MAX, check_options

    r = request
    check_options(r.seconds, r.guidance, r.temperature, r.top_k, r.top_p, r.variations, r.seed)
    if not r.prompt.strip() and not r.continue_from:
        raise ValueError("type a prompt (or choose audio to continue)")
    seed = r.seed if r.seed is not None else random.randint(0, SEED_MAX)
    continuation = _continuation(r)
    melody = None
    if r.melody_from:
        from engine.audio.files import load_audio

        audio, rate = load_audio(r.melody_from)
        melody = (audio.T, rate)
    report = ctx.progress if ctx is not None else report or (lambda fraction, message: None)
    report(None, "loading MusicGen")
    model = musicgen(folder, device, dtype)
    started = time.monotonic()
    total_steps = max(1, round(r.seconds * model.frame_rate))

    def progress(fraction: float) -> None:
        elapsed = time.monotonic() - started
        rate = fraction * total_steps / elapsed if elapsed > 0 else 0.0
        left = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        report(fraction, f"{rate:.1f} steps/s" + (f", {left:.0f} s left" if left is not None else ""))

    def should_stop() -> bool:
        if ctx is not None:
            ctx.checkpoint()  # raises Cancelled; lets an urgent job (live transcription) run first
        return False

    audio = model.generate([r.prompt] * r.variations, r.seconds, r.guidance, r.temperature, r.top_k, r.top_p,
                           seed, continuation, melody, progress=progress, should_stop=should_stop)
    library = library or GenerationLibrary()
    stored = []
    for index, clip in enumerate(audio):
        settings = {**r.settings(), **({"variation": index + 1, "variations": r.variations}
                                        if r.variations > 1 else {})}
        stored.append(library.add(clip, model.sample_rate, r.prompt, model.name, seed, settings))
    return stored
