"""Editing operations on notes, as plain functions: each takes notes and returns new ones.

The editor applies them to the selection and puts the result on its undo stack; the same
functions serve scripts and tests.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import replace

from engine.midi.score import Note


def quantize(notes: Iterable[Note], grid: int, strength: float = 1.0, ends: bool = True) -> list[Note]:
    """Move starts (and ends) toward the nearest multiple of ``grid`` ticks by ``strength``
    (1 = onto the grid, 0.5 = half way). A note never shrinks below one tick."""
    if grid < 1:
        raise ValueError("the grid must be at least one tick")
    if not 0.0 <= strength <= 1.0:
        raise ValueError("strength must be between 0 and 1")
    out = []
    for n in notes:
        start = round(n.start + strength * (round(n.start / grid) * grid - n.start))
        end = n.end
        if ends:
            end = round(n.end + strength * (round(n.end / grid) * grid - n.end))
        out.append(replace(n, start=max(0, start), duration=max(1, end - max(0, start))))
    return out


def transpose(notes: Iterable[Note], semitones: int) -> list[Note]:
    """Shift pitches; raises ValueError (changing nothing) if a note would leave 0..127."""
    notes = list(notes)
    if any(not 0 <= n.pitch + semitones <= 127 for n in notes):
        raise ValueError(f"transposing by {semitones:+d} would take notes outside the MIDI range")
    return [replace(n, pitch=n.pitch + semitones) for n in notes]


def scale_velocity(notes: Iterable[Note], factor: float = 1.0, offset: int = 0) -> list[Note]:
    """velocity * factor + offset, kept within 1..127."""
    return [replace(n, velocity=min(127, max(1, round(n.velocity * factor + offset)))) for n in notes]


def split(note: Note, tick: int) -> list[Note]:
    """Cut a note in two at ``tick`` (strictly inside it)."""
    if not note.start < tick < note.end:
        raise ValueError(f"tick {tick} is not inside the note ({note.start}..{note.end})")
    return [replace(note, duration=tick - note.start), replace(note, start=tick, duration=note.end - tick)]


def join(notes: Iterable[Note]) -> list[Note]:
    """Merge notes of the same pitch into one from the first start to the last end (the first
    note's velocity); notes of different pitches are joined per pitch."""
    by_pitch: dict[int, list[Note]] = {}
    for n in notes:
        by_pitch.setdefault(n.pitch, []).append(n)
    out = []
    for group in by_pitch.values():
        group.sort()
        start, end = group[0].start, max(n.end for n in group)
        out.append(replace(group[0], duration=end - start))
    return sorted(out)


def legato(notes: Iterable[Note]) -> list[Note]:
    """Each note lasts until the next later start among the notes (the last ones keep their length)."""
    notes = sorted(notes)
    starts = sorted({n.start for n in notes})
    out = []
    for n in notes:
        i = bisect.bisect_right(starts, n.start)
        out.append(replace(n, duration=starts[i] - n.start) if i < len(starts) else n)
    return out


def move(notes: Iterable[Note], ticks: int = 0, semitones: int = 0) -> list[Note]:
    """Shift in time and pitch; raises ValueError if a note would start before 0 or leave 0..127."""
    notes = list(notes)
    if any(n.start + ticks < 0 for n in notes):
        raise ValueError("notes cannot start before the beginning")
    return transpose([replace(n, start=n.start + ticks) for n in notes], semitones)
