"""Long-form transcription: seek through 30 s windows by the timestamps Whisper predicts.

The published algorithm (openai/whisper ``transcribe.py``): each window is decoded with
temperature fallback (retry hotter when the text is too repetitive — compression ratio — or too
unlikely — average log-probability — unless the window is silence by its no-speech
probability); complete segments end at timestamp pairs; the next window starts at the last
complete segment's end; the previous text is the prompt unless the decode was too random.

Additions to the published loop, against text invented in silence and timestamps stuck at a
window's start: audio more than ``silence_gate_db`` below the file's loudest 20 ms is skipped
without decoding (a window starts 0.4 s before the next sound, so its first timestamp lands on
the speech); after a skipped stretch or a window judged silent the previous text no longer
conditions the next (the prompt is what makes Whisper repeat itself across quiet stretches);
and a window the model finds silent whose text is the prompt repeated (compression ratio too
high) is dropped.

Memory: the audio (16 kHz float32) and its log-mel (float32, computed a minute at a time) are
held whole — 2 hours is ~0.46 GB of audio and ~0.23 GB of mel at 80 bins; per window it is
constant.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.audio.dsp import WHISPER_HOP, WHISPER_SAMPLE_RATE, log_mel_spectrogram_chunked
from engine.models.whisper.decoding import DecodingOptions, DecodingResult, decode, detect_language
from engine.models.whisper.model import Whisper
from engine.models.whisper.tokenizer import TIME_PRECISION, WhisperTokenizer

N_FRAMES = 3000  # mel frames in a 30 s window
N_SAMPLES = 30 * WHISPER_SAMPLE_RATE
FRAME_SECONDS = WHISPER_HOP / WHISPER_SAMPLE_RATE  # 0.01 s
INPUT_STRIDE = 2  # mel frames per encoder position (the second convolution's stride)


@dataclass
class TranscribeOptions:
    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 5
    best_of: int = 5
    patience: float = 1.0
    length_penalty: float | None = None
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = True
    initial_prompt: str | None = None
    word_timestamps: bool = False
    prepend_punctuations: str = "\"'“¿([{-"
    append_punctuations: str = "\"'.。,，!！?？:：”)]}、"
    suppress_tokens: str = "-1"
    without_timestamps: bool = False
    silence_gate_db: float | None = 40.0  # skip windows this far below the file's loudest moment


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass
class Segment:
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float
    words: list[Word] | None = None


@dataclass
class TranscriptionResult:
    language: str
    language_probability: float
    duration: float
    segments: list[Segment] = field(default_factory=list)
    compute_seconds: float = 0.0
    model_name: str = ""
    options: TranscribeOptions | None = None

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

    def to_dict(self) -> dict:
        segments = []
        for s in self.segments:
            item = {"id": s.id, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text.strip()}
            if s.words is not None:
                item["words"] = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
                                  "probability": round(w.probability, 4)} for w in s.words]
            segments.append(item)
        return {"language": self.language, "language_probability": round(self.language_probability, 4),
                "duration": round(self.duration, 3), "compute_seconds": round(self.compute_seconds, 3),
                "model": self.model_name, "text": self.text, "segments": segments,
                "options": asdict(self.options) if self.options else None}

    @classmethod
    def from_dict(cls, data: dict) -> TranscriptionResult:
        """Read back what ``to_dict`` wrote (a saved transcript); raises ValueError if malformed."""
        try:
            segments = []
            for i, item in enumerate(data["segments"]):
                words = [Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w.get("probability", 1.0)))
                         for w in item["words"]] if item.get("words") is not None else None
                segments.append(Segment(id=i, seek=0, start=float(item["start"]), end=float(item["end"]),
                                        text=" " + str(item["text"]).strip(), tokens=[], avg_logprob=0.0,
                                        compression_ratio=0.0, no_speech_prob=0.0, temperature=0.0, words=words))
            return cls(language=str(data.get("language", "")),
                       language_probability=float(data.get("language_probability", 1.0)),
                       duration=float(data.get("duration", 0.0)), segments=segments,
                       compute_seconds=float(data.get("compute_seconds", 0.0)), model_name=str(data.get("model", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a Motet transcript: {exc}") from exc


def _load(audio: str | Path | np.ndarray) -> np.ndarray:
    if isinstance(audio, (str, Path)):
        from engine.audio.files import load_audio

        samples, _ = load_audio(audio, sample_rate=WHISPER_SAMPLE_RATE, mono=True)
        return samples[:, 0]
    samples = np.asarray(audio, dtype=np.float32)
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def _frame_loudness_db(samples: np.ndarray, frame: int = 320) -> np.ndarray:
    """RMS level of every 20 ms of the audio, in dBFS."""
    n = len(samples) // frame
    if n == 0:
        return np.array([20 * np.log10(max(float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0, 1e-10))])
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame).astype(np.float32) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def decode_with_fallback(model: Whisper, tokenizer: WhisperTokenizer, features: torch.Tensor,
                         options: TranscribeOptions, base: DecodingOptions,
                         should_stop: Callable[[], bool] | None) -> DecodingResult:
    result = None
    for temperature in options.temperatures:
        kwargs = dict(base.__dict__)
        kwargs["temperature"] = temperature
        kwargs["beam_size"] = options.beam_size if temperature == 0 else None
        kwargs["best_of"] = options.best_of if temperature > 0 else None
        result = decode(model, tokenizer, features, DecodingOptions(**kwargs), should_stop)
        needs_fallback = False
        if options.compression_ratio_threshold is not None and result.compression_ratio > options.compression_ratio_threshold:
            needs_fallback = True
        if options.log_prob_threshold is not None and result.avg_logprob < options.log_prob_threshold:
            needs_fallback = True
        if options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold:
            needs_fallback = False  # silence: a hotter decode would only invent text
        if not needs_fallback:
            break
    assert result is not None
    return result


@torch.inference_mode()
def transcribe(model: Whisper, tokenizer: WhisperTokenizer, audio: str | Path | np.ndarray,
               options: TranscribeOptions | None = None, progress: Callable[[float], None] | None = None,
               should_stop: Callable[[], bool] | None = None, model_name: str = "") -> TranscriptionResult:
    options = options or TranscribeOptions()
    started = time.perf_counter()
    samples = _load(audio)
    duration = len(samples) / WHISPER_SAMPLE_RATE
    device, dtype = model.device, model.dtype
    mel = log_mel_spectrogram_chunked(samples, model.config.n_mels, padding=N_SAMPLES)
    content_frames = mel.shape[-1] - N_FRAMES
    loudness = _frame_loudness_db(samples)  # one value per 20 ms
    loud_frames = np.flatnonzero(loudness >= loudness.max() - options.silence_gate_db) \
        if options.silence_gate_db is not None and len(loudness) else None

    def next_sound(seek: int) -> int:
        """Where to start the window: shortly before the next sound above the silence gate."""
        if loud_frames is None:
            return seek
        i = np.searchsorted(loud_frames, seek // 2)
        if i == len(loud_frames):
            return content_frames  # only quiet audio is left
        return max(seek, int(loud_frames[i]) * 2 - 40)  # 0.4 s of lead-in

    def window(seek: int, size: int = N_FRAMES) -> torch.Tensor:
        """Encoder features of ``size`` frames from ``seek``, zero-padded to 30 s (as published)."""
        segment = mel[:, seek:seek + size]
        if segment.shape[-1] < N_FRAMES:
            segment = torch.nn.functional.pad(segment, (0, N_FRAMES - segment.shape[-1]))
        return model.encoder(segment[None].to(device=device, dtype=dtype))

    language, language_probability = options.language, 1.0
    if not tokenizer.multilingual:
        language = "en"
    elif language is None:
        language, probs = detect_language(model, tokenizer, window(0))
        language_probability = probs[language]
    tokenizer = tokenizer.for_task(language, options.task)  # this call's view; the shared one is never written

    base = DecodingOptions(task=options.task, language=language, suppress_tokens=options.suppress_tokens,
                           without_timestamps=options.without_timestamps, patience=options.patience,
                           length_penalty=options.length_penalty)
    all_tokens: list[int] = []
    prompt_reset_since = 0
    if options.initial_prompt:
        all_tokens.extend(tokenizer.encode(" " + options.initial_prompt.strip()))
    segments: list[Segment] = []
    tb = tokenizer.timestamp_begin
    seek = 0
    while seek < content_frames:
        if should_stop is not None and should_stop():
            from engine.jobs import Cancelled

            raise Cancelled()
        start_at = next_sound(seek)
        if start_at > seek:  # quiet audio is skipped; what was said before it no longer primes the model
            if start_at - seek > 200:
                prompt_reset_since = len(all_tokens)
            seek = start_at
            if progress:
                progress(min(1.0, seek / max(content_frames, 1)))
            if seek >= content_frames:
                break
        time_offset = seek * FRAME_SECONDS
        segment_size = min(N_FRAMES, content_frames - seek)
        segment_duration = segment_size * FRAME_SECONDS
        features = window(seek, segment_size)
        base.prompt = all_tokens[prompt_reset_since:]
        result = decode_with_fallback(model, tokenizer, features, options, base, should_stop)
        tokens = result.tokens

        if options.no_speech_threshold is not None:
            skip = result.no_speech_prob > options.no_speech_threshold
            if options.log_prob_threshold is not None and result.avg_logprob > options.log_prob_threshold:
                skip = False  # confident text despite a quiet start...
            if (skip is False and result.no_speech_prob > options.no_speech_threshold
                    and options.compression_ratio_threshold is not None
                    and result.compression_ratio > options.compression_ratio_threshold):
                skip = True  # ...unless it is the prompt repeated over silence
            if skip:
                seek += segment_size
                prompt_reset_since = len(all_tokens)
                if progress:
                    progress(min(1.0, seek / max(content_frames, 1)))
                continue

        new: list[Segment] = []

        def add(start: float, end: float, toks: list[int]) -> None:
            text = tokenizer.decode(toks)
            if end <= start or not text.strip():
                return
            new.append(Segment(id=len(segments) + len(new), seek=seek, start=start, end=end, text=text,
                               tokens=toks, avg_logprob=result.avg_logprob,
                               compression_ratio=result.compression_ratio,
                               no_speech_prob=result.no_speech_prob, temperature=result.temperature))

        is_ts = [t >= tb for t in tokens]
        single_timestamp_ending = is_ts[-2:] == [False, True]
        consecutive = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
        if consecutive:
            slices = consecutive + ([len(tokens)] if single_timestamp_ending else [])
            last_slice = 0
            for current in slices:
                piece = tokens[last_slice:current]
                add(time_offset + (piece[0] - tb) * TIME_PRECISION,
                    time_offset + (piece[-1] - tb) * TIME_PRECISION, piece)
                last_slice = current
            if single_timestamp_ending:
                seek += segment_size
            else:
                seek += (tokens[last_slice - 1] - tb) * INPUT_STRIDE
        else:
            end = segment_duration
            stamps = [t for t in tokens if t >= tb]
            if stamps and stamps[-1] != tb:
                end = (stamps[-1] - tb) * TIME_PRECISION
            add(time_offset, time_offset + end, tokens)
            seek += segment_size

        if options.word_timestamps and new:
            from engine.models.whisper.timing import add_word_timestamps

            add_word_timestamps(model, tokenizer, new, features, segment_duration, options)
        segments.extend(new)
        for s in new:  # timestamps included: the prompt keeps the model in timestamp mode
            all_tokens.extend(s.tokens)
        if not options.condition_on_previous_text or result.temperature > 0.5:
            prompt_reset_since = len(all_tokens)
        if progress:
            progress(min(1.0, seek / max(content_frames, 1)))

    for i, s in enumerate(segments):
        s.id = i
        s.end = min(s.end, duration) if duration > 0 else s.end
    return TranscriptionResult(language=language, language_probability=language_probability, duration=duration,
                               segments=segments, compute_seconds=time.perf_counter() - started,
                               model_name=model_name, options=options)


class WhisperPipeline:
    """A loaded model and its tokenizer, kept between jobs."""

    def __init__(self, folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        from engine.models.whisper.errors import CheckpointError
        from engine.models.whisper.loading import load_whisper_model

        self.model, self.info = load_whisper_model(folder, device=device, dtype=dtype)
        if not self.info.get("tokenizer_path"):
            raise CheckpointError(f"{folder} has no tokenizer.json")
        cfg = self.model.config
        self.tokenizer = WhisperTokenizer.from_file(self.info["tokenizer_path"], cfg.is_multilingual,
                                                    cfg.num_languages)

    def transcribe(self, audio: str | Path | np.ndarray, options: TranscribeOptions | None = None,
                   progress: Callable[[float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> TranscriptionResult:
        return transcribe(self.model, self.tokenizer, audio, options, progress, should_stop,
                          model_name=self.info["name"])
