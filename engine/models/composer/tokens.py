"""The composer's vocabulary: a bar-aware scheme (REMI, Huang & Yang 2020) after control tokens.

Why bar-aware: bars and meter are what a prompt asks for ("16 bars", "6/8"), and in a scheme with
explicit bars and positions inside them they are facts of the token stream, not something the
model must count in time shifts: the sampler can make a piece exactly N bars long and keep every
onset inside its bar. Each BAR token says how many bars are left (``BAR_n``, this one included),
so the model knows where the end is and can cadence there.

A piece: ``BOS, controls..., SEP, BAR_n, POS_p, PITCH_x, DUR_d, [PITCH_x, DUR_d ...], POS_p ...,
BAR_n-1 ..., EOS``. Times are ticks of ``TPQ`` per quarter note (12: sixteenths and triplets).
Controls, in this order, any of them absent: STYLE, KEY, METER, TEMPO, BARS, VOICES, DENSITY,
REGISTER. The unconditioned baseline sees ``BOS, SEP`` and the same body.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from engine.models.composer.controls import (
    DENSITY_NAMES,
    MAX_BARS,
    MAX_VOICES,
    METERS,
    REGISTER_NAMES,
    STYLES,
    TEMPO_NAMES,
    Controls,
)

TPQ = 12
MAX_BAR_TICKS = 8 * TPQ  # 4/2 and 12/8... the longest bar in METERS is eight quarters
LOW_PITCH, HIGH_PITCH = 21, 108  # the piano's range
DURATIONS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 14, 15, 16, 18, 20, 21, 24, 27, 30, 32, 36, 42, 45, 48, 54, 60, 72,
             84, 96, 120, 144, 192)


def _names() -> list[str]:
    names = ["PAD", "BOS", "EOS", "SEP"]
    names += [f"STYLE_{s}" for s in STYLES]
    names += [f"KEY_{i}" for i in range(24)]
    names += [f"METER_{a}/{b}" for a, b in METERS]
    names += [f"TEMPO_{t}" for t in TEMPO_NAMES]
    names += [f"BARS_{n}" for n in range(1, MAX_BARS + 1)]
    names += [f"VOICES_{n}" for n in range(1, MAX_VOICES + 1)]
    names += [f"DENSITY_{d}" for d in DENSITY_NAMES]
    names += [f"REGISTER_{r}" for r in REGISTER_NAMES]
    names += [f"BAR_{n}" for n in range(1, MAX_BARS + 1)]
    names += [f"POS_{p}" for p in range(MAX_BAR_TICKS)]
    names += [f"PITCH_{p}" for p in range(LOW_PITCH, HIGH_PITCH + 1)]
    names += [f"DUR_{d}" for d in DURATIONS]
    return names


NAMES = _names()
INDEX = {name: i for i, name in enumerate(NAMES)}
VOCAB_SIZE = len(NAMES)
PAD, BOS, EOS, SEP = 0, 1, 2, 3


def _first(prefix: str) -> int:
    return next(i for i, n in enumerate(NAMES) if n.startswith(prefix))


STYLE0, KEY0, METER0, TEMPO0 = _first("STYLE_"), _first("KEY_"), _first("METER_"), _first("TEMPO_")
BARS0, VOICES0, DENSITY0, REGISTER0 = _first("BARS_"), _first("VOICES_"), _first("DENSITY_"), _first("REGISTER_")
BAR0, POS0, PITCH0, DUR0 = _first("BAR_"), _first("POS_"), _first("PITCH_"), _first("DUR_")
CONTROL_RANGE = range(STYLE0, BAR0)


def kind(token: int) -> str:
    """'BAR', 'POS', 'PITCH', 'DUR', 'EOS', ... the family of a token."""
    return NAMES[token].split("_")[0]


@dataclass(frozen=True, order=True)
class BarNote:
    """A note in bars: ``bar`` from 0, ``position`` ticks into it, ``duration`` in ticks."""

    bar: int
    position: int
    pitch: int
    duration: int


def bar_ticks(meter: tuple[int, int]) -> int:
    return meter[0] * TPQ * 4 // meter[1]


def duration_token(ticks: int) -> int:
    """The nearest duration the vocabulary has (ties to the shorter)."""
    i = bisect.bisect_left(DURATIONS, ticks)
    if i == len(DURATIONS):
        i -= 1
    elif i and ticks - DURATIONS[i - 1] <= DURATIONS[i] - ticks:
        i -= 1
    return DUR0 + i


def control_tokens(c: Controls | None, style: bool = True, texture: tuple[bool, bool, bool] = (True, True, True)
                   ) -> list[int]:
    """The control prefix of ``c`` (None: the unconditioned model's empty prefix). ``style`` and
    ``texture`` (voices, density, register) may be left out: training drops them at random so
    that the model also works when they are not asked."""
    if c is None:
        return []
    out = []
    if style:
        out.append(STYLE0 + list(STYLES).index(c.style))
    out += [KEY0 + c.key.index, METER0 + METERS.index(tuple(c.meter)), TEMPO0 + c.tempo_bucket,
            BARS0 + min(c.bars, MAX_BARS) - 1]
    for value, first, keep in ((c.voices, VOICES0, texture[0]), (c.density, DENSITY0, texture[1]),
                               (c.register, REGISTER0, texture[2])):
        if value is not None and keep:
            out.append(first + (value - 1 if first == VOICES0 else value))
    return out


def body_tokens(notes: list[BarNote], n_bars: int, first_bar: int = 0, last_bar: int | None = None) -> list[int]:
    """BAR / POS / PITCH / DUR tokens of bars ``first_bar``..``last_bar`` (exclusive) of a piece
    of ``n_bars`` bars; notes sorted by (bar, position, pitch)."""
    last_bar = n_bars if last_bar is None else last_bar
    out = []
    i = bisect.bisect_left(notes, (first_bar,), key=lambda n: (n.bar,))
    for bar in range(first_bar, last_bar):
        out.append(BAR0 + min(n_bars - bar, MAX_BARS) - 1)
        position = -1
        while i < len(notes) and notes[i].bar == bar:
            n = notes[i]
            if n.position != position:
                out.append(POS0 + n.position)
                position = n.position
            out += [PITCH0 + n.pitch - LOW_PITCH, duration_token(n.duration)]
            i += 1
    return out


def decode(tokens: list[int]) -> list[BarNote]:
    """Body tokens back to notes (controls and specials skipped; a pitch without a position or a
    duration is dropped): what the sampler's grammar always makes whole."""
    notes, bar, position, pitch = [], -1, None, None
    for t in tokens:
        k = kind(t)
        if k == "BAR":
            bar, position, pitch = bar + 1, None, None
        elif k == "POS":
            position, pitch = t - POS0, None
        elif k == "PITCH":
            pitch = t - PITCH0 + LOW_PITCH
        elif k == "DUR" and pitch is not None and position is not None and bar >= 0:
            notes.append(BarNote(bar, position, pitch, DURATIONS[t - DUR0]))
            pitch = None
        elif k == "EOS":
            break
    return notes
