"""`motet notes`: audio files to notes (MIDI or JSON), polyphonic with Basic Pitch or, with
``--mono``, one voice with engine.notes.mono."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.common import end_progress, fail, float_in, printable, progress_bar, warn

QUANTIZE = {"1/8": 2, "1/16": 4, "1/12": 3, "off": 0}  # grid steps per beat (a quarter note)
TICKS_PER_BEAT = 480
DEFAULT_TEMPO = 120.0
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0


def add_parsers(sub) -> None:
    p = sub.add_parser("notes", help="audio files to notes: one MIDI (or JSON) file each, polyphonic "
                                     "(Basic Pitch) or one voice (--mono)")
    p.add_argument("files", nargs="+", metavar="INPUT", help="audio files (WAV, FLAC, OGG, ...)")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder the notes files go into")
    p.add_argument("--mono", action="store_true",
                   help="one voice (humming, singing, whistling, one instrument) instead of polyphonic")
    p.add_argument("--onset-threshold", type=float_in(0, 1), metavar="P",
                   help="how sure the model must be of a note's start, 0-1 (default 0.5)")
    p.add_argument("--frame-threshold", type=float_in(0, 1), metavar="P",
                   help="how sure it must be that a note still sounds, 0-1 (default 0.3)")
    p.add_argument("--min-note-ms", type=float_in(0, 10_000), metavar="MS",
                   help="shortest note kept (default: 127.7 polyphonic, 80 with --mono)")
    p.add_argument("--tempo", type=float_in(MIN_TEMPO, MAX_TEMPO), metavar="BPM",
                   help=f"the file's tempo (default: detected from the notes, else {DEFAULT_TEMPO:g})")
    p.add_argument("--quantize", choices=tuple(QUANTIZE), default="off",
                   help="snap starts and ends to 1/8, 1/16 or 1/12 (eighth-note triplets) notes (default off)")
    p.add_argument("--format", choices=("mid", "json"), default="mid")


# -- tempo and grid ---------------------------------------------------------------------------
def estimate_tempo(notes, default: float = DEFAULT_TEMPO) -> float:
    """The tempo (BPM, 60-180) whose beat best explains the notes' onsets: the autocorrelation of
    the onset train (10 ms bins, smoothed) at the beat's lag, lightly preferring 120. ``default``
    when there are fewer than 8 distinct onsets or no lag stands out."""
    import numpy as np

    starts = sorted({round(n.start, 2) for n in notes})
    if len(starts) < 8:
        return default
    rate = 100  # bins a second
    train = np.zeros(int(starts[-1] * rate) + 2)
    train[np.round(np.asarray(starts) * rate).astype(int)] = 1.0
    train = np.convolve(train, np.array([0.25, 0.5, 1.0, 0.5, 0.25]), mode="same")
    train -= train.mean()
    lags = np.arange(int(rate * 60 / 180), int(rate * 60 / 60) + 1)
    if lags[-1] >= train.size // 2:
        return default
    ac = np.array([float(np.dot(train[:-lag], train[lag:])) / (train.size - lag) for lag in lags])
    energy = float(np.dot(train, train)) / train.size
    bpm = 60 * rate / lags
    score = ac * np.exp(-0.5 * (np.log2(bpm / 120) / 1.0) ** 2)
    best = int(np.argmax(score))
    if energy <= 0 or ac[best] < 0.15 * energy:  # no periodicity worth the name
        return default
    return float(round(bpm[best], 1))


def to_ticks(seconds: float, bpm: float) -> int:
    return int(round(seconds * bpm / 60 * TICKS_PER_BEAT))


def notes_to_score(notes, bpm: float, quantize: str, name: str):
    """A one-track Score of ``notes`` at ``bpm`` (starts and ends snapped to the grid of
    ``quantize``; a note snapped to nothing lasts one step; duplicates after snapping dropped)."""
    from engine.midi.score import Note, Score, TempoChange, Track, bpm_to_tempo

    steps = QUANTIZE[quantize]
    grid = TICKS_PER_BEAT // steps if steps else 1
    placed, seen = [], set()
    for n in notes:
        start, end = to_ticks(n.start, bpm), to_ticks(n.end, bpm)
        if steps:
            start, end = round(start / grid) * grid, round(end / grid) * grid
        end = max(end, start + grid)
        if (start, n.pitch) in seen:
            continue
        seen.add((start, n.pitch))
        placed.append(Note(start=start, pitch=n.pitch, duration=end - start, velocity=n.velocity))
    placed.sort(key=lambda x: (x.start, x.pitch))
    track = Track(name=name, notes=placed)
    return Score(ticks_per_beat=TICKS_PER_BEAT, tracks=[track], tempos=[TempoChange(0, bpm_to_tempo(bpm))])


def notes_json(notes, score, bpm: float, source: str, mode: str, quantize: str) -> str:
    """The notes as JSON: seconds as heard, and beats at ``bpm`` (quantized when asked)."""
    placed = score.tracks[0].notes
    data = {"source": source, "mode": mode, "tempo_bpm": bpm, "quantize": quantize,
            "ticks_per_beat": TICKS_PER_BEAT,
            "notes": [{"pitch": n.pitch, "velocity": n.velocity, "start_beat": n.start / TICKS_PER_BEAT,
                       "duration_beats": n.duration / TICKS_PER_BEAT,
                       "start_s": round(score.seconds_at(n.start), 4), "end_s": round(score.seconds_at(n.end), 4)}
                      for n in placed],
            "heard": [{"pitch": n.pitch, "velocity": n.velocity, "start_s": round(n.start, 4),
                       "end_s": round(n.end, 4)} for n in notes]}
    return json.dumps(data, indent=1) + "\n"


# -- the command ------------------------------------------------------------------------------
def _output_problem(out_dir: Path, files: list[Path], fmt: str) -> str | None:
    """As `motet transcribe`'s: ``--out`` is a file, or two inputs share a name."""
    from engine.batch.inputs import output_collision

    return output_collision(out_dir, [(path, out_dir / f"{path.stem}.{fmt}") for path in files],
                            option="--out", verb="run")


def _mono_notes_function():
    """engine.notes.mono.mono_notes, or None where this build has no monophonic mode."""
    try:
        from engine.notes.mono import mono_notes
    except ImportError:
        return None
    return mono_notes


def _write(score, text: str | None, wanted: Path, written: dict[Path, Path]) -> Path:
    """The notes under ``wanted`` or, where a file is there already that this run did not write,
    the first free name beside it (said in a line): nothing is replaced but this run's own file."""
    from engine.atomic import write_free, write_text
    from engine.midi.midifile import write_midi

    def write(path: Path, replace: bool) -> Path:
        if text is None:
            return write_midi(score, path, midi_type=1, replace=replace)
        return write_text(path, text, replace=replace)

    if wanted in written:  # the same input named twice: the same notes again
        return write(written[wanted], True)
    path = write_free(wanted, lambda p: write(p, False))
    if path != wanted:
        warn(f"{wanted.name} exists already; wrote {path.name}", after_progress=True)
    written[wanted] = path
    return path


def cmd_notes(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    files = [Path(name) for name in args.files]
    problem = _output_problem(out_dir, files, args.format)
    if problem:  # before any model loads
        return fail(printable(problem))
    mono_notes = None
    if args.mono:
        mono_notes = _mono_notes_function()
        if mono_notes is None:
            return fail("monophonic mode (--mono) is not available yet in this build; "
                        "leave out --mono for polyphonic notes")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(printable(f"cannot make the folder {out_dir}: {exc.strerror or exc}"))

    from engine.atomic import WriteError
    from engine.audio.files import AudioFileError, load_audio
    from engine.models.common.errors import CheckpointError
    from engine.notes.poly import DEFAULT_FRAME_THRESHOLD, DEFAULT_MIN_NOTE_MS, DEFAULT_ONSET_THRESHOLD

    model = None
    if not args.mono:
        from engine.models.basic_pitch.model import load_model

        try:
            model = load_model()
        except CheckpointError as exc:
            return fail(printable(exc))
    failures = 0
    written: dict[Path, Path] = {}
    for index, path in enumerate(files):
        label = f"[{index + 1}/{len(files)}] {path.name}" if len(files) > 1 else path.name
        bar = progress_bar(printable(label))
        try:
            if args.mono:
                options = {k: v for k, v in (("onset_threshold", args.onset_threshold),
                                             ("frame_threshold", args.frame_threshold),
                                             ("min_note_ms", args.min_note_ms)) if v is not None}
                audio, sr = load_audio(path, mono=True)
                seconds = audio.shape[0] / sr
                notes = mono_notes(audio[:, 0], sr, **options)
                bar(1.0)
            else:
                from engine.notes.poly import file_poly_notes

                notes, seconds = file_poly_notes(
                    path, model=model, progress=bar,
                    onset_threshold=DEFAULT_ONSET_THRESHOLD if args.onset_threshold is None else args.onset_threshold,
                    frame_threshold=DEFAULT_FRAME_THRESHOLD if args.frame_threshold is None else args.frame_threshold,
                    min_note_ms=DEFAULT_MIN_NOTE_MS if args.min_note_ms is None else args.min_note_ms)
            bpm = args.tempo if args.tempo is not None else estimate_tempo(notes)
            score = notes_to_score(notes, bpm, args.quantize, path.stem)
            text = (notes_json(notes, score, bpm, path.name, "mono" if args.mono else "poly", args.quantize)
                    if args.format == "json" else None)
            out = _write(score, text, out_dir / f"{path.stem}.{args.format}", written)
        except (AudioFileError, CheckpointError, ValueError, WriteError, OSError) as exc:  # one line each
            warn(printable(exc), after_progress=True)
            failures += 1
            continue
        end_progress()
        what = (f"{len(notes)} notes" if notes else "no notes (silence, or nothing the model heard as notes)")
        tempo = f"{bpm:g} BPM" + ("" if args.tempo is not None else " (detected)" if bpm != DEFAULT_TEMPO else "")
        print(printable(f"{path.name}: {seconds:.1f} s of audio, {what}, {tempo} -> {out}"), file=sys.stderr)
    return 2 if failures else 0



