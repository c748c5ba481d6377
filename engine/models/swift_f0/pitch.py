"""Pitch of one voice over time with SwiftF0: audio at 16 kHz → a pitch, a voicing confidence and
a loudness every 16 ms, as the swift-f0 package gives them (its batch windows, its silence gate)
but computed by our PyTorch model.

Long audio is run in windows of ``WINDOW_FRAMES`` frames with ``LEFT_FRAMES`` of context before
and ``LOOKAHEAD_FRAMES`` after, which cover the model's receptive field: the result is the same
as running the whole file at once, and memory stays bounded (about 12 MB per activation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.models.swift_f0.model import FMAX, FMIN, HOP, SAMPLE_RATE, SwiftF0Net, frame_count

FRAME_SECONDS = HOP / SAMPLE_RATE
LOOKAHEAD_FRAMES = 10  # a frame is final once 10 later frames exist (2815 samples of reach)
LEFT_FRAMES = 11  # earlier frames that reproduce the whole-file result
WINDOW_FRAMES = 1875  # 30 s per model call
# Digital silence sits on the spectrogram's log floor, a texture the model never saw; frames whose
# hop peaks below this get confidence 0 (as the swift-f0 package does).
SILENCE_PEAK = 1e-3


@dataclass(frozen=True)
class PitchTrack:
    """Per 16 ms frame: ``times`` (s, frame centres), ``hz``, ``confidence`` (0-1, voiced at ≥ 0.5
    as the model was calibrated), ``loudness_db`` (RMS of the 32 ms around the frame, dBFS)."""

    times: np.ndarray
    hz: np.ndarray
    confidence: np.ndarray
    loudness_db: np.ndarray


def _run(model: SwiftF0Net, audio: np.ndarray, fmin: float, fmax: float) -> tuple[np.ndarray, ...]:
    device = next(model.parameters()).device
    with torch.inference_mode():
        pitch, confidence = model(torch.from_numpy(audio)[None].to(device), fmin, fmax)
    pitch, confidence = pitch[0].cpu().numpy(), confidence[0].double().cpu().numpy()
    n = len(confidence)
    hops = audio[: n * HOP].reshape(n, HOP) if len(audio) >= HOP else audio[None, :]
    confidence[np.abs(hops).max(axis=1) < SILENCE_PEAK] = 0.0
    power = np.square(hops, dtype=np.float64).sum(axis=1)
    loudness = 20 * np.log10(np.maximum(np.sqrt((np.concatenate(([0.0], power[:-1])) + power) / (2 * HOP)), 1e-7))
    return pitch, confidence, loudness


def track_pitch(model: SwiftF0Net, audio: np.ndarray, fmin: float = FMIN, fmax: float = FMAX,
                window_frames: int = WINDOW_FRAMES) -> PitchTrack:
    """The pitch track of mono float32 ``audio`` at 16 kHz (finite samples; at least one)."""
    signal = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    if signal.size == 0:
        raise ValueError("no audio to track")
    if not FMIN <= fmin < fmax <= FMAX:
        raise ValueError(f"the pitch range must lie within {FMIN}-{FMAX} Hz, got {fmin}-{fmax}")
    n = frame_count(len(signal))
    parts = []
    for start in range(0, n, window_frames):
        end = min(start + window_frames, n)
        left = max(0, start - LEFT_FRAMES)
        window = signal[left * HOP:(end + LOOKAHEAD_FRAMES) * HOP] if end < n else signal[left * HOP:]
        parts.append([values[start - left:end - left] for values in _run(model, window, fmin, fmax)])
    hz, confidence, loudness = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return PitchTrack(np.arange(n) * FRAME_SECONDS, hz, confidence, loudness)
