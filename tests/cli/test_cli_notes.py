"""`motet notes` as a user runs it: rendered piano music in, one MIDI or JSON file of its notes
out; bad input, clashing outputs and files it did not write each get one line."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from engine.cli import run
from engine.cli.notes import estimate_tempo, notes_to_score
from engine.notes import NoteEvent


def rendered(seconds: float = 8.0, seed: int = 0):
    """A 120 BPM piece of piano chords on eighth notes, rendered through the SoundFont (44.1 kHz
    stereo, so the command downmixes and resamples), and its notes."""
    from engine.midi.score import Note, Score, Track
    from engine.midi.synth import get_synthesizer

    rng = np.random.default_rng(seed)
    notes, beat = [], 0.5
    while beat < seconds * 2 - 2:
        for p in rng.choice(np.arange(48, 80), size=int(rng.integers(1, 3)), replace=False):
            notes.append(Note(int(beat * 480), int(p), int(rng.choice([1, 2])) * 240, 100))
        beat += float(rng.choice([0.5, 1.0]))
    score = Score(tracks=[Track(notes=notes)])
    audio = get_synthesizer().render(score, tail=0.5)
    truth = [NoteEvent(score.seconds_at(n.start), score.seconds_at(n.end), n.pitch, n.velocity) for n in notes]
    return audio, truth


@pytest.fixture(scope="module")
def piece(tmp_path_factory):
    from engine.midi.synth import SAMPLE_RATE

    audio, truth = rendered()
    path = tmp_path_factory.mktemp("in") / "tune.wav"
    sf.write(path, audio, SAMPLE_RATE)
    return path, truth


def onset_f1(found, truth, tol=0.05):
    used, hits = set(), 0
    for t in truth:
        match = next((i for i, f in enumerate(found)
                      if i not in used and f[1] == t.pitch and abs(f[0] - t.start) <= tol), None)
        if match is not None:
            used.add(match)
            hits += 1
    return 2 * hits / (len(found) + len(truth)) if found or truth else 1.0


def midi_notes(path):
    from engine.midi.midifile import read_midi

    score = read_midi(path)
    assert len(score.tracks) <= 1  # one track of notes (none read back when it is empty)
    return score, [(score.seconds_at(n.start), n.pitch) for t in score.tracks for n in t.notes]


def test_midi_of_the_notes_heard(piece, tmp_path, capsys):
    path, truth = piece
    assert run(["notes", str(path), "--out", str(tmp_path / "out"), "--tempo", "120"]) == 0
    score, found = midi_notes(tmp_path / "out" / "tune.mid")
    assert score.tempos[0].bpm == pytest.approx(120)
    assert onset_f1(found, truth) >= 0.8
    err = capsys.readouterr().err
    assert "tune.wav: 7.8 s of audio, " in err and "notes, 120 BPM ->" in err and "Traceback" not in err


def test_json_quantized_and_tempo_detected(piece, tmp_path):
    path, truth = piece
    assert run(["notes", str(path), "--out", str(tmp_path), "--format", "json", "--quantize", "1/16"]) == 0
    data = json.loads((tmp_path / "tune.json").read_text())
    assert data["mode"] == "poly" and data["quantize"] == "1/16"
    assert data["tempo_bpm"] == pytest.approx(120, abs=3)  # eighth notes at 120: detected
    assert data["notes"] and all((n["start_beat"] * 4) % 1 == 0 for n in data["notes"])
    assert all(n["duration_beats"] >= 0.25 for n in data["notes"])
    heard = [(n["start_s"], n["pitch"]) for n in data["heard"]]
    assert onset_f1(heard, truth) >= 0.8


@pytest.mark.parametrize("grid,step", [("1/8", 0.5), ("1/12", 1 / 3)])
def test_quantize_grids(grid, step):
    notes = [NoteEvent(0.26, 0.61, 60, 90), NoteEvent(1.04, 1.05, 62, 80), NoteEvent(1.01, 1.2, 62, 80)]
    score = notes_to_score(notes, 120, grid, "x")
    for n in score.tracks[0].notes:
        assert (n.start / 480 / step) == pytest.approx(round(n.start / 480 / step))
        assert n.duration >= 480 * step - 1
    assert len(score.tracks[0].notes) == 2  # two starts snapped onto one: kept once


def test_tempo_estimate():
    beats = [NoteEvent(i * 0.5, i * 0.5 + 0.3, 60, 90) for i in range(20)]  # quarter notes at 120
    assert estimate_tempo(beats) == pytest.approx(120, abs=2)
    slow = [NoteEvent(i * 0.75, i * 0.75 + 0.3, 60, 90) for i in range(20)]  # 80 BPM
    assert estimate_tempo(slow) == pytest.approx(80, abs=2) or estimate_tempo(slow) == pytest.approx(160, abs=3)
    assert estimate_tempo(beats[:5]) == 120  # too few onsets: the default


def test_silence_gives_no_notes(tmp_path, capsys):
    sf.write(tmp_path / "quiet.wav", np.zeros(22050 * 3, np.float32), 22050)
    assert run(["notes", str(tmp_path / "quiet.wav"), "--out", str(tmp_path)]) == 0
    assert "no notes" in capsys.readouterr().err
    _, found = midi_notes(tmp_path / "quiet.mid")
    assert found == []


def test_noise_gives_few_notes(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "noise.wav", 0.3 * rng.standard_normal(22050 * 5).astype(np.float32), 22050)
    assert run(["notes", str(tmp_path / "noise.wav"), "--out", str(tmp_path)]) == 0
    _, found = midi_notes(tmp_path / "noise.mid")
    assert len(found) <= 5


def one_line_error(capsys, *parts):
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.endswith("%")]  # progress lines in a log
    assert len(err) == 1 and "Traceback" not in err[0], err
    for part in parts:
        assert part in err[0]
    return err[0]


def test_bad_inputs_are_one_line(tmp_path, capsys):
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" * 10)
    assert run(["notes", str(tmp_path / "junk.wav"), "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "junk.wav")
    assert run(["notes", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "missing.wav", "not found")
    bad = np.zeros(22050, np.float32)
    bad[100] = np.nan
    sf.write(tmp_path / "nan.wav", bad, 22050, subtype="FLOAT")
    assert run(["notes", str(tmp_path / "nan.wav"), "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "nan.wav", "not finite")
    assert not list((tmp_path / "o").glob("*.mid"))


def test_unwritable_or_clashing_outputs_refused(piece, tmp_path, capsys):
    path, _ = piece
    (tmp_path / "afile").write_text("x")
    assert run(["notes", str(path), "--out", str(tmp_path / "afile")]) == 2
    one_line_error(capsys, "is a file")
    assert run(["notes", str(path), "--out", str(tmp_path / "afile" / "sub")]) == 2
    one_line_error(capsys, "cannot make the folder")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in "ab":
        (tmp_path / d / "tune.wav").write_bytes(path.read_bytes())
    assert run(["notes", str(tmp_path / "a" / "tune.wav"), str(tmp_path / "b" / "tune.wav"),
                "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "would both be written to")
    assert not (tmp_path / "out").exists()


def test_never_overwrites_a_file_it_did_not_write(piece, tmp_path, capsys):
    path, _ = piece
    (tmp_path / "tune.json").write_text("mine")
    # the same input twice: one file of this run, written again
    assert run(["notes", str(path), str(path), "--out", str(tmp_path), "--format", "json"]) == 0
    assert (tmp_path / "tune.json").read_text() == "mine"
    assert json.loads((tmp_path / "tune-2.json").read_text())["notes"]
    assert not (tmp_path / "tune-3.json").exists()
    assert "tune.json exists already; wrote tune-2.json" in capsys.readouterr().err


def test_mono_unavailable_is_one_line(piece, tmp_path, capsys, monkeypatch):
    import engine.cli.notes as notes_cli

    monkeypatch.setattr(notes_cli, "_mono_notes_function", lambda: None)
    path, _ = piece
    assert run(["notes", str(path), "--out", str(tmp_path), "--mono"]) == 2
    one_line_error(capsys, "monophonic mode (--mono) is not available yet")


def test_mono_calls_the_one_voice_extractor(tmp_path, capsys, monkeypatch):
    import engine.cli.notes as notes_cli

    calls = []

    def fake_mono_notes(audio, sr, **options):
        calls.append((audio.dtype, audio.ndim, sr, options))
        return [NoteEvent(0.5, 1.0, 69, 100)]

    monkeypatch.setattr(notes_cli, "_mono_notes_function", lambda: fake_mono_notes)
    t = np.arange(22050 * 2) / 22050
    sf.write(tmp_path / "hum.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    assert run(["notes", str(tmp_path / "hum.wav"), "--out", str(tmp_path), "--mono", "--min-note-ms", "60",
                "--tempo", "100"]) == 0
    assert calls == [(np.float32, 1, 22050, {"min_note_ms": 60.0})]
    score, found = midi_notes(tmp_path / "hum.mid")
    assert [p for _, p in found] == [69] and score.tempos[0].bpm == pytest.approx(100)


def test_usage_errors_and_the_real_command(tmp_path):
    def motet(*args):
        return subprocess.run([sys.executable, "-m", "gui.shell.main", "notes", *args], capture_output=True,
                              text=True, timeout=600)

    out = motet("x.wav", "--out", str(tmp_path), "--onset-threshold", "2")
    assert out.returncode == 2 and "--onset-threshold" in out.stderr and "Traceback" not in out.stderr
    out = motet("x.wav", "--out", str(tmp_path), "--quantize", "1/5")
    assert out.returncode == 2 and "--quantize" in out.stderr
    sf.write(tmp_path / "a.wav", np.zeros(4000, np.float32), 22050)
    out = motet(str(tmp_path / "a.wav"), "--out", str(tmp_path))
    assert out.returncode == 0 and (tmp_path / "a.mid").is_file(), out.stderr
