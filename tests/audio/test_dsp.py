"""Whisper's log-mel against an independent computation; the live display spectrogram; levels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio.functional as taf

from engine.audio.dsp import (
    WHISPER_HOP,
    WHISPER_N_FFT,
    WHISPER_SAMPLE_RATE,
    DisplaySpectrogram,
    level_dbfs,
    log_mel_spectrogram,
    whisper_mel_filters,
)


def chirp_noise(seconds: float = 3.0, sr: int = WHISPER_SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f0, f1 = 100.0, 7000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds))
    noise = np.random.default_rng(1).standard_normal(t.size)
    return (0.5 * np.sin(phase) + 0.05 * noise).astype(np.float32)


def reference_log_mel(audio: np.ndarray, n_mels: int, dtype=torch.float32) -> torch.Tensor:
    """Whisper's recipe written out longhand: centred reflect-padded STFT, last frame dropped."""
    x = torch.from_numpy(audio).to(dtype)
    window = torch.hann_window(400, periodic=True, dtype=dtype)
    spec = torch.stft(x, 400, 160, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = spec[:, :-1].abs() ** 2
    fb = taf.melscale_fbanks(201, 0.0, 8000.0, n_mels, 16000, norm="slaney", mel_scale="slaney").to(dtype)
    mel = fb.T @ power
    log_spec = torch.log10(torch.clamp(mel, min=1e-10))
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).float()


@pytest.mark.parametrize("n_mels", [80, 128])
def test_whisper_log_mel_matches_reference(n_mels):
    audio = chirp_noise()
    ours = log_mel_spectrogram(audio, n_mels=n_mels)
    ref = reference_log_mel(audio, n_mels)
    assert ours.shape == ref.shape == (n_mels, audio.size // WHISPER_HOP)
    assert ours.dtype == torch.float32
    assert torch.max(torch.abs(ours - ref)).item() < 1e-5
    # and float32 rounding is all that separates it from a float64 computation
    ref64 = reference_log_mel(audio, n_mels, dtype=torch.float64)
    assert torch.max(torch.abs(ours - ref64)).item() < 5e-5
    # torch input and padding give the same as numpy input with zeros appended
    padded = log_mel_spectrogram(torch.from_numpy(audio), n_mels=n_mels, padding=16000)
    manual = log_mel_spectrogram(np.concatenate([audio, np.zeros(16000, np.float32)]), n_mels=n_mels)
    assert torch.equal(padded, manual)


def test_whisper_frame_count_for_30_seconds():
    audio = np.zeros(30 * WHISPER_SAMPLE_RATE, dtype=np.float32)
    assert log_mel_spectrogram(audio).shape == (80, 3000)
    assert log_mel_spectrogram(audio, n_mels=128).shape == (128, 3000)


def test_whisper_mel_filters_shape_and_cache():
    fb = whisper_mel_filters(80)
    assert fb.shape == (80, WHISPER_N_FFT // 2 + 1)
    assert whisper_mel_filters(80) is fb
    assert whisper_mel_filters(128).shape == (128, 201)
    # Slaney-normalised: each triangle's area is 2 / bandwidth, so no filter is empty and
    # the 8 kHz cut-off leaves the Nyquist bin unused.
    assert torch.all(fb.sum(dim=1) > 0)
    assert fb[:, -1].abs().max().item() < 1e-6
    with pytest.raises(ValueError):
        whisper_mel_filters(64)


def sine(freq: float, sr: int, seconds: float = 0.5, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("scale", ["mel", "linear"])
def test_display_sine_peak_and_level(sr, scale):
    spec = DisplaySpectrogram(sr, scale=scale)
    assert spec.n_fft == 2048 and spec.hop == sr // 100 and spec.columns_per_second == pytest.approx(100)
    cols = spec.push(sine(1000.0, sr))
    assert cols.dtype == np.float32 and cols.shape[1] == spec.n_bins == len(spec.bin_frequencies)
    last = cols[-1]
    peak = int(np.argmax(last))
    spacing = np.diff(spec.bin_frequencies)[max(peak - 1, 0)]
    assert abs(spec.bin_frequencies[peak] - 1000.0) <= spacing
    # Full scale reads about 0 dB: a tone between mel centres or FFT bins splits or scallops.
    assert -3.5 < last.max() < 0.5

    # On an FFT bin the linear peak reads 0 dB; on a mel centre the band holds most of the
    # tone's energy (the Hann lobe reaches the neighbouring bands).
    centre = float(spec.bin_frequencies[peak])
    on = DisplaySpectrogram(sr, scale=scale).push(sine(centre, sr))[-1]
    assert on.max() == pytest.approx(0.0, abs=0.05 if scale == "linear" else 2.0)
    if scale == "mel":  # the bands together hold all of it
        assert 10 * np.log10(np.sum(10 ** (on / 10))) == pytest.approx(0.0, abs=0.1)
    # and half amplitude reads 6 dB less
    half = DisplaySpectrogram(sr, scale=scale).push(sine(centre, sr, amplitude=0.5))[-1]
    assert on.max() - half.max() == pytest.approx(6.02, abs=0.05)


@pytest.mark.parametrize("scale", ["mel", "linear"])
def test_display_columns_do_not_depend_on_block_size(scale):
    sr = 48000
    rng = np.random.default_rng(2)
    audio = (0.3 * rng.standard_normal(sr)).astype(np.float32) + sine(440.0, sr, seconds=1.0, amplitude=0.3)
    whole = DisplaySpectrogram(sr, scale=scale).push(audio)
    assert whole.shape == (sr // 480, DisplaySpectrogram(sr, scale=scale).n_bins)

    chopped = DisplaySpectrogram(sr, scale=scale)
    parts, pos = [], 0
    sizes = [1, 0, 479, 480, 481, 800, 2048, 5000, 13]
    i = 0
    while pos < audio.size:
        n = sizes[i % len(sizes)]
        parts.append(chopped.push(audio[pos:pos + n]))
        pos += n
        i += 1
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-4)
    assert all(p.shape[1] == whole.shape[1] and p.dtype == np.float32 for p in parts)

    # reset forgets the past: the same audio gives the same columns again
    chopped.reset()
    np.testing.assert_allclose(chopped.push(audio), whole, atol=1e-4)


def test_display_silence_and_partial_blocks():
    spec = DisplaySpectrogram(48000, scale="mel", n_mels=64)
    assert spec.push(np.zeros(100, np.float32)).shape == (0, 64)
    cols = spec.push(np.zeros(48000, np.float32))
    assert cols.shape[1] == 64 and cols.shape[0] == 100  # 48100 samples: 100 full hops
    np.testing.assert_allclose(cols, -100.0, atol=1e-3)
    lin = DisplaySpectrogram(16000, scale="linear", n_fft=512, hop=160, f_min=100, f_max=4000)
    assert lin.bin_frequencies[0] >= 100 and lin.bin_frequencies[-1] <= 4000
    out = lin.push(np.zeros(1600, np.float32))
    assert out.shape == (10, lin.n_bins) and np.allclose(out, -100.0, atol=1e-3)


def test_display_mel_centres_increase():
    spec = DisplaySpectrogram(48000, scale="mel", n_mels=128)
    f = spec.bin_frequencies
    assert len(f) == 128 and np.all(np.diff(f) > 0) and 0 < f[0] < 100 and 20000 < f[-1] < 24000


def test_level_dbfs():
    rms, peak = level_dbfs(sine(1000.0, 48000))
    assert rms == pytest.approx(-3.01, abs=0.02) and peak == pytest.approx(0.0, abs=0.01)
    rms, peak = level_dbfs(0.1 * np.ones(256, np.float32))
    assert rms == pytest.approx(-20.0, abs=1e-3) and peak == pytest.approx(-20.0, abs=1e-3)
    assert level_dbfs(np.zeros(512, np.float32)) == (-120.0, -120.0)
    assert level_dbfs(np.zeros(0, np.float32)) == (-120.0, -120.0)
    assert level_dbfs(np.full(64, 1e-9, np.float32)) == (-120.0, -120.0)


def test_chunked_whisper_mel_equals_the_one_shot_computation():
    from engine.audio.dsp import log_mel_spectrogram, log_mel_spectrogram_chunked

    rng = np.random.default_rng(3)
    for n in (1600, 16000 * 7 + 37, 16000 * 65 + 5):
        audio = (rng.standard_normal(n) * 0.1).astype(np.float32)
        for padding in (0, 480000):
            full = log_mel_spectrogram(audio, 80, padding)
            chunked = log_mel_spectrogram_chunked(audio, 80, padding, chunk_frames=2500)
            assert chunked.shape == full.shape
            assert torch.allclose(chunked, full, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_block_is_silence_to_the_display_and_the_meter(bad):
    """A glitching device's block: the meter and the spectrogram show silence for it (never NaN
    or infinity, which the GUI could not draw), and the columns after it are as without it."""
    sr = 48000
    audio = sine(440.0, sr, seconds=0.5, amplitude=0.3)
    glitch = np.full(480, bad, np.float32)
    assert level_dbfs(glitch) == (-120.0, -120.0)
    rms, peak = level_dbfs(np.concatenate([glitch, audio]))
    assert np.isfinite(rms) and peak == pytest.approx(20 * np.log10(0.3), abs=0.1)

    clean = DisplaySpectrogram(sr).push(np.concatenate([np.zeros(480, np.float32), audio]))
    spec = DisplaySpectrogram(sr)
    cols = np.concatenate([spec.push(glitch), spec.push(audio)])
    assert np.isfinite(cols).all()
    np.testing.assert_allclose(cols, clean, atol=1e-4)


def test_a_whole_file_spectrogram_is_pooled_to_a_bound_and_keeps_a_short_event():
    from engine.audio.dsp import pooled_spectrogram

    sr = 16000
    audio = np.zeros(sr * 600, dtype=np.float32)  # ten minutes of silence
    t = np.arange(sr // 100) / sr
    audio[sr * 300:sr * 300 + len(t)] = 0.5 * np.sin(2 * np.pi * 1000 * t)  # 10 ms at 5:00
    pooled = pooled_spectrogram(audio, sr, "mel", max_columns=4096)
    assert pooled.db.shape[0] <= 4096 and pooled.duration == 600.0
    loudest = int(np.argmax(pooled.db.max(axis=1)))
    assert abs(loudest * pooled.seconds_per_column - 300.0) < 2 * pooled.seconds_per_column
    assert pooled.db.max() > -40 and pooled.spec.scale == "mel"
