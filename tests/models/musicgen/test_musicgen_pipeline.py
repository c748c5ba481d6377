"""Text to audio through our whole MusicGen (T5, the language model, EnCodec) against transformers'
MusicgenForConditionalGeneration on the same tiny folder: greedy generation gives the same audio.
Longer pieces are made in windows; continuation starts from the given audio's codes."""

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from musicgen_helpers import tiny_musicgen  # noqa: E402

from engine.cancel import Cancelled  # noqa: E402
from engine.models.common.errors import CheckpointError  # noqa: E402
from engine.models.musicgen import pipeline  # noqa: E402
from engine.models.musicgen.pipeline import MusicGen  # noqa: E402


@pytest.fixture(scope="module")
def mono(tmp_path_factory):
    folder = tmp_path_factory.mktemp("musicgen")
    return tiny_musicgen(folder), folder


@pytest.mark.parametrize("channels", [1, 2])
def test_greedy_audio_matches_transformers(tmp_path, channels):
    ref = tiny_musicgen(tmp_path / "m", channels=channels, seed=channels)
    ours = MusicGen(tmp_path / "m")
    assert (ours.channels, ours.sample_rate, ours.frame_rate) == (channels, 32000, 50)
    prompts = ["happy rock with drums", "jazz piano"]
    frames = 12
    ids, mask = ours.tokenizer.encode(prompts)
    with torch.no_grad():
        expected = ref.generate(input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0,
                                max_new_tokens=frames + 3).numpy()
    got = ours.generate(prompts, seconds=frames / 50, guidance=3.0, top_k=1)
    assert got.shape == expected.shape == (2, channels, frames * 640)
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(got[0] - got[1]).max() > 1e-4  # the prompts lead to different music


def test_a_seed_reproduces_and_variations_differ(mono):
    _, folder = mono
    ours = MusicGen(folder)
    a = ours.generate(["the music"] * 2, seconds=0.2, seed=5)
    b = ours.generate(["the music"] * 2, seconds=0.2, seed=5)
    assert np.array_equal(a, b)
    assert np.abs(a[0] - a[1]).max() > 1e-4  # one batch, two different draws


def test_long_pieces_are_made_in_windows(mono, monkeypatch):
    _, folder = mono
    ours = MusicGen(folder)
    monkeypatch.setattr(pipeline, "WINDOW_SECONDS", 0.4)  # 20 frames a window
    monkeypatch.setattr(pipeline, "STRIDE_SECONDS", 0.2)  # the last 10 frames prompt the next
    calls = []
    real = pipeline.generate

    def spy(lm, states, mask, steps, *args, prompt_codes=None, **kwargs):
        calls.append((steps, 0 if prompt_codes is None else prompt_codes.shape[-1]))
        return real(lm, states, mask, steps, *args, prompt_codes=prompt_codes, **kwargs)

    monkeypatch.setattr(pipeline, "generate", spy)
    seen = []
    audio = ours.generate(["the music"], seconds=1.0, seed=1, progress=seen.append)
    assert audio.shape == (1, 1, 50 * 640)
    assert calls == [(20, 0), (10, 10), (10, 10), (10, 10)]
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_continuation_starts_with_the_given_audio(mono):
    _, folder = mono
    ours = MusicGen(folder)
    first = ours.generate(["the music"], seconds=0.2, seed=3)[0]  # codec-made audio: its codes come back
    codes = ours.encode_audio(first, 32000)
    assert codes.shape == (1, 4, 10)
    out = ours.generate(["the music"], seconds=0.2, seed=4, continuation=(first, 32000))
    assert out.shape == (1, 1, 20 * 640)
    # the first frames decode from the same codes as the given audio (up to the codec's context)
    assert np.abs(out[0, 0, :3000] - ours.decode_codes(codes)[0, 0, :3000]).max() < 1e-3


def test_cancel_stops_between_steps(mono):
    _, folder = mono
    ours = MusicGen(folder)
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(Cancelled):
        ours.generate(["the music"], seconds=1.0, should_stop=stop)


def test_a_folder_that_is_not_musicgen_is_refused(tmp_path, mono):
    _, folder = mono
    with pytest.raises(CheckpointError, match="config.json is missing"):
        MusicGen(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        if f.name != "tokenizer.json":
            (broken / f.name).write_bytes(f.read_bytes())
    with pytest.raises(CheckpointError, match="tokenizer.json is missing"):
        MusicGen(broken)


def test_a_melody_model_follows_the_melody_and_others_refuse_one(tmp_path, mono):
    tiny_musicgen(tmp_path / "melody", melody=True, seed=4)
    ours = MusicGen(tmp_path / "melody")
    assert ours.melody
    rate = 32000
    t = np.arange(rate * 2) / rate
    tune_a = (0.3 * np.sin(2 * np.pi * 261.6 * t)).astype(np.float32)  # C
    tune_b = (0.3 * np.sin(2 * np.pi * 370.0 * t)).astype(np.float32)  # F#
    a = ours.generate(["the music"], seconds=0.3, top_k=1, melody=(tune_a, rate))
    b = ours.generate(["the music"], seconds=0.3, top_k=1, melody=(tune_b, rate))
    assert a.shape == (1, 1, 15 * 640) and np.abs(a - b).max() > 1e-4  # the tune changes the music
    _, plain = mono
    with pytest.raises(ValueError, match="melody model"):
        MusicGen(plain).generate(["x"], seconds=0.2, melody=(tune_a, rate))
