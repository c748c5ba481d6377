"""Continue a motif: the prompt's notes become events, the model samples what follows (with the
KV cache, so each token costs one incremental step), and the events become notes again, placed
after the prompt in the score's own tempo.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

from engine.midi.score import Note, Score
from engine.models.common.checkpoints import assign_weights, check_state_dict, load_safetensors, on_meta
from engine.models.common.errors import CheckpointError
from engine.models.common.sampling import mask_tokens, sample, seeded_generator
from engine.models.music_transformer.events import (
    BOS,
    EOS,
    PAD,
    STEP_SECONDS,
    TIME_SHIFT,
    VELOCITY,
    TimedNote,
    events_to_notes,
    notes_to_events,
)
from engine.models.music_transformer.model import MusicTransformer, read_config
from engine.models.music_transformer.options import (  # noqa: F401 - the limits, re-exported for callers
    BARS,
    MAX_CACHE_BYTES,
    PERFORMANCE_EVENTS,
    SEED_MAX,
    TEMPERATURE,
    TOP_P,
    VARIATIONS,
    check_range,
)

ASSET_DIR = Path(__file__).resolve().parents[3] / "assets" / "music_transformer"


def check_options(bars: float, variations: int, temperature: float, top_p: float) -> None:
    """The Continue options within the limits the CLI and the GUI use (ValueError naming the option)."""
    check_range("bars", bars, BARS)
    check_range("variations", variations, VARIATIONS)
    check_range("temperature", temperature, TEMPERATURE)
    check_range("top-p", top_p, TOP_P)


def detect_folder(folder: Path) -> str:
    """``"safetensors"`` when ``folder`` holds a Music Transformer (a usable config.json beside
    model.safetensors); a CheckpointError saying what is missing otherwise. Reads no weights."""
    try:
        read_config(folder)  # a regular file, bounded, read as data
    except CheckpointError as exc:
        raise CheckpointError(f"{folder} is not a Music Transformer folder: {exc}") from None
    if not (Path(folder) / "model.safetensors").is_file():
        raise CheckpointError(f"{folder} is not a Music Transformer folder: model.safetensors is missing")
    return "safetensors"


def load_model(folder: str | Path = ASSET_DIR, device: str = "cpu", dtype: torch.dtype = torch.float32,
               vocabulary: str = PERFORMANCE_EVENTS) -> MusicTransformer:
    """``folder`` holds model.safetensors and config.json (what training and the assets ship);
    a CheckpointError names the file when either cannot be used, or when its tokens are not
    ``vocabulary`` (a composer model is not a Music Transformer for Continue, and the reverse)."""
    folder = Path(folder)
    config_path = folder / "config.json"
    what = "Music Transformer" if vocabulary == PERFORMANCE_EVENTS else "composer model"
    if not config_path.exists():
        raise CheckpointError(f"no {what} in {folder}: config.json is missing")
    config = read_config(folder)  # a regular file, bounded (a FIFO is named, never waited on)
    if config.vocabulary != vocabulary:
        raise CheckpointError(f"{config_path} describes a model of {config.vocabulary!r} tokens, not {vocabulary!r}")
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"no {what} in {folder}: {weights} is missing")
    tensors = load_safetensors(weights)
    model = on_meta(lambda: MusicTransformer(config))
    expected = {name: t.shape for name, t in model.state_dict().items()}
    check_state_dict(expected, tensors, str(weights), f"the {what} its config.json describes")
    return assign_weights(model, tensors, str(weights), device=device, dtype=dtype)


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None) -> torch.Tensor:
    """(B, V) logits → (B,) tokens: temperature, then nucleus (top-p) sampling; PAD and BOS never."""
    return sample(mask_tokens(logits.float(), (PAD, BOS)), temperature, top_p=top_p, generator=generator)


@torch.inference_mode()
def generate(model: MusicTransformer, prompt: list[int], seconds: float, variations: int = 1,
             temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None, use_cache: bool = True,
             progress: Callable[[float], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> list[list[int]]:
    """Sample ``variations`` continuations of ``prompt`` until each has advanced ``seconds`` of
    time (or ended, or filled the model's context). Returns the new tokens of each."""
    finite = math.isfinite(seconds) and math.isfinite(temperature)
    if not (finite and variations >= 1 and seconds >= 0 and temperature >= 0 and 0 < top_p <= 1):
        raise ValueError(f"cannot sample {variations} variation(s) of {seconds} s at temperature {temperature} "
                         f"and top-p {top_p}")
    if model.cache_bytes(variations) > MAX_CACHE_BYTES:  # before allocating it
        raise ValueError(f"{variations} variations would need {model.cache_bytes(variations) / 2**30:.1f} GiB of "
                         f"memory for this model's cache, more than {MAX_CACHE_BYTES / 2**30:g} GiB: ask for fewer")
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be between 0 and {SEED_MAX}, not {seed}")
    device = model.device
    limit = model.cfg.max_len
    prompt = prompt[-(limit // 2):]
    generator = seeded_generator(seed)
    batch = torch.tensor([prompt] * variations, device=device)
    cache = model.new_cache(variations) if use_cache else None
    logits = model(batch, cache)[:, -1]
    steps_wanted = round(seconds / STEP_SECONDS)
    elapsed = [0] * variations
    done = [False] * variations
    out: list[list[int]] = [[] for _ in range(variations)]
    sequence = batch  # the whole sequence is kept only without a cache (each step re-reads it)
    length = len(prompt)
    while not all(done) and length < limit:
        if should_stop is not None and should_stop():
            from engine.cancel import Cancelled

            raise Cancelled()
        nxt = sample_next(logits, temperature, top_p, generator).cpu()
        for b, t in enumerate(nxt.tolist()):
            if done[b]:
                continue
            if t == EOS:
                done[b] = True
                continue
            out[b].append(t)
            if TIME_SHIFT <= t < VELOCITY:
                elapsed[b] += t - TIME_SHIFT + 1
                if elapsed[b] >= steps_wanted:
                    done[b] = True
        if progress:
            progress(min(1.0, min(elapsed) / max(steps_wanted, 1)))
        step_tokens = nxt[:, None].to(device)
        length += 1
        if use_cache:
            logits = model(step_tokens, cache)[:, -1]
        else:
            sequence = torch.cat([sequence, step_tokens], dim=1)
            logits = model(sequence)[:, -1]
    return out


def continue_notes(model: MusicTransformer, score: Score, prompt_notes: list[Note], bars: float = 4,
                   variations: int = 1, temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                   progress=None, should_stop=None) -> list[list[Note]]:
    """Continuations of ``prompt_notes`` (notes of ``score``), each a list of Notes placed after
    the prompt, lasting up to ``bars`` bars in the score's tempo and time signature."""
    check_options(bars, variations, temperature, top_p)
    if not prompt_notes:
        raise ValueError("there is nothing to continue: select notes or use a track with notes")
    origin = min(n.start for n in prompt_notes)
    origin_s = score.seconds_at(origin)
    timed = [TimedNote(score.seconds_at(n.start) - origin_s, score.seconds_at(n.end) - origin_s, n.pitch, n.velocity)
             for n in prompt_notes]
    prompt = [BOS] + notes_to_events(timed)
    prompt_end_tick = max(n.end for n in prompt_notes)
    end_tick = prompt_end_tick + round(bars * score.ticks_per_bar)
    seconds = score.seconds_at(end_tick) - score.seconds_at(prompt_end_tick)
    sequences = generate(model, prompt, seconds, variations, temperature, top_p, seed,
                         progress=progress, should_stop=should_stop)
    results = []
    for new in sequences:
        notes = events_to_notes(prompt[1:] + new)
        prompt_steps = sum(t - TIME_SHIFT + 1 for t in prompt if TIME_SHIFT <= t < VELOCITY)
        out = []
        for n in notes:
            if round(n.start / STEP_SECONDS) < prompt_steps:
                continue  # the prompt's own notes
            start = round(score.tick_at(origin_s + n.start))
            end = min(round(score.tick_at(origin_s + n.end)), end_tick)
            if start < prompt_end_tick - 1 or start >= end_tick:
                continue
            out.append(Note(max(start, 0), n.pitch, max(1, end - start), n.velocity))
        results.append(sorted(out))
    return results
