"""Performance events (Oore et al. 2018): the Music Transformer's vocabulary.

128 NOTE_ON, 128 NOTE_OFF, 100 TIME_SHIFT (10 ms to 1 s), 32 VELOCITY bins = 388 events, plus
PAD, BOS (start of a piece) and EOS. A Score becomes one stream of events in time order (all
non-drum tracks merged, as in the paper); events become notes again exactly up to the 10 ms
time grid and the velocity bins (4 MIDI steps wide).
"""

from __future__ import annotations

from dataclasses import dataclass

NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY = 0, 128, 256, 356
N_SHIFTS, N_VELOCITIES = 100, 32
PAD, BOS, EOS = 388, 389, 390
VOCAB_SIZE = 391
STEP_SECONDS = 0.01


@dataclass(frozen=True)
class TimedNote:
    """A note in seconds, the events' native time."""

    start: float
    end: float
    pitch: int
    velocity: int


def velocity_bin(velocity: int) -> int:
    return min(N_VELOCITIES - 1, max(0, velocity) * N_VELOCITIES // 128)


def bin_velocity(b: int) -> int:
    return min(127, max(1, b * 128 // N_VELOCITIES + 2))  # the middle of the bin


def notes_to_events(notes: list[TimedNote]) -> list[int]:
    """Notes (seconds) → event tokens (no BOS/EOS)."""
    points = []  # (step, order, kind, pitch, velocity): note-offs before note-ons at one step
    for n in notes:
        on, off = round(n.start / STEP_SECONDS), round(n.end / STEP_SECONDS)
        off = max(off, on + 1)  # a note lasts at least one step
        points.append((on, 1, "on", n.pitch, n.velocity))
        points.append((off, 0, "off", n.pitch, 0))
    points.sort(key=lambda p: (p[0], p[1], p[3]))
    tokens: list[int] = []
    now, current_bin = 0, None
    for step, _, kind, pitch, velocity in points:
        while step > now:
            shift = min(N_SHIFTS, step - now)
            tokens.append(TIME_SHIFT + shift - 1)
            now += shift
        if kind == "on":
            b = velocity_bin(velocity)
            if b != current_bin:
                tokens.append(VELOCITY + b)
                current_bin = b
            tokens.append(NOTE_ON + pitch)
        else:
            tokens.append(NOTE_OFF + pitch)
    return tokens


def events_to_notes(tokens: list[int], start_velocity: int = 80, close_after: float = 1.0) -> list[TimedNote]:
    """Event tokens → notes. A note-off with no open note is ignored; a note never closed ends
    ``close_after`` seconds after it began (or at the end). Control tokens are skipped."""
    now = 0
    velocity = start_velocity
    open_notes: dict[int, list[tuple[int, int]]] = {}
    out: list[TimedNote] = []
    for t in tokens:
        if NOTE_ON <= t < NOTE_OFF:
            open_notes.setdefault(t - NOTE_ON, []).append((now, velocity))
        elif NOTE_OFF <= t < TIME_SHIFT:
            started = open_notes.get(t - NOTE_OFF)
            if started:
                begin, vel = started.pop(0)
                out.append(TimedNote(begin * STEP_SECONDS, max(now, begin + 1) * STEP_SECONDS, t - NOTE_OFF, vel))
        elif TIME_SHIFT <= t < VELOCITY:
            now += t - TIME_SHIFT + 1
        elif VELOCITY <= t < PAD:
            velocity = bin_velocity(t - VELOCITY)
    cap = round(close_after / STEP_SECONDS)
    for pitch, started in open_notes.items():
        for begin, vel in started:
            out.append(TimedNote(begin * STEP_SECONDS, max(begin + 1, min(now, begin + cap)) * STEP_SECONDS, pitch, vel))
    return sorted(out, key=lambda n: (n.start, n.pitch))


def score_to_notes(score) -> list[TimedNote]:
    """The Score's pitched notes in seconds (drum tracks are left out: the vocabulary has no drums)."""
    out = []
    for track in score.tracks:
        if track.is_drums:
            continue
        for n in track.notes:
            out.append(TimedNote(score.seconds_at(n.start), score.seconds_at(n.end), n.pitch, n.velocity))
    return sorted(out, key=lambda n: (n.start, n.pitch))


def describe(token: int) -> str:
    if token < NOTE_OFF:
        return f"ON{token}"
    if token < TIME_SHIFT:
        return f"OFF{token - NOTE_OFF}"
    if token < VELOCITY:
        return f"SHIFT{(token - TIME_SHIFT + 1) * 10}ms"
    if token < PAD:
        return f"VEL{token - VELOCITY}"
    return {PAD: "PAD", BOS: "BOS", EOS: "EOS"}.get(token, f"?{token}")
