"""The chromagram MusicGen melody is conditioned on: for each STFT frame of the reference audio,
which of the 12 pitch classes is loudest, as a one-hot row (Copet et al. 2023, §2.3).

Computed as transformers' ``MusicgenMelodyFeatureExtractor`` computes it (its port of audiocraft's
``ChromaExtractor`` with the published settings): the audio mixed to mono, resampled to 32 kHz with
torchaudio's sinc filter (rolloff 0.945, 24 zero crossings), cut to 30 s, zero-padded on both sides
when shorter than one FFT; a centred, reflect-padded power spectrogram (periodic Hann window of
16384 samples, hop 4096, divided by the window's L2 norm); a chroma filter bank (librosa's
``filters.chroma``: Gaussian bumps per pitch class, L2-normalised per FFT bin, weighted by a
Gaussian over octaves centred on octave 5, starting at C) summed over frequency; each frame's
loudest pitch class kept (silence reads as C).

No librosa: the filter bank is computed here with numpy, in float64, then used in float32.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

MODEL_RATE = 32_000
N_FFT = 16_384
HOP = 4_096
N_CHROMA = 12
MAX_SECONDS = 30  # the extractor's chunk_length: 235 frames, what the model attends to


@lru_cache(maxsize=4)
def chroma_filter_bank(sample_rate: int, n_fft: int, n_chroma: int = N_CHROMA) -> np.ndarray:
    """(n_chroma, n_fft // 2 + 1) float64 weights from FFT bins to pitch classes, as
    ``librosa.filters.chroma(sr, n_fft, n_chroma, tuning=0, ctroct=5, octwidth=2, norm=2,
    base_c=True)`` gives them."""
    frequencies = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    bins = n_chroma * np.log2(frequencies / (440.0 / 16))  # A440; octave 0 is 27.5 Hz
    bins = np.concatenate(([bins[0] - 1.5 * n_chroma], bins))  # 0 Hz: 1.5 octaves below the first bin
    widths = np.concatenate((np.maximum(bins[1:] - bins[:-1], 1.0), [1]))
    distance = np.subtract.outer(bins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    distance = np.remainder(distance + half + 10 * n_chroma, n_chroma) - half  # into -n/2 .. n/2
    weights = np.exp(-0.5 * (2 * distance / np.tile(widths, (n_chroma, 1))) ** 2)
    weights = weights / np.sum(weights ** 2, axis=0, keepdims=True) ** 0.5
    weights *= np.tile(np.exp(-0.5 * (((bins / n_chroma - 5.0) / 2.0) ** 2)), (n_chroma, 1))
    weights = np.roll(weights, -3 * (n_chroma // 12), axis=0)  # start at C, not A
    return np.ascontiguousarray(weights[:, : int(1 + n_fft / 2)])


def _mono_at_rate(audio: np.ndarray, sample_rate: int, rate: int) -> Tensor:
    """(N,) float32 at ``rate``: the channels averaged, then resampled as the extractor does."""
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] == 0 or array.shape[0] == 0:
        raise ValueError(f"the reference audio should be (channels, samples) with some samples, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("the reference audio holds NaN or infinite samples")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1:
        raise ValueError(f"the sample rate must be a whole number of hertz, not {sample_rate!r}")
    wave = torch.from_numpy(np.ascontiguousarray(array)).mean(0)
    if sample_rate != rate:
        import torchaudio.functional as taf

        wave = taf.resample(wave, int(sample_rate), rate, rolloff=0.945, lowpass_filter_width=24)
    return wave


def chroma_features(audio: np.ndarray, sample_rate: int, *, model_rate: int = MODEL_RATE, n_fft: int = N_FFT,
                    hop: int = HOP, n_chroma: int = N_CHROMA, max_seconds: float = MAX_SECONDS) -> Tensor:
    """One-hot chroma (1, frames, n_chroma) float32 of ``audio`` (channels, N) at ``sample_rate``.

    The keywords are the extractor's settings (``preprocessor_config.json``); the defaults are
    those of every published MusicGen melody. ``frames`` is ``1 + samples // hop`` after the cut
    to ``max_seconds`` (235 for 30 s or more). To condition a later window of a long piece on its
    own part of the reference, pass that part of the audio.
    """
    wave = _mono_at_rate(audio, sample_rate, model_rate)[: int(max_seconds * model_rate)]
    if wave.shape[0] < n_fft:  # too short for one frame: zeros on both sides, the odd one after
        missing = n_fft - wave.shape[0]
        wave = F.pad(wave, (missing // 2, missing - missing // 2))
    window = torch.hann_window(n_fft)
    spec = torch.stft(wave[None], n_fft, hop_length=hop, win_length=n_fft, window=window, center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    power = (spec / window.pow(2.0).sum().sqrt()).abs().pow(2)  # (1, n_fft // 2 + 1, frames)
    filters = torch.from_numpy(chroma_filter_bank(model_rate, n_fft, n_chroma)).float()
    raw = torch.einsum("cf,...ft->...ct", filters, power)
    # the extractor scales each frame by its maximum before taking the loudest class; kept for
    # its ties (a scaled frame may round two classes to one value, and argmax takes the first)
    scaled = F.normalize(raw, p=float("inf"), dim=-2, eps=1e-6).transpose(1, 2)
    return F.one_hot(scaled.argmax(-1), n_chroma).float()
