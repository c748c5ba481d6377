"""The streaming transcriber: 16 kHz audio in, committed and tentative text out.

How it works (DESIGN.md §5):
- Silero VAD marks speech per 32 ms frame. Speech opens a *segment* (with a little lead-in);
  ``pause`` seconds of silence close it; unbroken speech longer than ``max_segment`` is cut at
  the end of a phrase Whisper completed (the cut policy below). A segment with less than
  ``min_voiced`` of speech in it (a click, Stop's edge) gets no text: Whisper hears "You" there.
- While a segment is open, every ``step`` seconds of new audio Whisper transcribes the *window*
  (one pass, zero-padded to 30 s as published): the last finished segments (up to ``window``
  seconds) and the open segment so far. The finished segments' text and the open segment's
  committed words are the decoder's forced prefix, so only the continuation is decoded;
  LocalAgreement-2 commits the words two hypotheses in a row agree on, the rest is tentative.
  Keeping earlier speech in the window matters: on its own a short segment is transcribed far
  worse (measured with tiny.en: 26 % WER per sentence alone, 16 % with 25 s of context,
  12 % offline with whole 30 s windows).
- A closed segment is decoded once more (beam search) with the window up to its end, and its
  text is final. It is decoded twice, with the whole window and with only the last 8 s of
  context, and the likelier reading (average log-probability) is kept: on the test recordings
  this took the live WER from 15.0 to 13.1 % (offline 11.3 %) and from 13.1 to 12.5 % (offline
  13.1 %). The window is trimmed at the start of its oldest finished segment once it
  grows past ``window`` seconds; text that leaves the window becomes the prompt.
- ``finish()`` (Stop) closes whatever is open: nothing captured before Stop is dropped.

The cut policy for unbroken speech (issue #27). Continuous speech (gaps of 0.12 s between
sentences, none of ``pause``) never closes a segment by itself. Cutting it at the quietest VAD
frame of the last second and decoding each piece without timestamps lost speech: a closing
pass over ~15 s may end early (Whisper emits end-of-text after a few sentences; four sentences,
9 s, were lost that way in the issue), the text it dropped was then read again from the next
segment's window context and stored under that segment's times, and the cut itself could fall
inside a word. Now, once the open segment reaches ``max_segment``:
- a *cut pass* decodes the open segment's own audio (greedy, 30 s window, earlier text as a timed
  prompt: plain text would keep Whisper from timestamps) *with* timestamps; the segment is cut
  at the end of the last phrase Whisper completed, not one ending within ``cut_guard`` of the
  newest audio (possibly cut short), moved to the middle of the quietest 80 ms nearby (a gap
  between words, not a stop consonant's closure). No complete phrase: retry after ``cut_retry``
  s. The cut pass reads the segment's first ``max_unbroken`` s at most, so a machine that comes
  to it late still cuts at a phrase; none in them: the quietest 80 ms of their last second
  (energy), the last resort. ``feed`` itself cuts so only if no pass ran for a while
  (``_emergency_length``), so that a closing pass always sees its whole segment.
- The part before the cut is closed and gets its closing pass as any segment does, hearing
  nothing after the cut (its next word belongs to the next segment), so words at a cut are
  neither lost nor repeated. The cut pass's reading is kept with it: if the closing pass stops
  early, the words the cut pass read after that point are appended (``stats.kept_cut_words``),
  and if the closing pass is judged silent or a loop, that reading is the text. A refinement
  that drops such a tail is not taken, however likely.
- The audio after the cut is carried into a new open segment (the committed words past the cut
  stay committed on screen). Whisper stopping early only moves the cut earlier: nothing is lost.
- At Stop, unbroken speech longer than ``max_segment`` is cut the same way before it is closed.
Why Whisper's own phrase ends: they are where the offline transcription, which lost nothing on
the same audio, moves its window; and every segment then starts and ends inside its own words'
audio. Measured on 24 sentences back to back (58 s, tiny.en, fed as fast as it decodes): all 24
found at their times (before: the same run cut a word and depended on the closing pass not
stopping early), live WER 14.9 % against 10.8 % offline.

Keeping up on any machine (issue #10). A slow or busy machine must never build a backlog; the
transcriber measures what each kind of pass costs (``costs``) and adapts:
- A hypothesis always decodes the newest audio: it runs when ``step`` seconds of new audio have
  come in, over everything received so far; audio that came in while the previous pass ran is
  simply part of the next one (stale hypotheses are skipped, never queued).
- Hypotheses are cheap: they see at most ``hypothesis_context`` seconds of earlier segments,
  and the encoder runs on the audio actually present plus ``hypothesis_padding`` of silence
  instead of a whole zero-padded 30 s window (the encoder's cost is linear to quadratic in its
  length). Their words are only ever tentative or committed, never final: the closing pass
  below decodes every segment on a whole 30 s window, so the stored transcript's accuracy does
  not depend on this shortcut.
- A closed segment gets one closing pass at once (the whole window, beam ``final_beam_size``);
  when the transcriber is behind (more than ``behind`` seconds of audio beyond the pause waiting,
  or another closed segment queued) that pass is cheaper (beam ``cheap_beam_size``). Either way
  its text is shown as final at once.
- What the full quality still asks for (the other contexts of ``final_contexts``, the full
  beam after a cheap pass) is a *refinement*: one pass per step, run only while nobody speaks
  (no open segment, nothing else to do) and, after Stop, as long as the measured cost of the
  next pass fits ``stop_budget``. A refinement replaces a segment's text only if it is likelier
  (average log-probability); the update lists the segments it revised. A segment whose audio
  has left the window is no longer refined (memory stays bounded).
- Stop: the closing passes left run with the full beam if their measured cost fits
  ``stop_budget``, otherwise cheap; then refinements while they fit.

The numbers that chose it (tiny.en, float32, 2 threads, 2-core machine, timing the encoder and
``decode`` of a ``WhisperPipeline``, a loaded machine so absolute values ±50 %): the encoder takes 1.24 s on a
30 s window, 0.39 s on 15 s, 0.25 s on 10 s, 0.10 s on 5 s; decoding ~25 tokens after a prefix
takes 0.24 s greedy, 0.26 s at beam 2, 0.73 s at beam 5. So a hypothesis over 8 s of context
plus a 3 s sentence costs about a quarter of a whole-window one; a closing pass at beam 2
costs about two thirds of one at beam 5 (the encoder pass is shared), and two closing contexts
at beam 5 cost ~4 s there — more than a 3 s sentence with its pause, which is why the second
context became a refinement. ``stop_budget`` = 2 s leaves room under the 3 s Stop-to-final goal
for a pass already running when Stop comes. ``behind`` = 1 s: a queue that long is already
noticeable on screen.

The model runs through ``run(fn)``: the live job passes the job queue's ``run_step``, so each
decoding pass is a LIVE-priority step on the gpu lane that a running file transcription lets
through at its next decoding step. This class itself holds no threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.audio.dsp import WHISPER_HOP as HOP
from engine.audio.dsp import log_mel_spectrogram
from engine.audio.vad import FRAME, SAMPLE_RATE, VoiceActivityDetector
from engine.live.agreement import LocalAgreement, Word, split_words
from engine.models.whisper.decoding import DecodingOptions, DecodingResult, decode, detect_language
from engine.models.whisper.transcribe import N_SAMPLES
from engine.transcript import Segment, TranscriptionResult


@dataclass
class LiveOptions:
    language: str | None = None  # None: English for .en models, detected per segment otherwise
    task: str = "transcribe"
    beam_size: int = 1  # greedy: each hypothesis must take a fraction of a second on a CPU
    final_beam_size: int = 5  # the closing pass over a whole segment runs once, in the pause after it
    step: float = 0.3  # seconds of new audio before the next hypothesis
    pause: float = 0.5  # silence that ends a segment
    max_segment: float = 15.0  # unbroken speech is cut (at a phrase Whisper completed) after this many seconds
    cut_retry: float = 2.0  # no complete phrase yet: try the cut again after this much more audio
    cut_guard: float = 0.6  # a phrase ending this close to the newest audio may be cut short: not kept
    max_unbroken: float = 25.0  # no phrase boundary by then: cut at the quietest moment (must stay < 30 s)
    lead_in: float = 0.3  # audio kept before the detected start of speech
    tail: float = 0.15  # audio kept after the last voiced frame
    speech_threshold: float = 0.5  # VAD probability that opens a segment (it stays open above it - 0.15)
    window: float = 25.0  # seconds of audio the model sees: finished segments + the open one
    # the closing pass is decoded with this much earlier context (seconds; None: the whole
    # window) each, and the reading with the best average log-probability is kept
    final_contexts: tuple[float | None, ...] = (None, 8.0)
    prompt_tokens: int = 96  # how much text from before the window conditions the next segments
    hypothesis_context: float | None = 8.0  # seconds of finished segments a hypothesis sees (None: the window)
    hypothesis_padding: float | None = 1.0  # a hypothesis encodes the audio + this much silence (None: 30 s)
    cheap_beam_size: int = 2  # the closing pass's beam when behind
    behind: float = 1.0  # seconds of waiting audio (beyond the pause) that count as falling behind
    stop_budget: float = 2.0  # measured model seconds allowed after Stop for full quality
    final_margin: float = 0.3  # silence after a segment's end that its closing pass hears (the VAD's pause)
    min_voiced: float = 0.2  # a segment with less speech than this (a click, a cough, Stop's edge) gets no text


@dataclass
class LiveUpdate:
    """A snapshot for the display. ``segments`` are final; ``committed`` + ``tentative`` is the
    segment being spoken (committed will not change, tentative may)."""

    segments: list[Segment]
    committed: str
    tentative: str
    start: float | None  # of the open segment, seconds into the take
    audio_seconds: float  # audio received when this was made
    compute_seconds: float = 0.0  # the model time this update took
    revised: tuple[int, ...] = ()  # indices of earlier segments whose text this update changed

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments) + self.committed + self.tentative


@dataclass
class _Span:
    start: int  # samples into the stream
    end: int | None = None  # None while open
    language: str | None = None
    cut: bool = False  # ended by a cut in unbroken speech (speech goes on right after its end)
    heard: list[Word] | None = None  # a cut segment's words as the cut pass read them
    voiced: int = 0  # frames the VAD found speech in (at the opening threshold)


@dataclass
class _Finished:
    """A finished segment still in the window: its span and its final tokens (the prefix)."""

    start: int
    end: int
    tokens: list[int]
    language: str | None
    index: int = -1  # in ``segments``
    avg_logprob: float = float("-inf")  # of the reading kept
    refinements: list[tuple[float | None, int]] = field(default_factory=list)  # (context, beam) still to run
    cut: bool = False  # ended by a cut (its passes hear nothing after its end)


@dataclass
class _Stats:
    hypotheses: int = 0
    finals: int = 0
    cheap_finals: int = 0
    refinements: int = 0
    revisions: int = 0
    compute: float = 0.0
    decode_times: list[float] = field(default_factory=list)
    non_finite: int = 0  # samples received as NaN or infinity, heard as silence
    cuts: int = 0  # unbroken speech cut at a phrase boundary (cut passes that found one)
    cut_passes: int = 0  # cut passes run (some find no complete phrase yet)
    forced_cuts: int = 0  # unbroken speech cut at its quietest moment (no phrase boundary by max_unbroken)
    kept_cut_words: int = 0  # closing passes of cut segments that stopped early (the cut pass's words after it kept)


class PassCosts:
    """Measured seconds per kind of pass (an exponential average of the last few)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, kind: str, seconds: float) -> None:
        old = self.seconds.get(kind)
        self.seconds[kind] = seconds if old is None else 0.5 * old + 0.5 * seconds

    def estimate(self, kind: str) -> float:
        """0 until measured: the first pass of a kind is always tried."""
        return self.seconds.get(kind, 0.0)


class StreamingTranscriber:
    def __init__(self, model, tokenizer, options: LiveOptions | None = None,
                 run: Callable[[Callable[[], object]], object] | None = None,
                 vad: VoiceActivityDetector | None = None, model_name: str = "",
                 clock: Callable[[], float] = time.perf_counter) -> None:
        """``run(fn)`` runs a model pass (the job queue's gpu lane); ``clock`` measures what
        passes cost (tests simulate a slow machine with their own)."""
        self.model, self.tokenizer = model, tokenizer
        self.options = options or LiveOptions()
        self._run = run or (lambda fn: fn())
        self.vad = vad or VoiceActivityDetector()
        self.model_name = model_name
        self._audio = np.zeros(0, np.float32)
        self._offset = 0  # stream index of _audio[0]
        self.received = 0  # samples fed so far
        self._closed: list[_Span] = []  # segments whose end is known, still to decode
        self._open: _Span | None = None
        self._last_voice_end = 0
        self._last_hypothesis_at = 0
        self._next_cut_at = 0  # samples: the next cut pass is not tried before this much was received
        self._agreement = LocalAgreement()
        self._context: list[_Finished] = []  # finished segments whose audio is still in the window
        self._prompt: list[int] = []
        self.segments: list[Segment] = []
        self.stats = _Stats()
        self.costs = PassCosts()
        self._clock = clock
        self.language = self.options.language or ("en" if not tokenizer.multilingual else None)

    # -- audio in -------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray) -> None:
        """Append 16 kHz mono audio; voice activity decides where segments open and close.

        A sample that is NaN or infinite (a glitching device or driver) is heard as silence and
        counted in ``stats.non_finite``: a stream cannot be refused as a file is, and one such
        sample would otherwise poison the voice detector's state and every later pass."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if not len(x):
            return
        if not np.isfinite(np.sum(x, dtype=np.float64)):
            bad = ~np.isfinite(x)
            self.stats.non_finite += int(np.count_nonzero(bad))
            x = np.where(bad, np.float32(0.0), x)
        self._audio = np.concatenate([self._audio, x])
        first_frame = self.vad.frames_done
        probs = self.vad.push(x)
        self.received += len(x)
        o = self.options
        on, off = o.speech_threshold, o.speech_threshold - 0.15
        pause, max_len = int(o.pause * SAMPLE_RATE), self._emergency_length()
        for i, p in enumerate(probs):
            frame = first_frame + i
            frame_start, frame_end = frame * FRAME, (frame + 1) * FRAME
            if self._open is None:
                if p >= on:
                    floor = self._closed[-1].end if self._closed else self._segments_end()
                    start = max(frame_start - int(o.lead_in * SAMPLE_RATE), floor, self._offset)
                    self._open = _Span(start, language=self.language)
                    self._last_voice_end = frame_end
                    self._open.voiced = 1
                continue
            if p >= on:
                self._open.voiced += 1
            if p >= off:
                self._last_voice_end = frame_end
            if frame_end - self._last_voice_end >= pause:
                self._close(min(self._last_voice_end + int(o.tail * SAMPLE_RATE), frame_end))
            elif frame_end - self._open.start >= max_len:
                self._forced_cut(frame_end)
        self._trim()

    def _segments_end(self) -> int:
        return round(self.segments[-1].end * SAMPLE_RATE) if self.segments else 0

    def _close(self, end: int) -> None:
        assert self._open is not None
        self._open.end = end
        self._closed.append(self._open)
        self._open = None

    def _unbroken_limit(self) -> int:
        """Samples of unbroken speech a segment may hold before it must be cut somewhere."""
        return int(max(self.options.max_unbroken, self.options.max_segment) * SAMPLE_RATE)

    def _emergency_length(self) -> int:
        """Samples after which ``feed`` cuts an open segment itself: the cut pass (a model pass)
        had no turn for a while on a machine far behind, and a closing pass must still see the
        whole segment in its 30 s window."""
        return min(self._unbroken_limit() + int(2.5 * SAMPLE_RATE), N_SAMPLES - SAMPLE_RATE // 2)

    def _forced_cut(self, before: int) -> None:
        """No phrase boundary to cut at (the last resort; see ``_cut``): end the open segment at
        the quietest 80 ms of the last second before ``before`` (most likely between words:
        energy, not the VAD's probability, which stays high across a word boundary in fluent
        speech) and go on with a new one from there."""
        assert self._open is not None
        cut = self._quietest(before, earlier=1.0, later=0.0)
        cut = min(max(cut, self._open.start + SAMPLE_RATE // 2), before)
        language = self._open.language
        self._open.cut = True
        self.stats.forced_cuts += 1
        voiced = self._open.voiced
        self._close(cut)
        self._open = _Span(cut, language=language, voiced=voiced)
        self._agreement.reset()  # its words were heard before the cut: never a prefix after it
        self._last_voice_end = max(self._last_voice_end, cut)
        self._last_hypothesis_at = cut
        self._next_cut_at = 0

    def _trim(self) -> None:
        """Keep only audio that the window may still need (bounded memory over hours)."""
        if self._context:
            keep = self._context[0].start
        elif self._closed:
            keep = self._closed[0].start
        elif self._open is not None:
            keep = self._open.start
        else:
            keep = self.received - int(self.options.lead_in * SAMPLE_RATE) - FRAME
        if keep > self._offset:
            self._audio = self._audio[keep - self._offset:]
            self._offset = keep

    def _fit_window(self, span: _Span, end: int) -> None:
        """Drop the oldest finished segments from the window until it spans at most ``window``
        seconds (their text moves to the prompt), and any in another language."""
        limit = int(self.options.window * SAMPLE_RATE)
        while self._context and (end - self._context[0].start > limit
                                 or self._context[0].language != span.language):
            self._prompt.extend(self._context.pop(0).tokens)

    # -- text out -------------------------------------------------------------------------------
    def pending(self) -> bool:
        """Is there work for ``step()`` now?"""
        return (bool(self._closed) or self._cut_due() or self._hypothesis_due()
                or self._refinable() is not None)

    def _cut_due(self) -> bool:
        span = self._open
        return (span is not None and self.received - span.start >= self.options.max_segment * SAMPLE_RATE
                and (self.received >= self._next_cut_at or self.received - span.start >= self._unbroken_limit()))

    def _hypothesis_due(self) -> bool:
        return (self._open is not None
                and self.received - max(self._last_hypothesis_at, self._open.start) >= self.options.step * SAMPLE_RATE)

    def _refinable(self) -> _Finished | None:
        """The oldest segment still waiting for a refinement pass, while nobody speaks."""
        if self._open is not None or self._closed:
            return None
        return next((f for f in self._context if f.refinements), None)

    def behind(self) -> bool:
        """More audio is waiting than a pause explains: the next closing pass should be cheap."""
        if len(self._closed) > 1:
            return True
        if not self._closed:
            return False
        waiting = (self.received - self._closed[0].end) / SAMPLE_RATE
        expected = self.options.cut_guard + self.options.cut_retry if self._closed[0].cut else self.options.pause
        return waiting > expected + self.options.behind

    def step(self) -> LiveUpdate | None:
        """Do the next piece of work: finish a closed segment, a new hypothesis for the open one,
        or (in a pause) refine a finished segment."""
        if self._closed:
            cheap = self.behind()
            return self._finish_span(self._closed.pop(0), cheap=cheap)
        if self._cut_due():
            return self._cut()
        if self._hypothesis_due():
            return self._hypothesis()
        finished = self._refinable()
        if finished is not None:
            return self._refine(finished)
        return None

    def finish(self) -> LiveUpdate:
        """Stop: close what is open (to the last sample received), decode everything left.

        The closing passes use the full beam while their measured cost fits ``stop_budget``;
        then refinements run while the next one's measured cost still fits."""
        started = self._clock()
        # unbroken speech up to Stop: cut at phrases as while recording, so no closing pass
        # reads more than ``max_segment`` (a long one may stop early)
        while self._open is not None and self.received - self._open.start >= self.options.max_segment * SAMPLE_RATE:
            start = self._open.start
            self._next_cut_at = 0
            self._cut()
            if self._open is None or self._open.start == start:  # no phrase to cut at yet
                break
        if self._open is not None:
            self._close(self.received)
        update = self.snapshot()
        revised: set[int] = set()
        while self._closed:
            spent = self._clock() - started
            cheap = spent + len(self._closed) * self._final_cost() > self.options.stop_budget
            update = self._finish_span(self._closed.pop(0), cheap=cheap)
        while True:
            finished = self._refinable()
            if finished is None:
                break
            context, beam = finished.refinements[0]
            if self._clock() - started + self._pass_cost(beam) > self.options.stop_budget:
                break
            update = self._refine(finished)
            revised.update(update.revised)
        update.revised = tuple(sorted(revised | set(update.revised)))
        return update

    def _final_cost(self) -> float:
        return self._pass_cost(self.options.final_beam_size)

    def _pass_cost(self, beam: int) -> float:
        return self.costs.estimate("final" if beam >= self.options.final_beam_size else "cheap")

    def snapshot(self, compute: float = 0.0, revised: tuple[int, ...] = ()) -> LiveUpdate:
        committed = self.tokenizer.decode(self._agreement.prefix_tokens()) if self._open or self._closed else ""
        tentative = "".join(w.text for w in self._agreement.tentative)
        start = self._closed[0].start if self._closed else (self._open.start if self._open else None)
        return LiveUpdate(segments=list(self.segments), committed=committed, tentative=tentative,
                          start=None if start is None else start / SAMPLE_RATE,
                          audio_seconds=self.received / SAMPLE_RATE, compute_seconds=compute, revised=revised)

    def result(self, duration: float | None = None) -> TranscriptionResult:
        return TranscriptionResult(language=self.language or "", language_probability=1.0,
                                   duration=self.received / SAMPLE_RATE if duration is None else duration,
                                   segments=list(self.segments), compute_seconds=self.stats.compute,
                                   model_name=self.model_name)

    # -- the model ------------------------------------------------------------------------------
    def _hypothesis(self) -> LiveUpdate:
        span = self._open
        assert span is not None
        self._last_hypothesis_at = self.received
        o = self.options
        result, seconds = self._decode(span, self.received, self._agreement.prefix_tokens(), o.beam_size,
                                       o.hypothesis_context, cut=True)
        self.costs.add("hypothesis", seconds)
        self.stats.hypotheses += 1
        if result is not None:
            self._agreement.update(self._words(result))
        return self.snapshot(seconds)

    def _cut(self) -> LiveUpdate:
        """Unbroken speech has gone on for ``max_segment``: decode the open segment so far on its
        own, *with* timestamps (greedy), and close it at the end of the last phrase Whisper
        completed (not one ending within ``cut_guard`` of the newest audio, which may be cut
        short), moved to the quietest 80 ms nearby. The segment before the cut then gets its
        closing pass as any other (hearing nothing after the cut), with this reading as what was
        heard; the audio after the cut is carried into a new open segment. Whisper stopping early
        (a known failure on long windows) only moves the cut earlier: nothing is lost. No
        complete phrase yet: try again after ``cut_retry`` more seconds."""
        span = self._open
        assert span is not None
        o = self.options
        # a machine far behind may come to this late: the pass reads the segment's first
        # ``max_unbroken`` seconds at most, so its start is always heard
        limit = span.start + self._unbroken_limit()
        end = min(self.received, limit)
        result, seconds = self._decode(span, end, [], o.beam_size, timestamps=True)
        self.costs.add("cut", seconds)
        self.stats.cut_passes += 1
        cut = self._phrase_cut(result, span, end) if result is not None else None
        if cut is None:
            if end >= limit:  # no phrase Whisper completed in max_unbroken seconds: the last resort
                self._forced_cut(limit)
            else:
                self._next_cut_at = end + int(o.cut_retry * SAMPLE_RATE)
            return self.snapshot(seconds)
        sample, tokens = cut
        self.stats.cuts += 1
        words = self._clean_words(split_words(tokens, self.tokenizer.decode))
        # the committed words after the cut stay committed in the new segment (display only: its
        # closing pass decodes it afresh)
        carry: list[Word] = []
        committed = self._agreement.committed
        if words and committed:
            import difflib

            matcher = difflib.SequenceMatcher(a=[w.key for w in words], b=[w.key for w in committed], autojunk=False)
            for block in matcher.get_matching_blocks():
                if block.size >= min(2, len(words)) and block.a + block.size == len(words):
                    carry = committed[block.b + block.size:]
        span.end, span.cut, span.heard = sample, True, words
        self._closed.append(span)
        self._open = _Span(sample, language=span.language, voiced=span.voiced)  # unbroken speech goes on
        self._agreement.reset()
        self._agreement.committed = list(carry)
        self._last_voice_end = max(self._last_voice_end, sample)
        self._last_hypothesis_at = sample
        self._next_cut_at = 0
        return self.snapshot(seconds)

    def _phrase_cut(self, result: DecodingResult, span: _Span, end: int) -> tuple[int, list[int]] | None:
        """(where to cut, the text tokens before it) from a timestamped reading of the open
        segment: the end of the last complete phrase at least 1 s in and ``cut_guard`` before
        the newest audio; None if there is none."""
        tb = self.tokenizer.timestamp_begin
        tokens = [t for t in result.tokens if t != self.tokenizer.eot]
        seconds = (end - span.start) / SAMPLE_RATE
        best = None
        for i in range(1, len(tokens)):
            if tokens[i] < tb or tokens[i - 1] >= tb:
                continue  # a phrase ends at a timestamp right after text
            at = (tokens[i] - tb) * 0.02
            if 1.0 <= at <= seconds - self.options.cut_guard:
                best = (i, at)
        if best is None:
            return None
        i, at = best
        text = [t for t in tokens[:i] if t < tb]
        if not text:
            return None
        sample = self._quietest(span.start + int(at * SAMPLE_RATE))
        return min(max(sample, span.start + SAMPLE_RATE // 2), end - FRAME), text

    def _quietest(self, sample: int, earlier: float = 0.1, later: float = 0.25) -> int:
        """Where the cut goes near a phrase end Whisper placed (its timestamps are 20 ms steps and
        may fall a little early or late): the middle of the quietest 80 ms from ``earlier`` s
        before it to ``later`` s after. 80 ms, not less: the closure of a stop consonant
        ("pun|ch") is as quiet as a pause for some 50 ms, a gap between words lasts longer."""
        lo, hi = sample - int(earlier * SAMPLE_RATE), sample + int(later * SAMPLE_RATE)
        lo, hi = max(lo, self._offset), min(hi, self._offset + len(self._audio))
        hop, width = SAMPLE_RATE // 100, 8
        n = (hi - lo) // hop
        if n < 2 * width:
            return sample
        x = self._audio[lo - self._offset:lo - self._offset + n * hop]
        energy = np.square(x.reshape(n, hop)).mean(axis=1)
        smooth = np.convolve(energy, np.ones(width) / width, mode="valid")  # smooth[i]: frames i..i+width-1
        return lo + (int(np.argmin(smooth)) + width // 2) * hop

    def _clean_words(self, words: list[Word]) -> list[Word]:
        """Without punctuation the model put first to close the previous segment's sentence."""
        while words and not any(ch.isalnum() for ch in words[0].text):
            words.pop(0)
        return words

    def _finish_span(self, span: _Span, cheap: bool = False) -> LiveUpdate:
        """The closing pass: the window up to the segment's end, decoded with beam search and
        without the segment's committed words forced. Its text is final (refinements may still
        replace it with a likelier reading); it may correct a word two hypotheses agreed on while
        it was still being spoken (cut-off audio misheard the same way twice). Should the pass
        be judged silent or a loop, the committed words stand."""
        assert span.end is not None
        o = self.options
        if span.voiced * FRAME < o.min_voiced * SAMPLE_RATE and not span.cut:
            # a click or Stop's edge opened it: Whisper would hear "You" in it (issue #27)
            self._agreement.reset()
            self._last_hypothesis_at = span.end
            return self.snapshot()
        contexts = list(o.final_contexts) or [None]
        beam = o.cheap_beam_size if cheap else o.final_beam_size
        result, seconds = self._decode(span, self._heard_until(span.end, span.cut), [], beam, contexts[0])
        self.costs.add("cheap" if cheap else "final", seconds)
        self.stats.finals += 1
        self.stats.cheap_finals += cheap
        # a cut segment: what the cut pass read in it (its own audio, with timestamps) stands if
        # the closing pass fails, and its words past where the closing pass stopped are kept. Not
        # a hypothesis's words: greedy on a cut-off window, they often go on with the context's
        # text repeated (the agreement then belongs to this segment; after a cut, to the open one)
        words = (span.heard or []) if span.cut else list(self._agreement.committed)
        if result is not None:
            words = self._closing_words(result)
            missing = self._missing_tail(words, span.heard or []) if span.cut else []
            if missing:  # the closing pass stopped early: the words the cut pass read after it are kept
                words = words + missing
                self.stats.kept_cut_words += 1
        tokens = [t for w in words for t in w.tokens]
        text = self.tokenizer.decode(tokens)
        if text.strip():
            self.segments.append(Segment(
                id=len(self.segments), seek=0, start=span.start / SAMPLE_RATE, end=span.end / SAMPLE_RATE,
                text=text, tokens=tokens, avg_logprob=result.avg_logprob if result else 0.0,
                compression_ratio=result.compression_ratio if result else 0.0,
                no_speech_prob=result.no_speech_prob if result else 0.0, temperature=0.0))
            refinements = [(c, o.final_beam_size) for c in contexts[1:]]
            if cheap:
                refinements.insert(0, (contexts[0], o.final_beam_size))
            self._context.append(_Finished(span.start, span.end, tokens, span.language, len(self.segments) - 1,
                                           result.avg_logprob if result else float("-inf"), refinements,
                                           cut=span.cut))
        if not span.cut:
            self._agreement.reset()
            self._last_hypothesis_at = span.end
        self._trim()
        return self.snapshot(seconds)

    def _refine(self, finished: _Finished) -> LiveUpdate:
        """One more full-quality pass over a finished segment (another context, or the full beam
        after a cheap closing pass); the likelier reading is kept."""
        context, beam = finished.refinements.pop(0)
        span = _Span(finished.start, finished.end, finished.language)
        earlier = [f for f in self._context if f.end <= finished.start]
        result, seconds = self._decode(span, self._heard_until(finished.end, finished.cut), [], beam, context,
                                       context_segments=earlier)
        self.costs.add("final" if beam >= self.options.final_beam_size else "cheap", seconds)
        self.stats.refinements += 1
        revised: tuple[int, ...] = ()
        if result is not None and result.avg_logprob > finished.avg_logprob:
            words = self._closing_words(result)
            tokens = [t for w in words for t in w.tokens]
            text = self.tokenizer.decode(tokens)
            old = self.segments[finished.index]
            dropped = self._missing_tail(words, split_words(list(old.tokens), self.tokenizer.decode))
            if text.strip() and text != old.text and not dropped:  # likelier but shorter by a phrase: not taken
                self.segments[finished.index] = Segment(
                    id=old.id, seek=0, start=old.start, end=old.end, text=text, tokens=tokens,
                    avg_logprob=result.avg_logprob, compression_ratio=result.compression_ratio,
                    no_speech_prob=result.no_speech_prob, temperature=0.0)
                finished.tokens = tokens
                revised = (finished.index,)
                self.stats.revisions += 1
            finished.avg_logprob = result.avg_logprob
        return self.snapshot(seconds, revised)

    @staticmethod
    def _missing_tail(reading: list[Word], heard: list[Word], least: int = 4) -> list[Word]:
        """The words at the end of an earlier reading ``heard`` (the cut pass's, or the text a
        refinement would replace) that ``reading`` left out (Whisper ending a window early, a
        known failure on long windows): at least ``least`` of them after the last word both
        have, and not a repeat of words ``reading`` has. Empty otherwise."""
        if len(heard) < least:
            return []
        import difflib

        keys, read = [w.key for w in heard], [w.key for w in reading]
        matcher = difflib.SequenceMatcher(a=keys, b=read, autojunk=False)
        blocks = [b for b in matcher.get_matching_blocks() if b.size]
        at = blocks[-1].a + blocks[-1].size if blocks else 0
        tail = keys[at:]
        if len(tail) < least or (blocks and blocks[-1].b + blocks[-1].size < len(read) - 1):
            return []
        head = tail[:least]
        if any(read[i:i + least] == head for i in range(len(read))):
            return []
        return heard[at:]

    def _heard_until(self, end: int, cut: bool = False) -> int:
        """Where a closing pass's audio ends: a little of the pause after the segment too, so
        its last word is heard to its end (the VAD found silence there); after a cut, speech
        goes on at once: nothing after the end (its first word belongs to the next segment)."""
        if cut:
            return end
        return min(self.received, end + int(self.options.final_margin * SAMPLE_RATE))

    def _closing_words(self, result: DecodingResult) -> list[Word]:
        """A segment's final words, without punctuation the model put first to close the
        previous segment's sentence (". Smoky fires...")."""
        return self._clean_words(self._words(result))

    def _words(self, result: DecodingResult) -> list[Word]:
        text_tokens = [t for t in result.tokens if t < self.tokenizer.eot]
        return split_words(text_tokens, self.tokenizer.decode)

    def _decode(self, span: _Span, end: int, committed: list[int], beam_size: int,
                context_seconds: float | None = None, cut: bool = False,
                context_segments: list[_Finished] | None = None,
                timestamps: bool = False) -> tuple[DecodingResult | None, float]:
        """One pass of Whisper over the window ending at ``end``; the finished segments' text
        and ``committed`` are forced, the rest is decoded. ``cut``: encode only the audio present
        (plus ``hypothesis_padding``), not a whole 30 s window. ``timestamps``: the open segment's
        audio alone, decoded with timestamps (the cut pass); earlier text is the prompt.

        Returns None for a hypothesis to ignore: silence by the no-speech probability, or a
        repetition loop by the compression ratio."""
        o = self.options
        if context_segments is None:
            self._fit_window(span, end)
            context_segments = self._context
        context = [f for f in context_segments
                   if context_seconds is None or end - f.start <= context_seconds * SAMPLE_RATE]
        prompt = self._prompt
        if timestamps:  # earlier text as timed phrases, as offline: plain text would keep it from timestamps
            tb = self.tokenizer.timestamp_begin
            timed = [t for f in context
                     for t in [tb] + f.tokens + [tb + min(1500, round((f.end - f.start) / SAMPLE_RATE / 0.02))]]
            prompt, context = timed, []
        start = context[0].start if context else span.start
        audio = self._audio[max(start, end - N_SAMPLES) - self._offset:end - self._offset]
        prefix = [t for f in context for t in f.tokens] + committed
        prompt = prompt[-o.prompt_tokens:] if o.prompt_tokens else []
        max_tokens = 10 + int(8 * (end - span.start) / SAMPLE_RATE)  # no runaway loops: ~3x fast speech
        if timestamps:
            max_tokens += 10 + int(2 * (end - span.start) / SAMPLE_RATE)  # a pair per phrase
        length = N_SAMPLES
        if cut and o.hypothesis_padding is not None:  # whole mel frame pairs (the encoder's stride)
            pairs = -(-(len(audio) + int(o.hypothesis_padding * SAMPLE_RATE)) // (2 * HOP))
            length = min(N_SAMPLES, pairs * 2 * HOP)

        def work() -> tuple[DecodingResult, str]:
            with torch.inference_mode():
                padded = np.zeros(length, np.float32)
                padded[:len(audio)] = audio
                mel = log_mel_spectrogram(torch.from_numpy(padded), self.model.config.n_mels)
                features = self.model.encoder(mel[None].to(self.model.device, self.model.dtype))
                language = span.language
                if language is None:
                    language, _ = detect_language(self.model, self.tokenizer, features)
                options = DecodingOptions(
                    task=o.task, language=language, temperature=0.0,
                    beam_size=beam_size if beam_size > 1 else None, prompt=prompt, prefix=prefix,
                    without_timestamps=not timestamps, sample_len=max(1, max_tokens - len(committed)))
                return decode(self.model, self.tokenizer, features, options), language

        started = self._clock()
        result, span.language = self._run(work)
        seconds = self._clock() - started
        self.stats.compute += seconds
        self.stats.decode_times.append(seconds)
        if self.language is None:
            self.language = span.language
        if result.no_speech_prob > 0.6 and result.avg_logprob < -1.0:
            return None, seconds
        if result.compression_ratio > 2.4:
            return None, seconds
        return result, seconds
