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
    compute_type: str = "float32"  # or "int8" (the language model, on the CPU; checked on first use)

    def settings(self) -> dict:
        """What the result remembers beside prompt, model and seed."""
        out = {"guidance": self.guidance, "temperature": self.temperature, "top_k": self.top_k,
               "top_p": self.top_p}
        if self.compute_type != "float32":
            out["compute"] = self.compute_type
        if self.continue_from:
            out["continued_from"] = Path(self.continue_from).name
        if self.melody_from:
            out["melody_from"] = Path(self.melody_from).name
        return out


CHECK_PROMPT = "an upbeat pop song with drums, bass and a bright synth melody"


def _load(folder: str | Path, device: str, dtype, compute_type: str):
    """MusicGen, its language model in int8 when asked and when int8 keeps its next-token
    distributions within ``MAX_KL_NATS`` of float32's on a fixed prompt (else a CheckpointError)."""
    import copy

    import torch

    from engine.models.common.errors import CheckpointError
    from engine.models.musicgen.pipeline import MusicGen
    from engine.models.musicgen.quantize import MAX_KL_NATS, int8_agreement, quantize_lm_int8

    model = MusicGen(folder, device, dtype)
    if compute_type == "int8":
        quantized = quantize_lm_int8(copy.deepcopy(model.lm))
        ids, mask = model.tokenizer.encode([CHECK_PROMPT])
        with torch.inference_mode():
            states = model.text_encoder(ids.to(model.device), mask.to(model.device))
        kl = int8_agreement(model.lm, quantized, states, mask)
        if kl > MAX_KL_NATS:
            raise CheckpointError(f"int8 moves {model.name}'s predictions too far from float32 (KL {kl:.3f} nats, "
                                  f"more than {MAX_KL_NATS}): use float32 for this model")
        model.lm = quantized
    return model


def musicgen(folder: str | Path, device: str = "cpu", dtype=None, compute_type: str = "float32"):
    """The MusicGen in ``folder``, from the model registry (loaded once, kept between jobs)."""
    import torch

    from engine.models.registry import models

    if compute_type not in ("float32", "int8"):
        raise ValueError(f"compute type must be float32 or int8, not {compute_type!r}")
    if compute_type == "int8" and str(device) != "cpu":
        raise ValueError("int8 compute runs on the CPU only; on a GPU MusicGen runs in its own precision")
    dtype = dtype or torch.float32
    if compute_type == "int8":
        dtype = torch.float32
    return models.get("musicgen", str(Path(folder).resolve()),
                      load=lambda: _load(folder, device, dtype, compute_type), device=device, dtype=dtype,
                      variant=compute_type)


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
    part = audio[start:end]
    if float(np.abs(part).max()) < 1e-4:
        raise ValueError(f"the part of '{Path(request.continue_from).name}' to continue is silent: "
                         f"choose a part with sound")
    return part.T, rate


def generate_music(ctx: JobContext | None, folder: str | Path, request: GenerateRequest, device: str = "cpu",
                   dtype=None, library: GenerationLibrary | None = None,
                   report: Callable[[float | None, str], None] | None = None) -> list[Generation]:
    """Job body (gpu lane): ``request.variations`` pieces in one batch, stored in ``library``
    (default: the data folder's); the stored results, one per variation. Progress goes to the
    job (``ctx``) or, without one (the CLI), to ``report(fraction, message)``."""
    from engine.models.musicgen.options import SEED_MAX, check_options
    from engine.models.t5.tokenizer import MAX_LENGTH as TOKEN_LIMIT  # what T5 reads of a prompt

    r = request
    check_options(r.seconds, r.guidance, r.temperature, r.top_k, r.top_p, r.variations, r.seed)
    seed = r.seed if r.seed is not None else random.randint(0, SEED_MAX)
    continuation = _continuation(r)
    notes = {} if r.prompt.strip() else {"unconditional": True}  # no prompt: music from nothing, labelled so
    melody = None
    if r.melody_from:
        from engine.audio.files import load_audio

        audio, rate = load_audio(r.melody_from)
        melody = (audio.T, rate)
    report = ctx.progress if ctx is not None else report or (lambda fraction, message: None)
    report(None, "loading MusicGen")
    model = musicgen(folder, device, dtype, r.compute_type)
    tokens = int(model.tokenizer.encode([r.prompt], max_length=None)[1].sum())
    if tokens > TOKEN_LIMIT:
        notes["prompt_truncated_to_tokens"] = TOKEN_LIMIT
        report(None, f"the prompt is {tokens} tokens long; MusicGen reads the first {TOKEN_LIMIT}")
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
        settings = {**r.settings(), **notes, **({"variation": index + 1, "variations": r.variations}
                                        if r.variations > 1 else {})}
        stored.append(library.add(clip, model.sample_rate, r.prompt, model.name, seed, settings))
    return stored
