"""The Score: what the piano roll edits, what MIDI files are read into and written from.

Times are integer ticks (``ticks_per_beat`` per quarter note), as in a MIDI file, so nothing is
lost to rounding. Notes are immutable: an edit makes new notes, so an undo snapshot is just a
copy of the list. A track has one channel and one program (a program change in the middle of a
file's track starts a new Track).
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass, field

DRUM_CHANNEL = 9


@dataclass(frozen=True, order=True)
class Note:
    start: int  # ticks
    pitch: int  # 0..127, 60 = middle C
    duration: int  # ticks, at least 1
    velocity: int = 100  # 1..127

    @property
    def end(self) -> int:
        return self.start + self.duration

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch {self.pitch} is outside 0..127")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} is outside 1..127")
        if self.duration < 1 or self.start < 0:
            raise ValueError(f"a note needs start >= 0 and duration >= 1 (got {self.start}, {self.duration})")


@dataclass
class Track:
    name: str = ""
    channel: int = 0  # 0..15; 9 is General MIDI percussion
    program: int = 0  # General MIDI program 0..127 (0 = Acoustic Grand Piano)
    notes: list[Note] = field(default_factory=list)

    @property
    def is_drums(self) -> bool:
        return self.channel == DRUM_CHANNEL

    def sorted_notes(self) -> list[Note]:
        return sorted(self.notes)


@dataclass(frozen=True)
class TempoChange:
    tick: int
    microseconds_per_beat: int = 500_000  # 120 BPM

    @property
    def bpm(self) -> float:
        return 60_000_000 / self.microseconds_per_beat


@dataclass(frozen=True)
class TimeSignature:
    tick: int
    numerator: int = 4
    denominator: int = 4


MIN_BPM, MAX_BPM = 1, 1000  # the tempos Motet accepts, typed or read from a file


def bpm_to_tempo(bpm: float) -> int:
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise ValueError(f"tempo {bpm} BPM is outside {MIN_BPM}..{MAX_BPM}")
    return round(60_000_000 / bpm)


@dataclass
class Score:
    ticks_per_beat: int = 480
    tracks: list[Track] = field(default_factory=lambda: [Track(name="Piano")])
    tempos: list[TempoChange] = field(default_factory=lambda: [TempoChange(0)])
    time_signatures: list[TimeSignature] = field(default_factory=lambda: [TimeSignature(0)])

    def copy(self) -> Score:
        return copy.deepcopy(self)

    # -- time --------------------------------------------------------------------------------
    def _tempo_segments(self) -> list[tuple[int, float, int]]:
        """(tick, seconds at that tick, microseconds per beat) for each tempo change."""
        tempos = sorted(self.tempos, key=lambda t: t.tick) or [TempoChange(0)]
        if tempos[0].tick != 0:
            tempos.insert(0, TempoChange(0))
        out, seconds = [], 0.0
        for i, t in enumerate(tempos):
            if i:
                prev = tempos[i - 1]
                seconds += (t.tick - prev.tick) * prev.microseconds_per_beat / 1e6 / self.ticks_per_beat
            out.append((t.tick, seconds, t.microseconds_per_beat))
        return out

    def seconds_at(self, tick: float) -> float:
        segments = self._tempo_segments()
        i = bisect.bisect_right([s[0] for s in segments], tick) - 1
        start_tick, start_s, tempo = segments[max(i, 0)]
        return start_s + (tick - start_tick) * tempo / 1e6 / self.ticks_per_beat

    def tick_at(self, seconds: float) -> float:
        segments = self._tempo_segments()
        i = bisect.bisect_right([s[1] for s in segments], seconds) - 1
        start_tick, start_s, tempo = segments[max(i, 0)]
        return start_tick + (seconds - start_s) * 1e6 * self.ticks_per_beat / tempo

    @property
    def bpm(self) -> float:
        """The tempo at the start (what the editor's tempo box shows and sets)."""
        return min(self.tempos, key=lambda t: t.tick).bpm if self.tempos else 120.0

    @property
    def time_signature(self) -> TimeSignature:
        return min(self.time_signatures, key=lambda t: t.tick) if self.time_signatures else TimeSignature(0)

    @property
    def ticks_per_bar(self) -> int:
        ts = self.time_signature
        return self.ticks_per_beat * 4 * ts.numerator // ts.denominator

    @property
    def end_tick(self) -> int:
        return max((n.end for t in self.tracks for n in t.notes), default=0)

    def note_count(self) -> int:
        return sum(len(t.notes) for t in self.tracks)
