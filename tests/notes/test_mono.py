"""Monophonic notes (engine/notes/mono.py) on synthetic singing whose true notes are known: vibrato,
scoops, legato and breath must not add, lose or move notes. Material: benchmarks/notes_mono.py's
voices (the benchmark runs more of them)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.notes_mono import VOICES, onset_scores, sung_melody
from engine.notes import NoteEvent
from engine.notes.mono import mono_notes

SR = 44100


def _tone(segments, sr: int = SR, vibrato_cents: float = 45.0, rate: float = 5.5, level: float = 0.3,
          vibrato_from: float = 0.0) -> np.ndarray:
    """A voice-like tone following ``segments`` of (seconds, start MIDI, end MIDI, glide seconds):
    the pitch glides from start to end over the glide, then holds, with vibrato (fading in over
    100 ms from ``vibrato_from`` s)."""
    pitch = np.concatenate([
        np.where((t := np.arange(int(d * sr)) / sr) < g, a + (b - a) * np.clip(t / max(g, 1e-9), 0, 1), b)
        for d, a, b, g in segments])
    t = np.arange(len(pitch)) / sr
    pitch = pitch + vibrato_cents / 100 * np.sin(2 * np.pi * rate * t) * np.clip((t - vibrato_from) / 0.1, 0, 1)
    phase = 2 * np.pi * np.cumsum(440 * 2 ** ((pitch - 69) / 12)) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    fade = np.minimum(1, np.minimum(t / 0.02, (t[-1] - t) / 0.03))
    return (level * x * fade / np.max(np.abs(x))).astype(np.float32)


def _pad(x: np.ndarray, before: float = 0.3, after: float = 0.3, sr: int = SR) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * sr), np.float32), x, np.zeros(int(after * sr), np.float32)])


def test_vibrato_is_one_note():
    """±50 cents at 5.5 Hz for 2 s, sung 20 cents sharp (its peaks 70 cents above the note): one
    note at the centre pitch, not one per wobble."""
    notes = mono_notes(_pad(_tone([(2.0, 57.2, 57.2, 0)], vibrato_cents=50)), SR)
    assert [n.pitch for n in notes] == [57]
    assert notes[0].start == pytest.approx(0.3, abs=0.05) and notes[0].end == pytest.approx(2.3, abs=0.06)


def test_a_scoop_moves_the_onset_not_the_pitch():
    """200 ms sliding up from two semitones below, then vibrato: one note at the target, starting
    with the slide."""
    notes = mono_notes(_pad(_tone([(1.2, 62, 64, 0.2)], vibrato_from=0.2)), SR)
    assert [n.pitch for n in notes] == [64]
    assert notes[0].start == pytest.approx(0.3, abs=0.05)


def test_legato_steps_are_separate_notes():
    """Semitone steps sung without a gap (40 ms glides), each held 300 ms with vibrato: three notes
    starting where each glide starts."""
    notes = mono_notes(_pad(_tone([(0.3, 60, 60, 0), (0.3, 60, 61, 0.04), (0.4, 61, 59, 0.04)])), SR)
    assert [n.pitch for n in notes] == [60, 61, 59]
    assert [n.start for n in notes] == pytest.approx([0.3, 0.6, 0.9], abs=0.05)
    assert all(a.end <= b.start for a, b in zip(notes, notes[1:]))


def test_melodies_with_vibrato_scoops_legato_and_breath():
    """Four synthetic sung or hummed melodies (four voices, three sample rates): onset F1 ≥ 0.9 with
    pitches exact, and nearly every note's middle covered by a note of its pitch."""
    matched = estimated = reference = covered = 0
    for seed in (1, 4, 5, 8):  # baritone 48 kHz, soprano 44.1 kHz, hum 48 kHz, tenor 44.1 kHz
        melody = sung_melody(seed)
        notes = mono_notes(melody.audio, melody.sr)
        assert all(isinstance(n, NoteEvent) and 1 <= n.velocity <= 127 and n.end > n.start for n in notes)
        assert all(a.end <= b.start + 1e-9 for a, b in zip(notes, notes[1:]))
        scores = onset_scores(notes, melody.notes)
        matched, estimated, reference = (matched + scores["matched"], estimated + scores["estimated"],
                                         reference + scores["reference"])
        covered += sum(any(n.pitch == p and n.start <= (a + b) / 2 <= n.end for n in notes)
                       for a, b, p in melody.notes)
    precision, recall = matched / estimated, matched / reference
    assert 2 * precision * recall / (precision + recall) >= 0.9, (matched, estimated, reference)
    assert covered >= 0.95 * reference
    assert {v.name for v in VOICES} >= {"baritone", "soprano", "hum", "tenor"}


def test_velocity_follows_loudness():
    loud = mono_notes(_pad(_tone([(0.6, 60, 60, 0)], level=0.5)), SR)
    soft = mono_notes(_pad(_tone([(0.6, 60, 60, 0)], level=0.02)), SR)
    assert len(loud) == len(soft) == 1 and loud[0].velocity > soft[0].velocity + 30


def test_silence_breath_and_noise_give_no_notes():
    rng = np.random.default_rng(0)
    assert mono_notes(np.zeros(SR, np.float32), SR) == []
    assert mono_notes(np.zeros(0, np.float32), SR) == []
    spec = np.fft.rfft(rng.standard_normal(2 * SR))
    f = np.fft.rfftfreq(2 * SR, 1 / SR)
    spec[(f < 400) | (f > 4000)] = 0  # an inhaled breath
    breath = np.fft.irfft(spec, 2 * SR)
    breath *= np.sin(np.linspace(0, np.pi, 2 * SR)) ** 2 * 0.05 / np.std(breath)
    assert mono_notes(breath.astype(np.float32), SR) == []
    assert len(mono_notes((0.1 * rng.standard_normal(2 * SR)).astype(np.float32), SR)) <= 1


def test_stereo_and_other_rates():
    x = _pad(_tone([(0.8, 67, 67, 0)], sr=22050), sr=22050)
    assert [n.pitch for n in mono_notes(np.stack([x, x], axis=1), 22050)] == [67]
    assert [n.pitch for n in mono_notes((x * 32767).astype(np.int16).astype(np.float32) / 32767, 22050)] == [67]


@pytest.mark.parametrize("kwargs, message", [
    ({"min_note_ms": -1.0}, "min-note-ms"), ({"min_note_ms": float("nan")}, "min-note-ms"),
    ({"onset_threshold": 1.5}, "onset-threshold"), ({"frame_threshold": -0.1}, "frame-threshold"),
])
def test_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mono_notes(np.zeros(1000, np.float32), 16000, **kwargs)


def test_bad_audio_is_refused():
    x = np.zeros(1000, np.float32)
    x[10] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        mono_notes(x, 16000)
    with pytest.raises(ValueError, match="sample rate"):
        mono_notes(np.zeros(1000, np.float32), 0)
    with pytest.raises(ValueError, match="shape"):
        mono_notes(np.zeros((2, 2, 2), np.float32), 16000)


def test_min_note_drops_short_notes():
    x = _pad(_tone([(0.12, 64, 64, 0)], vibrato_cents=0))
    assert [n.pitch for n in mono_notes(x, SR)] == [64]
    assert mono_notes(x, SR, min_note_ms=200) == []


def test_live_tracker_gives_the_offline_notes():
    """Block by block (0.2 s blocks at 48 kHz): the final notes are exactly mono_notes' on the whole
    recording; each note is shown (tentative or final) before the stream ends; finals never repeat."""
    from engine.notes.mono import MonoNoteTracker

    melody = sung_melody(1)
    offline = mono_notes(melody.audio, melody.sr)
    tracker = MonoNoteTracker(melody.sr)
    final, seen_at = [], {}
    block = int(0.2 * melody.sr)
    for i in range(0, len(melody.audio), block):
        for tracked in tracker.feed(melody.audio[i:i + block]):
            if tracked.final:
                final.append(tracked.note)
            seen_at.setdefault(tracked.note.start, (i + block) / melody.sr)
    final += tracker.finish()
    assert final == offline
    assert tracker.finish() == []
    shown_late = [n for n in offline if seen_at.get(n.start, np.inf) > n.start + 0.6]  # 0.2 s blocks + settling
    assert len(shown_late) <= 2, shown_late


def test_live_tracker_refuses_bad_input():
    from engine.notes.mono import MonoNoteTracker

    with pytest.raises(ValueError, match="sample rate"):
        MonoNoteTracker(0)
    tracker = MonoNoteTracker(16000)
    assert tracker.feed(np.zeros(160, np.float32)) == []
    with pytest.raises(ValueError, match="not finite"):
        tracker.feed(np.full(160, np.inf, np.float32))
    assert tracker.finish() == []
    with pytest.raises(RuntimeError):
        tracker.feed(np.zeros(160, np.float32))
