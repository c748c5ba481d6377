"""Reading, resampling and writing audio files (soundfile/libsndfile, torchaudio). No Qt here.

Every failure surfaces as AudioFileError with a message a person can act on, naming the file.
What is read is checked (DESIGN.md §8): permissions are reported as permissions, the sample rate
must be one real audio uses, the decoded samples must fit in memory, and every sample must be a
finite number (see ``check_finite`` for why a file with NaN or infinity is refused, not repaired).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.atomic import WriteError, atomic_path

# Defaults when a subtype is not given: 16-bit WAV for export, 24-bit FLAC (lossless, compact).
_DEFAULT_SUBTYPES = {"WAV": "PCM_16", "FLAC": "PCM_24"}
_SUFFIX_FORMATS = {"WAV": "WAV", "WAVE": "WAV", "FLAC": "FLAC", "OGG": "OGG", "OGA": "OGG",
                   "AIFF": "AIFF", "AIF": "AIFF", "MP3": "MP3", "CAF": "CAF", "W64": "W64"}
AUDIO_SUFFIXES = tuple(f".{suffix.lower()}" for suffix in _SUFFIX_FORMATS)  # what a folder search takes as audio


# A header outside these rates is damaged or a trick: 1 Hz audio resampled to 16 kHz would
# multiply its size by 16000. Telephone audio is 8 kHz; the fastest converters run at 768 kHz.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 768_000
# The decoded float32 samples of one file (frames x channels x 4 bytes): about 6 hours of 48 kHz
# stereo; a longer file is refused up front rather than exhausting memory halfway through.
MAX_DECODED_BYTES = 4 * 2**30


class AudioFileError(Exception):
    """An audio file could not be read or written; the message is meant for the user."""


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int
    duration: float
    format: str
    subtype: str


def _describe_read_error(path: Path, exc: BaseException) -> str:
    name = path.name
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM):
        return f"'{name}' cannot be read: permission denied"
    text = str(exc)
    lowered = text.lower()
    if "format not recognised" in lowered or "unknown format" in lowered or "unsupported" in lowered:
        return f"'{name}' is not an audio file Motet can read (unknown or unsupported format)"
    detail = text.split(": ", 1)[-1] if isinstance(exc, sf.LibsndfileError) else text
    detail = detail.strip() or type(exc).__name__
    return f"'{name}' looks damaged or truncated and cannot be read ({detail})"


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(f"'{path.name}' was not found (looked in {path.absolute().parent})")
    if path.is_dir():
        raise AudioFileError(f"'{path.name}' is a folder, not an audio file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioFileError(_describe_read_error(path, exc)) from exc
    if size == 0:
        raise AudioFileError(f"'{path.name}' is empty (0 bytes)")
    try:  # libsndfile would report a refused open as a vague "System error"
        open(path, "rb").close()
    except OSError as exc:
        raise AudioFileError(_describe_read_error(path, exc)) from exc


def _check_header(path: Path, sample_rate: int, channels: int, frames: int) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioFileError(f"'{path.name}' has a sample rate of {sample_rate} Hz, which no real audio uses "
                             f"(Motet reads {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz); the file is probably damaged")
    nbytes = max(frames, 0) * channels * 4
    if nbytes > MAX_DECODED_BYTES:
        hours = frames / sample_rate / 3600
        raise AudioFileError(f"'{path.name}' is too long to load at once: {hours:.1f} h of {channels}-channel "
                             f"{sample_rate} Hz audio needs {nbytes / 2**30:.1f} GB of memory, more than the "
                             f"{MAX_DECODED_BYTES / 2**30:.0f} GB Motet allows; split it into shorter files")


# Float files may exceed full scale (1.0), but never by 120 dB: beyond that a value is damage, and
# its square overflows float32 in the log-mel spectrogram (infinity, then NaN in the model).
MAX_SAMPLE = 1e6


def check_finite(samples: np.ndarray, name: str) -> None:
    """Refuse samples that are NaN, infinite or beyond ``MAX_SAMPLE``, saying how many (a
    ValueError naming ``name``).

    Why refuse rather than replace them by 0: a PCM file cannot hold them, so they come only from
    a float file that a broken program or disk damaged. One NaN spreads through resampling and
    turns a transcript empty; one infinity makes Whisper grind for minutes and fail. Silently
    zeroing them would hide the damage and give a result that is not of the recording; the
    person can repair or re-export the file once told. (Live audio is the exception: a stream
    cannot be refused, so the live transcriber hears such samples as silence and counts them.)
    """
    if samples.size and not float(np.max(np.abs(samples))) <= MAX_SAMPLE:  # NaN fails the comparison too
        bad = int(samples.size - np.count_nonzero(np.abs(samples) <= MAX_SAMPLE))
        what = "1 sample that is" if bad == 1 else f"{bad} samples that are"
        raise ValueError(f"'{name}' has {what} not finite (NaN or infinity) or beyond any real level "
                         f"(over {MAX_SAMPLE:g} x full scale) out of {samples.size}: "
                         f"the file is damaged; repair or re-export it")


def audio_info(path, whole: bool = True) -> AudioInfo:
    """Header facts about a file without reading its samples. ``whole=False``: a file too long to
    load at once passes (the caller reads a part of it with ``load_audio(start=, end=)``)."""
    p = Path(path)
    _check_readable(p)
    try:
        info = sf.info(os.fsencode(p))
    except Exception as exc:  # libsndfile raises several kinds; all mean "can't read"
        raise AudioFileError(_describe_read_error(p, exc)) from exc
    _check_header(p, int(info.samplerate), int(info.channels), int(info.frames) if whole else 0)
    return AudioInfo(path=str(p), sample_rate=int(info.samplerate), channels=int(info.channels),
                     frames=int(info.frames), duration=float(info.duration), format=str(info.format),
                     subtype=str(info.subtype))


def load_audio(path, sample_rate: int | None = None, mono: bool = False, start: float = 0.0,
               end: float | None = None) -> tuple[np.ndarray, int]:
    """Read a file as float32 (frames, channels); optionally downmix to mono and resample.

    ``start``/``end`` (seconds) read only that part of the file (a batch worker's piece of a long
    recording), without decoding the rest; the memory limit applies to that part. Returns the
    audio and its sample rate (``sample_rate`` when given, else the file's).
    """
    p = Path(path)
    _check_readable(p)
    try:
        info = sf.info(os.fsencode(p))
    except Exception as exc:
        raise AudioFileError(_describe_read_error(p, exc)) from exc
    try:
        first = round(start * info.samplerate)
        last = None if end is None else round(end * info.samplerate)
    except (ValueError, OverflowError) as exc:
        raise AudioFileError(f"'{p.name}': cannot read from {start} to {end} s ({exc})") from exc
    frames = int(info.frames)
    negative = first < 0 or (last is not None and last < 0)  # soundfile counts those from the end
    part = frames if negative else max(0, (frames if last is None else min(last, frames)) - first)
    _check_header(p, int(info.samplerate), int(info.channels), part)
    try:
        audio, sr = sf.read(os.fsencode(p), dtype="float32", always_2d=True, start=first, stop=last)
    except Exception as exc:
        raise AudioFileError(_describe_read_error(p, exc)) from exc
    if audio.shape[0] == 0:
        raise AudioFileError(f"'{p.name}' contains no audio (0 samples)")
    try:
        check_finite(audio, p.name)
    except ValueError as exc:
        raise AudioFileError(str(exc)) from None
    if mono and audio.shape[1] != 1:
        audio = audio.mean(axis=1, keepdims=True, dtype=np.float32)
    if sample_rate is not None and int(sample_rate) != sr:
        try:
            audio = resample(audio, sr, int(sample_rate))
        except Exception as exc:
            raise AudioFileError(f"'{p.name}' could not be resampled from {sr} to {sample_rate} Hz: {exc}") from exc
        sr = int(sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32), int(sr)


def resample(audio: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited resampling (torchaudio) of (frames,) or (frames, channels) audio, float32."""
    import torch
    import torchaudio.functional as taf

    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} and {new_sr}")
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {x.shape}")
    if orig_sr == new_sr:
        return x.copy()
    t = torch.from_numpy(np.ascontiguousarray(x.T))  # torchaudio resamples the last axis
    with torch.inference_mode():
        y = taf.resample(t, int(orig_sr), int(new_sr))
    return np.ascontiguousarray(y.numpy().T)


def _infer_format(path: Path, format: str | None) -> str:
    if format:
        fmt = format.upper()
    else:
        suffix = path.suffix.lstrip(".").upper()
        fmt = _SUFFIX_FORMATS.get(suffix, "")
        if not fmt:
            raise AudioFileError(
                f"cannot tell which audio format to write for '{path.name}': use a .wav or .flac name")
    if fmt not in sf.available_formats():
        raise AudioFileError(f"cannot write '{path.name}': unknown audio format {fmt}")
    return fmt


def write_audio(path, audio: np.ndarray, sample_rate: int, format: str | None = None,
                subtype: str | None = None) -> None:
    """Write audio (frames,) or (frames, channels) as WAV or FLAC (or another libsndfile format).

    Written to a temporary file in the same folder, synced, then renamed over ``path``, so a
    failure (full disk, crash) never leaves a half-written file under the target name.
    """
    p = Path(path)
    fmt = _infer_format(p, format)
    sub = (subtype or _DEFAULT_SUBTYPES.get(fmt) or sf.default_subtype(fmt)).upper()
    if not sf.check_format(fmt, sub):
        raise AudioFileError(f"cannot save '{p.name}': {fmt} files cannot hold {sub} samples")
    data = np.asarray(audio)
    if data.ndim not in (1, 2) or not (data.dtype.kind == "f" or data.dtype in (np.int16, np.int32)):
        raise AudioFileError(f"cannot save '{p.name}': expected (frames,) or (frames, channels) numbers, "
                             f"got an array of shape {data.shape} and type {data.dtype}")
    if data.dtype == np.float16:
        data = data.astype(np.float32)
    if int(sample_rate) <= 0:
        raise AudioFileError(f"cannot save '{p.name}': invalid sample rate {sample_rate}")
    if data.dtype.kind == "f" and sub.startswith("PCM") and data.size and np.abs(data).max() > 1.0:
        data = np.clip(data, -1.0, 1.0)  # libsndfile would wrap around instead of clipping
    channels = 1 if data.ndim == 1 else data.shape[1]

    try:
        with atomic_path(p, data.nbytes) as tmp:
            # bytes, not str: a name with undecodable bytes (surrogate-escaped) reaches libsndfile intact
            with sf.SoundFile(os.fsencode(tmp), "w", int(sample_rate), channels, subtype=sub, format=fmt) as out:
                out.write(data)
    except WriteError as exc:
        raise AudioFileError(str(exc)) from exc
