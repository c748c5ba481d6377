"""Helpers for tests that measure audio instead of listening to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_tone(path: Path, freq: float = 440.0, seconds: float = 2.0, amplitude: float = 0.5,
               sample_rate: int = 48000, lead_silence: float = 0.0) -> Path:
    """A sine with optional silence before it, as 16-bit stereo WAV (both channels equal).

    Stereo because PulseAudio upmixes a mono stream into a stereo sink at -6 dB; two equal
    channels reach a mono capture at the level they were written.
    """
    import soundfile as sf

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = amplitude * np.sin(2 * np.pi * freq * t)
    audio = np.concatenate([np.zeros(int(lead_silence * sample_rate)), tone]).astype(np.float32)
    sf.write(str(path), np.stack([audio, audio], axis=1), sample_rate, subtype="PCM_16")
    return path


def active_span(audio: np.ndarray, sample_rate: int, threshold: float = 0.05, window: float = 0.01) -> tuple[float, float]:
    """Start and end (s) of the part whose short-time RMS exceeds ``threshold``."""
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    hop = int(window * sample_rate)
    frames = len(mono) // hop
    if frames == 0:
        return 0.0, 0.0
    rms = np.sqrt((mono[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > threshold)
    if len(loud) == 0:
        return 0.0, 0.0
    return loud[0] * window, (loud[-1] + 1) * window


def peak_frequency(audio: np.ndarray, sample_rate: int) -> float:
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / sample_rate)[np.argmax(spectrum)])
