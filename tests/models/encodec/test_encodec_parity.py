"""Our EnCodec against transformers' EncodecModel on identical random weights: the same codes
from ``encode``, the same audio (within 1e-5) from ``decode``, through a saved folder."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from engine.models.encodec import load_encodec  # noqa: E402

TINY = dict(num_filters=8, hidden_size=16, codebook_size=64, num_lstm_layers=2, kernel_size=7, last_kernel_size=7)
CONFIGS = {
    # shaped like facebook/encodec_32khz (MusicGen's): not causal, reflect, no conv shortcut, one bandwidth
    # giving 4 codebooks (4800 Hz / hop 24 = 200 frames/s x 6 bits = 1.2 kbps per codebook)
    "32khz-like": dict(sampling_rate=4800, upsampling_ratios=[4, 3, 2], target_bandwidths=[5.0],
                       use_causal_conv=False, use_conv_shortcut=False, pad_mode="reflect", norm_type="weight_norm"),
    # shaped like facebook/encodec_24khz: causal, conv shortcut, 2 residual layers (dilations 1, 2), 3 bandwidths
    "24khz-like": dict(sampling_rate=4800, upsampling_ratios=[2, 4], target_bandwidths=[4.0, 8.0, 15.0],
                       use_causal_conv=True, use_conv_shortcut=True, num_residual_layers=2,
                       pad_mode="reflect", norm_type="weight_norm"),
    # time group norm, stereo, zero padding, a causal trim split between both sides, wider compression
    "group-norm-stereo": dict(sampling_rate=3000, upsampling_ratios=[3, 2], audio_channels=2, target_bandwidths=[12.5],
                              use_causal_conv=True, trim_right_ratio=0.5, compress=4, pad_mode="constant",
                              norm_type="time_group_norm"),
}


def reference(name: str, seed: int = 0):
    """A transformers EncodecModel with random weights, codebooks spread like its latents (the
    later stages finer), so every stage picks varied entries."""
    torch.manual_seed(seed)
    model = transformers.EncodecModel(transformers.EncodecConfig(**TINY, **CONFIGS[name])).eval()
    with torch.no_grad():
        latents = model.encoder(torch.randn(1, model.config.audio_channels, 2000) * 0.3)
        mean, std = latents.mean(dim=(0, 2)), latents.std(dim=2).mean()  # the spread in time, per channel
        for k, layer in enumerate(model.quantizer.layers):
            layer.codebook.embed.copy_(torch.randn_like(layer.codebook.embed) * std * 0.6 ** k + (k == 0) * mean)
    return model


def audio(channels: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(2, channels, length, generator=torch.Generator().manual_seed(seed)) * 0.3


@pytest.mark.parametrize("name", list(CONFIGS))
def test_encode_and_decode_match_transformers(tmp_path, name):
    ref = reference(name)
    ref.save_pretrained(tmp_path)
    ours = load_encodec(tmp_path)
    assert ours.config.num_quantizers == ref.config.num_quantizers == 4
    assert ours.config.frame_rate == ref.config.frame_rate
    for length in (1001, 24, 5):  # not a multiple of the hop; a few frames; shorter than the pads
        x = audio(ref.config.audio_channels, length)
        for bandwidth in ref.config.target_bandwidths:
            with torch.no_grad():
                expected = ref.encode(x, bandwidth=bandwidth).audio_codes[0]
            codes = ours.encode(x, bandwidth)
            assert codes.dtype == torch.long and codes.shape == expected.shape
            assert torch.equal(codes, expected), (name, length, bandwidth)
            with torch.no_grad():
                want = ref.decode(expected[None], [None]).audio_values
            got = ours.decode(codes)
            assert got.shape == want.shape == (2, ref.config.audio_channels, codes.shape[-1] * ours.config.hop_length)
            assert (got - want).abs().max().item() < 1e-5, (name, length, bandwidth)
    # the default bandwidth is the first, as in transformers (MusicGen encodes its prompts so)
    x = audio(ref.config.audio_channels, 300, seed=2)
    assert ours.encode(x).shape[1] == ours.config.num_codebooks == ours.config.codebooks_for(
        ref.config.target_bandwidths[0])


def test_codes_use_many_entries_so_the_parity_means_something(tmp_path):
    ref = reference("32khz-like", seed=3)
    ref.save_pretrained(tmp_path)
    codes = load_encodec(tmp_path).encode(audio(1, 4800))
    assert all(len(codes[:, k].unique()) > 30 for k in range(4))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_coding_in_pieces_gives_the_whole_codes_and_audio(tmp_path, monkeypatch, name):
    """The encoder's convolutions (before its LSTM) and the decoder's (after it) run in pieces with
    a margin of ``reach``: transformers' codes and audio all the same, with pieces of 7 frames
    (and a last one of 6) to cross many seams."""
    from engine.models.encodec import model as encodec_model

    ref = reference(name)
    ref.save_pretrained(tmp_path)
    ours = load_encodec(tmp_path)
    hop = ours.config.hop_length
    monkeypatch.setattr(encodec_model, "PIECE_SAMPLES", 7 * hop)
    x = audio(ref.config.audio_channels, 125 * hop - 3, seed=4)
    first, encoded = ours.encoder.layers[0], []
    real_first = first.forward
    monkeypatch.setattr(first, "forward", lambda x: encoded.append(x.shape[-1]) or real_first(x))
    codes = ours.encode(x)  # the encoder's convolutions in pieces too
    assert len(encoded) == (1 if name == "group-norm-stereo" else 18)
    with torch.no_grad():
        assert torch.equal(codes, ref.encode(x, bandwidth=ref.config.target_bandwidths[0]).audio_codes[0])
    assert codes.shape[-1] == 125
    last = ours.decoder.layers[-1]  # the final convolution: it runs once per piece
    runs, real = [], last.forward
    monkeypatch.setattr(last, "forward", lambda x: runs.append(x.shape[-1]) or real(x))
    with torch.no_grad():
        want = ref.decode(codes[None], [None]).audio_values
        got = ours.decode(codes)
    assert got.shape == want.shape and (got - want).abs().max().item() < 1e-5
    if name == "group-norm-stereo":  # a time group norm sees the whole piece at once: no pieces
        assert runs == [125 * hop]
    else:
        margin = encodec_model.reach(list(ours.decoder.layers)[2:])  # after the first conv and the LSTM
        assert margin >= 1 and len(runs) == 18  # 17 pieces of 7 frames and one of 6
        assert max(runs) == (7 + 2 * margin) * hop  # a piece in the middle: both margins
