"""Standard MIDI files (types 0 and 1) to and from a Score, through mido.

Reading: every track's notes are grouped by channel and program (a type-0 file's single track
becomes one Track per channel; a program change mid-track starts a new Track). A note-on with
velocity 0 is a note-off. Overlapping notes of one pitch on one channel are paired first in,
first out: the earliest open note ends first (MIDI cannot tell more than that; two notes that
start together and end together keep their lengths either way). A note still open at the end
of its track ends there. Tempo changes and time signatures come from any track.

Writing: type 1, a conductor track (tempo map, time signatures) and one track per Track (name,
program change, notes). At one tick, note-offs come before note-ons, so a note that starts where
another of the same pitch ends is not cut. Reading what was written gives the same notes, tempo
map, time signatures and programs.
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path

import mido

from engine.atomic import atomic_path
from engine.midi.score import Note, Score, TempoChange, TimeSignature, Track


class MidiFileError(Exception):
    """A file that is not a readable standard MIDI file (the message says why)."""


def read_midi(path: str | Path) -> Score:
    path = Path(path)
    try:
        mid = mido.MidiFile(str(path), clip=True)
    except FileNotFoundError:
        raise MidiFileError(f"'{path.name}' does not exist") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise MidiFileError(f"'{path.name}' is not a readable MIDI file: {exc or type(exc).__name__}") from exc
    if mid.type == 2:
        raise MidiFileError(f"'{path.name}' is a type 2 MIDI file (independent patterns), which Motet does not read")
    if mid.ticks_per_beat <= 0:
        raise MidiFileError(f"'{path.name}' uses SMPTE time division, which Motet does not read")

    score = Score(ticks_per_beat=mid.ticks_per_beat, tracks=[], tempos=[], time_signatures=[])
    for index, mtrack in enumerate(mid.tracks):
        name = ""
        program = defaultdict(int)  # channel -> current program
        groups: dict[tuple[int, int], Track] = {}  # (channel, program) -> Track, in order of first note
        open_notes: dict[tuple[int, int], deque] = defaultdict(deque)  # (channel, pitch) -> (start, velocity, program)
        tick = 0
        for msg in mtrack:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = msg.name.strip()
            elif msg.type == "set_tempo":
                score.tempos.append(TempoChange(tick, msg.tempo))
            elif msg.type == "time_signature":
                score.time_signatures.append(TimeSignature(tick, msg.numerator, msg.denominator))
            elif msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)].append((tick, msg.velocity, program[msg.channel]))
            elif msg.type in ("note_off", "note_on"):
                queue = open_notes.get((msg.channel, msg.note))
                if queue:
                    start, velocity, prog = queue.popleft()
                    _add(groups, msg.channel, prog, Note(start, msg.note, max(1, tick - start), velocity))
        for (channel, pitch), queue in open_notes.items():  # never ended: end them with the track
            for start, velocity, prog in queue:
                _add(groups, channel, prog, Note(start, pitch, max(1, tick - start), velocity))
        for (channel, prog), track in groups.items():
            base = name or f"Track {index + 1}"
            several = sum(1 for c, _ in groups if c == channel) > 1 or len({c for c, _ in groups}) > 1
            track.name = f"{base} ({'drums' if channel == 9 else f'ch {channel + 1}'})" if several else base
            track.notes.sort()
            score.tracks.append(track)
    if not score.tempos:
        score.tempos = [TempoChange(0)]
    if not score.time_signatures:
        score.time_signatures = [TimeSignature(0)]
    score.tempos = _dedupe(sorted(score.tempos, key=lambda t: t.tick))
    score.time_signatures = _dedupe(sorted(score.time_signatures, key=lambda t: t.tick))
    return score


def _add(groups: dict, channel: int, program: int, note: Note) -> None:
    track = groups.get((channel, program))
    if track is None:
        track = groups[(channel, program)] = Track(channel=channel, program=program)
    track.notes.append(note)


def _dedupe(events: list) -> list:
    """One event per tick: the last one at a tick wins (as a player would apply them)."""
    by_tick = {}
    for e in events:
        by_tick[e.tick] = e
    return [by_tick[t] for t in sorted(by_tick)]


def _to_delta(events: list[tuple[int, int, mido.Message]]) -> mido.MidiTrack:
    """(tick, order, message) → a track with delta times, ending with end_of_track."""
    track = mido.MidiTrack()
    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def score_to_midi(score: Score, midi_type: int = 1) -> mido.MidiFile:
    conductor: list = [(0, 0, mido.MetaMessage("track_name", name="Motet"))]
    for t in score.tempos:
        conductor.append((t.tick, 1, mido.MetaMessage("set_tempo", tempo=t.microseconds_per_beat)))
    for ts in score.time_signatures:
        conductor.append((ts.tick, 1, mido.MetaMessage("time_signature", numerator=ts.numerator,
                                                       denominator=ts.denominator)))
    tracks = [conductor]
    for track in score.tracks:
        events: list = [(0, 0, mido.MetaMessage("track_name", name=track.name))] if track.name else []
        events.append((0, 1, mido.Message("program_change", channel=track.channel, program=track.program)))
        for n in track.notes:
            events.append((n.start, 3, mido.Message("note_on", channel=track.channel, note=n.pitch,
                                                    velocity=n.velocity)))
            events.append((n.end, 2, mido.Message("note_off", channel=track.channel, note=n.pitch, velocity=0)))
        tracks.append(events)
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=score.ticks_per_beat)
    if midi_type == 0:
        mid.tracks.append(_to_delta([e for events in tracks for e in events]))
    else:
        mid.tracks.extend(_to_delta(events) for events in tracks)
    return mid


def write_midi(score: Score, path: str | Path, midi_type: int = 1) -> Path:
    """Write atomically: a failed write (full disk) leaves any existing file untouched and raises
    ``WriteError`` naming the cause."""
    path = Path(path)
    mid = score_to_midi(score, midi_type)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        mid.save(file=f)
    return path
