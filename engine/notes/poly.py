"""Polyphonic notes from Basic Pitch's outputs (engine/models/basic_pitch), decoded the way
Basic Pitch decodes them (``note_creation.output_to_notes_polyphonic``), with two changes that
only make the result better or faster, never different in kind:

- onsets: frames whose onset activation (or, with ``infer_onsets``, a rise of the note
  activation over 1 and 2 frames, scaled to the onsets' peak) is a strict local maximum in time
  and at least ``onset_threshold``; taken from the last to the first, each becomes a note that
  lasts while the note activation stays at least ``frame_threshold`` (11 frames below it end
  it), if longer than ``min_note_ms``; its energy (and its neighbours' a semitone away) is then
  used up;
- the "melodia trick": what energy is left above ``frame_threshold`` becomes notes too, the
  strongest first, each grown both ways until 11 frames fall below the threshold.

The scans are done with NumPy on runs of frames, and the melodia trick takes the remaining
maxima from one sorted list instead of searching the whole matrix for each note, so a long
recording costs seconds, not minutes; the notes are the same as the frame-by-frame loops give
(the tests check it). Times are where each frame really lies in the audio: Basic Pitch's windows
advance 36164 samples but each gives 142 frames (141.27 frames' worth), which Basic Pitch
corrects with a constant fitted by hand; here each frame's time is computed from its window.
Pitch bends are not kept (``NoteEvent`` holds none).
"""

from __future__ import annotations

import numpy as np

from engine.notes import NoteEvent

SAMPLE_RATE = 22050
FFT_HOP = 256
WINDOW_HOP = 36164  # samples between Basic Pitch's windows (engine.models.basic_pitch.inference)
FRAMES_PER_WINDOW = 142  # frames each window keeps (172 less 15 at each end)
MIDI_OFFSET = 21
N_PITCHES = 88
ENERGY_TOL = 11  # frames below the threshold that end a note
DEFAULT_ONSET_THRESHOLD = 0.5
DEFAULT_FRAME_THRESHOLD = 0.3
DEFAULT_MIN_NOTE_MS = 127.7  # Basic Pitch's default: 11 frames


def frame_times(n_frames: int) -> np.ndarray:
    """Time in seconds of each of Basic Pitch's stitched output frames (its centre)."""
    t = np.arange(n_frames)
    window = t // FRAMES_PER_WINDOW
    return (window * WINDOW_HOP + (t - window * FRAMES_PER_WINDOW) * FFT_HOP) / SAMPLE_RATE


def min_note_frames(min_note_ms: float) -> int:
    """Basic Pitch's minimum note length in frames for ``min_note_ms``."""
    return int(np.round(min_note_ms / 1000 * (SAMPLE_RATE / FFT_HOP)))


def _inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    """The onsets, or where larger a rise of the frame activation (the smaller of its rises over
    1..n_diff frames), scaled so that its peak is the onsets' peak."""
    diff = None
    for n in range(1, n_diff + 1):
        shifted = np.zeros_like(frames)
        shifted[n:] = frames[:-n]
        d = frames - shifted
        diff = d if diff is None else np.minimum(diff, d)
    diff = np.maximum(diff, 0)
    diff[:n_diff] = 0
    top = float(diff.max()) if diff.size else 0.0
    if top > 0:
        diff = diff * (float(onsets.max()) / top)
    return np.maximum(onsets, diff)


def _scan(column: np.ndarray, start: int, limit: int, step: int, threshold: float,
          tol: int = ENERGY_TOL) -> tuple[int, int]:
    """Basic Pitch's scan along one pitch: ``i = start; k = 0; while i (<|>) limit and k < tol:
    k = k + 1 if column[i] < threshold else 0; i += step``. Returns (i, k), found by runs of
    frames at a time."""
    i, k, chunk = start, 0, 32
    while (i < limit if step > 0 else i > limit) and k < tol:
        stop = min(i + chunk, limit) if step > 0 else max(i - chunk, limit)
        values = column[i:stop] if step > 0 else column[stop + 1:i + 1][::-1]
        below = values < threshold
        idx = np.arange(below.size)
        # index of the last frame at or above the threshold up to each frame (-1 - k before the run)
        last_above = np.maximum.accumulate(np.where(below, -1 - k, idx))
        run = idx - last_above  # frames below the threshold ending at each frame
        reached = np.flatnonzero(run >= tol)
        if reached.size:
            j = int(reached[0])
            return i + (j + 1) * step, tol
        k = int(run[-1]) if run.size else k
        i = stop
        chunk *= 2
    return i, k


def _clear(energy: np.ndarray, lo: int, hi: int, pitch: int) -> None:
    """Use up the energy of frames lo..hi-1 at ``pitch`` and a semitone either side."""
    energy[lo:hi, max(pitch - 1, 0):min(pitch + 2, energy.shape[1])] = 0


def note_frames(note: np.ndarray, onset: np.ndarray, *, onset_threshold: float = DEFAULT_ONSET_THRESHOLD,
                frame_threshold: float = DEFAULT_FRAME_THRESHOLD, min_note_len: int = 11,
                infer_onsets: bool = True, melodia_trick: bool = True,
                energy_tol: int = ENERGY_TOL) -> list[tuple[int, int, int, float]]:
    """Notes as (start frame, end frame, MIDI pitch, amplitude 0-1) from the (T, 88) note and
    onset activations: Basic Pitch's decoding (the module's docstring)."""
    frames = np.asarray(note, dtype=np.float32)
    onsets = np.asarray(onset, dtype=np.float32)
    if frames.ndim != 2 or frames.shape[1] != N_PITCHES or onsets.shape != frames.shape:
        raise ValueError(f"note and onset activations should both be (frames, {N_PITCHES}), "
                         f"got {frames.shape} and {onsets.shape}")
    n_frames = frames.shape[0]
    if n_frames < 3:
        return []
    if infer_onsets:
        onsets = _inferred_onsets(onsets, frames)
    peaks = np.zeros(onsets.shape, dtype=bool)
    peaks[1:-1] = (onsets[1:-1] > onsets[:-2]) & (onsets[1:-1] > onsets[2:])
    peaks &= onsets >= onset_threshold
    t_idx, f_idx = np.nonzero(peaks)
    energy = frames.copy()
    events: list[tuple[int, int, int, float]] = []
    for start, pitch in zip(t_idx[::-1].tolist(), f_idx[::-1].tolist()):
        if start >= n_frames - 1:
            continue
        i, k = _scan(energy[:, pitch], start + 1, n_frames - 1, 1, frame_threshold, energy_tol)
        end = i - k
        if end - start <= min_note_len:
            continue
        _clear(energy, start, end, pitch)
        events.append((start, end, pitch + MIDI_OFFSET, float(np.mean(frames[start:end, pitch]))))
    if melodia_trick:
        events.extend(_melodia(frames, energy, frame_threshold, min_note_len, energy_tol))
    return events


def _melodia(frames: np.ndarray, energy: np.ndarray, frame_threshold: float, min_note_len: int,
             energy_tol: int) -> list[tuple[int, int, int, float]]:
    """Notes grown from what energy is left, the strongest first (ties: the earliest frame, the
    lowest pitch, as np.argmax gives them)."""
    n_frames = energy.shape[0]
    flat = energy.reshape(-1)
    candidates = np.flatnonzero(flat > frame_threshold)
    order = candidates[np.lexsort((candidates, -flat[candidates]))]
    events = []
    for index in order.tolist():
        if flat[index] <= frame_threshold:  # used up since (energy is only ever zeroed)
            continue
        mid, pitch = divmod(index, N_PITCHES)
        energy[mid, pitch] = 0
        column = energy[:, pitch]
        i, k = _scan(column, mid + 1, n_frames - 1, 1, frame_threshold, energy_tol)
        _clear(energy, mid + 1, i, pitch)
        end = i - 1 - k
        i, k = _scan(column, mid - 1, 0, -1, frame_threshold, energy_tol)
        _clear(energy, i + 1, mid, pitch)
        start = i + 1 + k
        if end - start <= min_note_len:
            continue
        events.append((start, end, pitch + MIDI_OFFSET, float(np.mean(frames[start:end, pitch]))))
    return events


def poly_notes(outputs: dict[str, np.ndarray], *, onset_threshold: float = DEFAULT_ONSET_THRESHOLD,
               frame_threshold: float = DEFAULT_FRAME_THRESHOLD, min_note_ms: float = DEFAULT_MIN_NOTE_MS,
               infer_onsets: bool = True, melodia_trick: bool = True) -> list[NoteEvent]:
    """NoteEvents (seconds of the input audio, sorted by start then pitch) from Basic Pitch's
    stitched outputs ({"note": (T, 88), "onset": (T, 88), ...}, engine.models.basic_pitch.inference)."""
    for name, value in (("onset_threshold", onset_threshold), ("frame_threshold", frame_threshold)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} should be between 0 and 1, got {value}")
    if not 0 <= min_note_ms <= 60_000:
        raise ValueError(f"min_note_ms should be between 0 and 60000, got {min_note_ms}")
    note, onset = outputs["note"], outputs["onset"]
    found = note_frames(note, onset, onset_threshold=onset_threshold, frame_threshold=frame_threshold,
                        min_note_len=min_note_frames(min_note_ms), infer_onsets=infer_onsets,
                        melodia_trick=melodia_trick)
    times = frame_times(np.asarray(note).shape[0])
    events = [NoteEvent(start=float(times[s]), end=float(times[e]), pitch=int(p),
                        velocity=int(min(127, max(1, round(127 * a)))))
              for s, e, p, a in found if times[e] > times[s]]
    return sorted(events, key=lambda n: (n.start, n.pitch, n.end))


def audio_poly_notes(audio: np.ndarray, sr: int, *, model=None, **options) -> list[NoteEvent]:
    """NoteEvents of a whole mono float32 recording at ``sr`` Hz (resampled to 22050 Hz) through
    Basic Pitch (``model``: a loaded one, default the shipped weights). ``options``: poly_notes'."""
    from engine.audio.files import resample
    from engine.models.basic_pitch.inference import predict
    from engine.models.basic_pitch.model import load_model

    audio = np.asarray(audio, np.float32).reshape(-1)
    if sr != SAMPLE_RATE:
        audio = resample(audio, sr, SAMPLE_RATE)
    model = model if model is not None else load_model()
    return poly_notes(predict(model, audio, keep_contour=False), **options)


READ_BLOCK_SECONDS = 10.0  # audio read from a file at a time


def _file_blocks(path, progress=None):
    """The file at ``path`` as 22050 Hz mono float32 blocks, read ``READ_BLOCK_SECONDS`` at a
    time (a long file is never held whole); AudioFileError for what cannot be read, non-finite
    samples included. ``progress(fraction)`` as the file is read."""
    import os
    from pathlib import Path

    import soundfile as sf

    from engine.audio.dsp import StreamResampler
    from engine.audio.files import AudioFileError, _describe_read_error, audio_info, check_finite

    p = Path(path)
    info = audio_info(p, whole=False)  # readable, an audio file, a sane rate
    if info.frames <= 0:
        raise AudioFileError(f"'{p.name}' contains no audio (0 samples)")
    resampler = StreamResampler(info.sample_rate, SAMPLE_RATE)
    block = max(1, int(READ_BLOCK_SECONDS * info.sample_rate))
    done = 0
    try:
        with sf.SoundFile(os.fsencode(p)) as f:
            while True:
                try:
                    data = f.read(block, dtype="float32", always_2d=True)
                except Exception as exc:  # libsndfile's several kinds: a damaged or truncated file
                    raise AudioFileError(_describe_read_error(p, exc)) from exc
                if not data.shape[0]:
                    break
                try:
                    check_finite(data, p.name)
                except ValueError as exc:
                    raise AudioFileError(str(exc)) from None
                mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
                done += data.shape[0]
                if progress is not None:
                    progress(min(done / info.frames, 1.0))
                yield resampler.push(mono)
    except AudioFileError:
        raise
    except Exception as exc:  # opening it
        raise AudioFileError(_describe_read_error(p, exc)) from exc
    if done == 0:
        raise AudioFileError(f"'{p.name}' contains no audio (0 samples)")
    yield resampler.flush()


def file_poly_notes(path, *, model=None, progress=None, should_stop=None, **options) -> tuple[list[NoteEvent], float]:
    """(NoteEvents, seconds of audio) of the audio file ``path`` through Basic Pitch, streamed
    (read, resampled and run in windows; only the note and onset activations, 88 + 88 floats a
    frame, are kept). ``options``: poly_notes'."""
    from engine.models.basic_pitch.inference import predict_blocks
    from engine.models.basic_pitch.model import load_model

    model = model if model is not None else load_model()
    counted = [0]

    def blocks():
        for b in _file_blocks(path, progress):
            counted[0] += b.size
            yield b

    outputs = predict_blocks(model, blocks(), keep_contour=False, should_stop=should_stop)
    return poly_notes(outputs, **options), counted[0] / SAMPLE_RATE
