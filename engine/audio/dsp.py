"""Spectrograms and levels: Whisper's log-mel input, the live display spectrogram, the meter.

No Qt here: the GUI draws what these functions compute.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as taf

WHISPER_SAMPLE_RATE = 16000
WHISPER_N_FFT = 400
WHISPER_HOP = 160

_POWER_FLOOR = 1e-10  # -100 dB: what silence shows as
_LEVEL_FLOOR_DB = -120.0
_MAX_BATCH = 64  # columns per FFT batch: ~1.5 MB of work buffers at n_fft 2048


# --- Whisper -------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _whisper_mel_filters(n_mels: int, device: str) -> torch.Tensor:
    fb = taf.melscale_fbanks(
        n_freqs=WHISPER_N_FFT // 2 + 1,
        f_min=0.0,
        f_max=WHISPER_SAMPLE_RATE / 2,
        n_mels=n_mels,
        sample_rate=WHISPER_SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return fb.T.contiguous().to(device)


@lru_cache(maxsize=8)
def _whisper_window(device: str) -> torch.Tensor:
    return torch.hann_window(WHISPER_N_FFT, periodic=True, device=device)


def _device_key(device) -> str:
    return str(torch.device(device)) if device is not None else "cpu"


def whisper_mel_filters(n_mels: int = 80, device=None) -> torch.Tensor:
    """Whisper's mel filterbank, shape (n_mels, 201).

    torchaudio's Slaney-normalised, Slaney-scale filterbank equals the librosa one Whisper ships
    in ``mel_filters.npz``, so no data file is needed. Do not modify the returned (cached) tensor.
    """
    if n_mels not in (80, 128):
        raise ValueError(f"Whisper uses 80 or 128 mel bins, not {n_mels}")
    return _whisper_mel_filters(n_mels, _device_key(device))


def log_mel_spectrogram(audio, n_mels: int = 80, padding: int = 0, device=None) -> torch.Tensor:
    """Whisper's log-mel spectrogram (n_mels, n_frames) of 16 kHz mono audio, bit-for-bit its recipe.

    ``padding`` zero samples are appended first (Whisper pads 30 s of zeros before chunking).
    """
    if isinstance(audio, torch.Tensor):
        x = audio.to(torch.float32)
    else:
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if device is not None:
        x = x.to(device)
    if padding > 0:
        x = torch.nn.functional.pad(x, (0, padding))
    window = _whisper_window(str(x.device))
    stft = torch.stft(x, WHISPER_N_FFT, WHISPER_HOP, window=window, center=True,
                      pad_mode="reflect", return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = whisper_mel_filters(n_mels, x.device) @ power
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def log_mel_spectrogram_chunked(audio, n_mels: int = 80, padding: int = 0, chunk_frames: int = 6000,
                                device=None) -> torch.Tensor:
    """The same values as ``log_mel_spectrogram``, computed a minute at a time.

    The one-shot version holds the complex STFT of the whole signal (about 1.2 GB per hour); this
    one holds only the mel (32 MB per hour at 80 bins) and one chunk's STFT. The reflect padding at
    the signal's edges and the global ``max - 8`` clamp are applied exactly as in the original.
    """
    if isinstance(audio, torch.Tensor):
        x = audio.to(torch.float32).cpu()
    else:
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    length = len(x) + padding
    half = WHISPER_N_FFT // 2
    if length <= half:  # too short to reflect: the one-shot version raises the right error
        return log_mel_spectrogram(x, n_mels, padding, device)
    n_frames = length // WHISPER_HOP  # torch.stft(center=True) gives one more; Whisper drops it
    filters = whisper_mel_filters(n_mels, device)
    window = _whisper_window(str(filters.device))
    out = torch.empty(n_mels, n_frames, device=filters.device)

    def sample(i0: int, i1: int) -> torch.Tensor:
        """Samples i0..i1 of the centre-padded signal (reflect at the start, zeros after the end)."""
        idx = torch.arange(i0, i1) - half
        idx = torch.where(idx < 0, -idx, idx)  # reflect around sample 0
        idx = torch.where(idx >= length, 2 * (length - 1) - idx, idx)  # reflect around the last
        values = torch.zeros(i1 - i0)
        inside = idx < len(x)
        values[inside] = x[idx[inside]]
        return values

    for f0 in range(0, n_frames, chunk_frames):
        f1 = min(n_frames, f0 + chunk_frames)
        piece = sample(f0 * WHISPER_HOP, (f1 - 1) * WHISPER_HOP + WHISPER_N_FFT).to(filters.device)
        stft = torch.stft(piece, WHISPER_N_FFT, WHISPER_HOP, window=window, center=False, return_complex=True)
        out[:, f0:f1] = (filters @ (stft.abs() ** 2)).clamp_(min=1e-10).log10_()
    out = torch.maximum(out, out.max() - 8.0)
    return out.add_(4.0).div_(4.0)


# --- live display --------------------------------------------------------------------------


def finite(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN and infinite samples (a glitching device) as silence, so that one bad block
    shows as a gap instead of NaN that the display could not draw; ``x`` itself when all are finite."""
    if np.isfinite(np.sum(x, dtype=np.float64)):
        return x
    return np.where(np.isfinite(x), x, np.float32(0.0)).astype(np.float32, copy=False)


def _hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


class DisplaySpectrogram:
    """Streaming spectrogram for the scrolling display: push audio blocks, get new dB columns.

    Column k is the windowed FFT of the ``n_fft`` samples ending at sample ``(k + 1) * hop``
    (zeros before the start), so a column is out as soon as its last hop has arrived and the
    columns do not depend on how the input was split into blocks.

    dB power, scaled so a full-scale sine reads about 0 dB: in "linear" its peak FFT bin reads
    0 dB (down to -1.4 dB between bins, Hann scalloping); in "mel" its energy does. Mel bands are
    Slaney-scale triangles of peak 1, not area-normalised: neighbouring bands sum to one, so a
    tone keeps its level at any frequency (split over two bands between centres) instead of
    dropping with band width.
    """

    def __init__(self, sample_rate: int, scale: str = "mel", n_mels: int = 128, n_fft: int | None = None,
                 hop: int | None = None, f_min: float = 0.0, f_max: float | None = None) -> None:
        if scale not in ("mel", "linear"):
            raise ValueError(f"scale must be 'mel' or 'linear', not {scale!r}")
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, not {sample_rate}")
        self.sample_rate = int(sample_rate)
        self.scale = scale
        self.hop = int(hop) if hop else max(1, self.sample_rate // 100)
        self.n_fft = int(n_fft) if n_fft else 1 << max(0, math.ceil(math.log2(0.04 * self.sample_rate)))
        if self.hop > self.n_fft:
            raise ValueError(f"hop ({self.hop}) must not exceed n_fft ({self.n_fft})")
        self.f_min = float(f_min)
        self.f_max = float(f_max) if f_max is not None else self.sample_rate / 2
        n_freqs = self.n_fft // 2 + 1

        window = np.hanning(self.n_fft + 1)[:-1]  # periodic Hann
        # A sine of amplitude A: its peak bin has power A^2 * sum(w)^2 / 4 and its whole lobe
        # A^2 * n_fft * sum(w^2) / 4. Linear columns read the peak, mel bands the lobe's energy.
        peak_scale = 4.0 / float(np.sum(window)) ** 2
        energy_scale = 4.0 / (self.n_fft * float(np.sum(window ** 2)))
        self._window = window.astype(np.float32)

        rfft_freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate)
        if scale == "mel":
            with warnings.catch_warnings():  # narrow low bands may miss every FFT bin: shown dark
                warnings.simplefilter("ignore", UserWarning)
                fb = taf.melscale_fbanks(n_freqs, self.f_min, self.f_max, n_mels, self.sample_rate,
                                         norm=None, mel_scale="slaney").numpy().astype(np.float64)
            self._fb = np.ascontiguousarray(fb * energy_scale, dtype=np.float32)  # (n_freqs, n_mels)
            mels = np.linspace(_hz_to_mel_slaney(self.f_min), _hz_to_mel_slaney(self.f_max), n_mels + 2)
            self.bin_frequencies = _mel_to_hz_slaney(mels[1:-1])
            self.n_bins = n_mels
            self._power_scale = None
        else:
            self._fb = None
            keep = (rfft_freqs >= self.f_min) & (rfft_freqs <= self.f_max)
            self._lo = int(np.argmax(keep))
            self._hi = self._lo + int(keep.sum())
            self.bin_frequencies = rfft_freqs[self._lo:self._hi]
            self.n_bins = self._hi - self._lo
            self._power_scale = np.float32(peak_scale)
        self.columns_per_second = self.sample_rate / self.hop
        self._n_freqs = n_freqs
        self._buf = np.zeros(self.n_fft + 4 * self.hop, dtype=np.float32)
        self._frames = np.empty((0, self.n_fft), dtype=np.float32)
        self._spec = np.empty((0, n_freqs), dtype=np.complex64)
        self._power = np.empty((0, n_freqs), dtype=np.float32)
        self._tmp = np.empty((0, n_freqs), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget all audio: the next column starts from silence."""
        self._buf[:] = 0.0
        self._fill = self.n_fft - self.hop

    def _ensure(self, n_cols: int) -> None:
        if self._frames.shape[0] < n_cols:
            size = min(max(n_cols, 2 * self._frames.shape[0], 4), _MAX_BATCH)
            self._frames = np.empty((size, self.n_fft), dtype=np.float32)
            self._spec = np.empty((size, self._n_freqs), dtype=np.complex64)
            self._power = np.empty((size, self._n_freqs), dtype=np.float32)
            self._tmp = np.empty((size, self._n_freqs), dtype=np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add a block of mono samples; return the columns it completed, (n, n_bins) float32 dB."""
        x = finite(np.asarray(samples, dtype=np.float32).reshape(-1))
        need = self._fill + x.size
        if need > self._buf.size:
            grown = np.zeros(max(need, 2 * self._buf.size), dtype=np.float32)
            grown[:self._fill] = self._buf[:self._fill]
            self._buf = grown
        self._buf[self._fill:need] = x
        self._fill = need
        if need < self.n_fft:
            return np.empty((0, self.n_bins), dtype=np.float32)
        n_cols = (need - self.n_fft) // self.hop + 1

        out = np.empty((n_cols, self.n_bins), dtype=np.float32)
        frames = np.lib.stride_tricks.as_strided(
            self._buf, shape=(n_cols, self.n_fft), strides=(self.hop * 4, 4), writeable=False)
        for start in range(0, n_cols, _MAX_BATCH):  # batches bound the work buffers' size
            stop = min(start + _MAX_BATCH, n_cols)
            n = stop - start
            self._ensure(n)
            windowed = self._frames[:n]
            np.multiply(frames[start:stop], self._window, out=windowed)
            spec = self._spec[:n]
            np.fft.rfft(windowed, axis=-1, out=spec)
            power, tmp = self._power[:n], self._tmp[:n]
            np.multiply(spec.real, spec.real, out=power)
            np.multiply(spec.imag, spec.imag, out=tmp)
            power += tmp
            if self._fb is not None:
                np.matmul(power, self._fb, out=out[start:stop])
            else:
                np.multiply(power[:, self._lo:self._hi], self._power_scale, out=out[start:stop])
        out += _POWER_FLOOR
        np.log10(out, out=out)
        out *= 10.0

        consumed = n_cols * self.hop
        keep = need - consumed
        if self._buf.size > 4 * (self.n_fft + 4 * self.hop):  # after one big push, give memory back
            small = np.zeros(self.n_fft + 4 * self.hop, dtype=np.float32)
            small[:keep] = self._buf[consumed:need]
            self._buf = small
        else:
            self._buf[:keep] = self._buf[consumed:need]  # numpy copies safely on overlap
        self._fill = keep
        return out


# --- meter ---------------------------------------------------------------------------------


@dataclass
class PooledSpectrogram:
    """A whole file's display spectrogram: ``db`` (columns, bins), each column the max of
    ``seconds_per_column`` of audio, and the spectrogram (scale, bin frequencies) it came from."""

    db: np.ndarray
    seconds_per_column: float
    spec: DisplaySpectrogram
    duration: float


def pooled_spectrogram(audio: np.ndarray, sample_rate: int, scale: str = "mel", max_columns: int = 4096,
                       chunk_seconds: float = 30.0) -> PooledSpectrogram:
    """The display spectrogram of mono ``audio``, max-pooled to at most ``max_columns`` columns
    (a long file still draws in a bounded image, and a short loud event is never averaged away).
    Computed ``chunk_seconds`` at a time, so memory stays bounded whatever the length; a job
    body (the file view's load), not GUI-thread work."""
    spec = DisplaySpectrogram(sample_rate, scale)
    expected = int(len(audio) // spec.hop) + 1
    factor = max(1, math.ceil(expected / max_columns))
    chunk = max(spec.hop * factor, int(chunk_seconds * sample_rate) // (spec.hop * factor) * spec.hop * factor)
    pooled: list[np.ndarray] = []
    carry = np.empty((0, spec.n_bins), dtype=np.float32)
    for i in range(0, len(audio), chunk):
        cols = spec.push(audio[i:i + chunk])
        if carry.shape[0]:
            cols = np.concatenate([carry, cols])
        whole = cols.shape[0] // factor * factor
        if whole:
            pooled.append(cols[:whole].reshape(-1, factor, spec.n_bins).max(axis=1))
        carry = cols[whole:]
    if carry.shape[0]:
        pooled.append(carry.max(axis=0, keepdims=True))
    db = np.concatenate(pooled) if pooled else np.full((1, spec.n_bins), -np.inf, dtype=np.float32)
    return PooledSpectrogram(db, factor / spec.columns_per_second, spec, len(audio) / sample_rate)


def level_dbfs(block: np.ndarray) -> tuple[float, float]:
    """RMS and peak of a block in dBFS (1.0 = 0 dBFS), floored at -120 dB for silence."""
    x = finite(np.asarray(block, dtype=np.float32).reshape(-1))
    if x.size == 0:
        return _LEVEL_FLOOR_DB, _LEVEL_FLOOR_DB
    mean_sq = float(np.dot(x, x)) / x.size
    peak = float(np.max(np.abs(x)))
    rms_db = 10.0 * math.log10(mean_sq) if mean_sq > 0 else _LEVEL_FLOOR_DB
    peak_db = 20.0 * math.log10(peak) if peak > 0 else _LEVEL_FLOOR_DB
    return max(rms_db, _LEVEL_FLOOR_DB), max(peak_db, _LEVEL_FLOOR_DB)


class StreamResampler:
    """Band-limited resampling of a mono stream block by block, giving the same samples as
    resampling the whole stream at once (torchaudio's polyphase sinc filter).

    Why not resample each block alone: every block would be zero-padded at both edges, a click
    at each boundary. Here a block is resampled with enough real audio on both sides: the
    input is kept aligned to torchaudio's frames (``orig`` samples at the reduced rates), and the
    last ``context`` input samples wait for the next block (``flush`` gives them at the end).
    """

    def __init__(self, orig_rate: int, new_rate: int) -> None:
        if orig_rate <= 0 or new_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_rate} and {new_rate}")
        g = math.gcd(int(orig_rate), int(new_rate))
        self.orig_rate, self.new_rate = int(orig_rate), int(new_rate)
        self._orig, self._new = self.orig_rate // g, self.new_rate // g
        # torchaudio's kernel reaches ceil(6 * orig / (min(orig, new) * 0.99)) input samples each way
        reach = math.ceil(6 * self._orig / (min(self._orig, self._new) * 0.99)) + 1
        self._context = math.ceil(max(reach, 32) / self._orig) * self._orig
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0  # absolute input index of _buffer[0], a multiple of _orig
        self._emitted = 0  # absolute output samples given out
        self._received = 0  # absolute input samples taken in

    def _resampled(self, buffer: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return taf.resample(torch.from_numpy(buffer), self._orig, self._new).numpy()

    def _emit_until(self, end_out: int) -> np.ndarray:
        first_out = self._buffer_start // self._orig * self._new  # output index of the buffer's start
        if end_out <= self._emitted:
            return np.zeros(0, np.float32)
        y = self._resampled(self._buffer)
        out = y[self._emitted - first_out:end_out - first_out].astype(np.float32, copy=True)
        self._emitted = end_out
        # keep `context` input samples before the next output still to come, aligned to a frame
        keep_from = (self._emitted * self._orig // self._new - self._context) // self._orig * self._orig
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start:]
            self._buffer_start = keep_from
        return out

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Take a block of input, return the output samples that are final now."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if self.orig_rate == self.new_rate:
            return x.copy()
        self._buffer = np.concatenate([self._buffer, x])
        self._received += len(x)
        # an output sample is final once `context` input samples follow its position
        safe_in = self._received - self._context
        end_out = max(0, safe_in * self._new // self._orig)
        return self._emit_until(end_out)

    def flush(self) -> np.ndarray:
        """The rest, as if the stream ended here (zero padding, like resampling it whole)."""
        if self.orig_rate == self.new_rate:
            return np.zeros(0, np.float32)
        total_out = math.ceil(self._received * self._new / self._orig)
        return self._emit_until(total_out)


def frame_loudness_db(samples: np.ndarray, frame: int = 320) -> np.ndarray:
    """RMS level of every ``frame`` samples (320: 20 ms at 16 kHz) of mono audio, in dBFS: where
    Whisper skips silence, and where a batch splits a long file."""
    n = len(samples) // frame
    if n == 0:
        return np.array([20 * np.log10(max(float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0, 1e-10))])
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame).astype(np.float32) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))
