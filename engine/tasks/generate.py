"""The Generate job: a prompt (and optionally audio to continue) becomes music with MusicGen, each
variation stored in the generation library with its prompt, model, seed and settings. The Generate
page submits ``generate_music`` on the gpu lane; ``motet generate`` calls ``make_music`` (``ctx``
None), writes the files it was asked for, then stores them.

Of an audio file only the part used is read: the last ``CONTINUE_SECONDS`` of the part to continue,
the start of a melody reference that the piece's windows reach (``melody_seconds``)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.generations import Generation, GenerationError, GenerationLibrary
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


def check_prompt(text: str) -> None:
    """ValueError naming the first part of ``text`` that is not text: a byte that is not UTF-8 (an
    argument decoded with ``surrogateescape`` holds it as a lone surrogate) or a lone surrogate."""
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            raise ValueError(f"the prompt is not valid text (byte 0x{code - 0xDC00:02x} is not UTF-8): "
                             f"retype it, or set the terminal to UTF-8")
        if 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"the prompt is not valid text (a lone surrogate, U+{code:04X})")


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
    """The part of ``continue_from`` that MusicGen continues, (channels, N) and its rate: the last
    ``CONTINUE_SECONDS`` of [continue_start, continue_end], read alone (not the whole file)."""
    if not request.continue_from:
        return None
    from engine.audio.files import audio_info, load_audio
    from engine.models.musicgen.pipeline import CONTINUE_SECONDS

    name = Path(request.continue_from).name
    for what, value in (("start", request.continue_start), ("end", request.continue_end)):
        if value is not None and not math.isfinite(value):
            raise ValueError(f"the {what} of the part of '{name}' to continue must be a number of seconds, not {value}")
    info = audio_info(request.continue_from, whole=False)  # AudioFileError names a damaged file
    rate = info.sample_rate
    start = min(round(max(0.0, request.continue_start) * rate), info.frames)
    end = info.frames if request.continue_end is None else min(info.frames, round(request.continue_end * rate))
    if end - start < rate // 10:
        raise ValueError(f"the part of '{name}' to continue is shorter than 0.1 s "
                         f"(the file has {info.frames / rate:.1f} s)")
    first = max(start, end - round(CONTINUE_SECONDS * rate))
    part, rate = load_audio(request.continue_from, start=first / rate, end=end / rate)
    if float(np.abs(part).max()) < 1e-4:
        raise ValueError(f"the part of '{name}' to continue is silent: choose a part with sound")
    return part.T, rate


def _melody(request: GenerateRequest) -> tuple[np.ndarray, int] | None:
    """The start of ``melody_from`` that a piece of ``request.seconds`` follows, (channels, N) and
    its rate; the rest of a longer file is not read."""
    if not request.melody_from:
        return None
    from engine.audio.files import load_audio
    from engine.models.musicgen.pipeline import melody_seconds

    audio, rate = load_audio(request.melody_from, end=melody_seconds(request.seconds))
    return audio.T, rate


@dataclass
class Made:
    """Generated music not yet stored: ``audio`` (variations, channels, N) float32 at ``sample_rate``."""

    audio: np.ndarray
    sample_rate: int
    prompt: str
    model: str
    seed: int
    settings: list[dict]  # one per variation

    def generation(self, index: int) -> Generation:
        """Variation ``index`` described (for a file's tags; not in any library)."""
        clip = self.audio[index]
        return Generation("", self.prompt, self.model, self.seed, clip.shape[-1] / self.sample_rate,
                          self.sample_rate, clip.shape[0], time.time(), dict(self.settings[index]))

    def store(self, library: GenerationLibrary, index: int) -> Generation:
        """Variation ``index`` kept in ``library`` (GenerationError when it cannot be)."""
        return library.add(self.audio[index], self.sample_rate, self.prompt, self.model, self.seed,
                           self.settings[index])


def make_music(ctx: JobContext | None, folder: str | Path, request: GenerateRequest, device: str = "cpu",
               dtype=None, report: Callable[[float | None, str], None] | None = None) -> Made:
    """``request.variations`` pieces in one batch, not stored. A bad request is a ValueError (an
    unreadable input an AudioFileError) before the model loads. Progress goes to the job (``ctx``)
    or, without one (the CLI), to ``report(fraction, message)``."""
    from engine.models.musicgen.options import SEED_MAX, check_options
    from engine.models.t5.tokenizer import MAX_LENGTH as TOKEN_LIMIT  # what T5 reads of a prompt

    r = request
    check_prompt(r.prompt)
    check_options(r.seconds, r.guidance, r.temperature, r.top_k, r.top_p, r.variations, r.seed)
    seed = r.seed if r.seed is not None else random.randint(0, SEED_MAX)
    continuation = _continuation(r)
    notes = {} if r.prompt.strip() else {"unconditional": True}  # no prompt: music from nothing, labelled so
    melody = _melody(r)
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
    settings = [{**r.settings(), **notes, **({"variation": index + 1, "variations": r.variations}
                                             if r.variations > 1 else {})} for index in range(len(audio))]
    return Made(np.asarray(audio, dtype=np.float32), model.sample_rate, r.prompt, model.name, seed, settings)


def generate_music(ctx: JobContext | None, folder: str | Path, request: GenerateRequest, device: str = "cpu",
                   dtype=None, library: GenerationLibrary | None = None,
                   report: Callable[[float | None, str], None] | None = None) -> list[Generation]:
    """Job body (gpu lane): ``make_music``, each variation stored in ``library`` (default: the data
    folder's); the stored results. A result that cannot be stored is a GenerationError that names
    the seed, so that it can be made again."""
    made = make_music(ctx, folder, request, device, dtype, report)
    library = library or GenerationLibrary()
    try:
        return [made.store(library, index) for index in range(len(made.audio))]
    except GenerationError as exc:
        raise GenerationError(f"{exc} (seed {made.seed}: the same seed and settings make it again)") from exc
