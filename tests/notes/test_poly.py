"""Polyphonic notes from Basic Pitch's outputs (engine.notes.poly): the fast decoding gives the
same notes as Basic Pitch's frame-by-frame loops, and on rendered music of known notes the notes
are found (onset within 50 ms, pitch exact)."""

import numpy as np
import pytest

from engine.notes import NoteEvent
from engine.notes.poly import frame_times, note_frames, poly_notes

SR = 22050


# -- the decoding, written out frame by frame as basic_pitch.note_creation does it --------------
def loop_decoding(frames, onsets, onset_thresh=0.5, frame_thresh=0.3, min_note_len=11, energy_tol=11):
    frames = frames.astype(np.float64)
    onsets = onsets.astype(np.float64)
    n = frames.shape[0]
    diffs = []
    for d in (1, 2):
        appended = np.concatenate([np.zeros((d, frames.shape[1])), frames])
        diffs.append(appended[d:] - appended[:-d])
    diff = np.min(diffs, axis=0)
    diff[diff < 0] = 0
    diff[:2] = 0
    if diff.max() > 0:
        diff = onsets.max() * diff / diff.max()
    onsets = np.maximum(onsets, diff)
    peaks = np.zeros(onsets.shape, bool)
    for t in range(1, n - 1):
        peaks[t] = (onsets[t] > onsets[t - 1]) & (onsets[t] > onsets[t + 1])
    ts, fs = np.nonzero(peaks & (onsets >= onset_thresh))
    energy = frames.copy()
    events = []
    for start, f in zip(ts[::-1], fs[::-1]):
        if start >= n - 1:
            continue
        i, k = start + 1, 0
        while i < n - 1 and k < energy_tol:
            k = k + 1 if energy[i, f] < frame_thresh else 0
            i += 1
        i -= k
        if i - start <= min_note_len:
            continue
        energy[start:i, max(f - 1, 0):f + 2] = 0
        events.append((start, i, f + 21, frames[start:i, f].mean()))
    while energy.max() > frame_thresh:
        mid, f = np.unravel_index(np.argmax(energy), energy.shape)
        energy[mid, f] = 0
        i, k = mid + 1, 0
        while i < n - 1 and k < energy_tol:
            k = k + 1 if energy[i, f] < frame_thresh else 0
            energy[i, max(f - 1, 0):f + 2] = 0
            i += 1
        end = i - 1 - k
        i, k = mid - 1, 0
        while i > 0 and k < energy_tol:
            k = k + 1 if energy[i, f] < frame_thresh else 0
            energy[i, max(f - 1, 0):f + 2] = 0
            i -= 1
        start = i + 1 + k
        if end - start <= min_note_len:
            continue
        events.append((start, end, f + 21, frames[start:end, f].mean()))
    return events


def blobs(n_frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Activations like the model's: notes as smooth blobs, onset bumps at their starts, noise."""
    rng = np.random.default_rng(seed)
    note = rng.uniform(0, 0.35, (n_frames, 88)).astype(np.float32) ** 2 * 3
    onset = rng.uniform(0, 0.3, (n_frames, 88)).astype(np.float32)
    for _ in range(n_frames // 8):
        s, p, length = rng.integers(0, n_frames - 5), rng.integers(0, 88), rng.integers(3, 60)
        level = rng.uniform(0.2, 1)
        shape = rng.uniform(0.6, 1, min(length, n_frames - s))
        note[s:s + length, p] = np.maximum(note[s:s + length, p], level * shape)
        if rng.random() < 0.7:
            onset[s, p] = max(onset[s, p], rng.uniform(0.3, 1))
    return note, onset


@pytest.mark.parametrize("seed", range(6))
def test_same_notes_as_the_frame_by_frame_decoding(seed):
    note, onset = blobs(700, seed)
    thresholds = [(0.5, 0.3, 11), (0.3, 0.2, 5), (0.7, 0.5, 20)][seed % 3]
    ours = note_frames(note, onset, onset_threshold=thresholds[0], frame_threshold=thresholds[1],
                       min_note_len=thresholds[2])
    ref = loop_decoding(note, onset, *thresholds)
    assert [e[:3] for e in ours] == [e[:3] for e in ref]
    np.testing.assert_allclose([e[3] for e in ours], [e[3] for e in ref], rtol=1e-5)
    assert len(ours) > 10


def test_frame_times_follow_the_windows():
    times = frame_times(500)
    assert times[0] == 0 and times[1] == pytest.approx(256 / SR)
    # window 1's first frame: 36164 samples in
    assert times[142] == pytest.approx(36164 / SR)
    assert np.all(np.diff(times) > 0)


def test_silence_and_bad_options():
    quiet = {"note": np.zeros((300, 88), np.float32), "onset": np.zeros((300, 88), np.float32)}
    assert poly_notes(quiet) == []
    assert poly_notes({"note": np.zeros((0, 88), np.float32), "onset": np.zeros((0, 88), np.float32)}) == []
    with pytest.raises(ValueError, match="onset_threshold"):
        poly_notes(quiet, onset_threshold=1.5)
    with pytest.raises(ValueError, match="min_note_ms"):
        poly_notes(quiet, min_note_ms=-1)
    with pytest.raises(ValueError, match="frames, 88"):
        poly_notes({"note": np.zeros((10, 87)), "onset": np.zeros((10, 87))})


# -- on audio whose notes are known ---------------------------------------------------------
def note_f1(found: list[NoteEvent], truth: list[NoteEvent], tol: float = 0.05) -> float:
    """mir_eval-style onset F1: each true note matched at most once, pitch exact, onset within tol."""
    used = set()
    hits = 0
    for t in sorted(truth, key=lambda n: n.start):
        best = None
        for i, f in enumerate(found):
            if i not in used and f.pitch == t.pitch and abs(f.start - t.start) <= tol:
                if best is None or abs(f.start - t.start) < abs(found[best].start - t.start):
                    best = i
        if best is not None:
            used.add(best)
            hits += 1
    if not found or not truth:
        return float(not found and not truth)
    p, r = hits / len(found), hits / len(truth)
    return 0.0 if hits == 0 else 2 * p * r / (p + r)


def piano_piece(seed: int, seconds: float = 12.0):
    """Notes and chords of the SoundFont's piano, rendered at 22050 Hz mono."""
    from engine.audio.files import resample
    from engine.midi.score import Note, Score, Track
    from engine.midi.synth import SAMPLE_RATE as SYNTH_SR, get_synthesizer

    rng = np.random.default_rng(seed)
    tpb, bpm = 480, 120
    notes, t = [], 0.25
    while t < seconds - 1:
        chord = rng.choice(np.arange(45, 84), size=int(rng.integers(1, 4)), replace=False)
        dur = float(rng.choice([0.25, 0.5, 0.75]))
        for p in chord:
            velocity = int(rng.integers(70, 110))
            notes.append(Note(round(t * bpm / 60 * tpb), int(p), round(dur * bpm / 60 * tpb), velocity))
        t += dur + float(rng.choice([0, 0.125, 0.25]))
    score = Score(ticks_per_beat=tpb, tracks=[Track(notes=notes)])
    audio = get_synthesizer().render(score, tail=0.5).mean(axis=1)
    truth = [NoteEvent(score.seconds_at(n.start), score.seconds_at(n.end), n.pitch, n.velocity) for n in notes]
    return resample(audio.astype(np.float32), SYNTH_SR, SR), truth


@pytest.fixture(scope="module")
def model():
    from engine.models.basic_pitch.model import load_model

    return load_model()


@pytest.mark.parametrize("seed", [0, 1])
def test_rendered_piano_notes_found(model, seed):
    from engine.models.basic_pitch.inference import predict

    audio, truth = piano_piece(seed)
    outputs = predict(model, audio, keep_contour=False)
    found = poly_notes(outputs)
    f1 = note_f1(found, truth)
    assert f1 >= 0.8, f"note F1 {f1:.3f} on {len(truth)} notes, {len(found)} found"
    assert all(1 <= n.velocity <= 127 and n.end > n.start for n in found)
