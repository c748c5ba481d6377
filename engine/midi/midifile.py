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
from mido.midifiles.meta import KeySignatureError

from engine.atomic import atomic_path
from engine.midi.score import MAX_BPM, Note, Score, TempoChange, TimeSignature, Track

# What a file may hold, so that a crafted or damaged one cannot fill the memory: mido keeps about
# 80 bytes per byte of file, so 8 MiB parse into well under a gigabyte; real pieces are far below.
MAX_FILE_BYTES = 8 << 20
MAX_NOTES = 200_000
MAX_SECONDS = 2 * 3600  # a note or a piece longer than this is a damaged file, not music


class MidiFileError(Exception):
    """A file that is not a readable standard MIDI file (the message says why)."""


def _reason(exc: BaseException) -> str:
    """Words for a parser's exception; mido raises some (EOFError) with no message at all."""
    if isinstance(exc, EOFError):
        return "it ends too early (the file is truncated)"
    if isinstance(exc, PermissionError):
        return "no permission to read it"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text or type(exc).__name__


def read_midi(path: str | Path) -> Score:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MidiFileError(f"'{path.name}' does not exist") from None
    except OSError as exc:
        raise MidiFileError(f"'{path.name}' is not a readable MIDI file: {_reason(exc)}") from exc
    if size > MAX_FILE_BYTES:
        raise MidiFileError(f"'{path.name}' is {size / 2**20:.0f} MiB, larger than the "
                            f"{MAX_FILE_BYTES / 2**20:.0f} MiB MIDI files Motet reads")
    try:
        mid = mido.MidiFile(str(path), clip=True)
    except FileNotFoundError:
        raise MidiFileError(f"'{path.name}' does not exist") from None
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, KeySignatureError) as exc:
        raise MidiFileError(f"'{path.name}' is not a readable MIDI file: {_reason(exc)}") from exc
    if mid.type == 2:
        raise MidiFileError(f"'{path.name}' is a type 2 MIDI file (independent patterns), which Motet does not read")
    if mid.ticks_per_beat == 0:
        raise MidiFileError(f"'{path.name}' has 0 ticks per beat in its header, so its notes have no timing")
    if mid.ticks_per_beat < 0:
        raise MidiFileError(f"'{path.name}' uses SMPTE time division, which Motet does not read")

    score = Score(ticks_per_beat=mid.ticks_per_beat, tracks=[], tempos=[], time_signatures=[])
    count = 0
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
                _check_tempo(path, msg.tempo)
                score.tempos.append(TempoChange(tick, msg.tempo))
            elif msg.type == "time_signature":
                _check_time_signature(path, msg.numerator, msg.denominator, mid.ticks_per_beat)
                score.time_signatures.append(TimeSignature(tick, msg.numerator, msg.denominator))
            elif msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                count += 1
                if count > MAX_NOTES:
                    raise MidiFileError(f"'{path.name}' has more than {MAX_NOTES} notes, more than Motet reads")
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
    seconds = score.seconds_at(score.end_tick)
    if seconds > MAX_SECONDS:
        raise MidiFileError(f"'{path.name}' lasts {seconds / 3600:.0f} hours; Motet reads pieces up to "
                            f"{MAX_SECONDS / 3600:g} hours (a note may never end)")
    return score


def _check_time_signature(path: Path, numerator: int, denominator: int, ticks_per_beat: int) -> None:
    """A bar must last at least one tick: the editor draws and snaps to bars."""
    if numerator < 1 or denominator > 64 or ticks_per_beat * 4 * numerator // denominator < 1:
        shown = denominator if denominator <= 1024 else f"2^{denominator.bit_length() - 1}"
        raise MidiFileError(f"'{path.name}' has a time signature of {numerator}/{shown}, "
                            "which is not a bar Motet can show")


def _check_tempo(path: Path, tempo: int) -> None:
    """A tempo of 0 would stop time (and divide by zero); an absurdly fast one is damage."""
    if tempo <= 0:
        raise MidiFileError(f"'{path.name}' has a tempo of 0 microseconds per beat, which is not a tempo")
    if 60_000_000 / tempo > MAX_BPM:
        raise MidiFileError(f"'{path.name}' has a tempo of {60_000_000 / tempo:.0f} BPM; "
                            f"Motet reads tempos up to {MAX_BPM} BPM")


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


def write_midi(score: Score, path: str | Path, midi_type: int = 1, replace: bool = True) -> Path:
    """Write atomically: a failed write (full disk) leaves any existing file untouched and raises
    ``WriteError`` naming the cause. ``replace=False``: a file already there is never replaced
    (``FileExistsWriteError``)."""
    path = Path(path)
    mid = score_to_midi(score, midi_type)
    with atomic_path(path, replace=replace) as tmp, open(tmp, "wb") as f:
        mid.save(file=f)
    return path
