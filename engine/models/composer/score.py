"""A composed piece as a Score (what the piano roll edits and MIDI files hold): the meter and
the tempo written exactly as asked, one track with the asked instrument, no hanging notes."""

from __future__ import annotations

from engine.midi.instruments import program_name
from engine.midi.score import Note, Score, TempoChange, TimeSignature, Track, bpm_to_tempo
from engine.models.composer.controls import Controls
from engine.models.composer.tokens import TPQ, BarNote, bar_ticks

TICKS_PER_BEAT = 480
VELOCITY, DOWNBEAT_VELOCITY = 76, 92  # a little weight on each bar's first beat, as a player gives


def place(notes: list[BarNote], meter: tuple[int, int], bars: int, ticks_per_beat: int, origin: int = 0
          ) -> list[Note]:
    """Notes in bars → Notes in ticks from ``origin``. Every note ends by the last bar line; a note
    still sounding when the same pitch starts again is shortened to end there: never two of one
    pitch at once."""
    scale = ticks_per_beat / TPQ
    length = bar_ticks(meter) * scale
    end = origin + round(bars * length)
    placed = sorted((origin + round(n.bar * length + n.position * scale), n.pitch, round(n.duration * scale),
                     n.position) for n in notes)
    next_start: dict[int, int] = {}
    out = []
    for start, pitch, duration, position in reversed(placed):
        stop = min(start + max(duration, 1), end, next_start.get(pitch, end))
        next_start[pitch] = start
        if stop > start:
            out.append(Note(start, pitch, stop - start, DOWNBEAT_VELOCITY if position == 0 else VELOCITY))
    return sorted(out)


def to_score(notes: list[BarNote], controls: Controls) -> Score:
    """A composed piece as a Score (see ``place``)."""
    out = place(notes, controls.meter, controls.bars, TICKS_PER_BEAT)
    track = Track(name=program_name(controls.program), program=controls.program, notes=out)
    return Score(ticks_per_beat=TICKS_PER_BEAT, tracks=[track], tempos=[TempoChange(0, bpm_to_tempo(controls.bpm))],
                 time_signatures=[TimeSignature(0, *controls.meter)])


def from_score(score: Score, notes: list[Note]) -> tuple[list[BarNote], int]:
    """Notes of ``score`` in the composer's bars (positions snapped to its grid): Continue's
    prompt, counted from the bar of the first note; and how many bars that is."""
    if not notes:
        return [], 0
    per_tick = TPQ / score.ticks_per_beat
    length = score.ticks_per_bar
    first_bar = min(n.start for n in notes) // length
    out = set()
    for n in notes:
        bar, offset = divmod(n.start - first_bar * length, length)
        position = min(round(offset * per_tick), round(length * per_tick) - 1)
        out.add(BarNote(bar, position, n.pitch, max(1, round(n.duration * per_tick))))
    bars = max(n.bar for n in out) + 1
    return sorted(out), bars
