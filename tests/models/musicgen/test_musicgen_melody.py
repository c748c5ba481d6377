"""MusicGen melody against transformers: the chromagram against ``MusicgenMelodyFeatureExtractor``,
logits against ``MusicgenMelodyForConditionalGeneration``'s forward (text + chroma prefix), whole
generations with guidance against its ``generate`` (the codes it hands to EnCodec's ``decode``,
recorded by replacing that method), and one-line CheckpointErrors for bad configs and tensors.
"""

import copy

import numpy as np
import pytest
import torch
from musicgen_helpers import CHROMA_LENGTH, reference_codes, tiny_musicgen

transformers = pytest.importorskip("transformers")
pytest.importorskip("torchaudio")

from engine.models.common.checkpoints import read_hf_weights, read_json  # noqa: E402
from engine.models.common.errors import CheckpointError  # noqa: E402
from engine.models.musicgen.chroma import chroma_features, chroma_filter_bank  # noqa: E402
from engine.models.musicgen.melody import build_melody_lm, generate_melody  # noqa: E402

transformers.logging.set_verbosity_error()

CODEBOOK = 64


def _signal(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Tones entering one after another (C4, G4, A4, D#3, 1.2 kHz) over a little noise."""
    t = np.arange(int(seconds * rate)) / rate
    tones = sum(0.3 * np.sin(2 * np.pi * f * t) * (t > i * seconds / 5)
                for i, f in enumerate([261.6, 392.0, 440.0, 155.6, 1200.0]))
    return (tones + 0.05 * np.random.default_rng(seed).standard_normal(t.shape)).astype(np.float32)


def test_filter_bank_matches_transformers():
    from transformers.audio_utils import chroma_filter_bank as reference

    for rate, n_fft, n_chroma in ((32000, 16384, 12), (22050, 4096, 24)):
        expected = reference(num_frequency_bins=n_fft, num_chroma=n_chroma, sampling_rate=rate, tuning=0)
        assert np.abs(chroma_filter_bank(rate, n_fft, n_chroma) - expected).max() < 1e-12


@pytest.mark.parametrize("rate,seconds,channels", [(44100, 3.3, 1), (32000, 2.5, 2), (22050, 0.3, 1),
                                                   (32000, 31.0, 1)])
def test_chroma_equals_the_feature_extractor(rate, seconds, channels):
    extractor = transformers.MusicgenMelodyFeatureExtractor()
    audio = np.stack([_signal(seconds, rate, seed) for seed in range(channels)])
    got = chroma_features(audio, rate)
    # the extractor resamples tensors only, and takes a stereo signal as a one-item batch
    reference = torch.from_numpy(audio[0]) if channels == 1 else [audio]
    expected = extractor(reference, sampling_rate=rate, return_tensors="pt")["input_features"]
    assert got.shape == expected.shape and got.shape[0] == 1 and got.shape[2] == 12
    assert (got - expected).abs().max().item() < 1e-5
    assert got.shape[1] == (235 if seconds > 30 else 1 + max(16384, round(seconds * 32000)) // 4096)
    if seconds > 2:  # several pitch classes: a constant answer would not pass for a match
        assert len(set(got.argmax(-1)[0].tolist())) >= 3


def test_chroma_rejects_what_it_cannot_read():
    for audio, rate in ((np.zeros((1, 0), np.float32), 32000), (np.full((1, 9), np.nan, np.float32), 32000),
                        (np.zeros((1, 99), np.float32), 0)):
        with pytest.raises(ValueError):
            chroma_features(audio, rate)


def tiny_melody(folder, channels: int = 1, seed: int = 0):
    """A tiny random MusicGen melody saved in ``folder`` (with a tokenizer.json); transformers' model."""
    return tiny_musicgen(folder, channels, seed, melody=True)


def _load(folder, dtype=torch.float64):
    weights, source = read_hf_weights(folder)
    ours = build_melody_lm(read_json(folder / "config.json"), weights, source, dtype=dtype)
    assert all(name.startswith(("text_encoder.", "audio_encoder.")) for name in weights)
    return ours


@pytest.fixture(scope="module")
def mono(tmp_path_factory):
    folder = tmp_path_factory.mktemp("melody")
    return tiny_melody(folder, seed=3), folder


def _text(ref, dtype=torch.float64):
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, 99, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 4:] = 0
    with torch.no_grad():
        states = ref.to(dtype).text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    return ids, mask, states


def _chroma(batch: int, frames: int, seed: int, dtype=torch.float64):
    pitch = torch.randint(0, 12, (batch, frames), generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.one_hot(pitch, 12).to(dtype)


@pytest.mark.parametrize("frames", [4, 13])  # tiled to chroma_length, and cut to it
def test_logits_with_text_and_chroma_prefix_match_transformers(mono, frames):
    ref, folder = mono
    ref = ref.float()
    ours = _load(folder, torch.float32)
    assert ours.proj is not None and ours.chroma_proj is not None
    ids, mask, states = _text(ref, torch.float32)
    chroma = _chroma(2, frames, seed=frames, dtype=torch.float32)
    codes = torch.randint(0, CODEBOOK + 1, (2, 4, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, input_features=chroma,
                       decoder_input_ids=codes.reshape(8, 9)).logits.reshape(2, 4, -1, CODEBOOK)
        assert expected.shape[2] == CHROMA_LENGTH + 7 + 9
        prefix = ours.prefix(states, mask, chroma)
        got = ours(codes, prefix)
        cache = ours.new_cache(2, capacity=prefix.shape[1] + 9)
        steps = [ours(codes[..., :3], prefix, cache)] + [ours(codes[..., i:i + 1], None, cache) for i in range(3, 9)]
    assert (got - expected[:, :, -9:]).abs().max().item() < 1e-5
    assert (torch.cat(steps, dim=2) - expected[:, :, -9:]).abs().max().item() < 1e-5


@pytest.mark.parametrize("static", [False, True], ids=["cached", "static-shapes"])
@pytest.mark.parametrize("channels", [1, 2])
def test_greedy_generation_with_guidance_matches_transformers(tmp_path, channels, static):
    ref = tiny_melody(tmp_path, channels, seed=10 + channels).double()
    ours = _load(tmp_path)
    ids, mask, states = _text(ref)
    chroma = _chroma(2, 6, seed=channels)
    frames = 12
    expected = reference_codes(ref, channels, input_ids=ids, attention_mask=mask, input_features=chroma,
                                do_sample=False, guidance_scale=3.0, max_new_tokens=frames + max(ours.delays))
    got = generate_melody(ours, states, mask, chroma, frames, guidance_scale=3.0, top_k=1, static=static)
    assert got.shape == expected.shape == (2, 4 * channels, frames)
    assert torch.equal(got, expected)
    other = generate_melody(ours, states, mask, _chroma(2, 6, seed=99), frames, guidance_scale=3.0, top_k=1)
    assert not torch.equal(other, got)  # the melody matters


def test_no_melody_prompt_continuation_and_sampling_match_transformers(mono):
    ref, folder = mono
    ref = ref.double()
    ours = _load(folder)
    ids, mask, states = _text(ref)
    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, do_sample=False, guidance_scale=3.0,
                                max_new_tokens=10 + 3)
    assert torch.equal(generate_melody(ours, states, mask, None, 10, guidance_scale=3.0, top_k=1), expected)

    chroma = _chroma(1, 5, seed=4).expand(2, -1, -1)  # one reference for the whole batch
    prompt = torch.randint(0, CODEBOOK, (2, 4, 5), generator=torch.Generator().manual_seed(1))
    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, input_features=chroma, do_sample=False,
                                guidance_scale=3.0, decoder_input_ids=prompt.reshape(8, 5), max_new_tokens=8 + 3)
    got = generate_melody(ours, states, mask, chroma[:1], 8, guidance_scale=3.0, top_k=1, prompt_codes=prompt)
    assert torch.equal(got, expected[..., 5:])

    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, input_features=chroma, do_sample=False,
                                guidance_scale=1.0, max_new_tokens=8 + 3)
    assert torch.equal(generate_melody(ours, states, mask, chroma, 8, guidance_scale=1.0, temperature=0.0), expected)

    torch.manual_seed(123)
    expected = reference_codes(ref, 1, input_ids=ids, attention_mask=mask, input_features=chroma, do_sample=True,
                                guidance_scale=3.0, temperature=0.8, top_k=20, max_new_tokens=10 + 3)
    torch.manual_seed(123)
    got = generate_melody(ours, states, mask, chroma, 10, guidance_scale=3.0, temperature=0.8, top_k=20)
    assert torch.equal(got, expected)


def test_generate_reports_progress_stops_and_checks_the_chroma(mono):
    ours = _load(mono[1], torch.float32)
    states = torch.randn(1, 3, 24)
    fractions = []
    codes = generate_melody(ours, states, None, _chroma(1, 3, 0, torch.float32), 4, seed=5, progress=fractions.append)
    assert codes.shape == (1, 4, 4) and fractions[-1] == 1.0
    from engine.cancel import Cancelled

    with pytest.raises(Cancelled):
        generate_melody(ours, states, None, None, 4, should_stop=lambda: True)
    for bad in (torch.ones(1, 3, 11), torch.ones(3, 3, 12), torch.ones(1, 0, 12), torch.full((1, 2, 12), np.nan)):
        with pytest.raises(ValueError):
            generate_melody(ours, states, None, bad, 4)


def _one_line_error(config, weights, *fragments):
    with pytest.raises(CheckpointError) as info:
        build_melody_lm(config, weights, "/m/model.safetensors")
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_and_unexpected_tensors_are_named_as_in_the_file(mono):
    folder = mono[1]
    config = read_json(folder / "config.json")
    weights, _ = read_hf_weights(folder)
    del weights["audio_enc_to_dec_proj.weight"]
    weights["decoder.model.decoder.layers.0.encoder_attn.q_proj.weight"] = torch.zeros(32, 32)
    weights["decoder.lm_heads.1.weight"] = torch.zeros(63, 32)
    before = set(weights)
    _one_line_error(config, weights, "/m/model.safetensors", "missing 1 tensors: audio_enc_to_dec_proj.weight",
                    "unexpected 1 tensors: decoder.model.decoder.layers.0.encoder_attn.q_proj.weight",
                    "decoder.lm_heads.1.weight is (63, 32), expected (64, 32)")
    assert set(weights) == before


@pytest.mark.parametrize("change,fragment", [
    ({"model_type": "musicgen"}, "expected model_type 'musicgen_melody'"),
    ({"num_chroma": 0}, "num_chroma is 0"),
    ({"num_chroma": 12.5}, "num_chroma is 12.5"),
    ({"chroma_length": -235}, "chroma_length is -235"),
    ({"chroma_length": 10 ** 12}, "chroma_length is 1000000000000"),
    ({"decoder": {"hidden_size": -32}}, "decoder.hidden_size is -32"),
    ({"decoder": {"num_attention_heads": 5}}, "not divisible by decoder.num_attention_heads 5"),
    ({"decoder": {"vocab_size": 65536, "hidden_size": 8192, "num_codebooks": 64}}, "G parameters"),
    ({"text_encoder": {"d_model": "24"}}, "text_encoder.d_model is '24'"),
    ({"decoder": None}, "decoder should be a JSON object"),
])
def test_absurd_configs_are_one_line_errors(mono, change, fragment):
    folder = mono[1]
    config = copy.deepcopy(read_json(folder / "config.json"))
    for key, value in change.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    weights, _ = read_hf_weights(folder)
    _one_line_error(config, weights, "config.json", fragment)
