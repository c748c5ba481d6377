"""Bad audio files are refused with one clear AudioFileError naming the file and the cause:
non-finite samples (with how many), absurd sample rates, files too large to hold, and files the
user may not read (said as permissions, not as damage). No model needed."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import soundfile as sf

from engine.audio import files
from engine.audio.files import AudioFileError, audio_info, load_audio


def tone(n: int = 16000, sr: int = 16000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 3e38, -2e6])
def test_non_finite_samples_are_refused_with_their_count(tmp_path, bad):
    samples = np.stack([tone(), tone()], axis=1)
    samples[[10, 500, 9000], 0] = bad
    path = tmp_path / "noisy.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    for kwargs in ({}, {"sample_rate": 16000, "mono": True}, {"sample_rate": 44100}):
        with pytest.raises(AudioFileError) as err:
            load_audio(path, **kwargs)
        message = str(err.value)
        assert "noisy.wav" in message and "3 samples" in message and "not finite" in message, message
        assert "\n" not in message


def test_loud_but_real_float_samples_still_load(tmp_path):
    samples = tone() * 1000  # 60 dB over full scale: a float file may hold it (a gain staged later)
    path = tmp_path / "hot.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    audio, _ = load_audio(path)
    assert np.abs(audio).max() > 290


def test_one_non_finite_sample_is_named_in_the_singular(tmp_path):
    samples = tone()
    samples[7] = np.nan
    path = tmp_path / "one.wav"
    sf.write(path, samples, 16000, subtype="DOUBLE")
    with pytest.raises(AudioFileError, match=r"'one\.wav' has 1 sample that is not finite"):
        load_audio(path)


def _wav_with_rate(path, rate: int, frames: int = 200) -> None:
    """A valid 16-bit WAV whose header claims ``rate`` samples per second."""
    sf.write(path, np.zeros(frames, np.float32), 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"fmt "
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", rate * 2)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rate", [1, 999, 800_000])
def test_absurd_sample_rates_are_refused(tmp_path, rate):
    path = tmp_path / "odd.wav"
    _wav_with_rate(path, rate)
    if sf.info(str(path)).samplerate != rate:
        pytest.skip(f"libsndfile does not read a {rate} Hz header back")
    for call in (lambda: load_audio(path, sample_rate=16000, mono=True), lambda: audio_info(path)):
        with pytest.raises(AudioFileError, match=rf"'odd\.wav' has a sample rate of {rate} Hz"):
            call()


def test_usual_sample_rates_still_load(tmp_path):
    for rate in (files.MIN_SAMPLE_RATE, 8000, 192_000, files.MAX_SAMPLE_RATE):
        path = tmp_path / f"r{rate}.wav"
        _wav_with_rate(path, rate)
        audio, sr = load_audio(path)
        assert sr == rate and audio.shape == (200, 1)


def test_a_file_too_large_to_hold_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros((48000, 2), np.float32), 48000, subtype="PCM_16")
    monkeypatch.setattr(files, "MAX_DECODED_BYTES", 48000 * 2 * 4 - 1)
    monkeypatch.setattr(files.sf, "read", lambda *a, **k: pytest.fail("the samples were read"))
    with pytest.raises(AudioFileError, match=r"'long\.wav' is too long to load at once"):
        load_audio(path)


def test_a_file_without_read_permission_says_so(tmp_path, monkeypatch):
    """The operating system refusing to open the file (simulated: the tests may run as root,
    whom no permission stops) is reported as a permission problem, not as damage."""
    path = tmp_path / "private.wav"
    sf.write(path, tone(), 16000)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(files, "open", refuse, raising=False)
    for call in (lambda: load_audio(path), lambda: audio_info(path)):
        with pytest.raises(AudioFileError) as err:
            call()
        message = str(err.value)
        assert "private.wav" in message and "permission" in message and "damaged" not in message, message


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may read any file")
def test_a_file_without_read_permission_says_so_for_real(tmp_path):
    path = tmp_path / "private.wav"
    sf.write(path, tone(), 16000)
    path.chmod(0o200)
    try:
        with pytest.raises(AudioFileError, match="permission") as err:
            load_audio(path)
        assert "damaged" not in str(err.value)
    finally:
        path.chmod(0o600)
