"""Editing operations on notes, and SoundFont synthesis measured like a listener would."""

import numpy as np
import pytest

from engine.midi import edit
from engine.midi.score import Note, Score, TempoChange, Track
from engine.midi.synth import DEFAULT_SOUNDFONT, SoundFontError, Synthesizer, get_synthesizer, write_wav


def test_quantize_full_and_partial_strength():
    notes = [Note(110, 60, 230), Note(250, 62, 100)]
    assert edit.quantize(notes, 120) == [Note(120, 60, 240), Note(240, 62, 120)]
    half = edit.quantize(notes, 120, strength=0.5)
    assert half[0].start == 115 and half[0].end == 350
    assert edit.quantize([Note(5, 60, 10)], 120) == [Note(0, 60, 1)]  # never shorter than a tick
    with pytest.raises(ValueError):
        edit.quantize(notes, 0)


def test_transpose_refuses_to_leave_the_midi_range():
    assert edit.transpose([Note(0, 60, 10)], 12) == [Note(0, 72, 10)]
    with pytest.raises(ValueError):
        edit.transpose([Note(0, 120, 10)], 12)


def test_scale_velocity_is_clamped():
    assert [n.velocity for n in edit.scale_velocity([Note(0, 60, 1, 100), Note(0, 61, 1, 10)], 1.5)] == [127, 15]
    assert edit.scale_velocity([Note(0, 60, 1, 5)], 1.0, offset=-20)[0].velocity == 1


def test_split_join_legato_move():
    a, b = edit.split(Note(0, 60, 480, 90), 120)
    assert (a, b) == (Note(0, 60, 120, 90), Note(120, 60, 360, 90))
    assert edit.join([b, a]) == [Note(0, 60, 480, 90)]
    with pytest.raises(ValueError):
        edit.split(Note(0, 60, 480), 480)
    chord_then_note = [Note(0, 60, 100), Note(0, 64, 50), Note(480, 67, 100)]
    assert edit.legato(chord_then_note) == [Note(0, 60, 480), Note(0, 64, 480), Note(480, 67, 100)]
    assert edit.move([Note(10, 60, 5)], ticks=-10, semitones=-1) == [Note(0, 59, 5)]
    with pytest.raises(ValueError):
        edit.move([Note(10, 60, 5)], ticks=-11)


def test_notes_validate_themselves():
    for bad in (dict(pitch=128), dict(velocity=0), dict(duration=0), dict(start=-1)):
        with pytest.raises(ValueError):
            Note(**{**dict(start=0, pitch=60, duration=1, velocity=64), **bad})


def test_tempo_map_converts_ticks_and_seconds():
    s = Score(ticks_per_beat=480, tempos=[TempoChange(0, 500_000), TempoChange(960, 1_000_000)])
    assert s.seconds_at(960) == pytest.approx(1.0)
    assert s.seconds_at(1440) == pytest.approx(2.0)
    assert s.tick_at(2.0) == pytest.approx(1440)


def spectrum_peak(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


def test_a4_sounds_at_440_hz_and_silence_where_no_note_sounds(tmp_path):
    synth = get_synthesizer()
    score = Score(tracks=[Track(program=0, notes=[Note(0, 69, 480), Note(1920, 69, 480)])])  # beats 1 and 5
    audio = synth.render(score, tail=0.5)
    sr = synth.sample_rate
    assert len(audio) == pytest.approx((2.5 + 0.5) * sr, abs=2)
    note = audio[int(0.02 * sr):int(0.45 * sr), 0]
    assert spectrum_peak(note, sr) == pytest.approx(440.0, rel=0.01)
    assert 20 * np.log10(np.sqrt(np.mean(note ** 2))) > -40  # clearly audible
    gap = audio[int(1.5 * sr):int(1.95 * sr)]  # after the first note's release, before the second
    assert np.max(np.abs(gap)) < 1e-3
    assert np.max(np.abs(audio[int(2.0 * sr):int(2.3 * sr)])) > 0.05  # the second note
    path = write_wav(audio, tmp_path / "a4.wav", sr)
    import soundfile as sf

    back, back_sr = sf.read(path)
    assert back_sr == sr and back.shape == audio.shape


def test_drums_and_programs_differ():
    synth = get_synthesizer()
    piano = synth.render(Score(tracks=[Track(program=0, notes=[Note(0, 60, 480)])]), tail=0)
    flute = synth.render(Score(tracks=[Track(program=73, notes=[Note(0, 60, 480)])]), tail=0)
    kick = synth.render(Score(tracks=[Track(channel=9, notes=[Note(0, 36, 480)])]), tail=0)
    assert not np.allclose(piano, flute, atol=1e-3)
    assert np.max(np.abs(kick)) > 0.05


def test_a_missing_or_broken_soundfont_is_a_clear_error(tmp_path):
    with pytest.raises(SoundFontError, match="not found"):
        Synthesizer(tmp_path / "none.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF0000sfbk" + b"\x00" * 64)
    with pytest.raises(SoundFontError, match="not a usable SoundFont"):
        Synthesizer(bad)
    assert DEFAULT_SOUNDFONT.is_file()
    assert (DEFAULT_SOUNDFONT.parent / "FluidR3Mono_GM.LICENSE.txt").is_file()


def test_the_example_motifs_open_and_sound(tmp_path):
    from engine.midi.midifile import read_midi
    from engine.midi.synth import ASSETS

    motifs = sorted((ASSETS / "motifs").glob("*.mid"))
    assert len(motifs) >= 3
    for path in motifs:
        score = read_midi(path)
        assert score.note_count() >= 8
        audio = get_synthesizer().render(score, tail=0.2)
        assert np.sqrt(np.mean(audio ** 2)) > 0.005, path.name
