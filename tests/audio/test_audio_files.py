"""Reading, resampling and writing audio files; every failure is an AudioFileError a person can read."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import peak_frequency

from engine.audio import files
from engine.audio.files import (
    AudioFileError,
    AudioInfo,
    audio_info,
    load_audio,
    resample,
    write_audio,
)


def tone(freq: float, sr: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_resample_keeps_frequency():
    x = tone(1000.0, 44100)
    y = resample(x, 44100, 16000)
    assert y.dtype == np.float32 and y.shape == (16000,)
    assert abs(peak_frequency(y, 16000) - 1000.0) <= 16000 / len(y)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)

    stereo = np.stack([tone(1000.0, 44100), tone(3000.0, 44100)], axis=1)
    out = resample(stereo, 44100, 16000)
    assert out.shape == (16000, 2) and out.flags.c_contiguous
    assert abs(peak_frequency(out[:, 1], 16000) - 3000.0) <= 1.0
    assert resample(x, 44100, 44100) is not x  # a copy, never the caller's array


def test_load_stereo_flac_to_mono_16k(tmp_path):
    path = tmp_path / "stereo.flac"
    left, right = tone(1000.0, 44100, seconds=2.0, amplitude=0.4), tone(1000.0, 44100, seconds=2.0, amplitude=0.2)
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_24")

    info = audio_info(path)
    assert info == AudioInfo(str(path), 44100, 2, 88200, 2.0, "FLAC", "PCM_24")

    stereo, sr = load_audio(path)
    assert sr == 44100 and stereo.shape == (88200, 2) and stereo.dtype == np.float32

    mono, sr = load_audio(path, sample_rate=16000, mono=True)
    assert sr == 16000 and mono.shape == (32000, 1) and mono.dtype == np.float32
    assert abs(peak_frequency(mono[:, 0], 16000) - 1000.0) <= 0.5
    assert np.max(np.abs(mono[2000:-2000])) == pytest.approx(0.3, abs=0.01)  # average of channels


def test_load_ogg(tmp_path):
    path = tmp_path / "clip.ogg"
    sf.write(path, tone(440.0, 48000), 48000, format="OGG", subtype="VORBIS")
    audio, sr = load_audio(path)
    assert sr == 48000 and audio.shape[1] == 1 and abs(audio.shape[0] - 48000) < 100
    assert abs(peak_frequency(audio[:, 0], sr) - 440.0) <= 2.0
    assert audio_info(path).format == "OGG"


def wav_bytes(tmp_path) -> bytes:
    src = tmp_path / "src.wav"
    sf.write(src, tone(440.0, 16000, seconds=0.1), 16000, subtype="PCM_16")
    return src.read_bytes()


@pytest.mark.parametrize("case, expected", [
    ("missing", "not found"),
    ("empty", "empty"),
    ("random", "not an audio file"),
    ("text", "not an audio file"),
    ("truncated_header", "damaged or truncated"),
    ("header_only", "no audio"),
    ("folder", "folder"),
])
def test_bad_files_raise_audio_file_error(tmp_path, case, expected):
    name = {"text": "notes.txt", "folder": "takes.wav"}.get(case, f"{case}.wav")
    path = tmp_path / name
    if case == "empty":
        path.write_bytes(b"")
    elif case == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == "text":
        path.write_text("This is not audio.\n" * 20)
    elif case == "truncated_header":
        path.write_bytes(wav_bytes(tmp_path)[:20])
    elif case == "header_only":
        path.write_bytes(wav_bytes(tmp_path)[:44])
    elif case == "folder":
        path.mkdir()

    with pytest.raises(AudioFileError) as err:
        load_audio(path)
    message = str(err.value)
    assert name in message and expected in message
    assert not isinstance(err.value, sf.LibsndfileError)
    if case not in ("header_only",):  # a header-only file has valid facts: 0 frames
        with pytest.raises(AudioFileError, match=expected):
            audio_info(path)


@pytest.mark.parametrize("suffix, subtype, tolerance", [
    (".wav", None, 1 / 32768), (".wav", "FLOAT", 0.0), (".flac", "PCM_16", 1 / 32768), (".flac", None, 1 / 2 ** 23),
])
def test_write_round_trip(tmp_path, suffix, subtype, tolerance):
    audio = np.stack([tone(440.0, 22050, 0.5), tone(660.0, 22050, 0.5, amplitude=0.25)], axis=1)
    path = tmp_path / f"out{suffix}"
    write_audio(path, audio, 22050, subtype=subtype)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (22050, 2, audio.shape[0])
    assert info.format == suffix[1:].upper()
    assert info.subtype == (subtype or ("PCM_16" if suffix == ".wav" else "PCM_24"))
    back, sr = load_audio(path)
    assert sr == 22050 and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) <= tolerance + 1e-7
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left


def test_write_mono_explicit_format_clips_and_overwrites(tmp_path):
    path = tmp_path / "take.bin"
    write_audio(path, np.full(100, 0.25, np.float32), 8000, format="wav")
    write_audio(path, np.array([2.0, -2.0, 0.5], np.float32), 8000, format="WAV")  # replaces it
    back, _ = load_audio(path)
    np.testing.assert_allclose(back[:, 0], [32767 / 32768, -1.0, 0.5], atol=1e-6)  # clipped, not wrapped


def test_write_errors_are_clear(tmp_path):
    with pytest.raises(AudioFileError, match=r"\.wav or \.flac"):
        write_audio(tmp_path / "out.xyz", np.zeros(10), 8000)
    with pytest.raises(AudioFileError, match="cannot hold"):
        write_audio(tmp_path / "out.flac", np.zeros(10), 8000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="does not exist"):
        write_audio(tmp_path / "no" / "such" / "out.wav", np.zeros(10), 8000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_write_to_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(AudioFileError, match="permission") as err:
            write_audio(folder / "out.wav", np.zeros(100), 8000)
        assert "out.wav" in str(err.value)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_write_to_unwritable_place(tmp_path):
    """Runs as root too: /proc refuses new files whoever asks."""
    with pytest.raises(AudioFileError) as err:
        write_audio("/proc/motet-test-out.wav", np.zeros(100), 8000)
    assert "motet-test-out.wav" in str(err.value)
    assert not any("motet-test-out" in name for name in os.listdir("/proc"))


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    """A disk filling up mid-write: the existing target is untouched and the partial file removed."""
    path = tmp_path / "keep.flac"
    write_audio(path, tone(440.0, 8000), 8000)
    before = path.read_bytes()

    real = files.sf.SoundFile

    class FullDisk(real):
        def write(self, data):
            super().write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.sf, "SoundFile", FullDisk)
    with pytest.raises(AudioFileError, match="disk is full") as err:
        write_audio(path, tone(880.0, 8000, seconds=3.0), 8000)
    assert "keep.flac" in str(err.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.flac"]
