"""Sampling a piece from the composer: the controls as a prompt, then bars under a grammar.

The grammar (a mask on every step's logits) makes every sample a well-formed piece of exactly
the asked bars: each BAR token is the one that counts down to the end (``BAR_n``), a position
only moves forward inside its bar's length, a pitch is followed by its duration and a chord's
pitches rise, and EOS comes only in the last bar. Past the model's context the piece goes on
from a new prompt: the controls and the last bars (``_refill``). The model learnt every piece in C
(batches.py): it is asked for C in the asked mode, and what it composes is moved to the asked
tonic. The sampler multiplies in two priors: the asked key's (``with_key``) and, for Continue,
the motif's number of voices (``with_voices``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from engine.cancel import Cancelled
from engine.models.common.sampling import sample, seeded_generator
from engine.models.composer.controls import Controls, Key
from engine.models.composer.keys import MAJOR, MINOR, to_c
from engine.models.composer.tokens import (
    BAR0,
    BOS,
    DUR0,
    DURATIONS,
    EOS,
    HIGH_PITCH,
    LOW_PITCH,
    MAX_BARS,
    PAD,
    PITCH0,
    POS0,
    SEP,
    VOCAB_SIZE,
    BarNote,
    bar_ticks,
    body_tokens,
    control_tokens,
    decode,
    kind,
)
from engine.models.music_transformer.model import MusicTransformer

SEED_MAX = 2**63 - 1
VARIATIONS = (1, 8)
TEMPERATURE = (0.1, 2.0)
TOP_P = (0.5, 1.0)
# The weight of key_bias. The shipped model composes in C in the asked mode and the piece is moved
# to the asked tonic; of 200 pieces of ten prompts (benchmarks/compose_eval.py) 81.5 % were in the
# asked key (Krumhansl-Schmuckler) at 0, 90 % at 0.5, 99 % at 1; the style classifier recognised
# 52.5 %, 46 %, 45.5 % of them (10 % is chance). 1: the key nearly always, the styles still apart.
KEY_GUIDANCE = 1.0
# Continue's texture prior (``with_voices``): how much likelier (in logits) another note at this
# position is while fewer notes sound than the motif's mean, and how much less likely while more do.
TEXTURE_GUIDANCE = 3.0


@dataclass
class _Row:
    """Where one sequence is in the grammar."""

    bars: int  # the piece's length
    bar_length: int  # ticks
    started: int = 0  # bars begun
    position: int = -1  # the current position in the bar, -1 before any
    last: str = "SEP"  # the kind of the last token
    pitch: int = -1  # the last pitch at this position
    done: bool = False
    durations: int = len(DURATIONS)  # how many of DURATIONS (the shortest first) may be drawn
    lowest: int = LOW_PITCH  # the pitches that may be drawn
    highest: int = HIGH_PITCH
    now: int = 0  # the current position's tick from the piece's start
    ends: list[int] = field(default_factory=list)  # when the notes still sounding at ``now`` end

    @property
    def sounding(self) -> int:
        return sum(end > self.now for end in self.ends)

    def allowed(self) -> torch.Tensor:
        mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        if self.last == "POS":
            mask[PITCH0 + self.lowest - LOW_PITCH:PITCH0 + self.highest - LOW_PITCH + 1] = True
            return mask
        if self.last == "PITCH":
            mask[DUR0:DUR0 + self.durations] = True
            return mask
        if self.started < self.bars:
            mask[BAR0 + min(self.bars - self.started, MAX_BARS) - 1] = True
        elif self.last in ("BAR", "DUR"):
            mask[EOS] = True
        if self.last in ("BAR", "DUR"):
            mask[POS0 + self.position + 1:POS0 + self.bar_length] = True
        if self.last == "DUR" and self.pitch < self.highest:
            mask[PITCH0 + max(self.pitch + 1, self.lowest) - LOW_PITCH:PITCH0 + self.highest - LOW_PITCH + 1] = True
        return mask

    def advance(self, token: int) -> None:
        k = kind(token)
        if k == "BAR":
            self.started, self.position, self.pitch = self.started + 1, -1, -1
            self.now = (self.started - 1) * self.bar_length
        elif k == "POS":
            self.position, self.pitch = token - POS0, -1
            self.now = (self.started - 1) * self.bar_length + self.position
            self.ends = [end for end in self.ends if end > self.now]
        elif k == "PITCH":
            self.pitch = token - PITCH0 + LOW_PITCH
        elif k == "DUR":
            self.ends.append(self.now + DURATIONS[token - DUR0])
        elif k == "EOS":
            self.done = True
        self.last = k


def check_options(variations: int, temperature: float, top_p: float, seed: int | None) -> None:
    if isinstance(variations, bool) or not isinstance(variations, int) or not VARIATIONS[0] <= variations <= VARIATIONS[1]:
        raise ValueError(f"variations are {VARIATIONS[0]} to {VARIATIONS[1]}, not {variations!r}")
    if not (math.isfinite(temperature) and TEMPERATURE[0] <= temperature <= TEMPERATURE[1]):
        raise ValueError(f"temperature is {TEMPERATURE[0]} to {TEMPERATURE[1]}, not {temperature!r}")
    if not (math.isfinite(top_p) and TOP_P[0] <= top_p <= TOP_P[1]):
        raise ValueError(f"top-p is {TOP_P[0]} to {TOP_P[1]}, not {top_p!r}")
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise ValueError(f"the seed is 0 to {SEED_MAX}, not {seed}")


@torch.inference_mode()
def compose(model: MusicTransformer, controls: Controls, variations: int = 1, temperature: float = 1.0,
            top_p: float = 0.95, seed: int | None = None, prompt: list[BarNote] | None = None,
            conditioned: bool = True, with_style: bool = True, longest: int | None = None,
            key_guidance: float = KEY_GUIDANCE,
            pitches: tuple[int, int] = (LOW_PITCH, HIGH_PITCH), progress: Callable[[float], None] | None = None,
            should_stop: Callable[[], bool] | None = None, candidates: int = 1, polyphony: float | None = None,
            texture_guidance: float = TEXTURE_GUIDANCE) -> list[list[BarNote]]:
    """``variations`` pieces of ``controls.bars`` bars (one batch). ``prompt``: notes of the first
    bars, kept, the rest composed after them (Continue). ``conditioned=False`` gives the
    baseline model its empty prefix; ``with_style=False`` leaves the style unsaid (Continue: the
    notes say what they are, not which collection); ``longest``: no note longer (ticks);
    ``key_guidance``: the weight of the asked key's pitch profile (``key_bias``); ``pitches``: the
    lowest and highest that may be drawn. ``progress(fraction of bars)``; ``should_stop()`` before
    every step (``Cancelled``). ``candidates``: pieces drawn per variation, all returned
    (``variations * candidates``, one batch) for the caller to choose from (Continue).
    ``polyphony``: the mean notes sounding to keep to (Continue: the motif's), with the weight
    ``texture_guidance`` (``with_voices``)."""
    check_options(variations, temperature, top_p, seed)
    if not 1 <= candidates <= 16:
        raise ValueError(f"candidates are 1 to 16, not {candidates}")
    variations *= candidates
    # The model composes in C (its training pieces were moved there, batches.py): it is asked for
    # C in the asked mode, a prompt is moved to C first, and every piece is moved to the asked tonic.
    home = Key(0, controls.key.mode)
    shift = in_range(to_c(controls.key.tonic), [n.pitch for n in prompt or []])
    bias = key_bias(home, key_guidance).to(model.device)
    prefix = [BOS] + (control_tokens(replace(controls, key=home), style=with_style) if conditioned else []) + [SEP]
    prompt = moved(prompt, shift) if prompt else None
    body = body_tokens(sorted(prompt), controls.bars, 0, max(n.bar for n in prompt) + 1) if prompt else []
    allowed = len(DURATIONS) if longest is None else max(1, sum(d <= longest for d in DURATIONS))
    # pitches drawn in C that land on the piano (and in ``pitches``) once moved to the asked key
    lowest = max(max(pitches[0], LOW_PITCH) + shift, LOW_PITCH)
    highest = min(min(pitches[1], HIGH_PITCH) + shift, HIGH_PITCH)
    rows = [_Row(controls.bars, bar_ticks(controls.meter), durations=allowed, lowest=lowest, highest=highest)
            for _ in range(variations)]
    for row in rows:
        for token in body:
            row.advance(token)
    sequences = [list(body) for _ in range(variations)]
    generator = seeded_generator(seed)
    limit = model.cfg.max_len
    cache, logits = _refill(model, prefix, sequences, limit)
    while not all(row.done for row in rows):
        if should_stop is not None and should_stop():
            raise Cancelled("composing was stopped")
        masks = torch.stack([row.allowed() if not row.done else _only(PAD) for row in rows]).to(logits.device)
        guided = with_key(logits.float(), bias, masks)
        if polyphony is not None and texture_guidance:
            guided = with_voices(guided, [row.sounding for row in rows], polyphony, texture_guidance)
        chosen = sample(guided, temperature, top_p=top_p, generator=generator).cpu()
        for row, sequence, token in zip(rows, sequences, chosen.tolist()):
            if not row.done:
                row.advance(token)
                sequence.append(token)
        if progress is not None:
            progress(min(row.started for row in rows) / controls.bars)
        if cache.length + 1 >= limit:
            cache, logits = _refill(model, prefix, sequences, limit)
        else:
            logits = model(chosen[:, None].to(model.device), cache)[:, -1]
    return [moved([n for n in decode(sequence) if n.bar < controls.bars], -shift) for sequence in sequences]


def in_range(shift: int, pitches: list[int]) -> int:
    """``shift``, or an octave nearer, so that ``pitches`` moved by it stay on the piano."""
    if pitches and min(pitches) + shift < LOW_PITCH:
        return shift + 12
    if pitches and max(pitches) + shift > HIGH_PITCH:
        return shift - 12
    return shift


def moved(notes: list[BarNote], shift: int) -> list[BarNote]:
    """The notes ``shift`` semitones higher; one that would leave the piano goes an octave back
    (and is left out if that note is already there)."""
    if not shift:
        return notes
    out, seen = [], set()
    for n in notes:
        pitch = n.pitch + shift
        pitch += 12 * ((pitch < LOW_PITCH) - (pitch > HIGH_PITCH))
        if (n.bar, n.position, pitch) not in seen:
            seen.add((n.bar, n.position, pitch))
            out.append(BarNote(n.bar, n.position, pitch, n.duration))
    return out


def key_bias(key: Key, weight: float) -> torch.Tensor:
    """A log-prior over the pitch tokens from the asked key: ``weight`` x log of the
    Krumhansl-Kessler profile (relative to its tonic's), added to the model's logits. The shipped
    model keeps to the asked key four times in five by itself (it learnt every piece in C, in its
    mode); the prior, a product of the model and a key model like the grammar a constraint of
    decoding, makes it nearly always. 0 turns it off."""
    profile = MAJOR if key.mode == "major" else MINOR
    bias = torch.zeros(VOCAB_SIZE)
    for pitch in range(LOW_PITCH, HIGH_PITCH + 1):
        bias[PITCH0 + pitch - LOW_PITCH] = weight * math.log(profile[(pitch - key.tonic) % 12] / profile[0])
    return bias


PITCHES = slice(PITCH0, PITCH0 + HIGH_PITCH - LOW_PITCH + 1)  # the pitch tokens


def with_key(logits: torch.Tensor, bias: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The grammar's masks and the key prior applied to (rows, vocab) logits. The prior moves
    probability among the allowed pitches only: whether a pitch comes next at all (another note
    of this chord, or on to the next position) stays the model's. Added to every token as it
    was, the prior's negative weights made pitch tokens as a whole rarer, so pieces had fewer,
    longer notes (fewer voices in chorales, slow reels) the stronger the prior."""
    out = logits.masked_fill(~masks, float("-inf"))
    block = out[:, PITCHES]
    keyed = block + bias[PITCHES]
    shift = block.logsumexp(-1, keepdim=True) - keyed.logsumexp(-1, keepdim=True)
    out[:, PITCHES] = torch.where(torch.isfinite(shift), keyed + shift, block)  # no pitch allowed: as it was
    return out


def with_voices(logits: torch.Tensor, sounding: list[int], polyphony: float, weight: float) -> torch.Tensor:
    """Another note at this position made likelier (``weight`` added to the pitch tokens' logits)
    in rows where fewer notes sound than ``polyphony``, less likely where more do; after a note
    the grammar's choice is another pitch (a chord tone) or moving on, so this keeps the number
    of voices near the motif's without choosing which notes. The model alone thins a four-part
    chorale to about two voices within two bars (assets/composer/README.md)."""
    counts = torch.tensor(sounding, dtype=logits.dtype, device=logits.device)
    offset = weight * ((counts < polyphony - 0.5).to(logits.dtype) - (counts > polyphony + 0.5).to(logits.dtype))
    out = logits.clone()
    out[:, PITCHES] += offset[:, None]
    return out


def _only(token: int) -> torch.Tensor:
    mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
    mask[token] = True
    return mask


def _refill(model: MusicTransformer, prefix: list[int], sequences: list[list[int]], limit: int):
    """A new cache holding the prefix and each sequence's last tokens, as many as fit in half the
    context; the last position's logits. Rows still composing have one length (each step adds
    a token to each); a finished row is left-padded (what it gets next is ignored)."""
    keep = limit // 2 - len(prefix)
    tails = [prefix + sequence[len(sequence) - min(len(sequence), keep):] for sequence in sequences]
    width = max(len(t) for t in tails)
    batch = torch.tensor([[PAD] * (width - len(t)) + t for t in tails], device=model.device)
    cache = model.new_cache(len(sequences))
    return cache, model(batch, cache)[:, -1]
