"""Long-form transcription: seek through 30 s windows by the timestamps Whisper predicts.

The published algorithm (openai/whisper ``transcribe.py``): each window is decoded with
temperature fallback (retry hotter when the text is too repetitive — compression ratio — or too
unlikely — average log-probability — unless the window is silence by its no-speech
probability); complete segments end at timestamp pairs; the next window starts at the last
complete segment's end; the previous text is the prompt unless the decode was too random.

Additions to the published loop, against text invented in silence and timestamps stuck at a
window's start: audio more than ``silence_gate_db`` below the file's loudest 20 ms is skipped
without decoding, and so is audio below ``SILENCE_FLOOR_DB`` whatever the file's loudest moment
(a window starts 0.4 s before the next sound, so its first timestamp lands on the speech); after
a skipped stretch or a window judged silent the previous text no longer conditions the next
(the prompt is what makes Whisper repeat itself across quiet stretches);
and a window the model finds silent whose text is the prompt repeated (compression ratio too
high) is dropped. A window whose text may be invented (a few words, or read as likely silent or
unsurely) is checked with the Silero voice detector (engine/audio/vad.py): if it hears less
than 0.2 s of speech in the window, the text is dropped (issue #27: room noise, breathing or a
take's silent end read as "You").

Memory: the audio (16 kHz float32) and its log-mel (float32, computed a minute at a time) are
held whole — 2 hours is ~0.46 GB of audio and ~0.23 GB of mel at 80 bins; per window it is
constant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.audio.dsp import WHISPER_HOP, WHISPER_SAMPLE_RATE, frame_loudness_db, log_mel_spectrogram_chunked
from engine.models.whisper.decoding import DecodingOptions, DecodingResult, decode_batch, detect_language
from engine.models.whisper.model import Whisper
from engine.models.whisper.options import DEFAULT_BATCH, MAX_BATCH, MAX_BEAM_SIZE, TranscribeOptions  # noqa: F401
from engine.models.whisper.tokenizer import TIME_PRECISION, WhisperTokenizer
from engine.transcript import Segment, TranscriptionResult

N_FRAMES = 3000  # mel frames in a 30 s window
N_SAMPLES = 30 * WHISPER_SAMPLE_RATE
FRAME_SECONDS = WHISPER_HOP / WHISPER_SAMPLE_RATE  # 0.01 s
INPUT_STRIDE = 2  # mel frames per encoder position (the second convolution's stride)
# Quieter than this is silence in any recording (16-bit dither is about -96 dBFS, a quiet room
# through a microphone -70 or more): the gate never treats it as sound, even in a file that has
# nothing louder (digital silence was otherwise its own loudest moment, and Whisper heard "You").
SILENCE_FLOOR_DB = -80.0


def _load(audio: str | Path | np.ndarray) -> np.ndarray:
    """16 kHz mono samples of a file or array; non-finite samples are refused (files.check_finite)."""
    if isinstance(audio, (str, Path)):
        from engine.audio.files import load_audio

        samples, _ = load_audio(audio, sample_rate=WHISPER_SAMPLE_RATE, mono=True)
        return samples[:, 0]
    from engine.audio.files import check_finite

    samples = np.asarray(audio, dtype=np.float32)
    check_finite(samples, "the audio")
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def window_seed(samples: np.ndarray) -> int:
    """A seed from a window's 16 kHz samples: the temperature fallback samples the same text for
    the same audio in every run, in this process or on a cluster's worker (which reads and
    resamples the file with the same code; another resampler's rounding gives another seed)."""
    import hashlib

    data = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & (2**63 - 1)


def decoding_options(options: TranscribeOptions, base: DecodingOptions, temperature: float) -> DecodingOptions:
    """The window's decoding options at one temperature of the fallback ladder."""
    kwargs = dict(base.__dict__)
    kwargs["temperature"] = temperature
    kwargs["beam_size"] = options.beam_size if temperature == 0 else None
    kwargs["best_of"] = options.best_of if temperature > 0 else None
    return DecodingOptions(**kwargs)


def needs_fallback(result: DecodingResult, options: TranscribeOptions) -> bool:
    """Too repetitive (compression ratio) or too unlikely (average log-probability), unless the
    window is silence by its no-speech probability (a hotter decode would only invent text)."""
    if options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold:
        return False
    ratio = options.compression_ratio_threshold
    if ratio is not None and result.compression_ratio > ratio:
        return True
    return options.log_prob_threshold is not None and result.avg_logprob < options.log_prob_threshold


def decode_with_fallback(model: Whisper, tokenizer: WhisperTokenizer, features: torch.Tensor,
                         options: TranscribeOptions, base: DecodingOptions | list[DecodingOptions],
                         should_stop: Callable[[], bool] | None) -> DecodingResult | list[DecodingResult]:
    """Decode at each temperature in turn until the result needs no fallback.

    With N windows (features (N, S, D), one base per window) each window climbs its own ladder:
    the windows at the same temperature are decoded together (``decode_batch``), and a window
    leaves as soon as its result is good, exactly as it would alone.
    """
    bases = base if isinstance(base, list) else [base]
    results: list[DecodingResult | None] = [None] * len(bases)
    pending = list(range(len(bases)))
    for temperature in options.temperatures:
        if not pending:
            break
        rows = features if len(pending) == len(bases) else features[torch.tensor(pending, device=features.device)]
        decoded = decode_batch(model, tokenizer, rows,
                               [decoding_options(options, bases[i], temperature) for i in pending], should_stop)
        for i, result in zip(pending, decoded):
            results[i] = result
        pending = [i for i, result in zip(pending, decoded) if needs_fallback(result, options)]
    assert all(r is not None for r in results)
    return results if isinstance(base, list) else results[0]


@dataclass
class WindowRequest:
    """A window one transcription wants decoded: its log-mel (n_mels, 3000 frames, zero-padded)
    and its decoding options (with its prompt), before the temperature is chosen."""

    mel: torch.Tensor
    base: DecodingOptions


def _transcription(model: Whisper, tokenizer: WhisperTokenizer, samples: np.ndarray, options: TranscribeOptions,
                   progress: Callable[[float], None] | None, should_stop: Callable[[], bool] | None,
                   model_name: str):
    """One file's long-form loop as a generator: it yields each window to decode (a
    ``WindowRequest``) and is sent back ``(features (1, S, D), result after fallback)``;
    it returns the ``TranscriptionResult`` (without compute_seconds). ``transcribe_many`` drives
    several at once so that their windows are encoded and decoded together."""
    duration = len(samples) / WHISPER_SAMPLE_RATE
    device, dtype = model.device, model.dtype
    mel = log_mel_spectrogram_chunked(samples, model.config.n_mels, padding=N_SAMPLES)
    content_frames = mel.shape[-1] - N_FRAMES
    loudness = frame_loudness_db(samples)  # one value per 20 ms
    loud_frames = np.flatnonzero(loudness >= max(loudness.max() - options.silence_gate_db, SILENCE_FLOOR_DB)) \
        if options.silence_gate_db is not None and len(loudness) else None

    def next_sound(seek: int) -> int:
        """Where to start the window: shortly before the next sound above the silence gate."""
        if loud_frames is None:
            return seek
        i = np.searchsorted(loud_frames, seek // 2)
        if i == len(loud_frames):
            return content_frames  # only quiet audio is left
        return max(seek, int(loud_frames[i]) * 2 - 40)  # 0.4 s of lead-in

    def window_mel(seek: int, size: int = N_FRAMES) -> torch.Tensor:
        """``size`` frames of log-mel from ``seek``, zero-padded to 30 s (as published)."""
        segment = mel[:, seek:seek + size]
        if segment.shape[-1] < N_FRAMES:
            segment = torch.nn.functional.pad(segment, (0, N_FRAMES - segment.shape[-1]))
        return segment

    def window(seek: int, size: int = N_FRAMES) -> torch.Tensor:
        """Encoder features of ``size`` frames from ``seek``."""
        return model.encoder(window_mel(seek, size)[None].to(device=device, dtype=dtype))

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
            from engine.cancel import Cancelled

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
        window_start = seek
        segment_size = min(N_FRAMES, content_frames - seek)
        segment_duration = segment_size * FRAME_SECONDS
        base.prompt = all_tokens[prompt_reset_since:]
        base.seed = window_seed(samples[seek * WHISPER_HOP:(seek + segment_size) * WHISPER_HOP])
        features, result = yield WindowRequest(window_mel(seek, segment_size), replace(base))
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

        if new and options.silence_gate_db is not None and _maybe_invented(new, result) and not has_speech(
                samples[window_start * WHISPER_HOP:(window_start + segment_size) * WHISPER_HOP]):
            new = []  # a few words where the voice detector hears nobody: invented in noise or silence
            prompt_reset_since = len(all_tokens)

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
                               segments=segments, model_name=model_name, options=options)


def _maybe_invented(segments: list[Segment], result: DecodingResult) -> bool:
    """Text that may have been invented in silence or noise ("You", "Thank you."): a few words
    only, or a window the model itself found likely silent or read unsurely. Only such windows
    are checked with the voice detector (it costs ~0.4 s per 30 s window on one core)."""
    words = sum(len(s.text.split()) for s in segments)
    return words <= 8 or result.no_speech_prob > 0.3 or result.avg_logprob < -0.8


def has_speech(samples: np.ndarray) -> bool:
    from engine.audio.vad import has_speech as vad_has_speech

    return vad_has_speech(samples)


BATCH_MEMORY_BYTES = 2 * 2**30  # the working memory a batch may take beyond the model


def window_bytes(model: Whisper, beam_size: int = 5) -> int:
    """Memory one window adds to a batch, at most: its cross-attention keys/values (every
    decoder layer), the encoder's activations, and the self-attention cache of its hypotheses
    if they filled the whole text context."""
    c = model.config
    size = torch.finfo(model.dtype).bits // 8
    cross = c.n_text_layer * 2 * c.n_audio_ctx * c.n_text_state
    encoder = 10 * c.n_audio_ctx * c.n_audio_state + c.n_mels * N_FRAMES
    cache = max(beam_size, 1) * c.n_text_layer * 2 * c.n_text_ctx * c.n_text_state
    return size * (cross + encoder + cache)


def batch_limit(model: Whisper, requested: int, beam_size: int = 5) -> int:
    """``requested`` windows per batch, capped at MAX_BATCH and so that a batch's working memory
    stays within BATCH_MEMORY_BYTES (a large model on the CPU decodes one window at a time)."""
    by_memory = max(1, BATCH_MEMORY_BYTES // window_bytes(model, beam_size))
    return max(1, min(int(requested), MAX_BATCH, by_memory))


@dataclass
class _Job:
    index: int
    steps: object  # the _transcription generator
    request: WindowRequest | None = None
    seconds: float = 0.0


@torch.inference_mode()
def transcribe_many(model: Whisper, tokenizer: WhisperTokenizer, audios, options: TranscribeOptions | None = None,
                    batch_size: int = DEFAULT_BATCH, progress: Callable[[int, float], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, model_name: str = ""):
    """Transcribe several files, their windows encoded and decoded together in batches.

    Yields ``(index, TranscriptionResult or AudioFileError/OSError/ValueError)`` as each file is
    done (not necessarily in order); a file that cannot be read does not stop the others.
    ``progress(index, fraction)`` per file. Up to ``batch_size`` files are in flight (files are
    read when they enter): each round encodes one window of each in one batch and decodes them
    together (``decode_batch``); windows that need the temperature fallback climb it together,
    each leaving at its first good result; each file's seek loop goes on exactly as
    ``transcribe`` would, so results equal one-at-a-time ones up to float rounding (and, where a
    window needed the sampled fallback, up to the random draw). A short clip is one window;
    a long file takes part with one window per round. Each result's ``compute_seconds`` is its
    share of the batched work plus its own.

    On the CPU the encoder still runs one window at a time: 1500 positions per window already
    keep its matmuls busy (8 windows in one batch took as long per window as one alone), and
    int8 compute quantizes the encoder's activations with one scale per call, so a window's
    features never depend on its batch-mates. On a GPU the windows are encoded in one batch.
    """
    from engine.audio.files import AudioFileError

    options = options or TranscribeOptions()
    limit = batch_limit(model, batch_size, options.beam_size)
    device, dtype = model.device, model.dtype
    queue = list(enumerate(audios))
    position = 0
    active: list[_Job] = []
    while active or position < len(queue):
        while len(active) < limit and position < len(queue):
            index, audio = queue[position]
            position += 1
            started = time.perf_counter()
            job = _Job(index, None)
            try:
                samples = _load(audio)
                report = (lambda f, i=index: progress(i, f)) if progress else None
                job.steps = _transcription(model, tokenizer, samples, options, report, should_stop, model_name)
                job.request = next(job.steps)
            except StopIteration as stop:  # nothing to decode (silence)
                stop.value.compute_seconds = time.perf_counter() - started
                yield index, stop.value
                continue
            except (AudioFileError, OSError, ValueError) as exc:
                yield index, exc
                continue
            job.seconds = time.perf_counter() - started
            active.append(job)
        if not active:
            continue
        started = time.perf_counter()
        if device.type == "cpu":  # one window at a time: see above
            features = torch.cat([model.encoder(job.request.mel[None].to(dtype=dtype)) for job in active])
        else:
            features = model.encoder(torch.stack([job.request.mel for job in active]).to(device=device, dtype=dtype))
        results = decode_with_fallback(model, tokenizer, features, options, [job.request.base for job in active],
                                       should_stop)
        share = (time.perf_counter() - started) / len(active)
        going: list[_Job] = []
        for i, job in enumerate(active):
            started = time.perf_counter()
            try:
                job.request = job.steps.send((features[i:i + 1], results[i]))
                going.append(job)
            except StopIteration as stop:
                stop.value.compute_seconds = job.seconds + share + time.perf_counter() - started
                yield job.index, stop.value
                continue
            job.seconds += share + time.perf_counter() - started
        active = going


def transcribe(model: Whisper, tokenizer: WhisperTokenizer, audio: str | Path | np.ndarray,
               options: TranscribeOptions | None = None, progress: Callable[[float], None] | None = None,
               should_stop: Callable[[], bool] | None = None, model_name: str = "") -> TranscriptionResult:
    """Transcribe one file or array (16 kHz mono samples)."""
    report = (lambda _index, fraction: progress(fraction)) if progress else None
    for _index, result in transcribe_many(model, tokenizer, [audio], options, 1, report, should_stop, model_name):
        if isinstance(result, Exception):
            raise result
        return result
    raise AssertionError("transcribe_many yielded nothing")


def resolve_compute_type(compute_type: str | None, device: str | torch.device,
                         dtype: torch.dtype) -> tuple[torch.dtype, bool]:
    """(dtype to load the weights in, whether to quantize them to int8) for a compute type.

    None or ``"default"``: ``dtype`` as given (the device's usual precision). ``"float32"``:
    float32 on any device. ``"int8"``: int8 linear layers on the CPU (quantize.py); it is refused
    on a GPU (a ValueError saying so) rather than silently run as something else.
    """
    from engine.models.whisper.quantize import COMPUTE_TYPES

    if compute_type in (None, "default"):
        return dtype, False
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"compute type {compute_type!r} unknown; choose one of {', '.join(COMPUTE_TYPES)}")
    if compute_type == "float32":
        return torch.float32, False
    if torch.device(device).type != "cpu":
        raise ValueError(f"int8 compute runs on the CPU only, not on {device}; use --compute-type float32 "
                         "or --device cpu")
    return torch.float32, True


class WhisperPipeline:
    """A loaded model and its tokenizer, kept between jobs.

    ``compute_type``: None (``dtype`` as given), ``"float32"`` or ``"int8"`` (CPU only: the
    linear layers and the logits in int8, quantize.py), whatever format the checkpoint is in.
    """

    def __init__(self, folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 compute_type: str | None = None):
        from engine.models.common.errors import CheckpointError
        from engine.models.whisper.loading import load_whisper_model

        dtype, int8 = resolve_compute_type(compute_type, device, dtype)
        self.model, self.info = load_whisper_model(folder, device=device, dtype=dtype)
        if int8:
            from engine.models.whisper.quantize import quantize_int8

            quantize_int8(self.model)
        self.info["compute_type"] = self.model.compute_type
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

    def transcribe_many(self, audios, options: TranscribeOptions | None = None, batch_size: int = DEFAULT_BATCH,
                        progress: Callable[[int, float], None] | None = None,
                        should_stop: Callable[[], bool] | None = None):
        """``transcribe_many`` with this model: (index, result or error) as each file is done."""
        return transcribe_many(self.model, self.tokenizer, audios, options, batch_size, progress, should_stop,
                               model_name=self.info["name"])
