"""One voice becomes notes: SwiftF0's pitch track segmented into notes that survive singing.

Why not a note per semitone crossing: a sung note wobbles (vibrato, 5-7 Hz, up to ±50 cents),
starts below its pitch and slides up (a scoop, 100-200 ms from a semitone or two below), slides
into the next note without a gap (legato), and is separated from the next phrase by breath.
Each of these would make a naive tracker emit extra notes. Here:

1. **Voiced regions**: frames whose confidence is at least ``frame_threshold`` (default 0.3),
   joined into a region only if one of them reaches ``onset_threshold`` (default 0.5, where the
   model is calibrated to call a frame voiced): hysteresis, so a note's soft start and end stay
   in it and breath noise (low confidence, or 40 dB below the voice) starts none. A one-frame
   dropout inside a note is bridged.
2. **Labels**: the pitch (semitones, MIDI scale) median-filtered over 5 frames (80 ms: octave
   glitches gone, steps kept where they are) then averaged over 5 frames (vibrato shrunk to about
   ±35 cents), labelled with the nearest semitone *with hysteresis*: the label changes only when
   the pitch is more than 0.75 semitone from it, so vibrato and a slightly sharp or flat voice keep
   one label.
3. **Settling**: a run of one label is a note only if it lasts ``min_note_ms`` (a new note in
   legato when the pitch settles on another semitone for long enough). A shorter run (a glide
   passing through, a blip) belongs to the note that follows, or to the one before at a region's
   end. A run that is itself a slide into the next held note (a scoop: within half a semitone of
   its label for at most 200 ms, moving at least 0.35 semitone towards the next note, 1-3
   semitones away, and arriving within a semitone of it) is part of the next note too, so a
   scoop moves the note's onset, not its pitch.
4. **Boundaries**: between two notes in legato, the new note starts where the pitch leaves the
   previous note's semitone (its last frame within half a semitone), not where the label switched.
5. **Pitch** of a note: the median of its settled frames' pitch, rounded. **Velocity**: from its
   loudness (the 90th percentile of its frames' RMS level, -60..-3 dBFS → 1..127).

``MonoNoteTracker`` gives the same notes block by block for live input: notes whose end is
certain as finished, the one still sounding as tentative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.models.swift_f0.model import HOP, SAMPLE_RATE
from engine.models.swift_f0.pitch import FRAME_SECONDS, LEFT_FRAMES, LOOKAHEAD_FRAMES, PitchTrack, track_pitch
from engine.notes import NoteEvent

ONSET_THRESHOLD = 0.5
FRAME_THRESHOLD = 0.3
MIN_NOTE_MS = (0.0, 2000.0, 80.0)  # (lowest, highest, default) the option accepts
SILENCE_BELOW_LOUDEST_DB = 40.0  # frames this far below the loudest voiced frames are breath or room
SILENCE_DBFS = -65.0
LABEL_HYSTERESIS = 0.75  # semitones from its label before the pitch takes another
SCOOP_MAX_S = 0.2  # the longest a scoop stays within half a semitone of one semitone on its way
SCOOP_MIN_MOVE = 0.35  # semitones a scoop moves towards its note within that semitone
VELOCITY_DB = (-60.0, -3.0)
MAX_SAMPLE_RATE = 768_000
PERIODIC_MIN = 0.5  # a note's median self-similarity one period apart: a voice ~0.9, breath ~0.1
PERIODIC_PROBES = 24  # frames of a note checked for it


@dataclass(frozen=True)
class Options:
    """The thresholds checked once: what ``mono_notes`` and ``MonoNoteTracker`` share."""

    min_frames: int
    onset: float
    frame: float

    @classmethod
    def of(cls, min_note_ms: float, onset_threshold: float | None, frame_threshold: float | None) -> Options:
        low, high, _ = MIN_NOTE_MS
        if not isinstance(min_note_ms, (int, float)) or not low <= min_note_ms <= high:
            raise ValueError(f"min-note-ms must be between {low:g} and {high:g} ms, not {min_note_ms}")
        onset = ONSET_THRESHOLD if onset_threshold is None else onset_threshold
        frame = FRAME_THRESHOLD if frame_threshold is None else frame_threshold
        for name, value in (("onset-threshold", onset), ("frame-threshold", frame)):
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        # a frame above the onset threshold is always inside a region
        return cls(max(1, round(min_note_ms / 1000 / FRAME_SECONDS)), float(onset), float(min(frame, onset)))


def _mono(audio: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(audio)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"audio must be a numeric array, not {x.dtype}")
    if x.ndim == 2:  # (frames, channels)
        x = x.astype(np.float32).mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {x.shape}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 0 < sr <= MAX_SAMPLE_RATE:
        raise ValueError(f"sample rate must be a whole number of Hz up to {MAX_SAMPLE_RATE}, not {sr}")
    x = x.astype(np.float32, copy=False)
    if x.size and not np.isfinite(x).all():
        raise ValueError(f"audio has {int(x.size - np.isfinite(x).sum())} samples that are not finite (NaN or "
                         f"infinity); repair or re-export it")
    return x


def mono_notes(audio: np.ndarray, sr: int, *, min_note_ms: float = 80.0, onset_threshold: float | None = None,
               frame_threshold: float | None = None) -> list[NoteEvent]:
    """The notes of one voice or instrument in ``audio`` (mono ``(frames,)`` or ``(frames,
    channels)``, mixed down) at ``sr`` Hz, in time order, never overlapping. Silence gives []."""
    from engine.audio.files import resample
    from engine.models.swift_f0.loading import shared_model

    options = Options.of(min_note_ms, onset_threshold, frame_threshold)
    x = _mono(audio, sr)
    if x.size == 0:
        return []
    if sr != SAMPLE_RATE:
        x = resample(x, int(sr), SAMPLE_RATE)
        if x.size == 0:
            return []
    return notes_from_track(track_pitch(shared_model(), x), options, x)


# --- segmentation --------------------------------------------------------------------------


def _hz_to_midi(hz: np.ndarray) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.maximum(hz, 1e-3) / 440.0)


def _median5(x: np.ndarray) -> np.ndarray:
    if len(x) < 3:
        return x.copy()
    padded = np.pad(x, 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)


def _mean5(x: np.ndarray) -> np.ndarray:
    """A 5-frame moving mean whose window shrinks at the edges (no padding values invented)."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    i = np.arange(len(x))
    lo, hi = np.maximum(i - 2, 0), np.minimum(i + 3, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


def voiced_regions(track: PitchTrack, options: Options, loudest: float | None = None) -> list[tuple[int, int]]:
    """[start, end) frame ranges of voice: confidence ≥ frame threshold, reaching the onset threshold
    somewhere, loud enough (within 40 dB of ``loudest``, by default the track's loud voiced level);
    one-frame dropouts bridged."""
    conf, loud = track.confidence, track.loudness_db
    strong = conf >= options.onset
    if not strong.any():
        return []
    loudest = float(np.percentile(loud[strong], 95)) if loudest is None else loudest
    floor = max(SILENCE_DBFS, loudest - SILENCE_BELOW_LOUDEST_DB)
    weak = (conf >= options.frame) & (loud >= floor)
    # bridge one-frame dropouts whose neighbours agree on the pitch
    midi = _hz_to_midi(track.hz)
    gap = ~weak[1:-1] & weak[:-2] & weak[2:] & (np.abs(midi[:-2] - midi[2:]) < 1.0)
    weak[1:-1] |= gap
    edges = np.flatnonzero(np.diff(np.concatenate(([0], weak.astype(np.int8), [0]))))
    strong &= weak
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if strong[a:b].any()]


def _labels(smooth: np.ndarray) -> np.ndarray:
    labels = np.empty(len(smooth), np.int64)
    current = int(round(smooth[0]))
    for i, s in enumerate(smooth):
        if abs(s - current) > LABEL_HYSTERESIS:
            current = int(round(s))
        labels[i] = current
    return labels


def _runs(labels: np.ndarray) -> list[list[int]]:
    """[label, start, end) runs of equal labels."""
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(labels)]))
    return [[int(labels[a]), int(a), int(b)] for a, b in zip(starts, ends)]


def segment_region(midi: np.ndarray, min_frames: int) -> list[tuple[int, int, int, int, int]]:
    """Notes in one voiced region's pitch (semitones per frame): (start, end, settled start, settled
    end, pitch), frames relative to the region."""
    n = len(midi)
    if n < min_frames:
        return []
    steady = _median5(midi)
    smooth = _mean5(steady)
    runs = _runs(_labels(smooth))
    settle = min_frames
    scoop_frames = round(SCOOP_MAX_S / FRAME_SECONDS)

    def core(i: int) -> np.ndarray:
        """The run's frames within half a semitone of its label (the hysteresis lets a run go on
        0.75 from it: those frames are on their way to the next label)."""
        label, a, b = runs[i]
        return a + np.flatnonzero(np.abs(steady[a:b] - label) <= 0.5)

    def is_scoop(i: int, frames: np.ndarray) -> bool:
        """Whether run ``i`` slides on into the next held run: it moves towards it and arrives (its
        last frames within a semitone of it). A short note whose own scoop has not ended when the
        next note jumps away does not arrive, and stays a note."""
        label = runs[i][0]
        following = [j for j in range(i + 1, len(runs)) if long_enough[j]]
        if not following or len(frames) > scoop_frames:
            return False
        target = runs[following[0]][0]
        step = target - label
        if not 1 <= abs(step) <= 3:
            return False
        k = max(1, min(3, len(frames) // 4))
        end = float(np.mean(steady[frames[-k:]]))
        move = end - float(np.mean(steady[frames[:k]]))
        return move * np.sign(step) >= SCOOP_MIN_MOVE and abs(target - end) <= 1.0

    # settled runs keep their label; the others are absorbed (into the next run, or the previous)
    cores = [core(i) for i in range(len(runs))]
    long_enough = [len(c) >= settle for c in cores]
    settled = [ok and not is_scoop(i, c) for i, (ok, c) in enumerate(zip(long_enough, cores))]
    if not any(settled):
        # no pitch held long enough on one semitone (a slide, a very short note): one note if the
        # region is long enough, at its median pitch
        return [(0, n, 0, n, int(round(float(np.median(steady)))))]
    notes: list[list[int]] = []  # [start, end, settled start, settled end, label]
    pending_start = None
    for (label, a, b), ok in zip(runs, settled):
        if not ok:
            if pending_start is None:
                pending_start = a
            continue
        if notes and notes[-1][4] == label:  # the same semitone again after a blip: one note
            notes[-1][1], notes[-1][3] = b, b
            pending_start = None
            continue
        start = a if pending_start is None else pending_start
        notes.append([start, b, a, b, label])
        pending_start = None
    if pending_start is not None:  # a slide at the region's end: the last note's release
        notes[-1][1] = n
    notes[0][0] = 0
    # a legato boundary: where the pitch leaves the previous note's semitone
    for prev, cur in zip(notes, notes[1:]):
        lo, hi = prev[2], cur[2]
        inside = np.flatnonzero(np.abs(smooth[lo:hi] - prev[4]) <= 0.5)
        boundary = lo + int(inside[-1]) + 1 if inside.size else prev[1]
        boundary = min(max(boundary, prev[2] + 1), cur[2])
        prev[1] = cur[0] = boundary
    # a note left shorter than the minimum (its pitch left early for the next one: a scoop that
    # lingered) is the start of the next note; the last one, the end of the one before
    kept: list[list[int]] = []
    carry = None
    for i, note in enumerate(notes):
        if carry is not None:
            note[0], carry = carry, None
        if note[1] - note[0] < min_frames:
            if i + 1 < len(notes):
                carry = note[0]
                continue
            if kept:
                kept[-1][1] = note[1]
                continue
        kept.append(note)
    out: list[tuple[int, int, int, int, int]] = []
    for start, end, s0, s1, label in kept:
        pitch = int(round(float(np.median(midi[s0:s1]))))
        pitch = pitch if abs(pitch - label) <= 1 else label
        if out and out[-1][4] == pitch and out[-1][1] == start:  # neighbours on the same pitch: one note
            j = out[-1]
            out[-1] = (j[0], end, j[2], s1, pitch)
        else:
            out.append((start, end, s0, s1, pitch))
    return [note for note in out if note[1] - note[0] >= min_frames]


def periodicity(audio: np.ndarray, hz: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """For the given frames, how well the 16 kHz ``audio`` around each repeats at the model's period
    (the best normalised correlation of a window with itself one period later, within ±3%): near
    1 for a voice, low for breath or noise that the model gave a pitch (band-limited noise gets one)."""
    out = np.zeros(len(frames))
    x = np.asarray(audio, np.float64)
    for j, i in enumerate(frames):
        period = SAMPLE_RATE / max(float(hz[i]), 40.0)
        width = int(max(2 * period, 320))
        start = max(0, int(i) * HOP - width // 2)
        for scale in (0.97, 0.985, 1.0, 1.015, 1.03):
            lag = int(round(period * scale))
            if start + width + lag > len(x):
                continue
            a, b = x[start:start + width], x[start + lag:start + lag + width]
            den = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
            if den > 0:
                out[j] = max(out[j], float(np.dot(a, b)) / den)
    return out


def _velocity(loudness_db: np.ndarray) -> int:
    level = float(np.percentile(loudness_db, 90)) if loudness_db.size else VELOCITY_DB[0]
    low, high = VELOCITY_DB
    return int(np.clip(round(1 + 126 * (level - low) / (high - low)), 1, 127))


def notes_from_track(track: PitchTrack, options: Options, audio: np.ndarray | None = None,
                     first_frame: int = 0, loudest: float | None = None) -> list[NoteEvent]:
    """Notes from a pitch track (frame ``i`` centred on ``(first_frame + i) * 16 ms`` and on sample
    ``i * 256`` of ``audio``, the 16 kHz audio it was tracked from, if given: then a note must
    also repeat at its period)."""
    midi = _hz_to_midi(track.hz)
    events = []
    for a, b in voiced_regions(track, options, loudest):
        for start, end, s0, s1, pitch in segment_region(midi[a:b], options.min_frames):
            if not 0 <= pitch <= 127 or np.median(track.confidence[a + start:a + end]) < options.onset:
                continue  # out of MIDI's range; or mostly unsure frames: breath or noise, not a note
            if audio is not None:
                probe = np.unique(np.linspace(a + s0, a + s1 - 1, min(PERIODIC_PROBES, s1 - s0)).round().astype(int))
                if np.median(periodicity(audio, track.hz, probe)) < PERIODIC_MIN:
                    continue  # the model heard a pitch in noise (breath, hiss)
            t0 = max(0.0, (first_frame + a + start - 0.5) * FRAME_SECONDS)
            t1 = (first_frame + a + end - 0.5) * FRAME_SECONDS
            events.append(NoteEvent(round(t0, 4), round(t1, 4), pitch,
                                     _velocity(track.loudness_db[a + start:a + end])))
    return events


# --- live ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackedNote:
    """A note from ``MonoNoteTracker.feed``: ``final`` once it can no longer change, else the
    note as it stands (its end, and even its pitch, may still change; draw it as tentative)."""

    note: NoteEvent
    final: bool


MAX_OPEN_REGION_S = 30.0  # a phrase without a breath is segmented whole up to this, then cut


class MonoNoteTracker:
    """``mono_notes`` block by block, for live input at ``sr`` Hz.

    Each ``feed(block)`` returns the notes finished since the last call (final) and those of the
    phrase still sounding (tentative, given again at every call until final). Pitch frames are
    final once the model's lookahead (160 ms) has arrived, from the audio resampled as a stream:
    the same frames as the whole recording would give; tentative notes also use the newest frames
    as they stand before their lookahead, so a note shows about 160 ms sooner. A phrase is
    segmented whole while it sounds (notes in legato settle once the next has begun) and its
    notes become final when it ends (a breath, a gap) or reaches 30 s. ``finish()`` ends the
    stream and returns the rest as final.
    """

    def __init__(self, sr: int, *, min_note_ms: float = 80.0, onset_threshold: float | None = None,
                 frame_threshold: float | None = None, model=None) -> None:
        from engine.audio.dsp import StreamResampler

        self.options = Options.of(min_note_ms, onset_threshold, frame_threshold)
        _mono(np.zeros(0, np.float32), sr)  # the rate checked as mono_notes checks it
        self._model = model
        self._resampler = StreamResampler(int(sr), SAMPLE_RATE)
        self._audio = np.zeros(0, np.float32)  # 16 kHz, from sample _audio_start
        self._audio_start = 0
        self._received = 0  # 16 kHz samples received in all
        self._done = 0  # frames computed in all
        self._start = 0  # first frame of the open part (not yet final)
        self._hz: list[np.ndarray] = []
        self._conf: list[np.ndarray] = []
        self._loud: list[np.ndarray] = []
        self._strong_levels = np.zeros(0)  # loudness of recent confidently voiced frames
        self._provisional = (np.zeros(0), np.zeros(0), np.zeros(0))  # frames before their lookahead
        self._finished = False

    def _get_model(self):
        if self._model is None:
            from engine.models.swift_f0.loading import shared_model

            self._model = shared_model()
        return self._model

    def _compute(self, final: bool) -> None:
        from engine.models.swift_f0.pitch import _run

        available = self._received // HOP
        if final and self._done == 0 and available == 0 and self._received:
            available = 1
        last = available if final else available - LOOKAHEAD_FRAMES
        if last <= self._done:
            return
        first = max(0, self._done - LEFT_FRAMES)
        self._provisional = (np.zeros(0), np.zeros(0), np.zeros(0))
        window = self._audio[first * HOP - self._audio_start:]
        hz, conf, loud = _run(self._get_model(), window, 46.875, 2093.75)
        lo, hi = self._done - first, last - first
        # the frames still waiting for their lookahead, as they stand: for tentative notes only
        self._provisional = (hz[hi:], conf[hi:], loud[hi:])
        self._hz.append(hz[lo:hi])
        self._conf.append(conf[lo:hi])
        self._loud.append(loud[lo:hi])
        strong = loud[lo:hi][conf[lo:hi] >= self.options.onset]
        self._strong_levels = np.concatenate([self._strong_levels, strong])[-5000:]
        self._done = last

    def _track(self) -> PitchTrack:
        hz, conf, loud = (np.concatenate(x) if x else np.zeros(0) for x in (self._hz, self._conf, self._loud))
        self._hz, self._conf, self._loud = [hz], [conf], [loud]
        return PitchTrack(np.arange(len(hz)) * FRAME_SECONDS, hz, conf, loud)

    def _notes(self, track: PitchTrack, end: int, loudest: float | None) -> list[NoteEvent]:
        part = PitchTrack(track.times[:end], track.hz[:end], track.confidence[:end], track.loudness_db[:end])
        audio = self._audio[self._start * HOP - self._audio_start:]
        return notes_from_track(part, self.options, audio, first_frame=self._start, loudest=loudest)

    def _drop(self, frames: int) -> None:
        """Forget the first ``frames`` open frames (now final) and the audio no longer needed."""
        self._start += frames
        self._hz, self._conf, self._loud = ([x[0][frames:]] for x in (self._hz, self._conf, self._loud))
        keep_from = max(0, min(self._start, self._done - LEFT_FRAMES) - 4) * HOP
        if keep_from > self._audio_start:
            self._audio = self._audio[keep_from - self._audio_start:]
            self._audio_start = keep_from

    def _step(self, final: bool) -> list[TrackedNote]:
        track = self._track()
        n = len(track.hz)
        if n == 0:
            return []
        loudest = float(np.percentile(self._strong_levels, 95)) if self._strong_levels.size else None
        regions = voiced_regions(track, self.options, loudest)
        open_from = n  # the first frame of the phrase still sounding
        if not final and regions and regions[-1][1] >= n - 2:
            open_from = regions[-1][0]
            if n - open_from > MAX_OPEN_REGION_S / FRAME_SECONDS:
                open_from = n  # a phrase too long: cut here
        elif not final:
            open_from = max(0, n - 2)  # the last frames may still join a region
        out = [TrackedNote(note, True) for note in self._notes(track, open_from, loudest)] if open_from else []
        if open_from:
            self._drop(open_from)
            track = self._track()
        if not final:
            hz, conf, loud = (np.concatenate([a, b]) for a, b in zip(
                (track.hz, track.confidence, track.loudness_db), self._provisional))
            if len(hz):
                ahead = PitchTrack(np.arange(len(hz)) * FRAME_SECONDS, hz, conf, loud)
                out += [TrackedNote(note, False) for note in self._notes(ahead, len(hz), loudest)]
        return out

    def feed(self, block: np.ndarray) -> list[TrackedNote]:
        """Take the next block of the stream (mono, or (frames, channels)); return the notes
        finished since the last call, then the tentative ones."""
        if self._finished:
            raise RuntimeError("the tracker has been finished")
        x = _mono(block, self._resampler.orig_rate)
        y = self._resampler.push(x)
        self._audio = np.concatenate([self._audio, y])
        self._received += len(y)
        self._compute(final=False)
        return self._step(final=False)

    def finish(self) -> list[NoteEvent]:
        """End the stream: the notes not yet given as final."""
        if self._finished:
            return []
        self._finished = True
        y = self._resampler.flush()
        self._audio = np.concatenate([self._audio, y])
        self._received += len(y)
        self._compute(final=True)
        return [tracked.note for tracked in self._step(final=True)]
