"""Sampling a piece from the composer: the controls as a prompt, then bars under a grammar.

The grammar (a mask on every step's logits) makes every sample a well-formed piece of exactly
the asked bars: each BAR token is the one that counts down to the end (``BAR_n``), a position
only moves forward inside its bar's length, a pitch is followed by its duration and a chord's
pitches rise, and EOS comes only in the last bar. Past the model's context the piece goes on
from a new prompt: the controls and the last bars (``_refill``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.cancel import Cancelled
from engine.models.common.sampling import sample, seeded_generator
from engine.models.composer.controls import Controls, Key
from engine.models.composer.keys import MAJOR, MINOR, estimate_key
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
# The weight of key_bias. On the shipped model, 200 pieces of ten prompts (benchmarks/compose_eval.py,
# each piece then moved to the asked tonic: to_tonic) were in the asked key (Krumhansl-Schmuckler)
# 50 % of the time at 0, 68 % at 1, 82 % at 2; the style classifier recognised 39 %, 40 %, 28 % of
# them (10 % is chance): the stronger the prior, the more every style sounds alike. 2 is where the
# key is right four times in five. With the prior kept to the pitch tokens (``with_key``): 81.5 % and
# 30 % at 2 (chorales and Palestrina keep their voices).
KEY_GUIDANCE = 2.0


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
        elif k == "POS":
            self.position, self.pitch = token - POS0, -1
        elif k == "PITCH":
            self.pitch = token - PITCH0 + LOW_PITCH
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
            key_guidance: float = KEY_GUIDANCE, fit_key: bool = True,
            pitches: tuple[int, int] = (LOW_PITCH, HIGH_PITCH), progress: Callable[[float], None] | None = None,
            should_stop: Callable[[], bool] | None = None, candidates: int = 1) -> list[list[BarNote]]:
    """``variations`` pieces of ``controls.bars`` bars (one batch). ``prompt``: notes of the first
    bars, kept, the rest composed after them (Continue). ``conditioned=False`` gives the
    baseline model its empty prefix; ``with_style=False`` leaves the style unsaid (Continue: the
    notes say what they are, not which collection); ``longest``: no note longer (ticks);
    ``key_guidance``: the weight of the asked key's pitch profile (``key_bias``); ``fit_key``:
    each piece moved to the asked tonic (``to_tonic``; not with a prompt); ``pitches``: the lowest
    and highest that may be drawn. ``progress(fraction of bars)``; ``should_stop()`` before
    every step (``Cancelled``). ``candidates``: pieces drawn per variation, all returned
    (``variations * candidates``, one batch) for the caller to choose from (Continue)."""
    check_options(variations, temperature, top_p, seed)
    if not 1 <= candidates <= 16:
        raise ValueError(f"candidates are 1 to 16, not {candidates}")
    variations *= candidates
    bias = key_bias(controls.key, key_guidance).to(model.device)
    prefix = [BOS] + (control_tokens(controls, style=with_style) if conditioned else []) + [SEP]
    body = body_tokens(sorted(prompt), controls.bars, 0, max(n.bar for n in prompt) + 1) if prompt else []
    allowed = len(DURATIONS) if longest is None else max(1, sum(d <= longest for d in DURATIONS))
    rows = [_Row(controls.bars, bar_ticks(controls.meter), durations=allowed, lowest=max(pitches[0], LOW_PITCH),
                 highest=min(pitches[1], HIGH_PITCH)) for _ in range(variations)]
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
        chosen = sample(with_key(logits.float(), bias, masks), temperature, top_p=top_p,
                        generator=generator).cpu()
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
    pieces = [[n for n in decode(sequence) if n.bar < controls.bars] for sequence in sequences]
    return [to_tonic(notes, controls.key) for notes in pieces] if fit_key and not prompt else pieces


def to_tonic(notes: list[BarNote], key: Key) -> list[BarNote]:
    """The piece moved (by at most a tritone, its octave kept in the piano's range) so that its
    key's tonic (Krumhansl-Schmuckler) is the asked one: the transposition its training pieces
    went through, undone. The mode is the model's (and the key guidance's) to get right."""
    found = estimate_key([n.pitch for n in notes], [n.duration for n in notes]) if notes else key
    shift = (key.tonic - found.tonic + 6) % 12 - 6
    if shift == 0:
        return notes
    low, high = min(n.pitch for n in notes) + shift, max(n.pitch for n in notes) + shift
    shift += 12 if low < LOW_PITCH else -12 if high > HIGH_PITCH else 0
    return [BarNote(n.bar, n.position, min(max(n.pitch + shift, LOW_PITCH), HIGH_PITCH), n.duration) for n in notes]


def key_bias(key: Key, weight: float) -> torch.Tensor:
    """A log-prior over the pitch tokens from the asked key: ``weight`` x log of the
    Krumhansl-Kessler profile (relative to its tonic's), added to the model's logits. The shipped
    model follows its KEY token only weakly (assets/composer/README.md: NLL with a key a tritone
    away is within 0.002 nats of the right one's), so the sampler multiplies in what a listener expects
    of the key: a product of the model and a key model, like the grammar a constraint of
    decoding. 0 turns it off."""
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
